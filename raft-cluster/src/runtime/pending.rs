//! Client requests the node task has accepted but not yet answered.
//!
//! Writes are keyed by the [`LogId`] the core gave their entry: when an entry
//! at that index is applied, the write succeeded only if the applied entry
//! has the same term (Log Matching, §5.3); otherwise another leader
//! overwrote it. Reads wait first for their ReadIndex confirmation (§6.4),
//! then for the state machine to reach the read index.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use raft_core::{LogId, LogIndex, Term};
use tokio::sync::oneshot;

use crate::error::ClientError;

/// Where a request's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// A proposed write: its entry's term, when it was proposed (for the
/// proposal latency metric) and where the answer goes.
type Waiting<R> = (Term, Instant, Reply<(LogIndex, R)>);

/// Writes waiting for their entry to be applied; answered with the entry's
/// index and the state machine's response.
pub(crate) struct PendingWrites<R> {
    /// Invariant: every key is above the applied index.
    by_index: BTreeMap<LogIndex, Waiting<R>>,
}

impl<R> PendingWrites<R> {
    pub(crate) fn new() -> Self {
        PendingWrites { by_index: BTreeMap::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_index.len()
    }

    /// Tracks a write proposed at `id`.
    pub(crate) fn insert(&mut self, id: LogId, reply: Reply<(LogIndex, R)>) {
        if let Some((_, _, old)) = self.by_index.insert(id.index, (id.term, Instant::now(), reply)) {
            // The core never hands out one index twice in a term: the older
            // write's entry was truncated when its leader lost the term.
            let _ = old.send(Err(ClientError::LeadershipLost { index: id.index }));
        }
    }

    /// The entry `applied` was applied with `result` (`None` for entries
    /// that carry no client answer). Answers the write at that index and
    /// returns how long ago it was proposed when it succeeded.
    pub(crate) fn on_applied(&mut self, applied: LogId, result: Option<Result<R, ClientError>>) -> Option<Duration> {
        let (term, proposed, reply) = self.by_index.remove(&applied.index)?;
        let answer = if term != applied.term {
            Err(ClientError::NotCommitted { index: applied.index, term, committed_term: applied.term })
        } else {
            match result {
                Some(r) => r.map(|r| (applied.index, r)),
                None => {
                    Err(ClientError::StateMachine(format!("entry {} produced no answer for its write", applied.index)))
                }
            }
        };
        let succeeded = answer.is_ok();
        let _ = reply.send(answer);
        succeeded.then(|| proposed.elapsed())
    }

    /// Fails every write at or below `index` (a snapshot replaced them).
    pub(crate) fn fail_through(&mut self, index: LogIndex, err: impl Fn(LogIndex) -> ClientError) {
        let rest = self.by_index.split_off(&index.next());
        for (i, (_, _, reply)) in std::mem::replace(&mut self.by_index, rest) {
            let _ = reply.send(Err(err(i)));
        }
    }

    /// Fails every write.
    pub(crate) fn fail_all(&mut self, err: impl Fn(LogIndex) -> ClientError) {
        for (i, (_, _, reply)) in std::mem::take(&mut self.by_index) {
            let _ = reply.send(Err(err(i)));
        }
    }
}

/// Reads waiting for confirmation and then for apply.
pub(crate) struct PendingReads<Q, A> {
    next_ctx: u64,
    /// Reads whose ReadIndex round has not completed.
    unconfirmed: HashMap<u64, (Q, Reply<A>)>,
    /// Confirmed reads by read index.
    confirmed: BTreeMap<LogIndex, Vec<(Q, Reply<A>)>>,
    confirmed_len: usize,
}

impl<Q, A> PendingReads<Q, A> {
    pub(crate) fn new() -> Self {
        PendingReads { next_ctx: 1, unconfirmed: HashMap::new(), confirmed: BTreeMap::new(), confirmed_len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.unconfirmed.len() + self.confirmed_len
    }

    /// Registers a read; returns the ctx to pass to `read_index`.
    pub(crate) fn register(&mut self, query: Q, reply: Reply<A>) -> u64 {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        self.unconfirmed.insert(ctx, (query, reply));
        ctx
    }

    /// Takes back a read the core refused.
    pub(crate) fn cancel(&mut self, ctx: u64) -> Option<(Q, Reply<A>)> {
        self.unconfirmed.remove(&ctx)
    }

    /// The read `ctx` may be served once `index` is applied.
    pub(crate) fn confirm(&mut self, ctx: u64, index: LogIndex) {
        if let Some(read) = self.unconfirmed.remove(&ctx) {
            self.confirmed.entry(index).or_default().push(read);
            self.confirmed_len += 1;
        }
    }

    /// Removes the confirmed reads servable at `applied`.
    pub(crate) fn take_servable(&mut self, applied: LogIndex) -> Vec<(Q, Reply<A>)> {
        let later = self.confirmed.split_off(&applied.next());
        let ready: Vec<_> = std::mem::replace(&mut self.confirmed, later).into_values().flatten().collect();
        self.confirmed_len -= ready.len();
        ready
    }

    /// Fails the reads whose confirmation will never come (the node is no
    /// longer leader). Confirmed reads stay: they are still linearizable.
    pub(crate) fn fail_unconfirmed(&mut self, err: impl Fn() -> ClientError) {
        for (_, (_, reply)) in self.unconfirmed.drain() {
            let _ = reply.send(Err(err()));
        }
    }

    /// Fails every read.
    pub(crate) fn fail_all(&mut self, err: impl Fn() -> ClientError) {
        self.fail_unconfirmed(&err);
        for (_, reply) in std::mem::take(&mut self.confirmed).into_values().flatten() {
            let _ = reply.send(Err(err()));
        }
        self.confirmed_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_at(
        p: &mut PendingWrites<u32>,
        term: u64,
        index: u64,
    ) -> oneshot::Receiver<Result<(LogIndex, u32), ClientError>> {
        let (tx, rx) = oneshot::channel();
        p.insert(LogId::new(Term(term), LogIndex(index)), tx);
        rx
    }

    #[test]
    fn a_write_applied_with_its_own_term_succeeds() {
        let mut p = PendingWrites::new();
        let mut rx = write_at(&mut p, 2, 5);
        let took = p.on_applied(LogId::new(Term(2), LogIndex(5)), Some(Ok(7)));
        assert!(took.is_some(), "a successful write reports its latency");
        assert_eq!(rx.try_recv().unwrap(), Ok((LogIndex(5), 7)));
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn a_write_overwritten_by_another_term_fails_as_not_committed() {
        let mut p = PendingWrites::new();
        let mut rx = write_at(&mut p, 2, 5);
        let took = p.on_applied(LogId::new(Term(3), LogIndex(5)), Some(Ok(9)));
        assert_eq!(took, None, "a failed write is not a proposal latency sample");
        let err = rx.try_recv().unwrap().unwrap_err();
        assert!(matches!(err, ClientError::NotCommitted { committed_term: Term(3), .. }), "{err:?}");
        assert!(err.to_string().contains("retry"));
    }

    #[test]
    fn fail_through_answers_only_covered_writes() {
        let mut p = PendingWrites::new();
        let mut a = write_at(&mut p, 1, 3);
        let mut b = write_at(&mut p, 1, 8);
        p.fail_through(LogIndex(5), |index| ClientError::LeadershipLost { index });
        assert!(a.try_recv().unwrap().is_err());
        assert!(b.try_recv().is_err(), "write 8 must still be pending");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn reads_are_served_only_once_applied_reaches_their_index() {
        let mut r: PendingReads<&str, u32> = PendingReads::new();
        let (tx, _rx) = oneshot::channel();
        let ctx = r.register("k", tx);
        r.confirm(ctx, LogIndex(10));
        assert!(r.take_servable(LogIndex(9)).is_empty());
        assert_eq!(r.take_servable(LogIndex(10)).len(), 1);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn losing_leadership_fails_unconfirmed_reads_but_keeps_confirmed_ones() {
        let mut r: PendingReads<&str, u32> = PendingReads::new();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, _rx2) = oneshot::channel();
        let c1 = r.register("a", tx1);
        let c2 = r.register("b", tx2);
        r.confirm(c2, LogIndex(4));
        r.fail_unconfirmed(|| ClientError::NotLeader { leader: None, leader_addr: None });
        assert!(rx1.try_recv().unwrap().is_err());
        assert!(r.cancel(c1).is_none());
        assert_eq!(r.len(), 1);
    }
}
