//! Helpers shared by the harness's own tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The state letter of `pid` from /proc (R, S, T, Z, ...), or None if gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces; the state follows ") ".
    stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next())
}

/// Whether `pid` is dead (gone, or a zombie nobody reaped yet).
pub fn is_dead(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Prints the skip line and returns true if `result` says namespaces are unavailable.
pub fn skipped<T>(result: &Result<T, raft_tests::NetnsError>) -> bool {
    if let Err(e) = result {
        if let Some(why) = e.skip_reason() {
            raft_tests::skip::record(None, why);
            return true;
        }
    }
    false
}
