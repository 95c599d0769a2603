//! The start-mode table of `start_mode.rs`, row by row, and the failure it
//! prevents: without the probe, a wiped node would bootstrap as a voter.

use super::*;

fn answer(peer: u64, term: u64, last_index: u64, remembers_me: Option<u64>) -> PeerAnswer {
    PeerAnswer { peer: NodeId(peer), term, last_index, remembers_me }
}

fn inputs(used_before: bool, join: bool, state: InitialClusterState, probe: Option<&Probe>) -> StartInputs<'_> {
    StartInputs { me: NodeId(2), used_before, join, initial_cluster_state: state, probe }
}

#[test]
fn a_used_data_directory_restarts_whatever_the_flags() {
    let probe = Probe { asked: vec![NodeId(1)], answers: vec![answer(1, 5, 10, Some(9))] };
    for join in [false, true] {
        for state in [InitialClusterState::New, InitialClusterState::Existing] {
            assert_eq!(decide(&inputs(true, join, state, Some(&probe))), Ok(StartMode::Restart));
        }
    }
    assert!(!needs_probe(true, false, InitialClusterState::New));
}

#[test]
fn join_never_bootstraps() {
    for state in [InitialClusterState::New, InitialClusterState::Existing] {
        assert_eq!(decide(&inputs(false, true, state, None)), Ok(StartMode::Join));
        assert!(!needs_probe(false, true, state));
    }
}

#[test]
fn existing_without_join_is_refused_and_points_to_join() {
    let err = decide(&inputs(false, false, InitialClusterState::Existing, None)).unwrap_err();
    assert_eq!(err, ClusterError::JoinRequired { node: 2 });
    let text = err.to_string();
    assert!(text.contains("--join") && text.contains("raft-cli members add-learner 2"), "{text}");
}

#[test]
fn a_first_start_bootstraps_when_peers_are_fresh_or_silent() {
    let fresh = Probe { asked: vec![NodeId(1), NodeId(3)], answers: vec![answer(1, 0, 0, None)] };
    assert_eq!(decide(&inputs(false, false, InitialClusterState::New, Some(&fresh))), Ok(StartMode::Bootstrap));
    let silent = Probe { asked: vec![NodeId(1), NodeId(3)], answers: vec![] };
    assert_eq!(decide(&inputs(false, false, InitialClusterState::New, Some(&silent))), Ok(StartMode::Bootstrap));
    assert!(needs_probe(false, false, InitialClusterState::New));
}

/// The failure of issue #14: node 2's directory was wiped; node 3 (term 4,
/// lagging) answers the probe. Bootstrapping would make node 2 a voter with
/// an empty log that grants node 3 its vote (§5.4.1's restriction compares
/// against node 2's now empty log), so committed entries only node 1 and
/// the old node 2 held would be lost. The decision refuses instead.
#[test]
fn a_wiped_node_is_refused_when_any_peer_knows_the_cluster() {
    let cases = [
        (answer(3, 4, 7, None), "node 3 is at term 4 with 7 log entries"),
        (answer(3, 0, 3, None), "node 3 is at term 0 with 3 log entries"),
        (answer(1, 0, 0, Some(0xabc)), "node 1 remembers node 2 with incarnation 0000000000000abc"),
    ];
    for (a, evidence) in cases {
        let probe = Probe { asked: vec![NodeId(1), NodeId(3)], answers: vec![answer(1, 0, 0, None), a] };
        let err = decide(&inputs(false, false, InitialClusterState::New, Some(&probe))).unwrap_err();
        assert_eq!(err, ClusterError::RejoinRefused { node: 2, evidence: evidence.into() });
        let text = err.to_string();
        for step in
            ["raft-cli members remove 2", "raft-cli members add-learner 2", "--join", "raft-cli members promote 2"]
        {
            assert!(text.contains(step), "the refusal must say {step:?}: {text}");
        }
    }
}

#[test]
fn without_a_probe_an_empty_directory_bootstraps_as_before() {
    // In-process clusters (no network to ask) keep today's behaviour; the
    // incarnation fence is what protects them.
    assert_eq!(decide(&inputs(false, false, InitialClusterState::New, None)), Ok(StartMode::Bootstrap));
}
