//! [`ProcessCluster`]: N real `raft-cli node` processes, on loopback or each in
//! its own network namespace, that a test can kill -9, pause, resume and restart.
//!
//! Every node gets `--id I --listen ADDR --peers 1=ADDR1,2=ADDR2,... --data-dir
//! <run>/data/I` (the peer list names every member, the node itself included),
//! plus any extra arguments from the config. Output goes to `<run>/logs/node-I.log`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, NodeId};
use crate::netns::Netns;
use crate::process::{ManagedProcess, ProcessSpec, ProcessState};
use crate::rundir::RunDir;

/// Largest supported cluster.
pub const MAX_NODES: usize = 9;

/// Port every node listens on inside its own namespace.
pub const NAMESPACE_PORT: u16 = 7000;

/// Whole-cluster start attempts when a loopback port turns out to be taken.
const START_ATTEMPTS: usize = 3;

/// Where the nodes' network lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// All nodes on 127.0.0.1 with free ports; only process faults are possible.
    Loopback,
    /// Each node in its own namespace (root only); link faults are possible.
    Namespaces,
}

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Number of nodes, ids `1..=nodes`.
    pub nodes: usize,
    /// Loopback or namespaces.
    pub network: Network,
    /// The node binary; `None` = [`crate::binary::raft_cli`].
    pub binary: Option<PathBuf>,
    /// The subcommand and fixed arguments before the per-node ones (default `["node"]`).
    pub subcommand: Vec<String>,
    /// Appended to every node's command line.
    pub extra_args: Vec<String>,
    /// How long a node may take to accept connections.
    pub ready_timeout: Duration,
}

impl ClusterConfig {
    /// `nodes` loopback nodes with default settings.
    pub fn new(nodes: usize) -> Self {
        ClusterConfig {
            nodes,
            network: Network::Loopback,
            binary: None,
            subcommand: vec!["node".into()],
            extra_args: Vec::new(),
            ready_timeout: Duration::from_secs(20),
        }
    }
}

/// A running cluster of node processes. Dropping it kills every node (and then
/// deletes the namespaces, if any) — also while a failing test unwinds.
#[derive(Debug)]
pub struct ProcessCluster {
    // Field order matters: processes are killed before namespaces are deleted.
    nodes: BTreeMap<NodeId, ManagedProcess>,
    addrs: BTreeMap<NodeId, SocketAddr>,
    netns: Option<Netns>,
    ready_timeout: Duration,
    /// The node binary and the arguments every node gets, for nodes that
    /// join later ([`ProcessCluster::join_node`]).
    binary: PathBuf,
    extra_args: Vec<String>,
}

#[path = "cluster_join.rs"]
mod join;

