//! Growing a running cluster with the real binary (issue #14): three
//! `raft-cli node` processes, a fourth started empty with `--join`,
//! `members add-learner`, catch-up, `members promote`. A learner further
//! behind than `--max-promote-lag` is refused with the machine-readable
//! reason `"lagging"` and exit code 1 (a definite refusal, README exit
//! table), and promoted once it has caught up (thesis §4.2.1: a new server
//! joins as a non-voting member until its log is close to the leader's).

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{bin, run, text, wait_for, Nodes};
use serde_json::Value;

const BASE_PORT: u16 = 17711;
/// The bound every node is started with.
const MAX_LAG: u64 = 20;

fn addr(id: u16) -> String {
    format!("127.0.0.1:{}", BASE_PORT + id - 1)
}

/// Starts node `id` empty with `--join`; its `--peers` name the three
/// founders and itself.
fn start_joiner(id: u16, dir: &std::path::Path) -> Child {
    let peers: Vec<String> = [1, 2, 3, id].iter().map(|i| format!("{i}={}", addr(*i))).collect();
    let log = std::fs::File::create(dir.join(format!("node-{id}.log"))).unwrap();
    Command::new(bin())
        .args(["node", "--id", &id.to_string(), "--listen", &addr(id), "--peers", &peers.join(",")])
        .arg("--data-dir")
        .arg(dir.join(format!("node-{id}")))
        .args(["--tick-ms", "50", "--election-ticks", "10", "--heartbeat-ticks", "2", "--join"])
        .args(["--max-promote-lag", &MAX_LAG.to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the joining node")
}

struct Cli {
    endpoints: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--endpoints", &self.endpoints, "--timeout", "10s"]);
        run(&full)
    }

    fn json(&self, args: &[&str]) -> (Option<i32>, Value) {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["-w", "json"]);
        let out = self.run(&full);
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {} / {}", text(&out.stdout), text(&out.stderr)));
        (out.status.code(), v)
    }

    /// The leader's view once it has committed its configuration.
    fn leader_view(&self) -> Option<Value> {
        let (code, v) = self.json(&["members", "list"]);
        (code == Some(0) && v["leader"] == v["node"] && v["config_committed"] == true).then_some(v)
    }

    /// Waits until the leader sees `id` within `MAX_LAG` entries and holding
    /// the configuration in force (both are needed for a promotion).
    fn wait_caught_up(&self, id: u64) -> Value {
        wait_for(&format!("node {id} to catch up"), Duration::from_secs(60), || {
            let v = self.leader_view()?;
            let m = v["members"].as_array()?.iter().find(|m| m["id"] == id)?.clone();
            (m["lag"].as_u64()? <= MAX_LAG && m["matched"].as_u64()? >= v["config_index"].as_u64()?).then_some(m)
        })
    }

    fn writes(&self, prefix: &str, n: usize) {
        for i in 0..n {
            let out = self.run(&["put", &format!("{prefix}{i}"), &i.to_string()]);
            assert_eq!(out.status.code(), Some(0), "put {prefix}{i}: {}", text(&out.stderr));
        }
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid; no memory is touched.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

#[test]
fn a_joined_node_is_promoted_once_caught_up_and_a_lagging_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Nodes::start_with(3, BASE_PORT, dir.path(), &["--max-promote-lag", &MAX_LAG.to_string()]);
    let cli = Cli { endpoints: nodes.endpoints.clone() };
    wait_for("a leader", Duration::from_secs(60), || cli.leader_view());
    cli.writes("before/", 2 * MAX_LAG as usize);

    // A fourth node, empty, joins: it waits without a configuration of its own.
    nodes.children.push(start_joiner(4, dir.path()));
    let (code, v) = cli.json(&["members", "add-learner", "4", &addr(4)]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!((v["learners"].clone(), v["voters"].as_array().unwrap().len()), (serde_json::json!([4]), 3), "{v}");
    let caught_up = cli.wait_caught_up(4);
    assert_eq!(caught_up["role"], "learner", "{caught_up}");
    let (code, v) = cli.json(&["members", "promote", "4"]);
    assert_eq!(code, Some(0), "promotion of a caught-up learner: {v}");
    assert_eq!(v["voters"], serde_json::json!([1, 2, 3, 4]), "{v}");
    assert_eq!(v["learners"], serde_json::json!([]), "{v}");

    // A fifth catches up, then is frozen while the log moves past the bound.
    nodes.children.push(start_joiner(5, dir.path()));
    let (code, v) = cli.json(&["members", "add-learner", "5", &addr(5)]);
    assert_eq!(code, Some(0), "{v}");
    cli.wait_caught_up(5);
    let frozen = nodes.children.last().unwrap();
    signal(frozen, libc::SIGSTOP);
    cli.writes("while-frozen/", 2 * MAX_LAG as usize);
    let view = cli.leader_view().expect("the leader still answers");
    let lag = view["members"].as_array().unwrap().iter().find(|m| m["id"] == 5).unwrap()["lag"].as_u64().unwrap();
    assert!(lag > MAX_LAG, "node 5 is {lag} entries behind: {view}");
    let (code, v) = cli.json(&["members", "promote", "5"]);
    assert_eq!(code, Some(1), "a lagging learner is a definite refusal: {v}");
    assert_eq!(
        (v["ok"].clone(), v["reason"].clone(), v["exit_code"].clone()),
        (false.into(), "lagging".into(), 1.into())
    );
    assert_eq!((v["op"].clone(), v["id"].clone()), ("promote".into(), 5.into()), "{v}");
    let human = cli.run(&["members", "promote", "5"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(text(&human.stderr).contains("Lagging"), "{}", text(&human.stderr));

    // Thawed, it catches up and the same command succeeds.
    signal(nodes.children.last().unwrap(), libc::SIGCONT);
    cli.wait_caught_up(5);
    let (code, v) = cli.json(&["members", "promote", "5"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["voters"], serde_json::json!([1, 2, 3, 4, 5]), "{v}");
    let out = cli.run(&["get", "while-frozen/0"]);
    assert_eq!((out.status.code(), text(&out.stdout).trim()), (Some(0), "0"));
}
