//! The configuration a brand-new store starts from.
//!
//! A node of a new cluster bootstraps with every configured peer as a voter,
//! and with each peer's address, so that the addresses are replicated in
//! the log from the first configuration on and a member added later learns
//! them from the log (thesis §4: configurations travel in the log). A node
//! started with [`NodeConfig::join`] must not bootstrap: a second, private
//! configuration would let it elect itself and diverge. It waits, without
//! voters, for a leader to add it and send it the log.

use raft_core::{Membership, NodeId};

use crate::config::NodeConfig;

/// The membership to record in a store that holds nothing yet, or `None`
/// when the node joins an existing cluster instead.
pub(crate) fn initial_membership(config: &NodeConfig) -> Option<Membership> {
    if config.join {
        return None;
    }
    let mut m = Membership::new(config.peers.iter().map(|p| NodeId(p.id)));
    m.addrs = config.peer_map();
    Some(m)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::PeerConfig;

    fn config(join: bool) -> NodeConfig {
        let peers = (1..=3).map(|i| PeerConfig { id: i, addr: format!("127.0.0.1:700{i}") }).collect();
        let mut c = NodeConfig::new(1, "127.0.0.1:7001", peers, PathBuf::from("/tmp/unused"));
        c.join = join;
        c
    }

    #[test]
    fn a_new_cluster_bootstraps_every_peer_as_a_voter_with_its_address() {
        let m = initial_membership(&config(false)).expect("bootstraps");
        assert_eq!(m.voters.iter().map(|n| n.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(m.addrs.get(&NodeId(2)).map(String::as_str), Some("127.0.0.1:7002"));
        assert_eq!(m.addrs.len(), 3);
    }

    #[test]
    fn a_joining_node_records_no_configuration() {
        assert_eq!(initial_membership(&config(true)), None);
    }
}
