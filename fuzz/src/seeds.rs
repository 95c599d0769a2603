//! Valid inputs for every target: the seed corpus (`corpus/<target>/seed-*`)
//! is written from these, and `tests/corpus.rs` checks that each is still
//! accepted, so a seed that silently stopped exercising the real path (say,
//! after a wire change) fails a test instead of fuzzing nothing.

use raft_core::{
    codec, AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, Entry, EntryPayload, HardState,
    InstallSnapshot, InstallSnapshotResponse, LogId, LogIndex, Membership, Message, MessageBody, NodeId, RequestVote,
    RequestVoteResponse, Snapshot, Term,
};
use raft_rpc::convert::{snapshot_header, MessageRoute};
use raft_rpc::pb;
use raft_statemachine::{KvConfig, KvOp, KvRequest, KvResponse, KvStore, StateMachine};

use crate::kv::snapshot_meta;
use crate::peer::frame_chunks;

/// `(target, seed name, bytes)` for every seed.
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in peer_messages() {
        out.push(("peer_message", name, bytes));
    }
    out.push(("snapshot_stream", "install-kv-snapshot".into(), snapshot_stream()));
    for (name, bytes) in storage_values() {
        out.push(("storage_codec", name, bytes));
    }
    out.push(("kv_snapshot", "three-keys-one-session".into(), kv_snapshot_bytes()));
    for (name, req) in kv_requests() {
        out.push(("kv_entry", name, req.encode().expect("seed request encodes")));
    }
    for (name, bytes) in client_requests() {
        out.push(("client_request", name, bytes));
    }
    out
}

fn msg(from: u64, term: u64, body: MessageBody) -> Message {
    Message { from: NodeId(from), to: NodeId(1), term: Term(term), body }
}

fn batch(msgs: Vec<Message>) -> Vec<u8> {
    use prost::Message as _;
    let messages = msgs
        .into_iter()
        .map(|m| match MessageRoute::from(m) {
            MessageRoute::Batch(pb) => pb,
            MessageRoute::Snapshot(_) => unreachable!("seeds put no snapshot in a batch"),
        })
        .collect();
    pb::RaftBatch { cluster_id: "fuzz".into(), messages, incarnation: 7 }.encode_to_vec()
}

fn entries() -> Vec<Entry> {
    vec![
        Entry::new(Term(1), LogIndex(1), EntryPayload::Noop),
        Entry::new(Term(1), LogIndex(2), EntryPayload::Normal(b"payload".to_vec().into())),
        Entry::new(Term(1), LogIndex(3), EntryPayload::Membership(Membership::new([NodeId(1), NodeId(2)]))),
    ]
}

fn peer_messages() -> Vec<(String, Vec<u8>)> {
    let last = LogId::new(Term(1), LogIndex(3));
    let append =
        AppendEntries { prev_log_id: LogId::default(), entries: entries(), leader_commit: LogIndex(2), read_round: 1 };
    let success = AppendEntriesResponse { result: AppendResult::Success { match_index: LogIndex(1) }, read_round: 1 };
    let hint = ConflictHint { rejected_index: LogIndex(1), conflict_term: Some(Term(1)), first_index: LogIndex(1) };
    let conflict = AppendEntriesResponse { result: AppendResult::Conflict(hint), read_round: 0 };
    vec![
        (
            "vote".into(),
            batch(vec![msg(
                2,
                2,
                MessageBody::RequestVote(RequestVote { pre_vote: false, last_log_id: last, leader_transfer: false }),
            )]),
        ),
        (
            "pre-vote".into(),
            batch(vec![msg(
                3,
                3,
                MessageBody::RequestVote(RequestVote { pre_vote: true, last_log_id: last, leader_transfer: false }),
            )]),
        ),
        (
            "vote-response".into(),
            batch(vec![msg(
                2,
                1,
                MessageBody::RequestVoteResponse(RequestVoteResponse {
                    pre_vote: false,
                    granted: true,
                    retry_next_term: false,
                }),
            )]),
        ),
        ("append".into(), batch(vec![msg(2, 1, MessageBody::AppendEntries(append))])),
        (
            "append-responses".into(),
            batch(vec![
                msg(2, 1, MessageBody::AppendEntriesResponse(success)),
                msg(3, 1, MessageBody::AppendEntriesResponse(conflict)),
            ]),
        ),
        (
            "snapshot-response".into(),
            batch(vec![msg(
                2,
                1,
                MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { last_index: LogIndex(5) }),
            )]),
        ),
        ("timeout-now".into(), batch(vec![msg(2, 1, MessageBody::TimeoutNow)])),
    ]
}

