//! Raft messages: core [`Message`] <-> [`pb::RaftMessage`], and the snapshot
//! header that opens an InstallSnapshot stream.

use raft_core::{
    AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, Entry, EntryPayload, InstallSnapshot,
    InstallSnapshotResponse, Message, MessageBody, RequestVote, RequestVoteResponse, Snapshot, SnapshotMeta,
};

use super::{index, log_id, membership, node_id, term};
use crate::error::ConvertError;
use crate::pb;
use crate::pb::raft_message::Body;

/// How a core message travels: snapshots take the `InstallSnapshot` stream,
/// the rest go in `RaftBatch`es (on the peer's `Stream`, or a `Send` call).
#[derive(Debug)]
pub enum MessageRoute {
    /// Goes in a `RaftBatch`.
    Batch(pb::RaftMessage),
    /// Goes as an InstallSnapshot stream.
    Snapshot(Box<Message>),
}

impl From<Message> for MessageRoute {
    fn from(msg: Message) -> Self {
        let body = match msg.body {
            MessageBody::InstallSnapshot(_) => return MessageRoute::Snapshot(Box::new(msg)),
            MessageBody::RequestVote(v) => Body::RequestVote(pb::RequestVote {
                pre_vote: v.pre_vote,
                last_log_id: Some(v.last_log_id.into()),
                leader_transfer: v.leader_transfer,
            }),
            MessageBody::RequestVoteResponse(v) => Body::RequestVoteResponse(pb::RequestVoteResponse {
                pre_vote: v.pre_vote,
                granted: v.granted,
                retry_next_term: v.retry_next_term,
            }),
            MessageBody::AppendEntries(a) => Body::AppendEntries(pb::AppendEntries {
                prev_log_id: Some(a.prev_log_id.into()),
                entries: a.entries.into_iter().map(pb::Entry::from).collect(),
                leader_commit: a.leader_commit.0,
                read_round: a.read_round,
            }),
            MessageBody::AppendEntriesResponse(r) => Body::AppendEntriesResponse(append_response_to_pb(r)),
            MessageBody::InstallSnapshotResponse(r) => {
                Body::InstallSnapshotResponse(pb::InstallSnapshotResponse { last_index: r.last_index.0 })
            }
            MessageBody::TimeoutNow => Body::TimeoutNow(pb::TimeoutNow {}),
        };
        MessageRoute::Batch(pb::RaftMessage { from: msg.from.0, to: msg.to.0, term: msg.term.0, body: Some(body) })
    }
}

fn append_response_to_pb(r: AppendEntriesResponse) -> pb::AppendEntriesResponse {
    use pb::append_entries_response::Result as R;
    let result = match r.result {
        AppendResult::Success { match_index } => R::SuccessMatchIndex(match_index.0),
        AppendResult::Conflict(h) => R::Conflict(pb::ConflictHint {
            rejected_index: h.rejected_index.0,
            conflict_term: h.conflict_term.map(|t| t.0),
            first_index: h.first_index.0,
        }),
    };
    pb::AppendEntriesResponse { result: Some(result), read_round: r.read_round }
}

impl From<Entry> for pb::Entry {
    fn from(e: Entry) -> Self {
        use pb::entry::Payload;
        let payload = match e.payload {
            EntryPayload::Noop => Payload::Noop(pb::Noop {}),
            EntryPayload::Normal(data) => Payload::Normal(data),
            EntryPayload::Membership(m) => Payload::Membership((&m).into()),
        };
        pb::Entry { term: e.term.0, index: e.index.0, payload: Some(payload) }
    }
}

impl TryFrom<pb::Entry> for Entry {
    type Error = ConvertError;

    fn try_from(e: pb::Entry) -> Result<Self, ConvertError> {
        use pb::entry::Payload;
        let payload = match e.payload.ok_or(ConvertError::Missing("entry.payload"))? {
            Payload::Noop(_) => EntryPayload::Noop,
            Payload::Normal(data) => EntryPayload::Normal(data),
            Payload::Membership(m) => EntryPayload::Membership(m.try_into()?),
        };
        let index = index(e.index, "entry.index")?;
        if index.0 == 0 {
            return Err(ConvertError::invalid("entry.index", "entries start at index 1"));
        }
        Ok(Entry { term: term(e.term, "entry.term")?, index, payload })
    }
}

impl TryFrom<pb::RaftMessage> for Message {
    type Error = ConvertError;

    fn try_from(m: pb::RaftMessage) -> Result<Self, ConvertError> {
        let from = node_id(m.from, "message.from")?;
        let to = node_id(m.to, "message.to")?;
        let msg_term = term(m.term, "message.term")?;
        let body = match m.body.ok_or(ConvertError::Missing("message.body"))? {
            Body::RequestVote(v) => MessageBody::RequestVote(RequestVote {
                pre_vote: v.pre_vote,
                last_log_id: log_id(v.last_log_id, "request_vote.last_log_id")?,
                leader_transfer: v.leader_transfer,
            }),
            Body::RequestVoteResponse(v) => MessageBody::RequestVoteResponse(RequestVoteResponse {
                pre_vote: v.pre_vote,
                granted: v.granted,
                retry_next_term: v.retry_next_term,
            }),
            Body::AppendEntries(a) => MessageBody::AppendEntries(append_from_pb(a, msg_term)?),
            Body::AppendEntriesResponse(r) => MessageBody::AppendEntriesResponse(append_response_from_pb(r)?),
            Body::InstallSnapshotResponse(r) => MessageBody::InstallSnapshotResponse(InstallSnapshotResponse {
                last_index: index(r.last_index, "install_snapshot_response.last_index")?,
            }),
            Body::TimeoutNow(_) => MessageBody::TimeoutNow,
        };
        Ok(Message { from, to, term: msg_term, body })
    }
}

