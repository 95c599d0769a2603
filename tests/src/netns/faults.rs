//! Link faults as data, and their translation into iptables rules.
//!
//! A fault is "packets from `from` arriving at `to` are dropped with
//! probability p", implemented as an INPUT rule inside `to`'s namespace. A
//! symmetric cut is two such faults; a lossy link uses iptables' `statistic`
//! match. Each namespace's whole filter table is replaced in one
//! `iptables-restore`, so a partition change is atomic per node.
//!
//! One-way faults and TCP: dropping *every* packet from A at B does not cut
//! one direction of a TCP/gRPC link, it cuts both — B's own connection to A
//! needs A's replies and ACKs, which come from A too. What "one-way" can mean
//! for gRPC over TCP is "A can no longer send *requests* to B": each node
//! sends its RPCs on connections it opened itself to the peer's listening port
//! ([`crate::cluster::NAMESPACE_PORT`]), so [`LinkFault::no_requests`] drops,
//! in B's namespace, only packets from A *to that port*. New connections from A
//! to B fail (their SYN is dropped), and connections A opened earlier stall
//! (their data is dropped; gRPC times them out) — whereas B's connections to A,
//! whose packets from A carry source port 7000 and an ephemeral destination
//! port, keep working both ways: B's requests reach A and A's replies reach B.
//! The rule is stateless (no conntrack), so it also bites flows opened before
//! it was installed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::exec::NetnsError;
use crate::error::NodeId;

/// Packets from `from` to `to` are dropped with probability `drop_probability`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkFault {
    /// Sender.
    pub from: NodeId,
    /// Receiver (the rule lives in its namespace).
    pub to: NodeId,
    /// 1.0 = cut; below 1.0 = lossy.
    pub drop_probability: f64,
    /// Only packets to `to`'s listening port are dropped: `from` cannot send
    /// requests to `to`, but `to`'s requests to `from` are answered (see the
    /// module docs).
    #[serde(default)]
    pub requests_only: bool,
}

impl LinkFault {
    /// Packets from `from` to `to` are all dropped.
    pub fn cut(from: NodeId, to: NodeId) -> Self {
        LinkFault { from, to, drop_probability: 1.0, requests_only: false }
    }

    /// One-way for TCP: `from` can neither open a connection to `to`'s
    /// listening port nor send on one it already has; `to` can still open
    /// connections to `from` and exchange data over them both ways.
    pub fn no_requests(from: NodeId, to: NodeId) -> Self {
        LinkFault { from, to, drop_probability: 1.0, requests_only: true }
    }

    /// Packets from `from` to `to` are dropped with probability `p`.
    pub fn lossy(from: NodeId, to: NodeId, p: f64) -> Self {
        LinkFault { from, to, drop_probability: p, requests_only: false }
    }

    /// Both directions of a cut between `a` and `b`.
    pub fn cut_both(a: NodeId, b: NodeId) -> [Self; 2] {
        [Self::cut(a, b), Self::cut(b, a)]
    }

    /// All faults separating `groups` from each other (nodes in no group keep
    /// every link).
    pub fn partition(groups: &[Vec<NodeId>]) -> Vec<Self> {
        let mut out = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            for (j, h) in groups.iter().enumerate() {
                if i != j {
                    out.extend(g.iter().flat_map(|&a| h.iter().map(move |&b| Self::cut(a, b))));
                }
            }
        }
        out
    }
}

/// The `iptables-restore` input for node `to` given all current faults.
pub(crate) fn render_rules(
    to: NodeId,
    faults: &[LinkFault],
    addr: impl Fn(NodeId) -> Result<Ipv4Addr, NetnsError>,
) -> Result<String, NetnsError> {
    let mut s = String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for f in faults.iter().filter(|f| f.to == to) {
        if !(0.0..=1.0).contains(&f.drop_probability) {
            return Err(NetnsError::Probability(f.drop_probability));
        }
        let src = addr(f.from)?;
        if f.requests_only {
            let port = crate::cluster::NAMESPACE_PORT;
            let _ = writeln!(s, "-A INPUT -s {src}/32 -p tcp --dport {port} -j DROP");
        } else if f.drop_probability >= 1.0 {
            let _ = writeln!(s, "-A INPUT -s {src}/32 -j DROP");
        } else if f.drop_probability > 0.0 {
            let _ = writeln!(
                s,
                "-A INPUT -s {src}/32 -m statistic --mode random --probability {:.6} -j DROP",
                f.drop_probability
            );
        }
    }
    s.push_str("COMMIT\n");
    Ok(s)
}

/// The faults grouped by receiving node.
pub(crate) fn by_receiver(faults: &[LinkFault]) -> BTreeMap<NodeId, Vec<LinkFault>> {
    let mut map: BTreeMap<NodeId, Vec<LinkFault>> = BTreeMap::new();
    for f in faults {
        map.entry(f.to).or_default().push(*f);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(id: NodeId) -> Result<Ipv4Addr, NetnsError> {
        Ok(Ipv4Addr::new(10, 77, 0, id as u8))
    }

    #[test]
    fn cut_and_lossy_render_as_input_drops_in_the_receiver() {
        let faults = [LinkFault::cut(1, 2), LinkFault::lossy(3, 2, 0.25), LinkFault::cut(2, 1)];
        let text = render_rules(2, &faults, addr).unwrap();
        assert!(text.contains("-A INPUT -s 10.77.0.1/32 -j DROP\n"), "{text}");
        assert!(text.contains("-A INPUT -s 10.77.0.3/32 -m statistic --mode random --probability 0.250000 -j DROP"));
        assert!(!text.contains("10.77.0.2/32"), "{text}");
        assert!(text.starts_with("*filter") && text.ends_with("COMMIT\n"));
    }

    #[test]
    fn no_requests_drops_only_packets_to_the_listening_port() {
        let text = render_rules(2, &[LinkFault::no_requests(1, 2)], addr).unwrap();
        assert!(text.contains("-A INPUT -s 10.77.0.1/32 -p tcp --dport 7000 -j DROP\n"), "{text}");
        assert_eq!(text.matches("-A INPUT").count(), 1, "{text}");
    }

    #[test]
    fn bad_probability_is_rejected() {
        let err = render_rules(2, &[LinkFault::lossy(1, 2, 1.5)], addr).unwrap_err();
        assert!(matches!(err, NetnsError::Probability(_)));
    }

    #[test]
    fn partition_cuts_every_link_between_groups_and_none_inside() {
        let faults = LinkFault::partition(&[vec![1, 2], vec![3]]);
        assert_eq!(faults.len(), 4);
        assert!(faults.contains(&LinkFault::cut(1, 3)) && faults.contains(&LinkFault::cut(3, 2)));
        assert!(!faults.iter().any(|f| (f.from, f.to) == (1, 2)));
    }
}
