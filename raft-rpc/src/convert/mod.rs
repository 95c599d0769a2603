//! Conversions between protobuf types (`crate::pb`) and core / API types.
//!
//! Inbound conversions are `TryFrom` and validate everything a peer or client
//! could get wrong: a missing required field, a zero node id, an unknown
//! enum value, an index beyond [`MAX_WIRE_INDEX`], entries that are not
//! consecutive. A failure is a [`ConvertError`], which the server turns into
//! INVALID_ARGUMENT; nothing here panics on input.

mod admin;
pub(crate) mod kv;
mod members;
pub(crate) mod message;

pub use kv::{scan_range_to_pb, write_to_pb, NotLeaderReply, WriteCall};
pub use members::ChangeReply;
pub use message::{snapshot_header, snapshot_message_from_header, MessageRoute};

use raft_core::{LogId, LogIndex, Membership, NodeId, Term};

use crate::error::ConvertError;
use crate::pb;

/// Largest term or index accepted from the wire (2^62). Anything above is
/// absurd for a real log and would risk overflow in `index + 1` arithmetic.
pub const MAX_WIRE_INDEX: u64 = 1 << 62;

pub(crate) fn node_id(v: u64, field: &'static str) -> Result<NodeId, ConvertError> {
    if v == 0 {
        return Err(ConvertError::invalid(field, "node id 0 is reserved"));
    }
    Ok(NodeId(v))
}

pub(crate) fn opt_node_id(v: u64) -> Option<NodeId> {
    (v != 0).then_some(NodeId(v))
}

pub(crate) fn index(v: u64, field: &'static str) -> Result<LogIndex, ConvertError> {
    if v > MAX_WIRE_INDEX {
        return Err(ConvertError::invalid(field, format!("index {v} exceeds {MAX_WIRE_INDEX}")));
    }
    Ok(LogIndex(v))
}

pub(crate) fn term(v: u64, field: &'static str) -> Result<Term, ConvertError> {
    if v > MAX_WIRE_INDEX {
        return Err(ConvertError::invalid(field, format!("term {v} exceeds {MAX_WIRE_INDEX}")));
    }
    Ok(Term(v))
}

pub(crate) fn log_id(v: Option<pb::LogId>, field: &'static str) -> Result<LogId, ConvertError> {
    let v = v.ok_or(ConvertError::Missing(field))?;
    let id = LogId::new(term(v.term, field)?, index(v.index, field)?);
    if id.index.0 == 0 && id.term.0 != 0 {
        return Err(ConvertError::invalid(field, "index 0 must have term 0"));
    }
    Ok(id)
}

impl From<LogId> for pb::LogId {
    fn from(v: LogId) -> Self {
        pb::LogId { term: v.term.0, index: v.index.0 }
    }
}

impl From<&Membership> for pb::Membership {
    fn from(m: &Membership) -> Self {
        pb::Membership {
            voters: m.voters.iter().map(|n| n.0).collect(),
            learners: m.learners.iter().map(|n| n.0).collect(),
            outgoing: m.outgoing.iter().map(|n| n.0).collect(),
            addrs: m.addrs.iter().map(|(id, a)| (id.0, a.clone())).collect(),
            incarnations: m.incarnations.iter().map(|(id, i)| (id.0, *i)).collect(),
        }
    }
}

impl TryFrom<pb::Membership> for Membership {
    type Error = ConvertError;

    fn try_from(m: pb::Membership) -> Result<Self, ConvertError> {
        let mut out = Membership::default();
        for v in m.voters {
            if !out.voters.insert(node_id(v, "membership.voters")?) {
                return Err(ConvertError::invalid("membership.voters", format!("duplicate voter {v}")));
            }
        }
        for l in m.learners {
            let id = node_id(l, "membership.learners")?;
            if out.voters.contains(&id) || !out.learners.insert(id) {
                return Err(ConvertError::invalid("membership.learners", format!("learner {l} duplicated or a voter")));
            }
        }
        for o in m.outgoing {
            if !out.outgoing.insert(node_id(o, "membership.outgoing")?) {
                return Err(ConvertError::invalid("membership.outgoing", format!("duplicate outgoing voter {o}")));
            }
        }
        for (id, addr) in m.addrs {
            let id = node_id(id, "membership.addrs")?;
            if !out.contains(id) {
                return Err(ConvertError::invalid("membership.addrs", format!("address for {id}, not a member")));
            }
            out.addrs.insert(id, addr);
        }
        for (id, incarnation) in m.incarnations {
            let id = node_id(id, "membership.incarnations")?;
            if !out.contains(id) || incarnation == 0 {
                return Err(ConvertError::invalid(
                    "membership.incarnations",
                    format!("incarnation {incarnation} for {id}: not a member, or zero"),
                ));
            }
            out.incarnations.insert(id, incarnation);
        }
        if out.voters.is_empty() {
            return Err(ConvertError::invalid("membership.voters", "no voters"));
        }
        Ok(out)
    }
}

pub(crate) fn membership(m: Option<pb::Membership>, field: &'static str) -> Result<Membership, ConvertError> {
    Membership::try_from(m.ok_or(ConvertError::Missing(field))?)
}
