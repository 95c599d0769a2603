//! What the client commands print, in both formats.

use std::io::Write;

use raft_rpc::{NodeStatus, WriteResult};
use serde_json::{json, Value};

use crate::output::{text, Report, Table};
use crate::values::ValueEncoding;

/// Result of `put`, `delete` or `cas`.
#[derive(Debug)]
pub struct WriteReport {
    /// "put", "delete" or "cas".
    pub op: &'static str,
    /// The key written.
    pub key: String,
    /// What the cluster answered; `previous` is the value before the write.
    pub result: WriteResult,
    /// How values are printed.
    pub encoding: ValueEncoding,
}

impl Report for WriteReport {
    fn human(&self) -> String {
        let r = &self.result;
        match (self.op, r.succeeded) {
            (_, true) => format!("OK (applied at index {})", r.index.0),
            ("delete", false) => format!("key {:?} not found (nothing deleted)", self.key),
            (_, false) => match &r.previous {
                Some(v) => format!("CAS failed: {:?} holds {:?}", self.key, self.encoding.encode(v)),
                None => format!("CAS failed: {:?} is absent", self.key),
            },
        }
    }

    fn json(&self) -> Value {
        let r = &self.result;
        json!({
            "op": self.op,
            "key": self.key,
            "succeeded": r.succeeded,
            "previous": r.previous.as_deref().map(|v| self.encoding.encode(v)),
            "value_encoding": self.encoding.name(),
            "index": r.index.0,
        })
    }
}

/// Result of `get`.
#[derive(Debug)]
pub struct GetReport {
    /// The key read.
    pub key: String,
    /// Its value, if present.
    pub value: Option<Vec<u8>>,
    /// How the value is printed.
    pub encoding: ValueEncoding,
}

impl GetReport {
    /// Human output: the value's bytes as stored (utf8) or encoded, then a newline.
    pub fn write_raw(&self) {
        let Some(v) = &self.value else { return };
        let mut out = std::io::stdout().lock();
        let bytes = match self.encoding {
            ValueEncoding::Utf8 => v.clone(),
            other => other.encode(v).into_bytes(),
        };
        let _ = out.write_all(&bytes).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
    }
}

impl Report for GetReport {
    fn human(&self) -> String {
        self.value.as_deref().map(|v| self.encoding.encode(v)).unwrap_or_default()
    }

    fn json(&self) -> Value {
        json!({
            "key": self.key,
            "found": self.value.is_some(),
            "value": self.value.as_deref().map(|v| self.encoding.encode(v)),
            "value_encoding": self.encoding.name(),
        })
    }
}

/// Result of `scan`.
#[derive(Debug)]
pub struct ScanReport {
    /// Pairs in key order.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// More pairs exist beyond the limit (told on stderr in human output).
    pub more: bool,
    /// How values are printed.
    pub encoding: ValueEncoding,
}

impl Report for ScanReport {
    fn human(&self) -> String {
        let out: Vec<String> =
            self.pairs.iter().map(|(k, v)| format!("{}\t{}", text(k), self.encoding.encode(v))).collect();
        out.join("\n")
    }

    fn json(&self) -> Value {
        let pairs: Vec<Value> =
            self.pairs.iter().map(|(k, v)| json!({"key": text(k), "value": self.encoding.encode(v)})).collect();
        json!({"pairs": pairs, "more": self.more, "value_encoding": self.encoding.name()})
    }
}

/// Result of `status`: one row per endpoint.
#[derive(Debug)]
pub struct StatusReport {
    /// Each endpoint with its answer or the error.
    pub nodes: Vec<(String, Result<NodeStatus, String>)>,
}

fn role_name(s: &NodeStatus) -> String {
    s.role.to_string().to_lowercase()
}

impl Report for StatusReport {
    fn human(&self) -> String {
        let mut t = Table::new(["endpoint", "id", "role", "term", "leader", "commit", "applied", "first", "last"]);
        for (endpoint, answer) in &self.nodes {
            match answer {
                Ok(s) => t.row([
                    endpoint.clone(),
                    s.id.0.to_string(),
                    role_name(s),
                    s.term.0.to_string(),
                    s.leader.map(|l| l.0.to_string()).unwrap_or_else(|| "-".into()),
                    s.commit.0.to_string(),
                    s.applied.0.to_string(),
                    s.first_index.0.to_string(),
                    s.last_index.0.to_string(),
                ]),
                Err(e) => t.row([endpoint.clone(), "-".into(), format!("unreachable: {e}")]),
            }
        }
        t.render()
    }

    fn json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|(endpoint, answer)| match answer {
                Ok(s) => json!({
                    "endpoint": endpoint,
                    "id": s.id.0,
                    "role": role_name(s),
                    "term": s.term.0,
                    "leader": s.leader.map(|l| l.0),
                    "commit": s.commit.0,
                    "applied": s.applied.0,
                    "first_index": s.first_index.0,
                    "last_index": s.last_index.0,
                    "members": s.members.iter().map(|m| json!({
                        "id": m.id.0, "address": m.address, "voter": m.voter,
                        "matched": m.matched.map(|i| i.0), "next": m.next.map(|i| i.0),
                    })).collect::<Vec<_>>(),
                }),
                Err(e) => json!({"endpoint": endpoint, "error": e}),
            })
            .collect();
        let unreachable = self.nodes.iter().filter(|(_, a)| a.is_err()).count();
        json!({"ok": unreachable == 0, "unreachable": unreachable, "nodes": nodes})
    }
}

/// Result of `transfer-leader`.
#[derive(Debug)]
pub struct TransferReport {
    /// The new leader.
    pub to: u64,
    /// The node that handed over.
    pub from_endpoint: String,
    /// The term in which `to` was seen leading (`None`: not waited for).
    pub completed_in_term: Option<u64>,
}

impl Report for TransferReport {
    fn human(&self) -> String {
        match self.completed_in_term {
            Some(term) => format!("node {} is now the leader (term {term})", self.to),
            None => format!("leadership transfer to node {} started by the leader at {}", self.to, self.from_endpoint),
        }
    }

    fn json(&self) -> Value {
        json!({
            "ok": true,
            "to": self.to,
            "from_endpoint": self.from_endpoint,
            "started": true,
            "completed": self.completed_in_term.is_some(),
            "term": self.completed_in_term,
        })
    }
}
