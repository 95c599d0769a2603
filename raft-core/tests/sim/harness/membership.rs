//! Membership changes in the simulated cluster (thesis §4.1-§4.3): spare
//! servers that start outside the configuration (empty membership: join
//! mode), random add-learner / promote / remove-voter / remove-learner /
//! multi-voter (joint consensus) proposals at the leader, wipe-and-rejoin of
//! a server the committed configuration no longer lists, and the
//! configurations a checker or the liveness phase has to reckon with.

use std::collections::BTreeSet;

use raft_core::{
    Entry, EntryPayload, LogId, MemStorage, Membership, Message, MessageBody, NodeId, ProposeError, SeededRng, Storage,
};

use super::cluster::Cluster;
use super::state_machine::SimStateMachine;

/// The kinds of change the fault injector proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A server outside the configuration becomes a learner.
    AddLearner,
    /// A learner becomes a voter.
    Promote,
    /// A server outside the configuration asks to become a voter at once:
    /// the leader must refuse (it is not a learner, thesis §4.2.1).
    AddVoter,
    /// Every learner is promoted and up to two voters leave, in one change
    /// (through C_old,new, thesis §4.3).
    Joint,
    /// A server outside the committed configuration loses its disk and
    /// restarts empty, in join mode; it may be added again as a learner.
    WipeRejoin,
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

/// Every configuration held in `storage`: each membership entry of its log
/// and its snapshot's.
fn stored_memberships(storage: &MemStorage) -> Vec<Membership> {
    let first = storage.first_index().expect("MemStorage reads cannot fail");
    let end = storage.last_index().expect("MemStorage reads cannot fail").next();
    let entries = storage.entries(first, end, None).expect("MemStorage reads cannot fail");
    let snapshot = storage.snapshot().expect("MemStorage reads cannot fail").meta.membership;
    entries.into_iter().filter_map(membership_of).chain([snapshot]).collect()
}

fn membership_of(e: Entry) -> Option<Membership> {
    match e.payload {
        EntryPayload::Membership(m) => Some(m),
        _ => None,
    }
}

/// Every configuration a message carries: membership entries of an append,
/// a snapshot's membership.
fn message_memberships(msg: &Message) -> Vec<Membership> {
    match &msg.body {
        MessageBody::AppendEntries(a) => a.entries.iter().cloned().filter_map(membership_of).collect(),
        MessageBody::InstallSnapshot(s) => vec![s.snapshot.meta.membership.clone()],
        _ => Vec::new(),
    }
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

    /// True if some configuration anywhere lists `id` as a voter (either
    /// half of a joint one): any membership entry of any durable log, any
    /// snapshot, any live node's effective configuration (possibly not
    /// written yet), any membership entry or snapshot in flight. Only a
    /// server for which this is false may be wiped: a wiped server lost the
    /// entries it acknowledged and the votes it cast, so a configuration
    /// that still counts it as a voter could commit without a real majority
    /// or elect two leaders in one term (sim seed 25028528, 5 nodes: the
    /// leader's committed configuration no longer listed the wiped server,
    /// but another log still held one that did). A real cluster is protected
    /// by the runtime's incarnation fence, which refuses a wiped server's
    /// messages under its old identity; the core alone cannot tell a wiped
    /// server from a slow one, so the simulator, which has no such fence,
    /// must not create the situation.
    pub fn listed_as_voter_anywhere(&self, id: NodeId) -> bool {
        let mut configs: Vec<Membership> = Vec::new();
        for h in self.hosts.values() {
            configs.extend(stored_memberships(&h.storage));
            configs.extend(h.node.as_ref().map(|n| n.status().membership));
        }
        configs.extend(self.net.in_flight_messages().flat_map(message_memberships));
        configs.iter().any(|m| m.is_voter(id))
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

    /// Proposes one random change at `leader`, keeping at least
    /// `min_voters` voters, or wipes a server outside its committed
    /// configuration. The leader may remove itself (it steps down once
    /// C_new commits, thesis §4.2.2).
    pub fn random_membership_change(&mut self, leader: NodeId, rng: &mut SeededRng, min_voters: usize) {
        let st = self.hosts[&leader].node.as_ref().expect("leader is up").status();
        let cur = st.membership;
        let outside: BTreeSet<NodeId> = self.ids().into_iter().filter(|id| !cur.contains(*id)).collect();
        let kinds = [
            Change::AddLearner,
            Change::Promote,
            Change::AddVoter,
            Change::RemoveVoter,
            Change::RemoveLearner,
            Change::Joint,
            Change::WipeRejoin,
        ];
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
            Change::Joint => Some(joint_target(rng, &mut m, min_voters)),
            Change::WipeRejoin => {
                // Only once the removal is committed, the change is over and
                // no live node still replicates to it: a leader holding a
                // match index from the old disk would re-probe the emptied
                // log forever (sim seed 3100208: a message storm).
                let settled = st.membership_committed && !cur.is_joint();
                let untracked = |c: &Self, id: NodeId| {
                    c.hosts.values().filter_map(|h| h.node.as_ref()).all(|n| !n.status().progress.contains_key(&id))
                };
                let id = pick(rng, &outside)
                    .filter(|&id| settled && untracked(self, id) && !self.listed_as_voter_anywhere(id));
                if let Some(id) = id {
                    self.wipe(id);
                }
                None
            }
        };
        if ok == Some(true) {
            let r = self.propose_membership(leader, m);
            if kind == Change::AddVoter && r.is_ok() {
                self.fail(format!("a server outside the configuration became a voter directly: {r:?}"));
            }
        }
    }

    /// Wipe-and-rejoin: `id`, which the leader's committed configuration
    /// does not list, loses its disk and restarts with an empty store and
    /// an empty membership (join mode: it never votes or campaigns until
    /// the leader's log tells it its configuration). Messages of its old
    /// incarnation still in flight are dropped: a runtime must not let a
    /// stale acknowledgement of the old disk count for the new one.
    pub fn wipe(&mut self, id: NodeId) {
        self.crash(id);
        self.net.drop_in_flight_of(id, 1.0);
        let storage = MemStorage::new_with_membership(Membership::default());
        let h = self.hosts.get_mut(&id).expect("known id");
        h.storage = storage.clone();
        h.sm = SimStateMachine::new(Membership::default());
        self.inv.register(id, &storage);
        self.coverage.wipes += 1;
        self.note(format!("{id} wiped: empty storage and membership, rejoins in join mode"));
        self.restart(id);
    }

    /// Live servers that are members (voters or learners) of `m`.
    pub fn live_members(&self, m: &Membership) -> Vec<NodeId> {
        self.ids().into_iter().filter(|id| m.contains(*id) && self.is_up(*id)).collect()
    }
}

/// Turns `m` into a change of at least two voters if it can: every learner
/// is promoted and up to two voters leave (at least `min_voters` stay).
/// Returns whether the voter set changes by two or more.
fn joint_target(rng: &mut SeededRng, m: &mut Membership, min_voters: usize) -> bool {
    let before = m.voters.clone();
    let learners = std::mem::take(&mut m.learners);
    m.voters.extend(learners);
    for _ in 0..2 {
        if m.voters.len() > min_voters.max(1) {
            if let Some(id) = pick(rng, &before.intersection(&m.voters).copied().collect()) {
                m.voters.remove(&id);
            }
        }
    }
    m.voters.symmetric_difference(&before).count() >= 2
}
