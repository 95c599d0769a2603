//! `raft-cli members` against fake AdminService nodes: the JSON and human
//! output, leader redirection, retry of a refusal that is only temporary,
//! and the documented exit codes (0 done, 1 refused, 2 bad input, 3 no
//! answer).

mod common;

use common::fake_admin::{AdminMode, FakeAdmin};
use common::{run, text};
use serde_json::Value;

fn members(endpoints: &str, args: &[&str]) -> std::process::Output {
    let mut full = vec!["--endpoints", endpoints, "--timeout", "3s", "members"];
    full.extend(args);
    run(&full)
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn list_prints_the_configuration_as_json_and_as_a_table() {
    let leader = FakeAdmin::start(AdminMode::Leader { id: 1 });
    let out = members(&leader.endpoint, &["list", "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["ok"].clone(), v["node"].clone(), v["leader"].clone()), (true.into(), 1.into(), 1.into()));
    assert_eq!((v["config_index"].clone(), v["joint"].clone()), (5.into(), false.into()));
    let ids: Vec<u64> = v["members"].as_array().unwrap().iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(v["members"][1]["role"], "voter");
    assert_eq!(v["members"][1]["address"], "127.0.0.1:7002");
    assert_eq!(v["members"][1]["lag"], 2);

    let out = members(&leader.endpoint, &["list"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("term 4, config index 5 (committed), not joint"), "{stdout}");
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["ID", "ADDRESS", "ROLE", "LEADER", "MATCH", "LAG"]);
    assert_eq!(lines.len(), 5, "a header line, the column names, three members: {stdout}");
}

#[test]
fn list_asked_of_a_follower_shows_the_leaders_view() {
    let leader = FakeAdmin::start(AdminMode::Leader { id: 2 });
    let follower = FakeAdmin::start(AdminMode::Follower { id: 1, leader: 2, address: leader.endpoint.clone() });
    let out = members(&follower.endpoint, &["list", "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["node"].clone(), v["endpoint"].clone()), (2.into(), Value::from(leader.endpoint.clone())));
    assert!(v["members"][0]["lag"].is_u64(), "the leader's view has progress: {v}");
}

#[test]
fn add_learner_then_again_is_done_then_refused() {
    let leader = FakeAdmin::start(AdminMode::Leader { id: 1 });
    let out = members(&leader.endpoint, &["add-learner", "4", "127.0.0.1:7004", "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(
        (v["op"].clone(), v["index"].clone(), v["learners"].clone()),
        ("add-learner".into(), 6.into(), serde_json::json!([4]))
    );
    let out = members(&leader.endpoint, &["add-learner", "4", "127.0.0.1:7004", "-w", "json"]);
    assert_eq!(out.status.code(), Some(1), "already a member is a definite refusal: {}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["ok"].clone(), v["exit_code"].clone()), (false.into(), 1.into()));
    assert!(v["error"].as_str().unwrap().contains("already a member"), "{v}");
    let out = members(&leader.endpoint, &["promote", "4"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("node 4 promoted to voter"), "{}", text(&out.stdout));
}

#[test]
fn bad_input_is_exit_2_and_nothing_is_sent() {
    let leader = FakeAdmin::start(AdminMode::Leader { id: 1 });
    for args in [
        &["add-learner", "4", "no-port"][..],
        &["add-learner", "4", ""],
        &["add-learner", "4", "127.0.0.1:0"],
        &["add-learner", "x", "127.0.0.1:7004"],
        &["promote", "0"],
        &["remove", "0"],
    ] {
        let out = members(&leader.endpoint, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    assert_eq!(leader.changes(), 0);
}

#[test]
fn a_change_sent_to_a_follower_follows_the_leader_hint() {
    let leader = FakeAdmin::start(AdminMode::Leader { id: 2 });
    let follower = FakeAdmin::start(AdminMode::Follower { id: 1, leader: 2, address: leader.endpoint.clone() });
    let out = members(&follower.endpoint, &["remove", "3", "-w", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["endpoint"], Value::from(leader.endpoint.clone()), "the leader made the change");
    assert_eq!(v["voters"], serde_json::json!([1, 2]));
    assert_eq!((follower.changes(), leader.changes()), (1, 1));
}

#[test]
fn a_pending_change_is_retried_until_the_leader_accepts() {
    let leader = FakeAdmin::start(AdminMode::PendingFirst { id: 1, n: 3 });
    let out = members(&leader.endpoint, &["remove", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(leader.changes(), 4, "three refusals, then the change");
}

#[test]
fn a_leader_that_never_accepts_or_no_node_at_all_is_exit_3() {
    let stuck = FakeAdmin::start(AdminMode::PendingFirst { id: 1, n: u64::MAX });
    let out = run(&["--endpoints", &stuck.endpoint, "--timeout", "500ms", "members", "remove", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("retry later"), "{}", text(&out.stderr));
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    for args in [&["members", "list"][..], &["members", "remove", "2"]] {
        let mut full = vec!["--endpoints", &dead, "--timeout", "500ms"];
        full.extend(args);
        let out = run(&full);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out.stderr));
    }
}
