//! Runs cluster members as real `raft-cli node` child processes and tells
//! the demo when one exits, however it died.
//!
//! Every child is the demo's own executable, so what the demo shows is
//! exactly what `raft-cli node` does. Children die with the demo: tokio's
//! `kill_on_drop` covers normal exits and, on Linux, `PR_SET_PDEATHSIG`
//! covers the demo itself being killed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::event::{DemoEvent, NodeNum, ProcState};

/// How every member is launched.
#[derive(Clone, Debug)]
pub struct LaunchPlan {
    /// The `raft-cli` executable.
    pub exe: PathBuf,
    /// Node id to address, for every member.
    pub addrs: BTreeMap<NodeNum, SocketAddr>,
    /// Directory under which each node gets `node-<id>/` and `node-<id>.log`.
    pub root: PathBuf,
    /// Extra `raft-cli node` flags shared by every member (timing, cluster id).
    pub extra_args: Vec<String>,
    /// Nodes that are not founders: not started at launch, started empty
    /// with `--join` when asked (`demo --members`), and absent from the
    /// founders' `--peers` (which is their bootstrap configuration).
    pub joiners: BTreeSet<NodeNum>,
}

impl LaunchPlan {
    /// `1=127.0.0.1:7001,2=...`, the `--peers` value of `node`: the
    /// founders, and `node` itself when it joins later.
    pub fn peers_arg(&self, node: NodeNum) -> String {
        let listed = |id: &NodeNum| !self.joiners.contains(id) || *id == node;
        let parts: Vec<String> =
            self.addrs.iter().filter(|(id, _)| listed(id)).map(|(id, a)| format!("{id}={a}")).collect();
        parts.join(",")
    }

    /// The log file of `node`.
    pub fn log_path(&self, node: NodeNum) -> PathBuf {
        self.root.join(format!("node-{node}.log"))
    }

    /// Fails with a clear message if any member's port is already taken.
    pub fn check_ports_free(&self) -> anyhow::Result<()> {
        for (id, addr) in &self.addrs {
            if let Err(e) = TcpListener::bind(addr) {
                bail!("cannot use {addr} for node {id}: {e} (is another demo or node running? pick other ports with --base-port)");
            }
        }
        Ok(())
    }
}

/// A child process exit, reported by its waiter task.
#[derive(Debug)]
pub struct ChildExit {
    node: NodeNum,
    pid: u32,
    status: std::io::Result<ExitStatus>,
}

#[derive(Debug)]
struct Slot {
    state: ProcState,
    pid: Option<u32>,
    /// The demo itself sent the fatal signal (chaos or shutdown).
    killed_by_demo: bool,
    /// Removed from the cluster and stopped for good: never restarted.
    retired: bool,
}

/// The set of member processes.
#[derive(Debug)]
pub struct Supervisor {
    plan: LaunchPlan,
    slots: BTreeMap<NodeNum, Slot>,
    exits_tx: mpsc::UnboundedSender<ChildExit>,
    exits_rx: mpsc::UnboundedReceiver<ChildExit>,
}

impl Supervisor {
    /// A supervisor with no process started yet.
    pub fn new(plan: LaunchPlan) -> Self {
        let slots = plan
            .addrs
            .keys()
            .filter(|id| !plan.joiners.contains(id))
            .map(|id| (*id, Slot { state: ProcState::Down, pid: None, killed_by_demo: false, retired: false }))
            .collect();
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        Supervisor { plan, slots, exits_tx, exits_rx }
    }

    /// The launch plan.
    pub fn plan(&self) -> &LaunchPlan {
        &self.plan
    }

    /// Every member id: started (or a founder not started yet), not retired.
    pub fn ids(&self) -> Vec<NodeNum> {
        self.slots.iter().filter(|(_, s)| !s.retired).map(|(id, _)| *id).collect()
    }

    /// True for a node removed from the cluster and stopped for good.
    pub fn is_retired(&self, node: NodeNum) -> bool {
        self.slots.get(&node).is_some_and(|s| s.retired)
    }

    /// Stops `node` for good (SIGTERM: it leaves gracefully) after it was
    /// removed from the configuration; it is no longer a member here.
    pub fn retire(&mut self, node: NodeNum) -> anyhow::Result<u32> {
        let pid = self.signal(node, libc::SIGTERM)?;
        if let Some(slot) = self.slots.get_mut(&node) {
            slot.killed_by_demo = true;
            slot.retired = true;
        }
        Ok(pid)
    }

    /// Process state and pid of `node`.
    pub fn state(&self, node: NodeNum) -> (ProcState, Option<u32>) {
        self.slots.get(&node).map(|s| (s.state, s.pid)).unwrap_or((ProcState::Down, None))
    }

    /// True when every member is running and not frozen.
    pub fn all_up(&self) -> bool {
        self.slots.values().filter(|s| !s.retired).all(|s| s.state == ProcState::Up)
    }