impl ProcessCluster {
    /// Starts the cluster and waits until every node accepts TCP connections.
    pub fn start(config: &ClusterConfig, run: &RunDir) -> Result<Self, HarnessError> {
        if config.nodes == 0 || config.nodes > MAX_NODES {
            return Err(HarnessError::ClusterSize(config.nodes));
        }
        let binary = match &config.binary {
            Some(b) => b.clone(),
            None => crate::binary::raft_cli()?,
        };
        let ids: Vec<NodeId> = (1..=config.nodes as NodeId).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let netns = match config.network {
                Network::Loopback => None,
                Network::Namespaces => Some(Netns::create(&ids)?),
            };
            let addrs = addresses(&ids, netns.as_ref())?;
            let mut cluster = ProcessCluster {
                nodes: BTreeMap::new(),
                addrs,
                netns,
                ready_timeout: config.ready_timeout,
                binary: binary.clone(),
                extra_args: config.extra_args.clone(),
            };
            match cluster.spawn_all(config, &binary, run).and_then(|()| cluster.wait_all_ready()) {
                Ok(()) => return Ok(cluster),
                Err(e) if attempt < START_ATTEMPTS && config.network == Network::Loopback && port_taken(&e) => {
                    eprintln!("cluster start attempt {attempt}: a port was taken, retrying with new ports ({e})");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn spawn_all(&mut self, config: &ClusterConfig, binary: &Path, run: &RunDir) -> Result<(), HarnessError> {
        let peers = self.addrs.iter().map(|(id, addr)| format!("{id}={addr}")).collect::<Vec<_>>().join(",");
        for (&id, addr) in &self.addrs {
            let data = run.node_data(id);
            std::fs::create_dir_all(&data).map_err(|e| HarnessError::io(format!("creating {}", data.display()), e))?;
            let mut argv: Vec<OsString> = vec![binary.as_os_str().to_owned()];
            argv.extend(config.subcommand.iter().map(OsString::from));
            for arg in ["--id", &id.to_string(), "--listen", &addr.to_string(), "--peers", &peers, "--data-dir"] {
                argv.push(arg.into());
            }
            argv.push(data.into_os_string());
            argv.extend(config.extra_args.iter().map(OsString::from));
            if let Some(net) = &self.netns {
                argv = net.wrap_command(id, argv)?;
            }
            let process = ManagedProcess::spawn(id, ProcessSpec { argv, log: run.node_log(id) })?;
            self.nodes.insert(id, process);
        }
        Ok(())
    }

    fn wait_all_ready(&mut self) -> Result<(), HarnessError> {
        let ids: Vec<NodeId> = self.node_ids();
        ids.into_iter().try_for_each(|id| self.wait_ready(id))
    }

    /// Node ids, ascending.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Node `id`'s listen address (reachable from the test process on
    /// loopback, or from the client namespace with [`Network::Namespaces`]).
    pub fn addr(&self, id: NodeId) -> Result<SocketAddr, HarnessError> {
        self.addrs.get(&id).copied().ok_or(HarnessError::UnknownNode(id))
    }

    /// `http://ADDR` of every node, in id order, for gRPC clients.
    pub fn endpoints(&self) -> Vec<String> {
        self.addrs.values().map(|a| format!("http://{a}")).collect()
    }

    /// The namespaces, if the cluster runs in them.
    pub fn netns(&self) -> Option<&Netns> {
        self.netns.as_ref()
    }

    /// The namespaces for injecting link faults; an error on loopback.
    pub fn netns_mut(&mut self) -> Result<&mut Netns, HarnessError> {
        self.netns.as_mut().ok_or(HarnessError::NoNamespaces)
    }

    /// Node `id`'s process.
    pub fn process(&mut self, id: NodeId) -> Result<&mut ManagedProcess, HarnessError> {
        self.nodes.get_mut(&id).ok_or(HarnessError::UnknownNode(id))
    }

    /// Node `id`'s state.
    pub fn state(&mut self, id: NodeId) -> Result<ProcessState, HarnessError> {
        Ok(self.process(id)?.state())
    }

    /// kill -9 of node `id`.
    pub fn kill(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.process(id)?.kill()
    }

    /// Starts a killed node again (same data folder) and waits until it is ready.
    pub fn start_node(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.process(id)?.start()?;
        self.wait_ready(id)
    }

    /// Kills node `id` if it runs, starts it again and waits until it is ready.
    pub fn restart(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.process(id)?.restart()?;
        self.wait_ready(id)
    }

    /// SIGSTOP of node `id`.
    pub fn pause(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.process(id)?.pause()
    }

    /// SIGCONT of node `id`.
    pub fn resume(&mut self, id: NodeId) -> Result<(), HarnessError> {
        self.process(id)?.resume()
    }

    /// Node `id`'s log file.
    pub fn log_path(&self, id: NodeId) -> Result<&Path, HarnessError> {
        self.nodes.get(&id).map(ManagedProcess::log_path).ok_or(HarnessError::UnknownNode(id))
    }

    /// An error naming the first node that is not running now, exited on its
    /// own at any time during the run (even if the nemesis restarted it
    /// later), or wrote a panic to its log.
    pub fn check_no_crashes(&mut self) -> Result<(), HarnessError> {
        for p in self.nodes.values_mut() {
            if let Some(status) = p.exit_status() {
                return Err(exited(p, status));
            }
            let log = p.log_path().to_path_buf();
            if !p.own_exits().is_empty() {
                return Err(HarnessError::NodeFailed { id: p.id(), what: p.own_exits().join("; "), log });
            }
            if let Some(line) = panic_line(&log) {
                return Err(HarnessError::NodeFailed { id: p.id(), what: format!("log says `{line}`"), log });
            }
        }
        Ok(())
    }

    /// Waits until node `id` accepts TCP connections, failing early if it exits.
    pub fn wait_ready(&mut self, id: NodeId) -> Result<(), HarnessError> {
        let addr = self.addr(id)?;
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            if self.probe(addr)? {
                return Ok(());
            }
            let p = self.process(id)?;
            if let Some(status) = p.exit_status() {
                return Err(exited(p, status));
            }
            if Instant::now() >= deadline {
                let log = p.log_path().to_path_buf();
                return Err(HarnessError::NotReady {
                    id,
                    addr: addr.to_string(),
                    waited_ms: self.ready_timeout.as_millis(),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Whether a TCP connection to `addr` succeeds (from the client namespace
    /// when the cluster uses namespaces).
    pub fn probe(&self, addr: SocketAddr) -> Result<bool, HarnessError> {
        let connect = move || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        match &self.netns {
            None => Ok(connect()),
            Some(net) => Ok(net.run_in_client(connect)?),
        }
    }
}

fn addresses(ids: &[NodeId], netns: Option<&Netns>) -> Result<BTreeMap<NodeId, SocketAddr>, HarnessError> {
    match netns {
        Some(net) => {
            ids.iter().map(|&id| Ok((id, SocketAddr::new(IpAddr::V4(net.node_addr(id)?), NAMESPACE_PORT)))).collect()
        }
        None => {
            let ports = crate::ports::free_ports(ids.len())?;
            Ok(ids
                .iter()
                .zip(ports)
                .map(|(&id, p)| (id, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p)))
                .collect())
        }
    }
}

fn exited(p: &ManagedProcess, status: std::process::ExitStatus) -> HarnessError {
    HarnessError::NodeExited {
        id: p.id(),
        status: status.to_string(),
        log: p.log_path().to_path_buf(),
        tail: p.log_tail(20),
    }
}

/// The first line of the log at `path` that reports a Rust panic.
pub fn panic_line(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    String::from_utf8_lossy(&text).lines().find(|l| l.contains("panicked at")).map(str::to_string)
}

/// Whether `e` is a node that died because its port was already in use.
fn port_taken(e: &HarnessError) -> bool {
    matches!(e, HarnessError::NodeExited { tail, .. } if tail.to_lowercase().contains("address already in use"))
}
