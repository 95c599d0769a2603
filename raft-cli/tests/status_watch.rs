//! `raft-cli status --watch`: the status table is redrawn every --interval
//! against real nodes, keeps going while a node is unreachable, and with
//! `-w json` emits one JSON document per refresh.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, run, text, wait_for, Nodes};

const BASE: u16 = 18611;
/// Nothing listens here: a member that is down.
const DEAD: &str = "127.0.0.1:18619";

fn endpoints(nodes: &Nodes) -> String {
    format!("{},{DEAD}", nodes.endpoints)
}

fn wait_for_leader(nodes: &Nodes) {
    wait_for("a leader", Duration::from_secs(60), || {
        let out = run(&["status", "--endpoints", &nodes.endpoints, "-w", "json"]);
        text(&out.stdout).contains("\"leader\"").then_some(())?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.to_string().contains("\"role\":\"leader\"").then_some(())
    });
}

#[test]
fn watch_redraws_the_table_every_interval_and_survives_a_dead_node() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = Nodes::start(3, BASE, dir.path());
    wait_for_leader(&nodes);
    let started = Instant::now();
    let out = run(&["status", "--watch", "--interval", "300ms", "--count", "3", "--endpoints", &endpoints(&nodes)]);
    let took = started.elapsed();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "a dead node does not stop the watch: {}\n{stdout}", text(&out.stderr));
    for n in 1..=3 {
        assert!(stdout.contains(&format!("refresh {n} at")), "frame {n} missing:\n{stdout}");
    }
    assert!(!stdout.contains("refresh 4 at"), "--count 3 stops after three frames:\n{stdout}");
    let leader_rows = stdout.lines().filter(|l| l.split_whitespace().nth(2) == Some("leader")).count();
    assert_eq!(leader_rows, 3, "each frame shows the leader's row:\n{stdout}");
    let dead_rows = stdout.lines().filter(|l| l.starts_with(DEAD) && l.contains("unreachable")).count();
    assert_eq!(dead_rows, 3, "each frame lists the dead endpoint as unreachable:\n{stdout}");
    // Three frames 300 ms apart take at least two intervals.
    assert!(took >= Duration::from_millis(600), "frames came too fast: {took:?}");
    assert!(!stdout.contains('\x1b'), "no screen clearing into a pipe");
}

#[test]
fn watch_in_json_is_one_document_per_refresh_and_runs_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = Nodes::start(3, BASE + 10, dir.path());
    wait_for_leader(&nodes);
    // Without --count the watch runs until stopped: read frames as they come.
    let mut child = Command::new(bin())
        .args(["status", "--watch", "--interval", "200ms", "-w", "json", "--endpoints", &nodes.endpoints])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut frames = Vec::new();
    for line in lines.take(4) {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).expect("each refresh is one JSON line");
        frames.push(v);
    }
    assert!(child.try_wait().unwrap().is_none(), "still watching after four frames");
    child.kill().unwrap();
    child.wait().unwrap();
    let refreshes: Vec<u64> = frames.iter().map(|f| f["refresh"].as_u64().unwrap()).collect();
    assert_eq!(refreshes, [1, 2, 3, 4]);
    let elapsed: Vec<u64> = frames.iter().map(|f| f["elapsed_ms"].as_u64().unwrap()).collect();
    assert!(elapsed.windows(2).all(|w| w[1] > w[0]), "time moves between frames: {elapsed:?}");
    for f in &frames {
        let s = f["status"].to_string();
        assert!(s.contains("\"role\":\"leader\""), "every frame shows the leader: {s}");
    }
}

#[test]
fn interval_and_count_need_watch() {
    let out = run(&["status", "--interval", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(&["status", "--count", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
