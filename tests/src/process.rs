//! One child process the harness owns: spawned in its own process group, its
//! output appended to a log file, and killed (the whole group) when dropped —
//! including while a failing test unwinds, so no node outlives its test.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::error::{HarnessError, NodeId};

/// How to start a process: the full argv and where its output goes.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    /// argv[0] and the rest.
    pub argv: Vec<OsString>,
    /// Log file (stdout and stderr, appended across restarts).
    pub log: PathBuf,
}

/// What a managed process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running normally.
    Running,
    /// Stopped with SIGSTOP; resumes with SIGCONT.
    Paused,
    /// Not running (killed by the harness, or exited on its own).
    Stopped,
}

/// A child process in its own process group.
#[derive(Debug)]
pub struct ManagedProcess {
    id: NodeId,
    spec: ProcessSpec,
    child: Option<Child>,
    paused: bool,
    starts: u32,
    /// Exits the harness did not cause (found when it came to kill or check
    /// the process), as "start #N: status".
    own_exits: Vec<String>,
}

/// How long a SIGSTOPped process may take to show state `T` in /proc.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl ManagedProcess {
    /// Starts the process described by `spec`; `id` names it in logs and errors.
    pub fn spawn(id: NodeId, spec: ProcessSpec) -> Result<Self, HarnessError> {
        let mut p = ManagedProcess { id, spec, child: None, paused: false, starts: 0, own_exits: Vec::new() };
        p.start()?;
        Ok(p)
    }

    /// The node id this process runs.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.spec.log
    }

    /// The OS pid while running or paused.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The current state; notices a process that exited on its own.
    pub fn state(&mut self) -> ProcessState {
        if self.child.is_none() || self.exit_status().is_some() {
            ProcessState::Stopped
        } else if self.paused {
            ProcessState::Paused
        } else {
            ProcessState::Running
        }
    }

    /// Exits that the harness did not cause, since the process was first
    /// started (a node that died and was then "restarted" by the nemesis
    /// still shows up here).
    pub fn own_exits(&self) -> &[String] {
        &self.own_exits
    }

    /// The exit status if the process exited by itself (not yet restarted).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Starts the process if it is stopped.
    pub fn start(&mut self) -> Result<(), HarnessError> {
        if self.child.is_some() {
            match self.exit_status() {
                None => return Err(self.wrong_state("start")),
                Some(status) => self.own_exits.push(format!("start #{}: {status}", self.starts)),
            }
        }
        self.child = None;
        self.paused = false;
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .map_err(|e| HarnessError::io(format!("opening log {}", self.spec.log.display()), e))?;
        let _ = writeln!(log, "=== harness: start #{} of node {}: {:?}", self.starts, self.id, self.spec.argv);
        let out = log.try_clone().map_err(|e| HarnessError::io("duplicating log handle", e))?;
        let (program, args) = self.spec.argv.split_first().expect("invariant: ProcessSpec.argv is never empty");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| HarnessError::io(format!("spawning node {} ({})", self.id, program.to_string_lossy()), e))?;
        self.child = Some(child);
        Ok(())
    }

    /// kill -9 of the process group; waits for the process to be gone.
    pub fn kill(&mut self) -> Result<(), HarnessError> {
        let Some(mut child) = self.child.take() else { return Err(self.wrong_state("kill")) };
        match child.try_wait().ok().flatten() {
            None => signal_group(child.id(), libc::SIGKILL),
            Some(status) => self.own_exits.push(format!("start #{}: {status} (before kill -9)", self.starts)),
        }
        self.paused = false;
        child.wait().map_err(|e| HarnessError::io(format!("waiting for node {}", self.id), e))?;
        Ok(())
    }

    /// Kills (if running) and starts again with the same command line.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        if self.child.is_some() {
            self.kill()?;
        }
        self.start()
    }

    /// SIGSTOP to the process group.
    pub fn pause(&mut self) -> Result<(), HarnessError> {
        if self.state() != ProcessState::Running {
            return Err(self.wrong_state("pause"));
        }
        let pid = self.pid().expect("invariant: a running process has a pid");
        signal_group(pid, libc::SIGSTOP);
        self.paused = true;
        // Evidence, not trust: the kernel must report the process stopped.
        let deadline = std::time::Instant::now() + STOP_TIMEOUT;
        loop {
            match proc_state(pid) {
                Some('T') => return Ok(()),
                state if std::time::Instant::now() >= deadline => {
                    return Err(HarnessError::NotStopped { id: self.id, pid, state: format!("{state:?}") })
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    }

    /// SIGCONT to the process group.
    pub fn resume(&mut self) -> Result<(), HarnessError> {
        if self.state() != ProcessState::Paused {
            return Err(self.wrong_state("resume"));
        }
        signal_group(self.pid().expect("invariant: a paused process has a pid"), libc::SIGCONT);
        self.paused = false;
        Ok(())
    }

    /// The last `lines` lines of the log file.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.spec.log, lines)
    }

    fn wrong_state(&mut self, action: &'static str) -> HarnessError {
        let state = format!("{:?}", self.state()).to_lowercase();
        HarnessError::WrongState { id: self.id, action, state }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

/// Sends `signal` to the process group led by `pid` (`process_group(0)` made
/// the child a group leader). Errors (group already gone) are ignored.
fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
    // addresses the process group.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// The state letter of `pid` in /proc/PID/stat (R, S, T, Z, ...), or None if
/// the process is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces; the state follows ") ".
    stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next())
}

/// The last `lines` lines of a text file (at most its last 64 KiB).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else { return format!("<cannot open {}>", path.display()) };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
