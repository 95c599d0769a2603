//! Every core message, client request and admin value survives
//! core -> protobuf -> core unchanged, and malformed protobuf is rejected
//! with a ConvertError (never a panic or a silent default).

use raft_core::{
    AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, Entry, EntryPayload, InstallSnapshot,
    InstallSnapshotResponse, LogId, LogIndex, Membership, Message, MessageBody, NodeId, RequestVote,
    RequestVoteResponse, Role, Snapshot, SnapshotMeta, Term,
};
use raft_rpc::convert::{MessageRoute, MAX_WIRE_INDEX};
use raft_rpc::{
    pb, snapshot_chunks, EventKind, Limits, MemberStatus, NodeEvent, NodeStatus, SnapshotAssembler, WriteResult,
};

fn msg(body: MessageBody) -> Message {
    Message { from: NodeId(1), to: NodeId(2), term: Term(7), body }
}

fn membership() -> Membership {
    let mut m = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
    m.learners.insert(NodeId(4));
    m.outgoing.insert(NodeId(5));
    m.addrs.insert(NodeId(4), "10.0.0.4:7000".into());
    m.incarnations = [(NodeId(1), 0xfeed), (NodeId(4), u64::MAX)].into();
    m
}

fn all_batch_messages() -> Vec<Message> {
    let lid = LogId::new(Term(6), LogIndex(10));
    vec![
        msg(MessageBody::RequestVote(RequestVote { pre_vote: false, last_log_id: lid, leader_transfer: false })),
        msg(MessageBody::RequestVote(RequestVote { pre_vote: true, last_log_id: lid, leader_transfer: true })),
        msg(MessageBody::RequestVoteResponse(RequestVoteResponse {
            pre_vote: true,
            granted: true,
            retry_next_term: false,
        })),
        msg(MessageBody::RequestVoteResponse(RequestVoteResponse {
            pre_vote: false,
            granted: false,
            retry_next_term: false,
        })),
        msg(MessageBody::AppendEntries(AppendEntries {
            prev_log_id: lid,
            entries: vec![
                Entry::new(Term(7), LogIndex(11), EntryPayload::Noop),
                Entry::new(Term(7), LogIndex(12), EntryPayload::Normal(b"payload".to_vec().into())),
                Entry::new(Term(7), LogIndex(13), EntryPayload::Normal(Vec::new().into())),
                Entry::new(Term(7), LogIndex(14), EntryPayload::Membership(membership())),
            ],
            leader_commit: LogIndex(9),
            read_round: 42,
        })),
        msg(MessageBody::AppendEntries(AppendEntries {
            prev_log_id: LogId::default(),
            entries: vec![],
            leader_commit: LogIndex(0),
            read_round: 0,
        })),
        msg(MessageBody::AppendEntriesResponse(AppendEntriesResponse {
            result: AppendResult::Success { match_index: LogIndex(14) },
            read_round: 42,
        })),
        msg(MessageBody::AppendEntriesResponse(AppendEntriesResponse {
            result: AppendResult::Conflict(ConflictHint {
                rejected_index: LogIndex(10),
                conflict_term: Some(Term(5)),
                first_index: LogIndex(8),
            }),
            read_round: 1,
        })),
        msg(MessageBody::AppendEntriesResponse(AppendEntriesResponse {
            result: AppendResult::Conflict(ConflictHint {
                rejected_index: LogIndex(10),
                conflict_term: None,
                first_index: LogIndex(4),
            }),
            read_round: 0,
        })),
        msg(MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { last_index: LogIndex(100) })),
        msg(MessageBody::TimeoutNow),
    ]
}

fn through_pb(m: Message) -> Message {
    let MessageRoute::Batch(p) = MessageRoute::from(m) else { panic!("batch message routed as a snapshot") };
    // Also through the encoded bytes, as on the wire.
    let bytes = prost::Message::encode_to_vec(&p);
    let decoded: pb::RaftMessage = prost::Message::decode(bytes.as_slice()).expect("decode");
    Message::try_from(decoded).expect("valid message converts back")
}

#[test]
fn every_batch_message_kind_round_trips() {
    for m in all_batch_messages() {
        assert_eq!(through_pb(m.clone()), m, "{}", m.kind());
    }
}

fn snapshot_message(len: usize) -> Message {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let meta = SnapshotMeta { last_log_id: LogId::new(Term(4), LogIndex(500)), membership: membership() };
    msg(MessageBody::InstallSnapshot(InstallSnapshot { snapshot: Snapshot { meta, data } }))
}

fn reassemble(m: Message, chunk: usize, limits: &Limits) -> Result<Message, raft_rpc::ConvertError> {
    let mut a = SnapshotAssembler::new(limits);
    for c in snapshot_chunks("c", m, chunk).expect("is a snapshot") {
        a.push(c.kind)?;
    }
    a.finish()
}

