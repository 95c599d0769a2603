//! The web view's JSON API against real processes: `raft-cli demo --web`
//! (page, state, live events, the kill / pause / partition / heal buttons
//! and writes) and `raft-cli node --web` (watch only). The browser test in
//! `tests/tests/web_view.rs` drives the same page through Chromium.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::http::{get, post, sse_events};
use common::{bin, run, text, wait_for};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

/// A `raft-cli demo --web` process; SIGINT (Ctrl+C) on drop if still running.
struct Demo {
    child: Child,
    web: String,
    endpoints: String,
}

impl Demo {
    fn start(base_port: u16) -> Demo {
        let mut child = Command::new(bin())
            .args(["demo", "--web", "127.0.0.1:0", "--base-port", &base_port.to_string(), "--restart-delay", "1s"])
            .args(["--duration", "5m"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start raft-cli demo");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("web view: http://") {
                    let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
                }
            }
        });
        let web = rx.recv_timeout(LIMIT).expect("the demo prints its web address");
        let endpoints = (0..3).map(|i| format!("127.0.0.1:{}", base_port + i)).collect::<Vec<_>>().join(",");
        Demo { child, web, endpoints }
    }

    fn state(&self) -> Value {
        get(&self.web, "/api/state").expect("web view answers").json()
    }

    /// Waits until a leader is known with all three nodes answering.
    fn leader(&self) -> u64 {
        wait_for("a leader with three nodes answering", LIMIT, || {
            let s = self.state();
            let answering = s["nodes"].as_array()?.iter().filter(|n| !n["raft"].is_null()).count();
            (answering == 3).then(|| s["leader"].as_u64()).flatten()
        })
    }

    /// SIGINT, like Ctrl+C: the demo stops, verifies every acknowledged write, exits.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let status = wait_for("the demo to stop after Ctrl+C", LIMIT, || self.child.try_wait().unwrap());
        std::mem::forget(self);
        status
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_process(state: &Value, id: u64) -> String {
    let nodes = state["nodes"].as_array().unwrap();
    nodes.iter().find(|n| n["id"] == id).unwrap()["process"].as_str().unwrap().to_string()
}

#[test]
fn demo_web_api_serves_the_page_state_events_and_fault_buttons() {
    let demo = Demo::start(18711);
    let page = get(&demo.web, "/").unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html") && page.body.contains("EventSource(\"/api/events\")"), "the page");
    assert!(!page.body.contains("http://") && !page.body.contains("https://"), "nothing from the internet");

    let leader = demo.leader();
    let state = demo.state();
    assert_eq!(state["mode"], "demo");
    assert_eq!(state["nodes"].as_array().unwrap().len(), 3);
    let leader_node = state["nodes"].as_array().unwrap().iter().find(|n| n["id"] == leader).unwrap().clone();
    assert_eq!(leader_node["raft"]["role"], "leader");
    let progress = leader_node["raft"]["progress"].as_array().unwrap();
    assert_eq!(progress.len(), 3, "the leader's view of every member's log: {leader_node}");

    // Write a key through the page's API and read it back with the CLI.
    let w = post(&demo.web, "/api/write", Some(r#"{"key":"from-web","value":"hello"}"#));
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(w.json()["ok"], true);
    let got = run(&["get", "from-web", "--endpoints", &demo.endpoints]);
    assert_eq!(text(&got.stdout).trim(), "hello", "{}", text(&got.stderr));

    // Kill the leader: a new one is elected (§5.2), the old one is restarted.
    let k = post(&demo.web, &format!("/api/nodes/{leader}/kill"), None);
    assert_eq!(k.status, 200, "{}", k.body);
    let new_leader = wait_for("a new leader after the kill", LIMIT, || {
        let s = demo.state();
        s["leader"].as_u64().filter(|l| *l != leader)
    });
    wait_for("the killed node to be restarted", LIMIT, || (node_process(&demo.state(), leader) == "up").then_some(()));

    // Pause and resume a follower.
    let follower = (1..=3).find(|n| *n != new_leader).unwrap();
    assert_eq!(post(&demo.web, &format!("/api/nodes/{follower}/pause"), None).status, 200);
    wait_for("the paused node to show as paused", LIMIT, || {
        (node_process(&demo.state(), follower) == "paused").then_some(())
    });
    assert_eq!(post(&demo.web, &format!("/api/nodes/{follower}/resume"), None).status, 200);
    let again = post(&demo.web, &format!("/api/nodes/{follower}/resume"), None);
    assert_eq!(again.status, 409, "resuming a running node is refused: {}", again.body);

    // Partition the leader off, then heal.
    let p = post(&demo.web, &format!("/api/nodes/{new_leader}/partition"), None);
    assert_eq!(p.status, 200, "{}", p.body);
    wait_for("the partition to show", LIMIT, || (demo.state()["partitioned"] == new_leader).then_some(()));
    let twice = post(&demo.web, &format!("/api/nodes/{follower}/partition"), None);
    assert_eq!(twice.status, 409, "one partition at a time: {}", twice.body);
    assert_eq!(post(&demo.web, "/api/heal", None).status, 200);
    wait_for("the heal to show", LIMIT, || demo.state()["partitioned"].is_null().then_some(()));
    assert_eq!(post(&demo.web, "/api/heal", None).status, 409, "nothing left to heal");

    // Bad requests.
    assert_eq!(post(&demo.web, "/api/nodes/9/kill", None).status, 404);
    assert_eq!(post(&demo.web, "/api/nodes/1/explode", None).status, 404);
    assert_eq!(post(&demo.web, "/api/write", Some(r#"{"key":"","value":"x"}"#)).status, 400);

    // The live stream: a state first, and the feed shows elections and the faults above.
    let events = sse_events(&demo.web, "/api/events", |evs| {
        let feed: Vec<&String> = evs.iter().filter(|(n, _)| n == "feed").map(|(_, d)| d).collect();
        feed.iter().any(|d| d.contains("is LEADER")) && feed.iter().any(|d| d.contains("killed node"))
    });
    assert_eq!(events.first().map(|(n, _)| n.as_str()), Some("state"), "{events:?}");
    let state: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(state["nodes"].as_array().unwrap().len(), 3);

    // Ctrl+C: the demo heals, verifies every acknowledged write and exits 0.
    let status = demo.stop();
    assert_eq!(status.code(), Some(0), "the demo verified its writes after the web faults");
}

#[test]
fn node_web_view_watches_without_controls() {
    let dir = tempfile::tempdir().unwrap();
    let web = "127.0.0.1:18721";
    let mut node = Command::new(bin())
        .args(["node", "--id", "1", "--listen", "127.0.0.1:18722", "--peers", "1=127.0.0.1:18722"])
        .arg("--data-dir")
        .arg(dir.path().join("n1"))
        .args(["--tick-ms", "50", "--election-ticks", "10", "--heartbeat-ticks", "2", "--web", web])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = wait_for("the single node to lead", LIMIT, || {
        let s = get(web, "/api/state")?.json();
        (s["leader"] == 1).then_some(s)
    });
    assert_eq!(state["mode"], "node");
    assert_eq!(state["nodes"][0]["process"], "up");
    let refused = post(web, "/api/nodes/1/kill", None);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.json()["error"].as_str().unwrap().contains("demo"));
    let w = post(web, "/api/write", Some(r#"{"key":"k","value":"v"}"#));
    assert_eq!(w.status, 200, "writes work from a node's view too: {}", w.body);
    let _ = node.kill();
    let _ = node.wait();
}
