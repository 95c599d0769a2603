//! Membership changes in the simulated cluster (thesis §4.1, single-server
//! changes): spare servers that start outside the configuration, random
//! add-learner / promote / add-voter / remove-voter / remove-learner
//! proposals at the leader, and the configurations a checker or the
//! liveness phase has to reckon with.

use std::collections::BTreeSet;

use raft_core::{EntryPayload, LogId, MemStorage, Membership, NodeId, ProposeError, SeededRng, Storage};

use super::cluster::Cluster;

/// The kinds of change the fault injector proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A server outside the configuration becomes a learner.
    AddLearner,
    /// A learner becomes a voter.
    Promote,
    /// A server outside the configuration becomes a voter at once.
    AddVoter,
    /// A voter leaves the configuration.
    RemoveVoter,
    /// A learner leaves the configuration.
    RemoveLearner,
}

/// The configuration in effect for `storage`'s durable log: the latest
/// membership entry, else the snapshot's (thesis §4.1).
pub fn stored_membership(storage: &MemStorage) -> Membership {
    let first = storage.first_index().expect("MemStorage reads cannot fail");
    let end = storage.last_index().expect("MemStorage reads cannot fail").next();
    let entries = storage.entries(first, end, None).expect("MemStorage reads cannot fail");
    entries
        .iter()
        .rev()
        .find_map(|e| match &e.payload {
            EntryPayload::Membership(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap_or_else(|| storage.snapshot().expect("MemStorage reads cannot fail").meta.membership)
}

fn pick(rng: &mut SeededRng, set: &BTreeSet<NodeId>) -> Option<NodeId> {
    let v: Vec<NodeId> = set.iter().copied().collect();
    (!v.is_empty()).then(|| v[rng.gen_range(0, v.len() as u64) as usize])
}

impl Cluster {
    /// Every configuration some server may act on now: each live node's
    /// effective one (its unstable log included) and each durable log's.
    pub fn candidate_configs(&self) -> Vec<Membership> {
        let mut out: Vec<Membership> = Vec::new();
        for h in self.hosts.values() {
            let mut ms = vec![stored_membership(&h.storage)];
            if let Some(n) = &h.node {
                ms.push(n.status().membership);
            }
            for m in ms {
                if !m.voters.is_empty() && !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Asks leader `id` to switch to `m`.
    pub fn propose_membership(&mut self, id: NodeId, m: Membership) -> Result<LogId, ProposeError> {
        let r = self.hosts.get_mut(&id).expect("known id").node().propose_membership(m.clone());
        match &r {
            Ok(log_id) => {
                self.inv.on_membership_proposed(log_id.index, &m);
                self.membership_proposals += 1;
                self.note(format!("{id} accepted membership change to {m:?} at {log_id}"));
            }
            Err(e) => self.note(format!("{id} refused membership change to {m:?}: {e}")),
        }
        self.after_input(id);
        r
    }

    /// Proposes one random single-server change at `leader`, keeping at
    /// least `min_voters` voters. The leader may remove itself (it steps
    /// down once the change commits, thesis §4.2.2).
    pub fn random_membership_change(&mut self, leader: NodeId, rng: &mut SeededRng, min_voters: usize) {
        let cur = self.hosts[&leader].node.as_ref().expect("leader is up").status().membership;
        let outside: BTreeSet<NodeId> = self.ids().into_iter().filter(|id| !cur.contains(*id)).collect();
        let kinds = [Change::AddLearner, Change::Promote, Change::AddVoter, Change::RemoveVoter, Change::RemoveLearner];
        let kind = kinds[rng.gen_range(0, kinds.len() as u64) as usize];
        let mut m = cur.clone();
        let ok = match kind {
            Change::AddLearner => pick(rng, &outside).map(|id| m.learners.insert(id)),
            Change::Promote => pick(rng, &cur.learners).map(|id| m.learners.remove(&id) && m.voters.insert(id)),
            Change::AddVoter => pick(rng, &outside).map(|id| m.voters.insert(id)),
            Change::RemoveVoter if cur.voters.len() > min_voters => {
                pick(rng, &cur.voters).map(|id| m.voters.remove(&id))
            }
            Change::RemoveLearner => pick(rng, &cur.learners).map(|id| m.learners.remove(&id)),
            Change::RemoveVoter => None,
        };
        if ok == Some(true) {
            let _ = self.propose_membership(leader, m);
        }
    }

    /// Live servers that are members (voters or learners) of `m`.
    pub fn live_members(&self, m: &Membership) -> Vec<NodeId> {
        self.ids().into_iter().filter(|id| m.contains(*id) && self.is_up(*id)).collect()
    }
}