#[test]
fn snapshot_chunks_reassemble_exactly() {
    let limits = Limits::default();
    for (len, chunk) in [(0, 7), (1, 7), (7, 7), (8, 7), (10_000, 333), (4096, 4096)] {
        let m = snapshot_message(len);
        assert!(matches!(MessageRoute::from(m.clone()), MessageRoute::Snapshot(_)));
        let chunks: Vec<_> = snapshot_chunks("c", m.clone(), chunk).unwrap().collect();
        assert_eq!(chunks.len(), 1 + len.div_ceil(chunk), "header plus data chunks for {len}/{chunk}");
        assert_eq!(reassemble(m.clone(), chunk, &limits).expect("reassembles"), m, "{len}/{chunk}");
    }
}

#[test]
fn snapshot_assembler_rejects_oversize_chunks_and_totals() {
    let limits = Limits { max_snapshot_chunk_bytes: 100, max_snapshot_bytes: 1000, ..Limits::default() };
    let err = reassemble(snapshot_message(500), 101, &limits).unwrap_err();
    assert!(err.to_string().contains("exceeds the limit of 100"), "{err}");
    let err = reassemble(snapshot_message(1001), 100, &limits).unwrap_err();
    assert!(err.to_string().contains("exceeds the limit of 1000"), "{err}");
    assert!(reassemble(snapshot_message(1000), 100, &limits).is_ok());
}

#[test]
fn snapshot_assembler_rejects_bad_sequences() {
    let limits = Limits::default();
    let mut chunks: Vec<_> = snapshot_chunks("c", snapshot_message(10), 4).unwrap().collect();
    // Data before the header.
    let mut a = SnapshotAssembler::new(&limits);
    assert!(a.push(chunks[1].kind.clone()).is_err());
    // A truncated transfer (last chunk missing).
    let mut a = SnapshotAssembler::new(&limits);
    for c in &chunks[..chunks.len() - 1] {
        a.push(c.kind.clone()).unwrap();
    }
    assert!(a.finish().unwrap_err().to_string().contains("announced 10"));
    // More data than announced.
    let extra = chunks[1].clone();
    chunks.push(extra);
    let mut a = SnapshotAssembler::new(&limits);
    let results: Vec<_> = chunks.into_iter().map(|c| a.push(c.kind)).collect();
    assert!(results.last().unwrap().is_err());
    // No header at all, and a missing chunk kind.
    assert!(SnapshotAssembler::new(&limits).finish().is_err());
    assert!(SnapshotAssembler::new(&limits).push(None).is_err());
}

/// Issue #17: a data byte flipped after the sender computed the header's
/// CRC-32 is caught by the receiver, and so is a header without one.
#[test]
fn snapshot_assembler_rejects_data_damaged_in_transit_and_a_missing_checksum() {
    use pb::snapshot_chunk::Kind;
    let limits = Limits::default();
    let mut chunks: Vec<_> = snapshot_chunks("c", snapshot_message(1000), 300).unwrap().collect();
    let Some(Kind::Data(d)) = &mut chunks[2].kind else { panic!("data chunk expected") };
    d[17] ^= 0x40;
    let mut a = SnapshotAssembler::new(&limits);
    for c in &chunks {
        a.push(c.kind.clone()).unwrap();
    }
    let err = a.finish().unwrap_err();
    assert!(err.to_string().contains("CRC-32"), "{err}");

    let mut chunks: Vec<_> = snapshot_chunks("c", snapshot_message(10), 4).unwrap().collect();
    let Some(Kind::Header(h)) = &mut chunks[0].kind else { panic!("header expected") };
    h.data_crc32 = None;
    let err = SnapshotAssembler::new(&limits).push(chunks[0].kind.clone()).unwrap_err();
    assert_eq!(err, raft_rpc::ConvertError::Missing("snapshot_header.data_crc32"));
}

fn valid_pb() -> pb::RaftMessage {
    let MessageRoute::Batch(p) = MessageRoute::from(all_batch_messages()[4].clone()) else { unreachable!() };
    p
}

fn append(p: &mut pb::RaftMessage) -> &mut pb::AppendEntries {
    match p.body.as_mut() {
        Some(pb::raft_message::Body::AppendEntries(a)) => a,
        _ => unreachable!("valid_pb is an append"),
    }
}

