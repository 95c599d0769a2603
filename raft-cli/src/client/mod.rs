//! Client commands: one request to the cluster, answered in words or JSON,
//! with an exit code scripts can branch on (see [`crate::exit`]).
//!
//! Writes go through [`raft_rpc::KvClient`], which follows the leader and
//! retries with the same sequence number, so a retried write applies at
//! most once; a write whose fate stays unknown exits 3, never 0.

mod admin;
mod args;
mod errors;
mod member_reports;
mod members;
mod reports;
mod status_watch;

use std::time::Duration;

use raft_rpc::{AdminClient, ClientConfig, ClientError, Consistency, KvClient, ScanRange};
use serde_json::{json, Value};

pub use args::{ClientCommand, Connection, MembersCommand, DEFAULT_CLUSTER_ID};
pub use errors::{classify, classify_write};
use reports::{GetReport, ScanReport, WriteReport};

use crate::exit::{CliError, CliResult};
use crate::output::{print, OutputFormat, Report};
use crate::values::value_arg;

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
pub fn run(cmd: ClientCommand, conn: Connection) -> CliResult {
    let runtime = crate::cli::runtime()?;
    let result = runtime.block_on(execute(cmd, &conn));
    if let (Err(e), OutputFormat::Json) = (&result, conn.output) {
        if e.reported {
            return result;
        }
        let doc = json!({"ok": false, "exit_code": e.code as u8, "error": e.to_string()});
        println!("{doc}");
    }
    result
}

