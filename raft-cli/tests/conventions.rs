//! Issue #18 (CLI conventions) with no real cluster: flags before the
//! command and from the environment, malformed endpoints, malformed
//! replies, and bench's accounting, against closed ports or a fake node.
//! See: issue #18.

mod common;

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::fake_kv::{FakeKv, Writes};
use common::{run, text};
use serde_json::Value;

fn closed_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn r18_malformed_endpoints_exit_2_at_once() {
    for bad in ["localhost", "127.0.0.1:notaport", "127.0.0.1:99999", "ftp://127.0.0.1:7001"] {
        let began = Instant::now();
        let out = run(&["get", "k", "--endpoints", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(began.elapsed() < Duration::from_secs(2), "{bad}: no connect wait");
        assert!(text(&out.stderr).contains("invalid endpoint"), "{bad}: {}", text(&out.stderr));
    }
    let out = Command::new(common::bin()).args(["put", "k", "v"]).env("RAFT_ENDPOINTS", "nope").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "from RAFT_ENDPOINTS too: {}", text(&out.stderr));
}

#[test]
fn r18_connection_flags_work_before_the_command_and_from_the_environment() {
    let ep = closed_endpoint();
    let out = run(&["--endpoints", &ep, "--timeout", "1s", "-w", "json", "get", "k"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains(&ep), "{v}");

    let began = Instant::now();
    let out = Command::new(common::bin())
        .args(["get", "k"])
        .env("RAFT_ENDPOINTS", &ep)
        .env("RAFT_TIMEOUT", "1s")
        .env("RAFT_OUTPUT", "json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(json(&out)["error"].as_str().unwrap().contains(&ep));
    assert!(began.elapsed() < Duration::from_secs(4), "RAFT_TIMEOUT=1s was used, not the 5s default");
}

#[test]
fn r18_a_malformed_reply_to_a_write_is_exit_3_outcome_unknown() {
    let fake = FakeKv::start(Writes::Malformed);
    for args in [vec!["put", "k", "v"], vec!["delete", "k"], vec!["cas", "k", "--expect-absent", "v"]] {
        let mut full = args.clone();
        full.extend(["--endpoints", &fake.endpoint, "--timeout", "2s"]);
        let out = run(&full);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("may or may not have been applied"), "{}", text(&out.stderr));
    }
    // A malformed reply to a read changed nothing: a plain failure.
    let out = run(&["scan", "k", "--endpoints", &fake.endpoint, "--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn r18_bench_runs_exactly_total_ops_over_conns_connections_after_warmup() {
    let fake = FakeKv::start(Writes::FailEvery(u64::MAX));
    let out =
        run(&["bench", "--endpoints", &fake.endpoint, "--clients", "6", "--conns", "2", "--total", "60", "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["ok_ops"].clone(), v["failed_ops"].clone()), (Value::from(60), Value::from(0)), "{v}");
    assert_eq!((v["clients"].clone(), v["conns"].clone(), v["connections"].clone()), (6.into(), 2.into(), 2.into()));
    assert_eq!(fake.writes(), 60, "no more, no less than --total");
    assert_eq!(fake.connections(), 2, "6 clients shared 2 TCP connections");

    let fake = FakeKv::start(Writes::FailEvery(u64::MAX));
    let out = run(&["bench", "--endpoints", &fake.endpoint, "--total", "10", "--warmup", "300ms", "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["clients"].clone(), v["conns"].clone()), (1.into(), 1.into()), "etcd's defaults: {v}");
    assert_eq!(v["ok_ops"], 10, "warm-up operations are not counted");
    assert!(fake.writes() > 10, "the warm-up ran the load too");
    assert_eq!(fake.connections(), 1);
}

/// Issue #13's ceiling of follower reads: `--stale-reads` asks for stale
/// gets and starts each connection at the next member, so the load reaches
/// every member instead of following the leader.
#[test]
fn bench_stale_reads_are_stale_and_spread_over_the_members() {
    let (a, b) = (FakeKv::start(Writes::FailEvery(u64::MAX)), FakeKv::start(Writes::FailEvery(u64::MAX)));
    let endpoints = format!("{},{}", a.endpoint, b.endpoint);
    let out = run(&[
        "bench",
        "--endpoints",
        &endpoints,
        "--stale-reads",
        "--read-ratio",
        "1",
        "--clients",
        "4",
        "--conns",
        "2",
        "--total",
        "40",
        "-w",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["stale_reads"].clone(), v["ok_ops"].clone()), (Value::from(true), Value::from(40)), "{v}");
    // 40 measured reads plus one probe per connection, all stale.
    assert_eq!(a.stale_gets() + b.stale_gets(), 42);
    assert!(
        a.stale_gets() > 0 && b.stale_gets() > 0,
        "both members served reads: {} and {}",
        a.stale_gets(),
        b.stale_gets()
    );
    assert_eq!(a.writes() + b.writes(), 0);
}

#[test]
fn r18_bench_exits_1_when_operations_failed() {
    let fake = FakeKv::start(Writes::FailEvery(5));
    let out = run(&["bench", "--endpoints", &fake.endpoint, "--total", "50", "--clients", "2"]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("10 of 50 operations failed"), "{}", text(&out.stderr));
}