fn snapshot_stream() -> Vec<u8> {
    let data = kv_snapshot_bytes();
    let snapshot = Snapshot { meta: snapshot_meta(), data: data.clone() };
    let m = msg(2, 3, MessageBody::InstallSnapshot(InstallSnapshot { snapshot }));
    let header = snapshot_header(&m).expect("an InstallSnapshot has a header");
    let mut chunks =
        vec![pb::SnapshotChunk { cluster_id: "fuzz".into(), kind: Some(pb::snapshot_chunk::Kind::Header(header)) }];
    for part in data.chunks(64) {
        chunks.push(pb::SnapshotChunk {
            cluster_id: "fuzz".into(),
            kind: Some(pb::snapshot_chunk::Kind::Data(part.to_vec())),
        });
    }
    frame_chunks(&chunks)
}

fn storage_values() -> Vec<(String, Vec<u8>)> {
    let with = |selector: u8, body: Vec<u8>| [vec![selector], body].concat();
    let mut joint = Membership::new([NodeId(1), NodeId(4)]);
    joint.outgoing = [NodeId(1), NodeId(2)].into_iter().collect();
    joint.learners.insert(NodeId(5));
    joint.addrs.insert(NodeId(5), "10.0.0.5:7000".into());
    joint.incarnations = [(NodeId(1), 0x1111), (NodeId(5), 0x5555)].into();
    let resp = KvResponse::Put { prev: Some(b"old".to_vec()) };
    vec![
        ("entry-normal".into(), with(0, codec::encode(&entries()[1]).unwrap())),
        ("entry-membership".into(), with(0, codec::encode(&entries()[2]).unwrap())),
        (
            "hard-state".into(),
            with(1, codec::encode(&HardState { term: Term(4), vote: Some(NodeId(2)), commit: LogIndex(9) }).unwrap()),
        ),
        ("snapshot-meta".into(), with(2, codec::encode(&snapshot_meta()).unwrap())),
        ("membership-joint".into(), with(3, codec::encode(&joint).unwrap())),
        ("kv-request".into(), with(4, kv_requests()[0].1.encode().unwrap())),
        ("kv-response".into(), with(5, resp.encode().unwrap())),
    ]
}

fn kv_requests() -> Vec<(String, KvRequest)> {
    vec![
        ("put".into(), KvRequest::new(7, 1, KvOp::Put { key: b"k".to_vec(), value: b"v".to_vec() })),
        ("delete".into(), KvRequest::new(7, 2, KvOp::Delete { key: b"k".to_vec() })),
        (
            "cas".into(),
            KvRequest::new(8, 1, KvOp::Cas { key: b"k".to_vec(), expected: None, new: Some(b"v".to_vec()) }),
        ),
    ]
}

/// A real KV snapshot at [`snapshot_meta`]: membership entry 1, then
/// writes 2..=10 in term 2 (three keys, sessions of two clients).
pub fn kv_snapshot_bytes() -> Vec<u8> {
    let mut store = KvStore::new(KvConfig::default());
    let meta = snapshot_meta();
    store.apply(&Entry::new(Term(1), LogIndex(1), EntryPayload::Membership(meta.membership.clone()))).unwrap();
    for i in 2..=10u64 {
        let key = format!("key-{}", i % 3).into_bytes();
        let op = KvOp::Put { key, value: vec![b'v'; i as usize] };
        let req = KvRequest::new(1 + i % 2, i, op).encode().unwrap();
        store.apply(&Entry::new(Term(2), LogIndex(i), EntryPayload::Normal(req.into()))).unwrap();
    }
    let mut out = Vec::new();
    let made = store.snapshot(&mut out).expect("snapshot");
    assert_eq!(made, meta, "the seed snapshot sits at snapshot_meta()");
    out
}

fn client_requests() -> Vec<(String, Vec<u8>)> {
    use prost::Message as _;
    let with = |selector: u8, body: Vec<u8>| [vec![selector], body].concat();
    let cid = || "fuzz".to_string();
    let range = pb::scan_request::Range::Prefix(b"key-".to_vec());
    vec![
        (
            "put".into(),
            with(
                0,
                pb::PutRequest {
                    cluster_id: cid(),
                    client_id: 1,
                    seq: 1,
                    key: b"k".to_vec(),
                    value: b"v".to_vec(),
                    retry: false,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "delete".into(),
            with(
                1,
                pb::DeleteRequest { cluster_id: cid(), client_id: 1, seq: 2, key: b"k".to_vec(), retry: true }
                    .encode_to_vec(),
            ),
        ),
        (
            "cas".into(),
            with(
                2,
                pb::CompareAndSwapRequest {
                    cluster_id: cid(),
                    client_id: 1,
                    seq: 3,
                    key: b"k".to_vec(),
                    new_value: b"w".to_vec(),
                    retry: false,
                    expected: Some(pb::compare_and_swap_request::Expected::ExpectedValue(b"v".to_vec())),
                }
                .encode_to_vec(),
            ),
        ),
        ("get".into(), with(3, pb::GetRequest { cluster_id: cid(), key: b"k".to_vec(), stale: false }.encode_to_vec())),
        (
            "scan".into(),
            with(4, pb::ScanRequest { cluster_id: cid(), limit: 10, stale: true, range: Some(range) }.encode_to_vec()),
        ),
    ]
}
