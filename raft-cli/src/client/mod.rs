//! Client commands: one request to the cluster, answered in words or JSON,
//! with an exit code scripts can branch on (see [`crate::exit`]).
//!
//! Writes go through [`raft_rpc::KvClient`], which follows the leader and
//! retries with the same sequence number, so a retried write applies at
//! most once; a write whose fate stays unknown exits 3, never 0.

mod args;
mod errors;
mod reports;

use std::time::Duration;

use raft_core::NodeId;
use raft_rpc::{AdminClient, ClientConfig, ClientError, Consistency, KvClient, ScanRange};

pub use args::{ClientCommand, Connection, DEFAULT_ENDPOINTS};
pub use errors::classify;
use reports::{GetReport, ScanReport, StatusReport, TransferReport, WriteReport};

use crate::exit::{CliError, CliResult};
use crate::output::{print, OutputFormat, Report};

/// Client settings for an overall `timeout`: each attempt and connect gets a
/// share so that several endpoints can be tried within it.
pub fn client_config(cluster_id: &str, timeout: Duration) -> ClientConfig {
    let mut c = ClientConfig::new(cluster_id);
    c.operation_timeout = timeout;
    c.request_timeout = c.request_timeout.min(timeout);
    c.connect_timeout = c.connect_timeout.min(timeout);
    c
}

/// Runs one client command.
pub fn run(cmd: ClientCommand) -> CliResult {
    let conn = cmd.connection().clone();
    let runtime = crate::cli::runtime()?;
    let result = runtime.block_on(execute(cmd, &conn));
    if let (Err(e), OutputFormat::Json) = (&result, conn.output) {
        if e.reported {
            return result;
        }
        let doc = serde_json::json!({"ok": false, "exit_code": e.code as u8, "error": e.to_string()});
        println!("{doc}");
    }
    result
}

async fn execute(cmd: ClientCommand, conn: &Connection) -> CliResult {
    let config = client_config(&conn.cluster_id, conn.timeout);
    let fail = |e: ClientError| classify(e, &conn.endpoints, conn.timeout);
    match cmd {
        ClientCommand::Status { .. } => return status(conn, config).await,
        ClientCommand::TransferLeader { to, .. } => return transfer(conn, config, to).await,
        _ => {}
    }
    let mut kv = KvClient::new(&conn.endpoints, config).map_err(fail)?;
    match cmd {
        ClientCommand::Put { key, value, .. } => {
            let result = kv.put(key.clone(), value).await.map_err(fail)?;
            show_write(conn, WriteReport { op: "put", key, result })
        }
        ClientCommand::Delete { key, .. } => {
            let result = kv.delete(key.clone()).await.map_err(fail)?;
            show_write(conn, WriteReport { op: "delete", key, result })
        }
        ClientCommand::Cas { key, new, expect, .. } => {
            let result = kv.compare_and_swap(key.clone(), expect.map(String::into_bytes), new).await.map_err(fail)?;
            show_write(conn, WriteReport { op: "cas", key, result })
        }
        ClientCommand::Get { key, stale, .. } => {
            let consistency = if stale { Consistency::Stale } else { Consistency::Linearizable };
            let value = kv.get(key.clone(), consistency).await.map_err(fail)?;
            let found = value.is_some();
            print(conn.output, &GetReport { key: key.clone(), value });
            if !found {
                return Err(negative(conn, format!("key {key:?} not found")));
            }
            Ok(())
        }
        ClientCommand::Scan { prefix, limit, .. } => {
            let range = ScanRange::Prefix(prefix.into_bytes());
            let found = kv.scan(range, limit, Consistency::Linearizable).await.map_err(fail)?;
            print(conn.output, &ScanReport { pairs: found.pairs, more: found.more });
            Ok(())
        }
        ClientCommand::Status { .. } | ClientCommand::TransferLeader { .. } => Ok(()),
    }
}

/// A negative answer whose details were already printed in JSON mode.
fn negative(conn: &Connection, message: String) -> CliError {
    let e = CliError::negative(anyhow::anyhow!(message));
    match conn.output {
        OutputFormat::Json => e.mark_reported(),
        OutputFormat::Human => e,
    }
}

fn show_write(conn: &Connection, report: WriteReport) -> CliResult {
    if report.result.succeeded {
        print(conn.output, &report);
        return Ok(());
    }
    if conn.output == OutputFormat::Json {
        print(conn.output, &report);
    }
    Err(negative(conn, report.human()))
}

async fn status(conn: &Connection, config: ClientConfig) -> CliResult {
    let asks = conn.endpoints.iter().map(|ep| {
        let config = config.clone();
        async move {
            let answer = match AdminClient::connect(ep, config).await {
                Ok(admin) => admin.status().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            (ep.clone(), answer)
        }
    });
    let nodes = futures::future::join_all(asks).await;
    if nodes.iter().all(|(_, a)| a.is_err()) {
        let why: Vec<String> = nodes.iter().filter_map(|(_, a)| a.as_ref().err().cloned()).collect();
        return Err(classify(ClientError::Unavailable(why.join("; ")), &conn.endpoints, conn.timeout));
    }
    print(conn.output, &StatusReport { nodes });
    Ok(())
}

async fn transfer(conn: &Connection, config: ClientConfig, to: u64) -> CliResult {
    let mut last = ClientError::Unavailable("no endpoint tried".into());
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
                print(conn.output, &TransferReport { to, from_endpoint: ep.clone() });
                return Ok(());
            }
            Err(e @ ClientError::NotLeader { .. }) | Err(e @ ClientError::Unavailable(_)) => last = e,
            Err(e) => return Err(classify(e, &conn.endpoints, conn.timeout)),
        }
    }
    Err(classify(last, &conn.endpoints, conn.timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_timeout_caps_every_attempt() {
        let c = client_config("x", Duration::from_millis(500));
        assert_eq!(c.operation_timeout, Duration::from_millis(500));
        assert!(c.request_timeout <= Duration::from_millis(500));
        assert!(c.connect_timeout <= Duration::from_millis(500));
        assert_eq!(c.cluster_id, "x");
    }

    #[test]
    fn reports_render_in_both_formats() {
        let r = GetReport { key: "k".into(), value: Some(b"v".to_vec()) };
        assert_eq!(r.human(), "v");
        assert_eq!(r.json()["found"], true);
        let s = ScanReport { pairs: vec![(b"a".to_vec(), b"1".to_vec())], more: true };
        assert!(s.human().starts_with("a\t1\n(more keys match"));
        assert_eq!(s.json()["pairs"][0]["key"], "a");
    }
}
