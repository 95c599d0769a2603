//! What a run exercised, so that tests can assert it happened: a checker
//! that never sees a snapshot install or a membership change proves nothing
//! about them. Counted by the cluster as the run goes.

use raft_core::{NodeId, ProgressState, Role, Storage};

use super::cluster::Cluster;

/// Counters of the interesting things a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Readies that followed two or more inputs (ticks, messages, proposals).
    pub batched_readies: u64,
    /// Crashes in the middle of a write.
    pub torn_writes: u64,
    /// Snapshots a follower installed from its leader.
    pub snapshots_installed: u64,
    /// Times a leader had entries to send to a follower in the Replicate
    /// state but at least `max_inflight_bytes` of unacknowledged entry bytes
    /// outstanding to it: the byte window was what held replication back.
    pub bytes_capped: u64,
    /// Servers wiped and restarted empty to rejoin (join mode).
    pub wipes: u64,
}

impl Cluster {
    /// After leader `id` handled a Ready: does the byte window bind for any
    /// follower? The entries between the follower's match and the next index
    /// the leader will send were all sent and are unacknowledged, so their
    /// bytes are a lower bound of the leader's in-flight bytes to it.
    pub(crate) fn observe_flow_control(&mut self, id: NodeId) {
        let limit = self.cfg.raft.max_inflight_bytes;
        if limit > 1 << 16 {
            return; // the window cannot bind in a run this size
        }
        let h = &self.hosts[&id];
        let Some(node) = h.node.as_ref().filter(|n| n.role() == Role::Leader) else { return };
        let st = node.status();
        let mut capped = 0;
        for (peer, p) in &st.progress {
            if *peer == id || p.state != ProgressState::Replicate || p.next > st.last_index {
                continue;
            }
            let Ok(entries) = h.storage.entries(p.matched.next(), p.next, None) else { continue };
            if entries.iter().map(raft_core::Entry::size_bytes).sum::<u64>() >= limit {
                capped += 1;
            }
        }
        self.coverage.bytes_capped += capped;
    }
}