#[test]
fn malformed_messages_are_rejected_not_defaulted() {
    type Mutation = Box<dyn Fn(&mut pb::RaftMessage)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("zero from", Box::new(|p| p.from = 0)),
        ("zero to", Box::new(|p| p.to = 0)),
        ("missing body", Box::new(|p| p.body = None)),
        ("absurd term", Box::new(|p| p.term = MAX_WIRE_INDEX + 1)),
        ("missing prev_log_id", Box::new(|p| append(p).prev_log_id = None)),
        ("absurd commit", Box::new(|p| append(p).leader_commit = u64::MAX)),
        ("gap in entries", Box::new(|p| append(p).entries[1].index = 20)),
        ("entry term above leader", Box::new(|p| append(p).entries[0].term = 8)),
        ("entry without payload", Box::new(|p| append(p).entries[0].payload = None)),
        (
            "membership without voters",
            Box::new(|p| {
                append(p).entries[3].payload = Some(pb::entry::Payload::Membership(pb::Membership::default()))
            }),
        ),
        (
            "zero voter",
            Box::new(|p| {
                append(p).entries[3].payload =
                    Some(pb::entry::Payload::Membership(pb::Membership { voters: vec![0], ..Default::default() }))
            }),
        ),
        (
            "learner also voter",
            Box::new(|p| {
                append(p).entries[3].payload = Some(pb::entry::Payload::Membership(pb::Membership {
                    voters: vec![1],
                    learners: vec![1],
                    ..Default::default()
                }))
            }),
        ),
        (
            "duplicate outgoing voter",
            Box::new(|p| {
                let m = pb::Membership { voters: vec![1], outgoing: vec![2, 2], ..Default::default() };
                append(p).entries[3].payload = Some(pb::entry::Payload::Membership(m))
            }),
        ),
        (
            "address of a non-member",
            Box::new(|p| {
                let addrs = [(9, "h:1".to_string())].into_iter().collect();
                let m = pb::Membership { voters: vec![1], addrs, ..Default::default() };
                append(p).entries[3].payload = Some(pb::entry::Payload::Membership(m))
            }),
        ),
        (
            "incarnation of a non-member",
            Box::new(|p| {
                let incarnations = [(9, 7)].into_iter().collect();
                let m = pb::Membership { voters: vec![1], incarnations, ..Default::default() };
                append(p).entries[3].payload = Some(pb::entry::Payload::Membership(m))
            }),
        ),
        (
            "zero incarnation",
            Box::new(|p| {
                let incarnations = [(1, 0)].into_iter().collect();
                let m = pb::Membership { voters: vec![1], incarnations, ..Default::default() };
                append(p).entries[3].payload = Some(pb::entry::Payload::Membership(m))
            }),
        ),
    ];
    for (name, mutate) in cases {
        let mut p = valid_pb();
        mutate(&mut p);
        assert!(Message::try_from(p).is_err(), "{name} must be rejected");
    }
    assert!(Message::try_from(valid_pb()).is_ok());
}

#[test]
fn status_round_trips_and_rejects_unknown_role() {
    let s = NodeStatus {
        id: NodeId(2),
        address: "127.0.0.1:7002".into(),
        role: Role::PreCandidate,
        term: Term(9),
        leader: None,
        commit: LogIndex(30),
        applied: LogIndex(29),
        first_index: LogIndex(5),
        last_index: LogIndex(31),
        members: vec![
            MemberStatus { id: NodeId(1), address: "a:1".into(), voter: true, matched: None, next: None },
            MemberStatus {
                id: NodeId(4),
                address: String::new(),
                voter: false,
                matched: Some(LogIndex(3)),
                next: Some(LogIndex(4)),
            },
        ],
        incarnation: 0x1234_5678_9abc_def0,
        peer_incarnations: vec![(NodeId(1), 11), (NodeId(4), 44)],
    };
    for role in [Role::Follower, Role::PreCandidate, Role::Candidate, Role::Leader] {
        let s = NodeStatus { role, ..s.clone() };
        assert_eq!(NodeStatus::try_from(pb::StatusResponse::from(s.clone())).unwrap(), s);
    }
    let mut p = pb::StatusResponse::from(s.clone());
    p.role = 99;
    assert!(NodeStatus::try_from(p.clone()).unwrap_err().to_string().contains("unknown role 99"));
    p.role = 0;
    assert!(NodeStatus::try_from(p).is_err(), "unspecified role is missing, not a default");
}

#[test]
fn every_event_kind_round_trips() {
    let lid = LogId::new(Term(2), LogIndex(50));
    let kinds = vec![
        EventKind::ElectionStarted { term: Term(3), pre_vote: true },
        EventKind::LeaderElected { term: Term(3), leader: NodeId(1), votes: vec![NodeId(1), NodeId(3)] },
        EventKind::TermChanged { term: Term(4), leader: None },
        EventKind::TermChanged { term: Term(4), leader: Some(NodeId(2)) },
        EventKind::Committed { index: LogIndex(8), term: Term(4) },
        EventKind::Applied { index: LogIndex(8) },
        EventKind::SnapshotTaken { last_log_id: lid },
        EventKind::SnapshotInstalled { last_log_id: lid },
        EventKind::PeerUp { peer: NodeId(3) },
        EventKind::PeerDown { peer: NodeId(3) },
        EventKind::LostQuorum { term: Term(5) },
        EventKind::TransferStarted { to: NodeId(2) },
        EventKind::Lagged { missed: 17 },
    ];
    for kind in kinds {
        let e = NodeEvent { node: NodeId(1), unix_ms: 1_700_000_000_000, kind };
        assert_eq!(NodeEvent::try_from(pb::NodeEvent::from(e.clone())).unwrap(), e);
    }
    assert!(NodeEvent::try_from(pb::NodeEvent { node: 1, unix_ms: 0, kind: None }).is_err());
}

