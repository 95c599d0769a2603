//! Free loopback ports for node processes.
//!
//! A port is found by binding `127.0.0.1:0` and releasing it. All ports of one
//! request are held open together, so they are distinct; a process-wide set
//! stops parallel tests in this process from being handed the same port. Another
//! process can still grab a released port before the node binds it, so cluster
//! start-up retries a node whose listener fails (see `ProcessCluster`).

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

use crate::error::HarnessError;

/// Attempts per request before giving up.
const MAX_ATTEMPTS: usize = 20;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// `n` distinct free loopback ports, never handed out before by this process.
pub fn free_ports(n: usize) -> Result<Vec<u16>, HarnessError> {
    let mut given = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    let mut held = Vec::with_capacity(n);
    let mut attempts = 0;
    while held.len() < n {
        attempts += 1;
        if attempts > n + MAX_ATTEMPTS {
            return Err(HarnessError::Ports { wanted: n, reason: format!("{attempts} binds returned reused ports") });
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| HarnessError::Ports { wanted: n, reason: format!("bind 127.0.0.1:0: {e}") })?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError::Ports { wanted: n, reason: format!("local_addr: {e}") })?
            .port();
        if given.insert(port) {
            held.push((port, listener));
        }
    }
    Ok(held.into_iter().map(|(port, _listener)| port).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_never_repeated() {
        let a = free_ports(5).unwrap();
        let b = free_ports(5).unwrap();
        let all: HashSet<u16> = a.iter().chain(&b).copied().collect();
        assert_eq!(all.len(), 10);
        for port in a {
            TcpListener::bind(("127.0.0.1", port)).unwrap();
        }
    }
}
