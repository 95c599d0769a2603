//! ManagedProcess with `sleep`/`sh` as stand-in children: signals reach the
//! whole process group and nothing outlives the handle.

mod common;

use std::time::Duration;

use common::{is_dead, proc_state, wait_until};
use raft_tests::process::{ManagedProcess, ProcessSpec, ProcessState};

fn spec(dir: &std::path::Path, argv: &[&str]) -> ProcessSpec {
    ProcessSpec { argv: argv.iter().map(Into::into).collect(), log: dir.join("p.log") }
}

#[test]
fn pause_stops_and_resume_continues_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ManagedProcess::spawn(1, spec(dir.path(), &["sleep", "1000"])).unwrap();
    let pid = p.pid().unwrap();
    p.pause().unwrap();
    assert_eq!(p.state(), ProcessState::Paused);
    assert!(wait_until(Duration::from_secs(5), || proc_state(pid) == Some('T')), "state {:?}", proc_state(pid));
    p.resume().unwrap();
    assert_eq!(p.state(), ProcessState::Running);
    assert!(wait_until(Duration::from_secs(5), || proc_state(pid) == Some('S')), "state {:?}", proc_state(pid));
    assert!(p.resume().is_err(), "resuming a running process is a state error");
}

#[test]
fn kill_stops_and_restart_starts_a_new_process_appending_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ManagedProcess::spawn(7, spec(dir.path(), &["sh", "-c", "echo hello-$$; exec sleep 1000"])).unwrap();
    let first = p.pid().unwrap();
    // Let the first incarnation write its line before killing it, or the
    // kill can win the race and the log holds only the second line.
    assert!(wait_until(Duration::from_secs(5), || p.log_tail(10).contains("hello-")), "{}", p.log_tail(10));
    p.kill().unwrap();
    assert_eq!(p.state(), ProcessState::Stopped);
    assert!(is_dead(first));
    assert!(p.kill().is_err(), "killing a stopped process is a state error");
    p.restart().unwrap();
    let second = p.pid().unwrap();
    assert_ne!(first, second);
    assert_eq!(p.starts(), 2);
    let second_line = format!("hello-{second}");
    assert!(wait_until(Duration::from_secs(20), || p.log_tail(10).contains(&second_line)), "{}", p.log_tail(10));
    let log = p.log_tail(10);
    let restart_at = log.find("start #2 of node 7").expect("restart header in the log");
    assert!(log[..restart_at].contains("start #1 of node 7"), "the first incarnation's output is kept: {log}");
}

#[test]
fn a_process_that_exits_by_itself_is_reported_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ManagedProcess::spawn(1, spec(dir.path(), &["sh", "-c", "exit 4"])).unwrap();
    assert!(wait_until(Duration::from_secs(5), || p.state() == ProcessState::Stopped));
    assert_eq!(p.exit_status().and_then(|s| s.code()), Some(4));
    p.start().unwrap();
}

#[test]
fn dropping_the_handle_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let script = format!("sleep 1000 & echo $! > {}; wait", pidfile.display());
    let p = ManagedProcess::spawn(1, spec(dir.path(), &["sh", "-c", &script])).unwrap();
    let parent = p.pid().unwrap();
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))));
    let grandchild: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(!is_dead(grandchild));
    drop(p);
    assert!(is_dead(parent));
    assert!(wait_until(Duration::from_secs(5), || is_dead(grandchild)), "grandchild {grandchild} survived");
}

#[test]
fn dropping_during_a_panic_still_kills_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = dir.path().to_path_buf();
    let result = std::thread::spawn(move || {
        let p = ManagedProcess::spawn(1, spec(&path, &["sleep", "1000"])).unwrap();
        tx.send(p.pid().unwrap()).unwrap();
        panic!("simulated failing test");
    })
    .join();
    assert!(result.is_err());
    let pid = rx.recv().unwrap();
    assert!(wait_until(Duration::from_secs(5), || is_dead(pid)));
}

#[test]
fn pause_returns_only_once_proc_reports_state_t() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ManagedProcess::spawn(1, spec(dir.path(), &["sleep", "1000"])).unwrap();
    p.pause().unwrap();
    // No waiting here: pause() itself polled /proc until the kernel said T.
    assert_eq!(proc_state(p.pid().unwrap()), Some('T'));
    p.resume().unwrap();
}

#[test]
fn an_exit_the_harness_did_not_cause_is_remembered_across_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ManagedProcess::spawn(3, spec(dir.path(), &["sh", "-c", "exit 5"])).unwrap();
    assert!(wait_until(Duration::from_secs(5), || p.state() == ProcessState::Stopped));
    // The nemesis "kills" it and starts it again: the evidence must survive.
    p.kill().unwrap();
    p.start().unwrap();
    assert_eq!(p.own_exits().len(), 1, "{:?}", p.own_exits());
    assert!(p.own_exits()[0].contains("before kill -9"), "{:?}", p.own_exits());
    let mut q = ManagedProcess::spawn(4, spec(dir.path(), &["sleep", "1000"])).unwrap();
    q.kill().unwrap();
    q.start().unwrap();
    assert!(q.own_exits().is_empty(), "a kill -9 by the harness is not the node's own exit");
}
