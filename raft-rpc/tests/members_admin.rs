//! The membership admin calls (`Members`, `AddLearner`, `Promote`,
//! `RemoveMember`): their conversions reject bad input before the runtime
//! sees it, and AdminClient carries every answer (done, not-leader with the
//! hint, typed refusal) over a real server backed by a fake runtime.

mod common;

use common::{start, Mode, CLUSTER};
use raft_core::{LogIndex, Membership, NodeId, Term};
use raft_rpc::convert::ChangeReply;
use raft_rpc::{
    pb, AdminClient, ChangeOutcome, ChangeRefused, ClientConfig, ClientError, LeaderHint, MemberChange, MemberInfo,
    MemberRole, MembersView, RefusalReason, MAX_MEMBER_ADDR_BYTES,
};

fn add(id: u64, address: &str) -> pb::AddLearnerRequest {
    pb::AddLearnerRequest { cluster_id: CLUSTER.into(), id, address: address.into() }
}

#[test]
fn add_learner_accepts_host_port_and_rejects_every_bad_input() {
    let ok = MemberChange::try_from(add(4, "10.0.0.4:7004")).unwrap();
    assert_eq!(ok, MemberChange::AddLearner { id: NodeId(4), address: "10.0.0.4:7004".into() });
    assert!(MemberChange::try_from(add(4, "node-4.example:7004")).is_ok(), "host names are fine");
    assert!(MemberChange::try_from(add(4, "[::1]:7004")).is_ok(), "bracketed IPv6 is fine");
    let long_host = "h".repeat(MAX_MEMBER_ADDR_BYTES);
    let bad = [
        (0, "10.0.0.4:7004", "node id 0"),
        (4, "", "empty"),
        (4, "10.0.0.4", "no port"),
        (4, ":7004", "no valid host"),
        (4, "10.0.0.4:0", "port must be"),
        (4, "10.0.0.4:70000", "port must be"),
        (4, "10.0.0.4:http", "port must be"),
        (4, "10.0.0.4 :7004", "whitespace"),
        (4, &format!("{long_host}:1"), "exceeds 255"),
    ];
    for (id, addr, why) in bad {
        let e = MemberChange::try_from(add(id, addr)).expect_err(addr).to_string();
        assert!(e.contains(why), "{addr:?}: {e}");
    }
}

#[test]
fn promote_and_remove_reject_node_id_zero() {
    let promote = pb::PromoteRequest { cluster_id: CLUSTER.into(), id: 0 };
    assert!(MemberChange::try_from(promote).is_err());
    let remove = pb::RemoveMemberRequest { cluster_id: CLUSTER.into(), id: 0, step_down: true };
    assert!(MemberChange::try_from(remove).is_err());
    let remove = pb::RemoveMemberRequest { cluster_id: CLUSTER.into(), id: 3, step_down: true };
    assert_eq!(MemberChange::try_from(remove).unwrap(), MemberChange::Remove { id: NodeId(3), step_down: true });
}

fn view() -> MembersView {
    let member = |id, role, leader| MemberInfo {
        id: NodeId(id),
        address: format!("127.0.0.1:700{id}"),
        role,
        leader,
        matched: Some(LogIndex(9)),
        lag: Some(1),
    };
    MembersView {
        node: NodeId(1),
        term: Term(4),
        leader: Some(NodeId(1)),
        config_index: LogIndex(7),
        config_committed: false,
        joint: true,
        members: vec![
            member(1, MemberRole::Voter, true),
            member(2, MemberRole::OutgoingVoter, false),
            member(3, MemberRole::Learner, false),
        ],
    }
}

#[test]
fn members_view_round_trips_and_rejects_unknown_roles_and_zero_ids() {
    let v = view();
    assert_eq!(MembersView::try_from(pb::MembersResponse::from(v.clone())).unwrap(), v);
    let mut bad_role = pb::MembersResponse::from(v.clone());
    bad_role.members[0].role = 99;
    assert!(MembersView::try_from(bad_role).is_err());
    let mut unspecified = pb::MembersResponse::from(v.clone());
    unspecified.members[1].role = 0;
    assert!(MembersView::try_from(unspecified).is_err());
    let mut zero = pb::MembersResponse::from(v);
    zero.members[2].id = 0;
    assert!(MembersView::try_from(zero).is_err());
}

