//! Client-side helpers on top of [`Cluster`], modelled on the 6.824 Raft
//! test harness (`checkOneLeader`, `one`, `nCommitted`, `wait`): find the
//! leader, submit a command and wait until enough servers applied it. Every
//! wait is bounded in ticks and fails the run with the seed when exceeded.

use raft_core::{LogId, LogIndex, NodeId, ProposeError, Role, Term};

use super::cluster::Cluster;

/// Ticks a client waits for one attempt to commit (2 s at 100 ms a tick).
pub const COMMIT_WAIT_TICKS: u64 = 20;
/// Ticks `one` keeps retrying (10 s).
pub const ONE_DEADLINE_TICKS: u64 = 100;

impl Cluster {
    /// Live nodes that believe they lead, with their terms.
    pub fn leaders(&self) -> Vec<(NodeId, Term)> {
        self.hosts
            .values()
            .filter_map(|h| h.node.as_ref().filter(|n| n.role() == Role::Leader).map(|n| (h.id, n.term())))
            .collect()
    }

    /// The leader with the highest term among live, connected nodes.
    pub fn connected_leader(&self) -> Option<NodeId> {
        self.leaders().into_iter().filter(|(id, _)| self.is_connected(*id)).max_by_key(|(_, t)| *t).map(|(id, _)| id)
    }

    /// Waits (up to 5 s) until some connected node leads, and returns the
    /// leader of the newest term (6.824 `checkOneLeader`).
    pub fn check_one_leader(&mut self) -> NodeId {
        for _ in 0..50 {
            self.tick();
            if let Some(id) = self.connected_leader() {
                return id;
            }
        }
        self.fail("expected one leader, got none within 50 ticks")
    }

    /// Fails if any live, connected node believes it leads.
    pub fn check_no_leader(&self) {
        if let Some(id) = self.leaders().into_iter().map(|(id, _)| id).find(|id| self.is_connected(*id)) {
            self.fail(format!("expected no leader among connected nodes, but {id} claims to be one"));
        }
    }

    /// The term every live connected node agrees on (fails if they differ).
    pub fn check_terms(&self) -> Term {
        let terms: Vec<(NodeId, Term)> = self
            .ids()
            .into_iter()
            .filter(|id| self.is_connected(*id))
            .filter_map(|id| self.hosts[&id].term().map(|t| (id, t)))
            .collect();
        let first = terms.first().map(|(_, t)| *t).unwrap_or_default();
        if terms.iter().any(|(_, t)| *t != first) {
            self.fail(format!("servers disagree on term: {terms:?}"));
        }
        first
    }

    /// Proposes `data` at `id` and lets it send.
    pub fn propose(&mut self, id: NodeId, data: Vec<u8>) -> Result<LogId, ProposeError> {
        let r = self.hosts.get_mut(&id).expect("known id").node().propose(data);
        if let Ok(log_id) = &r {
            self.note(format!("{id} accepted proposal at {log_id}"));
        }
        self.after_input(id);
        r
    }

    /// Asks `id` to confirm a read identified by `ctx` (§6.4).
    pub fn read_index(&mut self, id: NodeId, ctx: u64) -> Result<(), ProposeError> {
        let r = self.hosts.get_mut(&id).expect("known id").node().read_index(ctx);
        self.after_input(id);
        r
    }

    /// Asks leader `id` to hand leadership to `to` (thesis §3.10).
    pub fn transfer_leader(&mut self, id: NodeId, to: NodeId) -> Result<(), ProposeError> {
        let r = self.hosts.get_mut(&id).expect("known id").node().transfer_leader(to);
        self.note(format!("{id} asked to transfer leadership to {to}: {r:?}"));
        self.after_input(id);
        r
    }

    /// Makes `id` campaign now.
    pub fn campaign(&mut self, id: NodeId) {
        let r = self.hosts.get_mut(&id).expect("known id").node().campaign();
        if let Err(e) = r {
            self.fail(format!("{id}: campaign() returned a fatal error: {e}"));
        }
        self.after_input(id);
    }

    /// How many live nodes have applied `index`, and the command there
    /// (6.824 `nCommitted`; State Machine Safety is checked elsewhere).
    pub fn n_committed(&self, index: LogIndex) -> (usize, Option<Vec<u8>>) {
        let count = self.hosts.values().filter(|h| h.is_up() && h.sm.applied >= index).count();
        let data = self.inv.applied().get(&index).and_then(|r| r.data.clone());
        (count, data)
    }

    /// Submits `data` until at least `expected` servers applied it at one
    /// index (6.824 `one`). Without `retry`, one successful submission must
    /// commit. Returns the index.
    pub fn one(&mut self, data: &[u8], expected: usize, retry: bool) -> LogIndex {
        let deadline = self.now + ONE_DEADLINE_TICKS;
        let mut start = 0usize;
        while self.now < deadline {
            let ids = self.ids();
            let mut accepted = None;
            for k in 0..ids.len() {
                let id = ids[(start + k) % ids.len()];
                if self.is_up(id) && self.is_connected(id) {
                    if let Ok(log_id) = self.propose(id, data.to_vec()) {
                        accepted = Some(log_id);
                        break;
                    }
                }
            }
            start += 1;
            let Some(log_id) = accepted else {
                self.run_ticks(5);
                continue;
            };
            let until = self.now + COMMIT_WAIT_TICKS;
            while self.now < until {
                let (n, got) = self.n_committed(log_id.index);
                if n >= expected && got.as_deref() == Some(data) {
                    return log_id.index;
                }
                self.tick();
            }
            if !retry {
                self.fail(format!("one({:?}) failed to reach agreement on {expected} servers", short(data)));
            }
        }
        self.fail(format!("one({:?}) failed to reach agreement on {expected} servers within 10 s", short(data)))
    }

    /// Ticks until `n` servers applied `index` or `ticks` pass; returns the
    /// command there if they did.
    pub fn wait_applied(&mut self, index: LogIndex, n: usize, ticks: u64) -> Option<Vec<u8>> {
        for _ in 0..=ticks {
            let (count, data) = self.n_committed(index);
            if count >= n {
                return data;
            }
            self.tick();
        }
        None
    }

    /// Ticks until `cond` holds, failing the run after `ticks`.
    pub fn wait_until(&mut self, ticks: u64, what: &str, mut cond: impl FnMut(&Cluster) -> bool) {
        for _ in 0..=ticks {
            if cond(self) {
                return;
            }
            self.tick();
        }
        self.fail(format!("timed out after {ticks} ticks waiting for: {what}"))
    }
}

fn short(data: &[u8]) -> String {
    String::from_utf8_lossy(&data[..data.len().min(32)]).into_owned()
}
