//! Every node in its own Linux network namespace, wired to a private bridge, so
//! the network between nodes can be cut, made one-way or lossy — faults that
//! loopback cannot express.
//!
//! Layout for a run with prefix `P` (`rtst-<pid>-<n>`):
//! ```text
//!   P-hub:  bridge br0, veth v<id> per member (no addresses)
//!   P-n<id>: eth0 = 10.77.0.<id>/24   (one per node)
//!   P-cli:  eth0 = 10.77.0.250/24     (where clients run; never filtered)
//! ```
//! Nothing is created in the root namespace, so 10.77.0.0/24 exists only inside
//! these namespaces and parallel runs (each with its own hub) cannot collide.
//! Dropping the [`Netns`] deletes its namespaces; [`cleanup_leftovers`] removes
//! those of runs that were killed before they could.

mod exec;
mod faults;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};

pub use exec::{availability, cleanup_leftovers, run_in_namespace, spawn_in_namespace, NetnsError};
pub use faults::LinkFault;

use crate::error::NodeId;
use exec::run;

/// Prefix of every namespace this harness creates.
pub const NAME_BASE: &str = "rtst";

/// Largest node id (ids are the last octet of node addresses).
pub const MAX_NODE_ID: NodeId = 200;

/// The last octet of the client namespace's address.
const CLIENT_OCTET: u8 = 250;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A set of namespaces, one per node plus one for clients, on a private bridge.
#[derive(Debug)]
pub struct Netns {
    prefix: String,
    created: Vec<String>,
    nodes: BTreeMap<NodeId, String>,
    faults: Vec<LinkFault>,
}