    /// Starts `node` (first start or restart).
    pub fn spawn(&mut self, node: NodeNum) -> anyhow::Result<DemoEvent> {
        let addr = *self.plan.addrs.get(&node).context("unknown node id")?;
        let data_dir = self.plan.root.join(format!("node-{node}"));
        let log_path = self.plan.log_path(node);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut cmd = Command::new(&self.plan.exe);
        cmd.arg("node")
            .args(["--id", &node.to_string(), "--listen", &addr.to_string()])
            .args(["--peers", &self.plan.peers_arg(node)])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(&self.plan.extra_args);
        if self.plan.joiners.contains(&node) {
            cmd.arg("--join");
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot duplicate the log file handle")?)
            .stderr(log)
            .kill_on_drop(true)
            // Own process group: Ctrl+C in the terminal reaches the demo only,
            // which then stops the nodes itself after verifying them.
            .process_group(0);
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().with_context(|| format!("cannot start {}", self.plan.exe.display()))?;
        let pid = child.id().context("child exited before it got a pid")?;
        let tx = self.exits_tx.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = tx.send(ChildExit { node, pid, status });
        });
        let slot = self.slots.entry(node).or_insert(Slot {
            state: ProcState::Down,
            pid: None,
            killed_by_demo: false,
            retired: false,
        });
        let restart = slot.pid.is_some();
        *slot = Slot { state: ProcState::Up, pid: Some(pid), killed_by_demo: false, retired: false };
        Ok(DemoEvent::Spawned { node, pid, addr: addr.to_string(), restart })
    }

    /// Waits for the next child exit and records it.
    pub async fn next_exit(&mut self) -> DemoEvent {
        let exit = self.exits_rx.recv().await.expect("the supervisor holds a sender, so the channel stays open");
        self.record_exit(exit)
    }

    /// Records every exit already reported, without waiting.
    pub fn drain_exits(&mut self) -> Vec<DemoEvent> {
        let mut events = Vec::new();
        while let Ok(exit) = self.exits_rx.try_recv() {
            events.push(self.record_exit(exit));
        }
        events
    }

    fn record_exit(&mut self, exit: ChildExit) -> DemoEvent {
        let how = match &exit.status {
            Ok(status) => describe_status(*status),
            Err(e) => format!("lost track of it: {e}"),
        };
        let mut by_demo = false;
        if let Some(slot) = self.slots.get_mut(&exit.node) {
            by_demo = slot.killed_by_demo;
            if slot.pid == Some(exit.pid) {
                slot.state = ProcState::Down;
            }
        }
        DemoEvent::Exited { node: exit.node, pid: exit.pid, how, by_demo }
    }

    fn signal(&mut self, node: NodeNum, signal: libc::c_int) -> anyhow::Result<u32> {
        let slot = self.slots.get_mut(&node).context("unknown node id")?;
        let pid = match (slot.state, slot.pid) {
            (ProcState::Up | ProcState::Paused, Some(pid)) => pid,
            _ => bail!("node {node} is not running"),
        };
        let pid_t = libc::pid_t::try_from(pid).context("pid out of range")?;
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child,
        // still unreaped (its waiter task has not reported an exit).
        if unsafe { libc::kill(pid_t, signal) } != 0 {
            bail!("cannot signal node {node} (pid {pid}): {}", std::io::Error::last_os_error());
        }
        Ok(pid)
    }

    /// SIGKILLs `node` (a crash: no chance to flush or say goodbye).
    pub fn kill(&mut self, node: NodeNum) -> anyhow::Result<u32> {
        let pid = self.signal(node, libc::SIGKILL)?;
        if let Some(slot) = self.slots.get_mut(&node) {
            slot.killed_by_demo = true;
        }
        Ok(pid)
    }

    /// Freezes `node` with SIGSTOP.
    pub fn pause(&mut self, node: NodeNum) -> anyhow::Result<()> {
        self.signal(node, libc::SIGSTOP)?;
        if let Some(slot) = self.slots.get_mut(&node) {
            slot.state = ProcState::Paused;
        }
        Ok(())
    }

    /// Thaws `node` with SIGCONT.
    pub fn resume(&mut self, node: NodeNum) -> anyhow::Result<()> {
        self.signal(node, libc::SIGCONT)?;
        if let Some(slot) = self.slots.get_mut(&node) {
            if slot.state == ProcState::Paused {
                slot.state = ProcState::Up;
            }
        }
        Ok(())
    }

    /// Stops every child: SIGCONT the frozen, SIGTERM all, SIGKILL whoever is
    /// still running at `deadline`. Returns the exits observed.
    pub async fn stop_all(&mut self, grace: Duration) -> Vec<DemoEvent> {
        let deadline = Instant::now() + grace;
        let running: Vec<NodeNum> =
            self.slots.iter().filter(|(_, s)| s.state != ProcState::Down).map(|(id, _)| *id).collect();
        for id in &running {
            let _ = self.resume(*id);
            if self.signal(*id, libc::SIGTERM).is_ok() {
                if let Some(slot) = self.slots.get_mut(id) {
                    slot.killed_by_demo = true;
                }
            }
        }
        let mut events = Vec::new();
        while self.slots.values().any(|s| s.state != ProcState::Down) {
            match tokio::time::timeout_at(deadline, self.exits_rx.recv()).await {
                Ok(Some(exit)) => events.push(self.record_exit(exit)),
                Ok(None) => break,
                Err(_) => {
                    for id in self.ids() {
                        let _ = self.kill(id);
                    }
                    let kill_deadline = Instant::now() + Duration::from_secs(5);
                    while self.slots.values().any(|s| s.state != ProcState::Down) {
                        match tokio::time::timeout_at(kill_deadline, self.exits_rx.recv()).await {
                            Ok(Some(exit)) => events.push(self.record_exit(exit)),
                            _ => return events,
                        }
                    }
                }
            }
        }
        events
    }
}