#[test]
fn write_results_round_trip() {
    for r in [
        WriteResult { succeeded: true, previous: None, index: LogIndex(3) },
        WriteResult { succeeded: false, previous: Some(b"old".to_vec()), index: LogIndex(4) },
        WriteResult { succeeded: true, previous: Some(Vec::new()), index: LogIndex(5) },
    ] {
        assert_eq!(WriteResult::try_from(pb::WriteResult::from(r.clone())).unwrap(), r);
    }
}

#[test]
fn every_write_request_round_trips_and_session_is_required() {
    use raft_rpc::convert::{write_to_pb, WriteCall};
    use raft_rpc::{WriteOp, WriteRequest};
    let ops = vec![
        WriteOp::Put { key: b"k".to_vec(), value: b"v".to_vec() },
        WriteOp::Put { key: b"k".to_vec(), value: Vec::new() },
        WriteOp::Delete { key: b"k".to_vec() },
        WriteOp::CompareAndSwap { key: b"k".to_vec(), expected: None, new_value: b"n".to_vec() },
        WriteOp::CompareAndSwap { key: b"k".to_vec(), expected: Some(Vec::new()), new_value: b"n".to_vec() },
    ];
    for (i, op) in ops.into_iter().enumerate() {
        let req = WriteRequest { client_id: 77, seq: 5, op, retry: i % 2 == 1 };
        let back = match write_to_pb("c", &req) {
            WriteCall::Put(p) => WriteRequest::try_from(p),
            WriteCall::Delete(p) => WriteRequest::try_from(p),
            WriteCall::Cas(p) => WriteRequest::try_from(p),
        };
        assert_eq!(back.unwrap(), req);
    }
    let no_client = pb::PutRequest {
        cluster_id: "c".into(),
        client_id: 0,
        seq: 1,
        key: b"k".to_vec(),
        value: vec![],
        retry: false,
    };
    assert!(WriteRequest::try_from(no_client).is_err());
    let no_seq = pb::DeleteRequest { cluster_id: "c".into(), client_id: 1, seq: 0, key: b"k".to_vec(), retry: false };
    assert!(WriteRequest::try_from(no_seq).is_err());
    let huge_seq = pb::DeleteRequest { seq: 1 << 63, ..no_seq_template() };
    assert!(WriteRequest::try_from(huge_seq).is_err(), "the top bit of seq is reserved");
    let no_expectation = pb::CompareAndSwapRequest {
        cluster_id: "c".into(),
        client_id: 1,
        seq: 1,
        key: b"k".to_vec(),
        expected: None,
        new_value: vec![],
        retry: false,
    };
    assert!(WriteRequest::try_from(no_expectation).is_err());
}

#[test]
fn read_requests_round_trip() {
    use raft_rpc::convert::scan_range_to_pb;
    use raft_rpc::{Consistency, ReadRequest, ScanRange};
    for (range, stale) in [
        (ScanRange::Prefix(b"user/".to_vec()), false),
        (ScanRange::Range { start: b"a".to_vec(), end: Some(b"m".to_vec()) }, true),
        (ScanRange::Range { start: Vec::new(), end: None }, false),
    ] {
        let p = pb::ScanRequest { cluster_id: "c".into(), range: Some(scan_range_to_pb(&range)), limit: 9, stale };
        let consistency = if stale { Consistency::Stale } else { Consistency::Linearizable };
        assert_eq!(ReadRequest::try_from(p).unwrap(), ReadRequest::Scan { range, limit: 9, consistency });
    }
    let backwards = pb::ScanRequest {
        cluster_id: "c".into(),
        range: Some(pb::scan_request::Range::KeyRange(pb::KeyRange { start: b"z".to_vec(), end: b"a".to_vec() })),
        limit: 1,
        stale: false,
    };
    assert!(ReadRequest::try_from(backwards).is_err());
    let get = pb::GetRequest { cluster_id: "c".into(), key: b"k".to_vec(), stale: true };
    assert_eq!(ReadRequest::from(get), ReadRequest::Get { key: b"k".to_vec(), consistency: Consistency::Stale });
}

fn no_seq_template() -> pb::DeleteRequest {
    pb::DeleteRequest { cluster_id: "c".into(), client_id: 1, seq: 1, key: b"k".to_vec(), retry: false }
}
