//! Operator membership changes: the target configuration a request asks
//! for, and the changes proposed but not yet answered.
//!
//! A change is answered when the configuration that ends it is applied
//! (it is then committed): the entry at the proposed index if it is not
//! joint, else the next non-joint configuration, which the leader appends
//! to leave the joint configuration (thesis §4.3). As with writes, an entry
//! at that index with another term means another leader overwrote the
//! change (§5.3): it was not made.

use std::collections::BTreeMap;

use raft_core::{LogId, LogIndex, Membership, NodeId, Term};
use raft_rpc::{ChangeOutcome, ChangeRefused, MemberChange, RefusalReason};

use super::pending::Reply;
use crate::error::ClientError;

fn refused(reason: RefusalReason, message: String) -> ChangeRefused {
    ChangeRefused { reason, message }
}

/// The configuration `change` asks for, from `current` (the effective one).
pub(crate) fn target(current: &Membership, change: &MemberChange) -> Result<Membership, ChangeRefused> {
    if current.is_joint() {
        return Err(refused(
            RefusalReason::Pending,
            "a joint configuration change is in progress; retry shortly".into(),
        ));
    }
    let mut next = current.clone();
    match change {
        MemberChange::AddLearner { id, address } => {
            if current.contains(*id) {
                let role = if current.is_voter(*id) { "a voter" } else { "a learner" };
                return Err(refused(RefusalReason::AlreadyMember, format!("node {id} is already {role}")));
            }
            next.learners.insert(*id);
            next.addrs.insert(*id, address.clone());
        }
        MemberChange::Promote { id } => {
            if current.is_voter(*id) {
                return Err(refused(RefusalReason::AlreadyMember, format!("node {id} is already a voter")));
            }
            if !next.learners.remove(id) {
                return Err(refused(RefusalReason::UnknownMember, format!("node {id} is not a learner")));
            }
            next.voters.insert(*id);
        }
        MemberChange::Remove { id, .. } => {
            if !current.contains(*id) {
                return Err(refused(RefusalReason::UnknownMember, format!("node {id} is not a member")));
            }
            if current.voters.len() == 1 && current.voters.contains(id) {
                return Err(refused(RefusalReason::Invalid, format!("node {id} is the last voter")));
            }
            next.voters.remove(id);
            next.learners.remove(id);
            next.addrs.remove(id);
            next.incarnations.remove(id);
        }
    }
    Ok(next)
}

/// `current` with an incarnation stamped for every member that has none
/// and whose incarnation is known: `own` for `me`, `known` (the fence's,
/// learned by contact or adopted from the log) for the others; `None` if
/// nothing is to add. Stamps already there are never changed: only a
/// removal clears one, so a wiped member comes back as a new learner.
///
/// Voters only: a learner neither votes nor counts toward a commit, so it
/// has nothing to fence, and it is stamped when promoted (the promotion's
/// target has it as a voter). Stamping a learner by itself would append a
/// configuration entry it does not hold yet, and the promotion that follows
/// would be refused as lagging (thesis §4.2.1: a learner must hold the
/// current configuration; `jepsen_membership` seed 20261219).
pub(crate) fn with_stamps(
    current: &Membership,
    known: &BTreeMap<NodeId, u64>,
    me: NodeId,
    own: u64,
) -> Option<Membership> {
    let mut next = current.clone();
    for id in current.members().filter(|id| current.is_voter(*id) && !current.incarnations.contains_key(id)) {
        let inc = if id == me { own } else { known.get(&id).copied().unwrap_or(0) };
        if inc != 0 {
            next.incarnations.insert(id, inc);
        }
    }
    (next.incarnations != current.incarnations).then_some(next)
}

/// The voter a leader hands over to before removing itself: the most
/// caught-up other voter (ties: the lowest id), so the transfer finishes
/// soonest (thesis §3.10).
pub(crate) fn transferee(
    me: NodeId,
    current: &Membership,
    matched: impl Fn(NodeId) -> Option<LogIndex>,
) -> Option<NodeId> {
    let others = current.voters.iter().copied().filter(|v| *v != me);
    others.max_by_key(|v| (matched(*v).unwrap_or_default(), std::cmp::Reverse(*v)))
}

