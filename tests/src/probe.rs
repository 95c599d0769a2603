//! [`ClusterProbe`]: the test's own view of a running cluster through the
//! client and admin APIs — who leads, whether it serves, whether every node has
//! caught up, and what each node holds per key once it has.
//!
//! Why separate from the workload: these are the checks a Jepsen run makes
//! around the fault phase (before: a leader exists; after: the cluster serves
//! again in bounded time, and every acknowledged write is on every node).

use std::collections::BTreeMap;
use std::time::Duration;

use raft_core::Role;
use raft_rpc::{AdminClient, ClientConfig, Consistency, KvClient, NodeStatus};
use tokio::time::Instant;

use crate::error::NodeId;
use crate::history::HistoryRecorder;
use crate::linearizability::{Op, Output};
use crate::workload::{resolve_write_error, OpCounts};

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(100);

/// Per-node values of every key, read locally (stale reads) after catch-up.
pub type NodeValues = BTreeMap<String, BTreeMap<NodeId, Option<String>>>;

/// Why a probe gave up.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The condition did not hold before the deadline.
    #[error("{what} did not happen within {waited:?}; last: {last}")]
    Timeout {
        /// The condition.
        what: String,
        /// How long the probe waited.
        waited: Duration,
        /// The last observation or error.
        last: String,
    },
    /// A client could not be set up or a read failed.
    #[error("{0}")]
    Client(String),
    /// A stale read meant for one node was answered elsewhere.
    #[error("the stale read of {key:?} meant for node {node} was redirected to {answered_by}")]
    Redirected {
        /// The key.
        key: String,
        /// The node asked.
        node: NodeId,
        /// Where the client ended up.
        answered_by: String,
    },
}

/// Admin and client access to every node of one cluster.
#[derive(Clone, Debug)]
pub struct ClusterProbe {
    endpoints: BTreeMap<NodeId, String>,
    config: ClientConfig,
}

impl ClusterProbe {
    /// A probe for nodes `id -> http://host:port`, using `config`'s cluster id and timeouts.
    pub fn new(endpoints: BTreeMap<NodeId, String>, config: ClientConfig) -> Self {
        ClusterProbe { endpoints, config }
    }

    /// Every node's endpoint.
    pub fn endpoint_list(&self) -> Vec<String> {
        self.endpoints.values().cloned().collect()
    }

    /// The status of node `id`, or why it could not be had.
    pub async fn status(&self, id: NodeId) -> Result<NodeStatus, String> {
        let endpoint = self.endpoints.get(&id).ok_or_else(|| format!("no node {id}"))?;
        let mut config = self.config.clone();
        config.request_timeout = config.request_timeout.min(Duration::from_millis(700));
        let admin = AdminClient::connect(endpoint, config).await.map_err(|e| e.to_string())?;
        admin.status().await.map_err(|e| format!("node {id}: {e}"))
    }

    /// Statuses of every node that answers, asked concurrently.
    pub async fn statuses(&self) -> BTreeMap<NodeId, Result<NodeStatus, String>> {
        let mut set = tokio::task::JoinSet::new();
        for &id in self.endpoints.keys() {
            let probe = self.clone();
            set.spawn(async move { (id, probe.status(id).await) });
        }
        let mut out = BTreeMap::new();
        while let Some(Ok((id, s))) = set.join_next().await {
            out.insert(id, s);
        }
        out
    }

    /// The node that claims leadership in the highest term, if any answers.
    pub async fn leader(&self) -> Option<NodeId> {
        self.statuses()
            .await
            .into_iter()
            .filter_map(|(id, s)| s.ok().filter(|s| s.role == Role::Leader).map(|s| (s.term, id)))
            .max()
            .map(|(_, id)| id)
    }

