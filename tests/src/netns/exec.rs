//! Running commands and code inside network namespaces.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use thiserror::Error;

use crate::error::NodeId;

/// Why a namespace operation failed, or why namespaces cannot be used here.
#[derive(Debug, Error)]
pub enum NetnsError {
    /// Namespaces are not usable on this machine; tests should print
    /// `skipped: <reason>` and pass.
    #[error("network namespaces unavailable: {0}")]
    Unavailable(String),
    /// A command exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// An OS call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The node is not part of this network.
    #[error("node {0} is not in this network")]
    UnknownNode(NodeId),
    /// Node ids become the last octet of the node's address.
    #[error("node id {0} cannot be addressed; ids must be in 1..={max}", max = super::MAX_NODE_ID)]
    NodeIdOutOfRange(NodeId),
    /// A drop probability outside `0.0..=1.0`.
    #[error("drop probability {0} is outside 0.0..=1.0")]
    Probability(f64),
    /// Code run inside a namespace panicked.
    #[error("the thread running inside namespace {0} panicked")]
    ThreadPanicked(String),
}

impl NetnsError {
    /// The reason to print when this error means "skip the test".
    pub fn skip_reason(&self) -> Option<&str> {
        match self {
            NetnsError::Unavailable(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Runs `argv` to completion, feeding it `stdin`; an error if it fails.
pub(crate) fn run(argv: &[&str], stdin: Option<&str>) -> Result<String, NetnsError> {
    use std::io::Write;
    let command = argv.join(" ");
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetnsError::Io { context: format!("spawning `{command}`"), source })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| NetnsError::Io { context: format!("writing to `{command}`"), source })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|source| NetnsError::Io { context: format!("waiting for `{command}`"), source })?;
    if !out.status.success() {
        return Err(NetnsError::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `f` on a fresh thread that has joined network namespace `ns`; sockets
/// it creates stay in that namespace for their whole life, whichever thread
/// uses them later. Threads `f` spawns inherit the namespace.
pub fn run_in_namespace<T: Send, F: FnOnce() -> T + Send>(ns: &str, f: F) -> Result<T, NetnsError> {
    let file = open_namespace(ns)?;
    std::thread::scope(|s| {
        let handle = s.spawn(move || {
            enter(&file)?;
            Ok(f())
        });
        handle.join().map_err(|_| NetnsError::ThreadPanicked(ns.to_string()))?
    })
}

/// Like [`run_in_namespace`] but detached: returns the thread's handle.
pub fn spawn_in_namespace<T: Send + 'static, F: FnOnce() -> T + Send + 'static>(
    ns: &str,
    f: F,
) -> Result<std::thread::JoinHandle<Result<T, NetnsError>>, NetnsError> {
    let file = open_namespace(ns)?;
    std::thread::Builder::new()
        .name(format!("netns-{ns}"))
        .spawn(move || {
            enter(&file)?;
            Ok(f())
        })
        .map_err(|source| NetnsError::Io { context: "spawning a namespace thread".into(), source })
}

fn open_namespace(ns: &str) -> Result<File, NetnsError> {
    let path = format!("/run/netns/{ns}");
    File::open(&path).map_err(|source| NetnsError::Io { context: format!("opening {path}"), source })
}

fn enter(ns: &File) -> Result<(), NetnsError> {
    // SAFETY: setns(2) with a valid, open namespace fd; CLONE_NEWNET only changes
    // the calling thread's network namespace, which is allowed in multi-threaded
    // processes.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(NetnsError::Io { context: "setns(CLONE_NEWNET)".into(), source: std::io::Error::last_os_error() });
    }
    Ok(())
}

/// Why namespaces cannot be used here, or `Ok` if they probably can.
pub fn availability() -> Result<(), NetnsError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(NetnsError::Unavailable("not running as root".into()));
    }
    for tool in [["ip", "-V"], ["iptables-restore", "--version"], ["iptables", "--version"]] {
        run(&tool, None).map_err(|e| NetnsError::Unavailable(format!("`{}` does not work: {e}", tool[0])))?;
    }
    Ok(())
}

/// Deletes namespaces named `<base>-<pid>-...` whose process `pid` is gone
/// (leftovers of killed test runs). Returns the names deleted.
pub fn cleanup_leftovers(base: &str) -> Vec<String> {
    let Ok(list) = run(&["ip", "netns", "list"], None) else { return Vec::new() };
    let mut deleted = Vec::new();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('-')) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive && run(&["ip", "netns", "del", name], None).is_ok() {
            deleted.push(name.to_string());
        }
    }
    deleted
}
