//! Helpers for tests that run the real `raft-cli` binary.
#![allow(dead_code)]

pub mod fake_admin;
pub mod fake_kv;
pub mod http;
pub mod metrics_text;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_raft-cli")
}

/// Runs `raft-cli args...` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("RAFT_ENDPOINTS")
        .env_remove("RAFT_OUTPUT")
        .env_remove("RAFT_TIMEOUT")
        .env_remove("RAFT_CLUSTER_ID")
        .env_remove("RAFT_VALUE_ENCODING")
        .output()
        .expect("run raft-cli")
}

/// Text of a stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Child processes killed when the test ends, pass or fail.
pub struct Nodes {
    pub children: Vec<Child>,
    pub endpoints: String,
}

impl Nodes {
    /// Starts `n` `raft-cli node` processes on `base_port..`, data under `dir`.
    pub fn start(n: u16, base_port: u16, dir: &Path) -> Nodes {
        Self::start_with(n, base_port, dir, &[])
    }

    /// Like [`Nodes::start`], each node also given `extra` flags.
    pub fn start_with(n: u16, base_port: u16, dir: &Path, extra: &[&str]) -> Nodes {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::start_each(n, base_port, dir, |_| extra.clone())
    }

    /// Like [`Nodes::start`], node `id` (1-based) also given `extra(id)`.
    pub fn start_each(n: u16, base_port: u16, dir: &Path, extra: impl Fn(u16) -> Vec<String>) -> Nodes {
        let addrs: Vec<String> = (0..n).map(|i| format!("127.0.0.1:{}", base_port + i)).collect();
        let peers: Vec<String> = addrs.iter().enumerate().map(|(i, a)| format!("{}={a}", i + 1)).collect();
        let peers = peers.join(",");
        let children = (0..n)
            .map(|i| {
                let id = (i + 1).to_string();
                let log = std::fs::File::create(dir.join(format!("node-{id}.log"))).unwrap();
                Command::new(bin())
                    .args(["node", "--id", &id, "--listen", &addrs[i as usize], "--peers", &peers])
                    .arg("--data-dir")
                    .arg(dir.join(format!("node-{id}")))
                    .args(["--tick-ms", "50", "--election-ticks", "10", "--heartbeat-ticks", "2"])
                    .args(extra(i + 1))
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("start raft-cli node")
            })
            .collect();
        Nodes { children, endpoints: addrs.join(",") }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `check` until it returns Some or `limit` passes (then panics with `what`).
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