async fn execute(cmd: ClientCommand, conn: &Connection) -> CliResult {
    let mut config = client_config(conn.cluster_id(), conn.timeout);
    config.tls = conn.tls()?;
    let fail = |e: ClientError| classify(e, &conn.endpoints, conn.timeout);
    let fail_write = |e: ClientError| classify_write(e, &conn.endpoints, conn.timeout);
    let enc = conn.encoding();
    let value = |arg: &str| value_arg(arg, enc).map_err(|e| CliError::usage(anyhow::anyhow!(e)));
    match cmd {
        ClientCommand::Status { cluster, watch: false, .. } => return admin::status(conn, config, cluster).await,
        ClientCommand::Status { cluster, watch: true, interval, count } => {
            let opts = status_watch::WatchOptions { cluster, interval, count };
            return status_watch::watch(conn, config, opts).await;
        }
        ClientCommand::TransferLeader { to, no_wait } => return admin::transfer(conn, config, to, !no_wait).await,
        ClientCommand::Members { action } => return members::run(conn, config, action).await,
        _ => {}
    }
    let mut kv = KvClient::new(&conn.endpoints, config).map_err(fail)?;
    match cmd {
        ClientCommand::Put { key, value: v } => {
            let v = value(&v)?;
            let result = kv.put(key.clone(), v).await.map_err(fail_write)?;
            show_write(conn, &kv, WriteReport { op: "put", key, result, encoding: enc }).await
        }
        ClientCommand::Delete { key } => {
            let result = kv.delete(key.clone()).await.map_err(fail_write)?;
            show_write(conn, &kv, WriteReport { op: "delete", key, result, encoding: enc }).await
        }
        ClientCommand::Cas { key, new, expect, .. } => {
            let expect = expect.as_deref().map(value).transpose()?;
            let new = value(&new)?;
            let mut result = kv.compare_and_swap(key.clone(), expect.clone(), new).await.map_err(fail_write)?;
            if result.succeeded {
                // The node reports the value after a successful swap; the
                // value before it is, by definition, the expected one.
                result.previous = expect;
            }
            show_write(conn, &kv, WriteReport { op: "cas", key, result, encoding: enc }).await
        }
        ClientCommand::Get { key, stale } => {
            let consistency = if stale { Consistency::Stale } else { Consistency::Linearizable };
            let value = kv.get(key.clone(), consistency).await.map_err(fail)?;
            let found = value.is_some();
            let report = GetReport { key: key.clone(), value, encoding: enc };
            if conn.output == OutputFormat::Human {
                report.write_raw();
            } else {
                print_json(conn, &kv, found, &report).await;
            }
            if !found {
                return Err(negative(conn, format!("key {key:?} not found")));
            }
            Ok(())
        }
        ClientCommand::Scan { prefix, from, to, limit, stale } => {
            let range = match (from, to) {
                (None, None) => ScanRange::Prefix(prefix.unwrap_or_default().into_bytes()),
                (from, to) => {
                    ScanRange::Range { start: from.unwrap_or_default().into_bytes(), end: to.map(String::into_bytes) }
                }
            };
            let consistency = if stale { Consistency::Stale } else { Consistency::Linearizable };
            let found = kv.scan(range, limit, consistency).await.map_err(fail)?;
            let report = ScanReport { pairs: found.pairs, more: found.more, encoding: enc };
            match conn.output {
                OutputFormat::Human => {
                    print(conn.output, &report);
                    if report.more {
                        eprintln!("(more keys match: raise --limit)");
                    }
                }
                OutputFormat::Json => print_json(conn, &kv, true, &report).await,
            }
            Ok(())
        }
        ClientCommand::Status { .. } | ClientCommand::TransferLeader { .. } | ClientCommand::Members { .. } => Ok(()),
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

async fn show_write(conn: &Connection, kv: &KvClient, report: WriteReport) -> CliResult {
    let ok = report.result.succeeded;
    match conn.output {
        OutputFormat::Json => print_json(conn, kv, ok, &report).await,
        OutputFormat::Human if ok => print(conn.output, &report),
        OutputFormat::Human => {}
    }
    if ok {
        Ok(())
    } else {
        Err(negative(conn, report.human()))
    }
}

/// Prints `report` as JSON with `"ok"` and a `"header"` naming the node
/// that answered (as etcd's response header does).
async fn print_json(conn: &Connection, kv: &KvClient, ok: bool, report: &dyn Report) {
    let header = header(conn, kv.current_endpoint(), report.json().get("index").cloned()).await;
    println!("{}", with_header(report.json(), ok, header));
}

/// `doc` (an object) with `"ok"` and `"header"` added.
pub fn with_header(doc: Value, ok: bool, header: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("ok".into(), Value::Bool(ok));
    out.insert("header".into(), header);
    if let Value::Object(fields) = doc {
        out.extend(fields);
    }
    Value::Object(out)
}

/// The serving node's id and term, asked right after its answer (the KV
/// replies do not carry them); `null` fields when it does not answer.
async fn header(conn: &Connection, endpoint: &str, index: Option<Value>) -> Value {
    let mut config = client_config(conn.cluster_id(), conn.timeout.min(Duration::from_secs(1)));
    config.tls = conn.tls().ok().flatten();
    let status = match AdminClient::connect(endpoint, config).await {
        Ok(admin) => admin.status().await.ok(),
        Err(_) => None,
    };
    json!({
        "cluster_id": conn.cluster_id(),
        "endpoint": endpoint,
        "member_id": status.as_ref().map(|s| s.id.0),
        "raft_term": status.as_ref().map(|s| s.term.0),
        "raft_index": index.or_else(|| status.as_ref().map(|s| json!(s.commit.0))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::ValueEncoding;

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
        let r = GetReport { key: "k".into(), value: Some(b"v".to_vec()), encoding: ValueEncoding::Utf8 };
        assert_eq!(r.human(), "v");
        assert_eq!(r.json()["found"], true);
        let s = ScanReport { pairs: vec![(b"a".to_vec(), b"1".to_vec())], more: true, encoding: ValueEncoding::Hex };
        assert_eq!(s.human(), "a\t31", "the note about more keys goes to stderr, not here");
        assert_eq!(s.json()["pairs"][0]["key"], "a");
        assert_eq!(s.json()["pairs"][0]["value"], "31");
    }

    #[test]
    fn json_documents_start_with_ok_and_the_header() {
        let doc = with_header(json!({"key": "k"}), true, json!({"endpoint": "e"}));
        assert_eq!(doc, json!({"ok": true, "header": {"endpoint": "e"}, "key": "k"}));
    }
}
