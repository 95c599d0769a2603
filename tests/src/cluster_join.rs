//! Nodes that join and leave a running [`ProcessCluster`] (issue #14): a
//! new node is started empty with `--join` and waits for the leader to add
//! it; a node replaced or removed is retired (killed and forgotten, after a
//! check that it did not crash), and its data directory can be wiped so
//! that the same id comes back as a new incarnation.

use std::ffi::OsString;
use std::net::SocketAddr;

use super::{exited, panic_line, ProcessCluster};
use crate::error::{HarnessError, NodeId};
use crate::process::{ManagedProcess, ProcessSpec};
use crate::rundir::RunDir;

impl ProcessCluster {
    /// Starts node `id` at `addr` on an empty data directory with `--join`
    /// (its `--peers` name every node now in the cluster and itself) and
    /// waits until it accepts connections. Loopback clusters only.
    pub fn join_node(&mut self, id: NodeId, addr: SocketAddr, run: &RunDir) -> Result<(), HarnessError> {
        if self.netns.is_some() {
            return Err(HarnessError::JoinOnNamespaces);
        }
        if self.nodes.contains_key(&id) {
            return Err(HarnessError::WrongState { id, action: "join", state: "already running".into() });
        }
        self.addrs.insert(id, addr);
        let peers = self.addrs.iter().map(|(i, a)| format!("{i}={a}")).collect::<Vec<_>>().join(",");
        let data = run.node_data(id);
        std::fs::create_dir_all(&data).map_err(|e| HarnessError::io(format!("creating {}", data.display()), e))?;
        let mut argv: Vec<OsString> = vec![self.binary.as_os_str().to_owned(), "node".into()];
        for arg in ["--id", &id.to_string(), "--listen", &addr.to_string(), "--peers", &peers, "--data-dir"] {
            argv.push(arg.into());
        }
        argv.push(data.into_os_string());
        argv.extend(self.extra_args.iter().map(OsString::from));
        argv.push("--join".into());
        let process = ManagedProcess::spawn(id, ProcessSpec { argv, log: run.node_log(id) })?;
        self.nodes.insert(id, process);
        self.wait_ready(id)
    }

    /// Kills node `id` and forgets it, after checking that it did not crash
    /// or panic while it was part of the cluster.
    pub fn retire(&mut self, id: NodeId) -> Result<(), HarnessError> {
        let mut p = self.nodes.remove(&id).ok_or(HarnessError::UnknownNode(id))?;
        self.addrs.remove(&id);
        if let Some(status) = p.exit_status() {
            return Err(exited(&p, status));
        }
        let log = p.log_path().to_path_buf();
        if !p.own_exits().is_empty() {
            return Err(HarnessError::NodeFailed { id, what: p.own_exits().join("; "), log });
        }
        if let Some(line) = panic_line(&log) {
            return Err(HarnessError::NodeFailed { id, what: format!("log says `{line}`"), log });
        }
        p.kill()
    }

    /// Deletes the data directory of node `id`, which must not be running
    /// (retire it first): the next start is a new incarnation.
    pub fn wipe_data(&self, id: NodeId, run: &RunDir) -> Result<(), HarnessError> {
        if self.nodes.contains_key(&id) {
            return Err(HarnessError::WrongState { id, action: "wipe", state: "running".into() });
        }
        let data = run.node_data(id);
        match std::fs::remove_dir_all(&data) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(HarnessError::io(format!("wiping {}", data.display()), e))
            }
            _ => Ok(()),
        }
    }
}