/// "exited normally", "exit status 3", "killed by SIGKILL".
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        return format!("killed by {}", signal_name(sig));
    }
    match status.code() {
        Some(0) => "exited normally".into(),
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent;
    // it only asks the kernel to SIGKILL this child when its parent thread dies.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(root: PathBuf, exe: &str) -> LaunchPlan {
        LaunchPlan {
            exe: PathBuf::from(exe),
            addrs: [(1, "127.0.0.1:0".parse().unwrap())].into_iter().collect(),
            root,
            extra_args: vec![],
            joiners: BTreeSet::new(),
        }
    }

    #[test]
    fn peers_arg_lists_every_member_in_id_order() {
        let mut p = plan(PathBuf::from("/tmp"), "x");
        p.addrs.insert(2, "127.0.0.1:7002".parse().unwrap());
        assert_eq!(p.peers_arg(1), "1=127.0.0.1:0,2=127.0.0.1:7002");
    }

    #[test]
    fn a_joiner_is_not_a_founder_and_lists_itself() {
        let mut p = plan(PathBuf::from("/tmp"), "x");
        p.addrs.insert(2, "127.0.0.1:7002".parse().unwrap());
        p.joiners.insert(2);
        assert_eq!(p.peers_arg(1), "1=127.0.0.1:0", "the founders' bootstrap configuration leaves it out");
        assert_eq!(p.peers_arg(2), "1=127.0.0.1:0,2=127.0.0.1:7002");
        assert_eq!(Supervisor::new(p).ids(), vec![1], "not started at launch");
    }

    #[test]
    fn a_taken_port_is_reported_with_the_fix() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut p = plan(PathBuf::from("/tmp"), "x");
        p.addrs.insert(1, busy.local_addr().unwrap());
        let err = p.check_ports_free().unwrap_err().to_string();
        assert!(err.contains("--base-port"), "{err}");
    }

    #[test]
    fn exit_statuses_are_described_by_signal_or_code() {
        assert_eq!(describe_status(ExitStatus::from_raw(9)), "killed by SIGKILL");
        assert_eq!(describe_status(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe_status(ExitStatus::from_raw(0)), "exited normally");
    }

    /// A stand-in child that ignores its arguments and sleeps: supervision does not care what runs.
    fn sleeper(dir: &std::path::Path) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-node.sh");
        std::fs::write(&path, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    async fn exit_of(sup: &mut Supervisor) -> DemoEvent {
        tokio::time::timeout(Duration::from_secs(10), sup.next_exit()).await.expect("child exit within 10s")
    }

    #[tokio::test]
    async fn a_child_that_fails_at_once_is_reported_as_not_by_the_demo() {
        let dir = tempfile::tempdir().unwrap();
        let mut sup = Supervisor::new(plan(dir.path().to_path_buf(), "false"));
        assert!(matches!(sup.spawn(1).unwrap(), DemoEvent::Spawned { node: 1, restart: false, .. }));
        let exited = exit_of(&mut sup).await;
        assert!(matches!(exited, DemoEvent::Exited { node: 1, by_demo: false, .. }), "{exited:?}");
        assert_eq!(sup.state(1).0, ProcState::Down);
        assert!(sup.kill(1).is_err(), "a dead node cannot be killed");
    }

    #[tokio::test]
    async fn pause_resume_kill_restart_and_stop() {
        let dir = tempfile::tempdir().unwrap();
        let exe = sleeper(dir.path());
        let mut sup = Supervisor::new(plan(dir.path().to_path_buf(), &exe));
        sup.spawn(1).unwrap();
        sup.pause(1).unwrap();
        assert_eq!(sup.state(1).0, ProcState::Paused);
        assert!(!sup.all_up());
        sup.resume(1).unwrap();
        assert!(sup.all_up());
        let pid = sup.kill(1).unwrap();
        let exited = exit_of(&mut sup).await;
        let expected = DemoEvent::Exited { node: 1, pid, how: "killed by SIGKILL".into(), by_demo: true };
        assert_eq!(exited, expected);
        assert!(matches!(sup.spawn(1).unwrap(), DemoEvent::Spawned { restart: true, .. }));
        sup.pause(1).unwrap();
        let stopped = sup.stop_all(Duration::from_secs(10)).await;
        assert_eq!(stopped.len(), 1, "{stopped:?}");
        assert!(matches!(&stopped[0], DemoEvent::Exited { how, by_demo: true, .. } if how == "killed by SIGTERM"));
        assert_eq!(sup.state(1).0, ProcState::Down);
    }
}