impl Netns {
    /// Creates the namespaces for `ids`. [`NetnsError::Unavailable`] means the
    /// machine cannot do this (not root, tools missing): skip the test.
    pub fn create(ids: &[NodeId]) -> Result<Self, NetnsError> {
        availability()?;
        if let Some(&bad) = ids.iter().find(|&&id| id == 0 || id > MAX_NODE_ID) {
            return Err(NetnsError::NodeIdOutOfRange(bad));
        }
        cleanup_leftovers(NAME_BASE);
        let prefix = format!("{NAME_BASE}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut net = Netns { prefix, created: Vec::new(), nodes: BTreeMap::new(), faults: Vec::new() };
        let hub = net.add_namespace("hub").map_err(|e| match e {
            NetnsError::Command { stderr, .. } => NetnsError::Unavailable(format!("`ip netns add` failed: {stderr}")),
            other => other,
        })?;
        run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"], None)?;
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"], None)?;
        net.add_member(&hub, "cli", "vc", Ipv4Addr::new(10, 77, 0, CLIENT_OCTET))?;
        for &id in ids {
            let ns = net.add_member(&hub, &format!("n{id}"), &format!("v{id}"), node_addr(id))?;
            net.nodes.insert(id, ns);
        }
        Ok(net)
    }

    fn add_namespace(&mut self, suffix: &str) -> Result<String, NetnsError> {
        let name = format!("{}-{suffix}", self.prefix);
        run(&["ip", "netns", "add", &name], None)?;
        self.created.push(name.clone());
        Ok(name)
    }

    /// A namespace with `eth0 = addr/24` plugged into the hub's bridge as `port`.
    fn add_member(&mut self, hub: &str, suffix: &str, port: &str, addr: Ipv4Addr) -> Result<String, NetnsError> {
        let ns = self.add_namespace(suffix)?;
        run(&["ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &ns], None)?;
        run(&["ip", "-n", hub, "link", "set", port, "master", "br0", "up"], None)?;
        run(&["ip", "-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"], None)?;
        run(&["ip", "-n", &ns, "link", "set", "eth0", "up"], None)?;
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"], None)?;
        Ok(ns)
    }

    /// The unique prefix of this network's namespace names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The nodes in this network.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Node `id`'s address (inside the namespaces only).
    pub fn node_addr(&self, id: NodeId) -> Result<Ipv4Addr, NetnsError> {
        if self.nodes.contains_key(&id) {
            Ok(node_addr(id))
        } else {
            Err(NetnsError::UnknownNode(id))
        }
    }

    /// The client namespace's address.
    pub fn client_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, CLIENT_OCTET)
    }

    /// Node `id`'s namespace name.
    pub fn namespace(&self, id: NodeId) -> Result<&str, NetnsError> {
        self.nodes.get(&id).map(String::as_str).ok_or(NetnsError::UnknownNode(id))
    }

    /// The client namespace's name.
    pub fn client_namespace(&self) -> String {
        format!("{}-cli", self.prefix)
    }

    /// `argv` wrapped to run inside node `id`'s namespace (`ip netns exec`, which
    /// execs, so the pid is the command's own).
    pub fn wrap_command(&self, id: NodeId, argv: Vec<OsString>) -> Result<Vec<OsString>, NetnsError> {
        let ns = self.namespace(id)?;
        let mut out: Vec<OsString> = ["ip", "netns", "exec", ns].iter().map(OsString::from).collect();
        out.extend(argv);
        Ok(out)
    }

    /// Runs `f` inside node `id`'s namespace (see [`run_in_namespace`]).
    pub fn run_in_node<T: Send, F: FnOnce() -> T + Send>(&self, id: NodeId, f: F) -> Result<T, NetnsError> {
        run_in_namespace(self.namespace(id)?, f)
    }

    /// Runs `f` inside the client namespace, from which every node is reachable.
    pub fn run_in_client<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, NetnsError> {
        run_in_namespace(&self.client_namespace(), f)
    }

    /// The faults in force.
    pub fn faults(&self) -> &[LinkFault] {
        &self.faults
    }

    /// Replaces all faults with `faults` (empty = healed), rewriting the rules of
    /// every node whose incoming faults changed.
    pub fn set_faults(&mut self, faults: Vec<LinkFault>) -> Result<(), NetnsError> {
        for f in &faults {
            self.node_addr(f.from)?;
            self.node_addr(f.to)?;
        }
        let old = faults::by_receiver(&self.faults);
        let new = faults::by_receiver(&faults);
        for (&id, ns) in &self.nodes {
            let (before, after) = (old.get(&id), new.get(&id));
            if before == after {
                continue;
            }
            let rules = faults::render_rules(id, after.map(Vec::as_slice).unwrap_or(&[]), |n| self.node_addr(n))?;
            run(&["ip", "netns", "exec", ns, "iptables-restore"], Some(&rules))?;
        }
        self.faults = faults;
        Ok(())
    }

    /// Adds faults to those in force.
    pub fn add_faults(&mut self, more: impl IntoIterator<Item = LinkFault>) -> Result<(), NetnsError> {
        let mut all = self.faults.clone();
        all.extend(more);
        self.set_faults(all)
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut(&mut self, a: NodeId, b: NodeId) -> Result<(), NetnsError> {
        self.add_faults(LinkFault::cut_both(a, b))
    }

    /// Drops every packet `from` sends to `to`, but not the reverse: one-way for
    /// datagrams only — a TCP connection in either direction needs packets
    /// both ways, so for TCP this cuts the link both ways (use
    /// [`Netns::block_requests`] for a one-way TCP fault).
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) -> Result<(), NetnsError> {
        self.add_faults([LinkFault::cut(from, to)])
    }

    /// One-way for TCP: `from` cannot send requests to `to` (open a connection
    /// to its listening port, or use one it has), while `to` can still open
    /// connections to `from` and talk over them both ways.
    pub fn block_requests(&mut self, from: NodeId, to: NodeId) -> Result<(), NetnsError> {
        self.add_faults([LinkFault::no_requests(from, to)])
    }

    /// Drops packets from `from` to `to` with probability `p`.
    pub fn lossy(&mut self, from: NodeId, to: NodeId, p: f64) -> Result<(), NetnsError> {
        self.add_faults([LinkFault::lossy(from, to, p)])
    }

    /// Separates `groups` from each other (replacing any faults in force).
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) -> Result<(), NetnsError> {
        self.set_faults(LinkFault::partition(groups))
    }

    /// Cuts `id` off from every other node (replacing any faults in force).
    pub fn isolate(&mut self, id: NodeId) -> Result<(), NetnsError> {
        let rest: Vec<NodeId> = self.nodes.keys().copied().filter(|&n| n != id).collect();
        self.partition(&[vec![id], rest])
    }

    /// Removes every fault.
    pub fn heal(&mut self) -> Result<(), NetnsError> {
        self.set_faults(Vec::new())
    }

    /// `iptables -S` inside node `id`'s namespace, for diagnostics.
    pub fn rules_text(&self, id: NodeId) -> Result<String, NetnsError> {
        run(&["ip", "netns", "exec", self.namespace(id)?, "iptables", "-S"], None)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veth ends and (for the hub) the bridge.
        for ns in self.created.iter().rev() {
            if let Err(e) = run(&["ip", "netns", "del", ns], None) {
                eprintln!("netns cleanup: {e}");
            }
        }
    }
}

fn node_addr(id: NodeId) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, u8::try_from(id).expect("invariant: node ids are checked against MAX_NODE_ID"))
}