    /// Writes `key = value` (recorded as client `client_id`) until a write is
    /// acknowledged or `timeout` passes; returns how long it took.
    pub async fn write_until_served(
        &self,
        recorder: &HistoryRecorder,
        client_id: u64,
        key: &str,
        value: &str,
        timeout: Duration,
    ) -> Result<Duration, ProbeError> {
        let start = Instant::now();
        let mut kv = KvClient::with_client_id(&self.endpoint_list(), self.config.clone(), client_id)
            .map_err(|e| ProbeError::Client(e.to_string()))?;
        let mut attempt = 0;
        let mut counts = OpCounts::default();
        loop {
            attempt += 1;
            let value = format!("{value}-{attempt}");
            let pending = recorder.invoke(client_id, Op::Put { key: key.into(), value: value.clone() });
            let last = match kv.put(key.as_bytes(), value.as_bytes()).await {
                Ok(_) => {
                    recorder.complete(pending, Output::Ok);
                    return Ok(start.elapsed());
                }
                Err(e) => {
                    resolve_write_error(recorder, pending, &e, &mut counts);
                    e.to_string()
                }
            };
            if start.elapsed() >= timeout {
                let what = format!("an acknowledged write of {key:?}");
                return Err(ProbeError::Timeout { what, waited: timeout, last });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every node has applied at least the leader's commit index as
    /// observed at the start (every acknowledged write is then on every node).
    pub async fn wait_caught_up(&self, timeout: Duration) -> Result<(), ProbeError> {
        let start = Instant::now();
        let mut target = None;
        let mut last = String::from("no status yet");
        loop {
            let statuses = self.statuses().await;
            if target.is_none() {
                target = statuses
                    .values()
                    .filter_map(|s| s.as_ref().ok())
                    .filter(|s| s.role == Role::Leader)
                    .max_by_key(|s| s.term)
                    .map(|s| s.commit);
            }
            if let Some(commit) = target {
                let behind: Vec<String> = statuses
                    .iter()
                    .filter_map(|(id, s)| match s {
                        Ok(s) if s.applied >= commit => None,
                        Ok(s) => Some(format!("node {id} applied {}", s.applied)),
                        Err(e) => Some(e.clone()),
                    })
                    .collect();
                if behind.is_empty() {
                    return Ok(());
                }
                last = format!("target commit {commit}; behind: {}", behind.join("; "));
            }
            if start.elapsed() >= timeout {
                let what = "every node applying the leader's commit index".to_string();
                return Err(ProbeError::Timeout { what, waited: timeout, last });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Linearizable reads of every key (recorded as client `client_id`).
    pub async fn read_all(
        &self,
        recorder: &HistoryRecorder,
        client_id: u64,
        keys: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, ProbeError> {
        let mut kv = KvClient::with_client_id(&self.endpoint_list(), self.config.clone(), client_id)
            .map_err(|e| ProbeError::Client(e.to_string()))?;
        let mut out = BTreeMap::new();
        for key in keys {
            let pending = recorder.invoke(client_id, Op::Get { key: key.clone() });
            match kv.get(key.as_bytes(), Consistency::Linearizable).await {
                Ok(v) => {
                    let v = v.map(|b| String::from_utf8_lossy(&b).into_owned());
                    recorder.complete(pending, Output::Value(v.clone()));
                    out.insert(key.clone(), v);
                }
                Err(e) => {
                    recorder.failed(pending);
                    return Err(ProbeError::Client(format!("final linearizable read of {key:?}: {e}")));
                }
            }
        }
        Ok(out)
    }

    /// Stale (local) reads of every key from every node, each recorded as client
    /// `first_client_id + node id`. Call after [`ClusterProbe::wait_caught_up`].
    pub async fn read_every_node(
        &self,
        recorder: &HistoryRecorder,
        first_client_id: u64,
        keys: &[String],
    ) -> Result<NodeValues, ProbeError> {
        let mut out: NodeValues = BTreeMap::new();
        for (&id, endpoint) in &self.endpoints {
            let client_id = first_client_id + id;
            let mut kv = KvClient::with_client_id(std::slice::from_ref(endpoint), self.config.clone(), client_id)
                .map_err(|e| ProbeError::Client(e.to_string()))?;
            for key in keys {
                let pending = recorder.invoke(client_id, Op::Get { key: key.clone() });
                let read = kv.get(key.as_bytes(), Consistency::Stale).await;
                let answered_by = kv.current_endpoint().to_string();
                let v = match read {
                    Ok(v) if endpoint.ends_with(&answered_by) => v.map(|b| String::from_utf8_lossy(&b).into_owned()),
                    Ok(_) => {
                        recorder.failed(pending);
                        return Err(ProbeError::Redirected { key: key.clone(), node: id, answered_by });
                    }
                    Err(e) => {
                        recorder.failed(pending);
                        return Err(ProbeError::Client(format!("stale read of {key:?} on node {id}: {e}")));
                    }
                };
                recorder.complete(pending, Output::Value(v.clone()));
                out.entry(key.clone()).or_default().insert(id, v);
            }
        }
        Ok(out)
    }
}

/// Keys on which the nodes disagree, with what each node holds.
pub fn disagreements(values: &NodeValues) -> Vec<String> {
    values
        .iter()
        .filter(|(_, per_node)| {
            let mut vs = per_node.values();
            let first = vs.next();
            vs.any(|v| Some(v) != first)
        })
        .map(|(key, per_node)| format!("{key:?}: {per_node:?}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreement_names_the_key_and_every_node_value() {
        let mut v: NodeValues = BTreeMap::new();
        v.entry("a".into()).or_default().extend([(1, Some("x".into())), (2, Some("x".into()))]);
        v.entry("b".into()).or_default().extend([(1, Some("x".into())), (2, None)]);
        let d = disagreements(&v);
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("\"b\"") && d[0].contains("None"), "{d:?}");
    }
}
