//! `status` and `transfer-leader`: Admin calls to specific nodes.

use std::time::Duration;

use raft_core::NodeId;
use raft_rpc::{AdminClient, ClientConfig, ClientError, NodeStatus};
use tokio::time::Instant;

use super::reports::{StatusReport, TransferReport};
use super::{classify, Connection};
use crate::duration::format_duration;
use crate::exit::{CliError, CliResult};
use crate::output::{print, OutputFormat};

async fn ask_typed(endpoint: &str, config: ClientConfig) -> Result<NodeStatus, ClientError> {
    AdminClient::connect(endpoint, config).await?.status().await
}

async fn ask(endpoint: &str, config: ClientConfig) -> Result<NodeStatus, String> {
    ask_typed(endpoint, config).await.map_err(|e| e.to_string())
}

pub(super) async fn ask_all(endpoints: &[String], config: &ClientConfig) -> Vec<(String, Result<NodeStatus, String>)> {
    let asks = endpoints.iter().map(|ep| async move { (ep.clone(), ask(ep, config.clone()).await) });
    futures::future::join_all(asks).await
}

/// When no endpoint answered: a TLS refusal from the first endpoint is a
/// usage error (exit 2: fix the certificates), anything else is
/// unavailability (exit 3).
async fn none_answered(conn: &Connection, config: &ClientConfig, endpoints: &[String], why: String) -> CliError {
    if let Some(first) = endpoints.first() {
        if let Err(e @ ClientError::Tls(_)) = ask_typed(first, config.clone()).await {
            return classify(e, endpoints, conn.timeout);
        }
    }
    classify(ClientError::Unavailable(why), endpoints, conn.timeout)
}

/// The member addresses of the first endpoint that answers (`--cluster`).
pub(super) async fn members(conn: &Connection, config: &ClientConfig) -> Result<Vec<String>, CliError> {
    let mut why = Vec::new();
    for ep in &conn.endpoints {
        match ask(ep, config.clone()).await {
            Ok(s) => {
                let mut list: Vec<String> =
                    s.members.iter().map(|m| m.address.clone()).filter(|a| !a.is_empty()).collect();
                if list.is_empty() {
                    list.push(ep.clone());
                }
                return Ok(list);
            }
            Err(e) => why.push(e),
        }
    }
    Err(none_answered(conn, config, &conn.endpoints, why.join("; ")).await)
}

/// Every endpoint's view; exit 3 if any endpoint (or, with `--cluster`,
/// any member) did not answer, after printing what the others said.
pub async fn status(conn: &Connection, config: ClientConfig, cluster: bool) -> CliResult {
    let endpoints = if cluster { members(conn, &config).await? } else { conn.endpoints.clone() };
    let nodes = ask_all(&endpoints, &config).await;
    let failed: Vec<String> =
        nodes.iter().filter_map(|(ep, a)| a.as_ref().err().map(|e| format!("{ep}: {e}"))).collect();
    if failed.len() == nodes.len() {
        return Err(none_answered(conn, &config, &endpoints, failed.join("; ")).await);
    }
    print(conn.output, &StatusReport { nodes });
    if failed.is_empty() {
        return Ok(());
    }
    let e = CliError::unavailable(anyhow::anyhow!(
        "{} of {} endpoints unreachable ({}): is every node running?",
        failed.len(),
        endpoints.len(),
        failed.join("; ")
    ));
    // In JSON the document above already says `"ok": false`.
    Err(if conn.output == OutputFormat::Json { e.mark_reported() } else { e })
}

/// Finds the leader among the endpoints, asks it to hand over to `to`, and
/// (with `wait`) polls until a node reports `to` as leader or the timeout passes.
pub async fn transfer(conn: &Connection, config: ClientConfig, to: u64, wait: bool) -> CliResult {
    let started = Instant::now();
    let mut last = ClientError::Unavailable("no endpoint tried".into());
    let mut from = None;
    for ep in &conn.endpoints {
        let admin = match AdminClient::connect(ep, config.clone()).await {
            Ok(a) => a,
            Err(e) => {
                last = e;
                continue;
            }
        };
        match admin.transfer_leader(NodeId(to)).await {
            Ok(()) => {
                from = Some(ep.clone());
                break;
            }
            Err(e @ ClientError::NotLeader { .. }) | Err(e @ ClientError::Unavailable(_)) => last = e,
            Err(e) => return Err(classify(e, &conn.endpoints, conn.timeout)),
        }
    }
    let Some(from_endpoint) = from else { return Err(classify(last, &conn.endpoints, conn.timeout)) };
    if !wait {
        print(conn.output, &TransferReport { to, from_endpoint, completed_in_term: None });
        return Ok(());
    }
    let deadline = started + conn.timeout;
    let mut view = String::from("no node answered");
    loop {
        let nodes = ask_all(&conn.endpoints, &config).await;
        let leading = nodes.iter().filter_map(|(_, a)| a.as_ref().ok()).find(|s| s.leader == Some(NodeId(to)));
        if let Some(s) = leading {
            print(conn.output, &TransferReport { to, from_endpoint, completed_in_term: Some(s.term.0) });
            return Ok(());
        }
        let leaders: Vec<String> = nodes
            .iter()
            .filter_map(|(_, a)| a.as_ref().ok())
            .filter_map(|s| s.leader.map(|l| format!("node {} sees leader {} in term {}", s.id.0, l.0, s.term.0)))
            .collect();
        if !leaders.is_empty() {
            view = leaders.join(", ");
        }
        if Instant::now() >= deadline {
            return Err(CliError::unavailable(anyhow::anyhow!(
                "leadership transfer to node {to} did not complete within {} ({view}): is node {to} a caught-up voter and reachable? \
                 (see `raft-cli status`; --no-wait returns once the transfer started)",
                format_duration(conn.timeout)
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