#[test]
fn change_replies_round_trip_and_a_missing_result_is_an_error() {
    let mut m = Membership::new([NodeId(1), NodeId(2)]);
    m.learners.insert(NodeId(3));
    m.addrs.insert(NodeId(3), "127.0.0.1:7003".into());
    let replies = [
        ChangeReply::Done(ChangeOutcome { index: LogIndex(12), membership: m }),
        ChangeReply::NotLeader(Some(LeaderHint { id: NodeId(2), address: Some("127.0.0.1:7002".into()) })),
        ChangeReply::NotLeader(None),
        ChangeReply::Refused(ChangeRefused { reason: RefusalReason::Lagging, message: "behind".into() }),
    ];
    for r in replies {
        assert_eq!(ChangeReply::try_from(pb::MembershipChangeResponse::from(r.clone())).unwrap(), r);
    }
    assert!(ChangeReply::try_from(pb::MembershipChangeResponse { result: None }).is_err());
    let refused = pb::MembershipChangeResponse {
        result: Some(pb::membership_change_response::Result::Refused(pb::MembershipRefused {
            reason: 0,
            message: String::new(),
        })),
    };
    assert!(ChangeReply::try_from(refused).is_err(), "a refusal without a reason is malformed");
    let no_voters = pb::MembershipChangeResponse {
        result: Some(pb::membership_change_response::Result::Ok(pb::MembershipChanged {
            index: 3,
            membership: Some(pb::Membership::default()),
        })),
    };
    assert!(ChangeReply::try_from(no_voters).is_err(), "a configuration without voters is malformed");
}

#[test]
fn only_pending_and_not_committed_in_term_are_retryable() {
    use RefusalReason::*;
    for r in [Pending, NotCommittedInTerm] {
        assert!(r.retryable(), "{r:?}");
    }
    for r in [UnknownMember, AlreadyMember, Lagging, Invalid] {
        assert!(!r.retryable(), "{r:?}");
    }
}

#[tokio::test]
async fn admin_client_adds_promotes_and_removes_through_the_server() {
    let node = start(1, Mode::Leader).await;
    let admin = AdminClient::connect(&node.addr.to_string(), ClientConfig::new(CLUSTER)).await.unwrap();
    let added = admin.add_learner(NodeId(4), "127.0.0.1:7004").await.unwrap();
    assert!(added.membership.learners.contains(&NodeId(4)));
    assert_eq!(added.membership.addrs.get(&NodeId(4)).map(String::as_str), Some("127.0.0.1:7004"));
    let view = admin.members().await.unwrap();
    let four = view.members.iter().find(|m| m.id == NodeId(4)).expect("learner listed");
    assert_eq!(four.role, MemberRole::Learner);
    match admin.add_learner(NodeId(4), "127.0.0.1:7004").await {
        Err(ClientError::MembershipRefused(r)) => assert_eq!(r.reason, RefusalReason::AlreadyMember),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let promoted = admin.promote(NodeId(4)).await.unwrap();
    assert!(promoted.membership.voters.contains(&NodeId(4)));
    let removed = admin.remove_member(NodeId(4), false).await.unwrap();
    assert!(!removed.membership.contains(NodeId(4)));
    assert!(removed.index > promoted.index);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_and_never_reaches_the_runtime() {
    let node = start(1, Mode::Leader).await;
    let admin = AdminClient::connect(&node.addr.to_string(), ClientConfig::new(CLUSTER)).await.unwrap();
    for (id, addr) in [(0, "127.0.0.1:7004"), (4, "no-port"), (4, "")] {
        match admin.add_learner(NodeId(id), addr).await {
            Err(ClientError::InvalidArgument(_)) => {}
            other => panic!("({id}, {addr:?}): expected InvalidArgument, got {other:?}"),
        }
    }
    let view = admin.members().await.unwrap();
    assert_eq!(view.members.len(), 1, "nothing was added: {view:?}");
}

#[tokio::test]
async fn a_follower_answers_a_change_with_the_leader_hint() {
    let hint = LeaderHint { id: NodeId(2), address: Some("127.0.0.1:7002".into()) };
    let follower = start(1, Mode::Redirect(Some(hint.clone()))).await;
    let admin = AdminClient::connect(&follower.addr.to_string(), ClientConfig::new(CLUSTER)).await.unwrap();
    match admin.promote(NodeId(3)).await {
        Err(ClientError::NotLeader { leader }) => assert_eq!(leader, Some(hint)),
        other => panic!("expected NotLeader, got {other:?}"),
    }
}