/// Proposed changes waiting for their configuration to be applied.
pub(crate) struct PendingChanges {
    by_index: BTreeMap<LogIndex, (Term, Reply<ChangeOutcome>)>,
    /// Joint configurations applied; waiting for the final one.
    leaving_joint: Vec<Reply<ChangeOutcome>>,
}

impl PendingChanges {
    pub(crate) fn new() -> Self {
        PendingChanges { by_index: BTreeMap::new(), leaving_joint: Vec::new() }
    }

    /// Tracks a change proposed at `id`.
    pub(crate) fn insert(&mut self, id: LogId, reply: Reply<ChangeOutcome>) {
        if let Some((_, old)) = self.by_index.insert(id.index, (id.term, reply)) {
            let _ = old.send(Err(ClientError::LeadershipLost { index: id.index }));
        }
    }

    /// The configuration entry `applied` holding `m` was applied.
    pub(crate) fn on_applied(&mut self, applied: LogId, m: &Membership) {
        let done = || Ok(ChangeOutcome { index: applied.index, membership: m.clone() });
        if let Some((term, reply)) = self.by_index.remove(&applied.index) {
            if term != applied.term {
                let e = ClientError::NotCommitted { index: applied.index, term, committed_term: applied.term };
                let _ = reply.send(Err(e));
            } else if m.is_joint() {
                self.leaving_joint.push(reply);
            } else {
                let _ = reply.send(done());
            }
        }
        if !m.is_joint() {
            for reply in self.leaving_joint.drain(..) {
                let _ = reply.send(done());
            }
        }
    }