/// Validates the AppendEntries shape (§5.3): entries are consecutive from
/// `prev_log_id.index + 1` and no entry is newer than the leader's term.
fn append_from_pb(a: pb::AppendEntries, msg_term: raft_core::Term) -> Result<AppendEntries, ConvertError> {
    let prev_log_id = log_id(a.prev_log_id, "append_entries.prev_log_id")?;
    let mut entries = Vec::with_capacity(a.entries.len());
    let mut expected = prev_log_id.index.next();
    for e in a.entries {
        let entry = Entry::try_from(e)?;
        if entry.index != expected {
            let reason = format!("entry index {} where {} was expected", entry.index, expected);
            return Err(ConvertError::invalid("append_entries.entries", reason));
        }
        if entry.term > msg_term {
            let reason = format!("entry term {} above the leader's term {}", entry.term, msg_term);
            return Err(ConvertError::invalid("append_entries.entries", reason));
        }
        expected = expected.next();
        entries.push(entry);
    }
    Ok(AppendEntries {
        prev_log_id,
        entries,
        leader_commit: index(a.leader_commit, "append_entries.leader_commit")?,
        read_round: a.read_round,
    })
}

fn append_response_from_pb(r: pb::AppendEntriesResponse) -> Result<AppendEntriesResponse, ConvertError> {
    use pb::append_entries_response::Result as R;
    let result = match r.result.ok_or(ConvertError::Missing("append_entries_response.result"))? {
        R::SuccessMatchIndex(i) => AppendResult::Success { match_index: index(i, "append_entries_response.match")? },
        R::Conflict(h) => AppendResult::Conflict(ConflictHint {
            rejected_index: index(h.rejected_index, "conflict.rejected_index")?,
            conflict_term: h.conflict_term.map(|t| term(t, "conflict.conflict_term")).transpose()?,
            first_index: index(h.first_index, "conflict.first_index")?,
        }),
    };
    Ok(AppendEntriesResponse { result, read_round: r.read_round })
}

/// The header opening the InstallSnapshot stream for `msg`, or `None` if
/// `msg` is not an InstallSnapshot.
pub fn snapshot_header(msg: &Message) -> Option<pb::SnapshotHeader> {
    let MessageBody::InstallSnapshot(s) = &msg.body else { return None };
    Some(pb::SnapshotHeader {
        from: msg.from.0,
        to: msg.to.0,
        term: msg.term.0,
        last_log_id: Some(s.snapshot.meta.last_log_id.into()),
        membership: Some((&s.snapshot.meta.membership).into()),
        total_bytes: s.snapshot.data.len() as u64,
        data_crc32: Some(crc32fast::hash(&s.snapshot.data)),
    })
}

/// Rebuilds the core InstallSnapshot message from a header and the
/// reassembled data, checking the data against the header's length and
/// CRC-32 (a mismatch means the data was damaged on the way).
pub fn snapshot_message_from_header(h: pb::SnapshotHeader, data: Vec<u8>) -> Result<Message, ConvertError> {
    let (expected, actual) = (h.data_crc32, crc32fast::hash(&data));
    let msg = message_from_header(h, data)?;
    check_snapshot_crc(expected, actual)?;
    Ok(msg)
}

/// Fails unless the header's CRC-32 (`expected`) is present and equals
/// `actual`, the checksum of the data received.
pub(crate) fn check_snapshot_crc(expected: Option<u32>, actual: u32) -> Result<(), ConvertError> {
    let expected = expected.ok_or(ConvertError::Missing("snapshot_header.data_crc32"))?;
    if actual != expected {
        let reason = format!("CRC-32 {actual:08x} of the data received does not match the header's {expected:08x}");
        return Err(ConvertError::invalid("snapshot.data", reason));
    }
    Ok(())
}

/// [`snapshot_message_from_header`] without the checksum (the caller
/// checked it as the data arrived).
pub(crate) fn message_from_header(h: pb::SnapshotHeader, data: Vec<u8>) -> Result<Message, ConvertError> {
    if data.len() as u64 != h.total_bytes {
        let reason = format!("header announced {} bytes, stream delivered {}", h.total_bytes, data.len());
        return Err(ConvertError::invalid("snapshot.data", reason));
    }
    let meta = SnapshotMeta {
        last_log_id: log_id(h.last_log_id, "snapshot_header.last_log_id")?,
        membership: membership(h.membership, "snapshot_header.membership")?,
    };
    Ok(Message {
        from: node_id(h.from, "snapshot_header.from")?,
        to: node_id(h.to, "snapshot_header.to")?,
        term: term(h.term, "snapshot_header.term")?,
        body: MessageBody::InstallSnapshot(InstallSnapshot { snapshot: Snapshot { meta, data } }),
    })
}
