//! What the client commands print, in both formats.

use raft_rpc::{NodeStatus, WriteResult};
use serde_json::{json, Value};

use crate::output::{text, Report, Table};

/// Result of `put`, `delete` or `cas`.
#[derive(Debug)]
pub struct WriteReport {
    /// "put", "delete" or "cas".
    pub op: &'static str,
    /// The key written.
    pub key: String,
    /// What the cluster answered.
    pub result: WriteResult,
}

impl Report for WriteReport {
    fn human(&self) -> String {
        let r = &self.result;
        match (self.op, r.succeeded) {
            (_, true) => format!("OK (applied at index {})", r.index.0),
            ("delete", false) => format!("key {:?} not found (nothing deleted)", self.key),
            (_, false) => match &r.previous {
                Some(v) => format!("CAS failed: {:?} holds {:?}", self.key, text(v)),
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
            "previous": r.previous.as_deref().map(text),
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
}

impl Report for GetReport {
    fn human(&self) -> String {
        self.value.as_deref().map(text).unwrap_or_default()
    }

    fn json(&self) -> Value {
        json!({"key": self.key, "found": self.value.is_some(), "value": self.value.as_deref().map(text)})
    }
}

/// Result of `scan`.
#[derive(Debug)]
pub struct ScanReport {
    /// Pairs in key order.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// More pairs exist beyond the limit.
    pub more: bool,
}

impl Report for ScanReport {
    fn human(&self) -> String {
        let mut out: Vec<String> = self.pairs.iter().map(|(k, v)| format!("{}\t{}", text(k), text(v))).collect();
        if self.more {
            out.push("(more keys match: raise --limit)".into());
        }
        out.join("\n")
    }

    fn json(&self) -> Value {
        let pairs: Vec<Value> = self.pairs.iter().map(|(k, v)| json!({"key": text(k), "value": text(v)})).collect();
        json!({"pairs": pairs, "more": self.more})
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
        json!({"nodes": nodes})
    }
}

/// Result of `transfer-leader`.
#[derive(Debug)]
pub struct TransferReport {
    /// The new leader.
    pub to: u64,
    /// The node that handed over.
    pub from_endpoint: String,
}

impl Report for TransferReport {
    fn human(&self) -> String {
        format!("leadership transfer to node {} started by the leader at {}", self.to, self.from_endpoint)
    }

    fn json(&self) -> Value {
        json!({"to": self.to, "from_endpoint": self.from_endpoint, "started": true})
    }
}