    /// Fails every change (the node stops, or a snapshot replaced the log:
    /// the change may or may not be in it).
    pub(crate) fn fail_all(&mut self, err: impl Fn(Option<LogIndex>) -> ClientError) {
        for (i, (_, reply)) in std::mem::take(&mut self.by_index) {
            let _ = reply.send(Err(err(Some(i))));
        }
        for reply in self.leaving_joint.drain(..) {
            let _ = reply.send(Err(err(None)));
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    fn cfg(voters: &[u64], learners: &[u64]) -> Membership {
        let mut m = Membership::new(voters.iter().map(|&v| NodeId(v)));
        m.learners = learners.iter().map(|&l| NodeId(l)).collect();
        m
    }

    fn reason(r: Result<Membership, ChangeRefused>) -> RefusalReason {
        r.expect_err("refused").reason
    }

    #[test]
    fn targets_add_promote_and_remove_one_member() {
        let add = MemberChange::AddLearner { id: NodeId(4), address: "h:4".into() };
        let added = target(&cfg(&[1, 2, 3], &[]), &add).unwrap();
        assert_eq!((added.learners.len(), added.addrs[&NodeId(4)].as_str()), (1, "h:4"));
        let promoted = target(&added, &MemberChange::Promote { id: NodeId(4) }).unwrap();
        assert_eq!(promoted.voters.len(), 4);
        assert!(promoted.learners.is_empty());
        let removed = target(&promoted, &MemberChange::Remove { id: NodeId(4), step_down: false }).unwrap();
        assert_eq!(removed, cfg(&[1, 2, 3], &[]), "the address goes with the member");
    }

    #[test]
    fn the_leader_stamps_known_incarnations_and_never_rewrites_one() {
        // Issue #14: the configuration carries each member's incarnation so
        // that every node can fence a wiped member.
        let mut c = cfg(&[1, 2, 3], &[4]);
        c.incarnations.insert(NodeId(2), 22);
        let known = [(NodeId(2), 0xbad), (NodeId(4), 44)].into();
        let next = with_stamps(&c, &known, NodeId(1), 11).expect("1 lacks a stamp");
        assert_eq!(next.incarnations, [(NodeId(1), 11), (NodeId(2), 22)].into(), "2 keeps its stamp, learner 4 waits");
        assert_eq!((next.voters.clone(), next.learners.clone()), (c.voters.clone(), c.learners.clone()));
        assert_eq!(with_stamps(&next, &known, NodeId(1), 11), None, "node 3 is unknown: nothing more to add");
        let promoted = target(&next, &MemberChange::Promote { id: NodeId(4) }).unwrap();
        let stamped = with_stamps(&promoted, &known, NodeId(1), 11).expect("the promoted learner gets its stamp");
        assert_eq!(stamped.incarnations.get(&NodeId(4)), Some(&44));
        let removed = target(&next, &MemberChange::Remove { id: NodeId(2), step_down: false }).unwrap();
        assert!(!removed.incarnations.contains_key(&NodeId(2)), "removal clears the stamp, so it can come back");
        assert_eq!(
            with_stamps(&cfg(&[1], &[]), &BTreeMap::new(), NodeId(1), 0),
            None,
            "unstamped stores stamp nothing"
        );
    }

    #[test]
    fn targets_refuse_what_makes_no_sense() {
        let c = cfg(&[1, 2], &[3]);
        let add = |id| MemberChange::AddLearner { id: NodeId(id), address: "h:1".into() };
        assert_eq!(reason(target(&c, &add(2))), RefusalReason::AlreadyMember);
        assert_eq!(reason(target(&c, &add(3))), RefusalReason::AlreadyMember);
        assert_eq!(reason(target(&c, &MemberChange::Promote { id: NodeId(1) })), RefusalReason::AlreadyMember);
        assert_eq!(reason(target(&c, &MemberChange::Promote { id: NodeId(9) })), RefusalReason::UnknownMember);
        let remove = |id| MemberChange::Remove { id: NodeId(id), step_down: true };
        assert_eq!(reason(target(&c, &remove(9))), RefusalReason::UnknownMember);
        assert_eq!(reason(target(&cfg(&[1], &[]), &remove(1))), RefusalReason::Invalid);
        let mut joint = c.clone();
        joint.outgoing.insert(NodeId(5));
        assert_eq!(reason(target(&joint, &add(7))), RefusalReason::Pending, "thesis §4.3: one change at a time");
    }

    #[test]
    fn the_transferee_is_the_most_caught_up_other_voter() {
        let c = cfg(&[1, 2, 3], &[4]);
        let matched = |id: NodeId| Some(LogIndex([0, 50, 40, 45, 99][id.0 as usize]));
        assert_eq!(transferee(NodeId(1), &c, matched), Some(NodeId(3)), "learner 4 is not eligible");
        assert_eq!(transferee(NodeId(1), &cfg(&[1], &[]), matched), None);
    }

    #[test]
    fn a_change_is_answered_when_its_final_configuration_is_applied() {
        let mut p = PendingChanges::new();
        let (tx, mut rx) = oneshot::channel();
        p.insert(LogId::new(Term(2), LogIndex(5)), tx);
        let mut joint = cfg(&[1, 2, 4], &[]);
        joint.outgoing = cfg(&[1, 2, 3], &[]).voters;
        p.on_applied(LogId::new(Term(2), LogIndex(5)), &joint);
        assert!(rx.try_recv().is_err(), "thesis §4.3: joint is not the end of the change");
        p.on_applied(LogId::new(Term(2), LogIndex(6)), &cfg(&[1, 2, 4], &[]));
        let done = rx.try_recv().unwrap().unwrap();
        assert_eq!(done.index, LogIndex(6));
    }

    #[test]
    fn a_change_overwritten_by_another_leader_was_not_made() {
        let mut p = PendingChanges::new();
        let (tx, mut rx) = oneshot::channel();
        p.insert(LogId::new(Term(2), LogIndex(5)), tx);
        p.on_applied(LogId::new(Term(3), LogIndex(5)), &cfg(&[1, 2, 3], &[]));
        assert!(matches!(rx.try_recv().unwrap(), Err(ClientError::NotCommitted { .. })));
    }
}
