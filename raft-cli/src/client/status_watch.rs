//! `raft-cli status --watch`: the status table, redrawn every `--interval`
//! until Ctrl+C (or `--count` refreshes), like `watch raft-cli status`
//! without the flicker or the process per refresh.
//!
//! On a terminal each refresh clears the screen and redraws in place; into
//! a pipe or file each refresh is appended under a header line, and with
//! `-w json` each refresh is one JSON document per line (NDJSON), so a
//! script can follow a cluster too. An unreachable node is shown as such
//! and the watch goes on: watching a node die and come back is the point.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use raft_rpc::ClientConfig;
use serde_json::json;
use tokio::time::Instant;

use super::admin::{ask_all, members};
use super::reports::StatusReport;
use super::Connection;
use crate::duration::format_duration;
use crate::exit::CliResult;
use crate::output::{OutputFormat, Report};

/// ANSI: cursor home, clear screen.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// How the watch runs.
pub struct WatchOptions {
    /// Ask the first endpoint that answers for the members (`--cluster`).
    pub cluster: bool,
    /// Time between refreshes.
    pub interval: Duration,
    /// Stop after this many refreshes (None: until Ctrl+C).
    pub count: Option<u64>,
}

/// Redraws the status table until Ctrl+C or `count` refreshes.
pub async fn watch(conn: &Connection, config: ClientConfig, opts: WatchOptions) -> CliResult {
    let started = Instant::now();
    let tty = std::io::stdout().is_terminal() && conn.output == OutputFormat::Human;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tick = tokio::time::interval(opts.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refresh = 0u64;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tick.tick() => {}
        }
        refresh += 1;
        // The member list may change while we watch (and its first answerer may die).
        let endpoints = if opts.cluster {
            members(conn, &config).await.unwrap_or_else(|_| conn.endpoints.clone())
        } else {
            conn.endpoints.clone()
        };
        let report = StatusReport { nodes: ask_all(&endpoints, &config).await };
        let elapsed = started.elapsed();
        let frame = match conn.output {
            OutputFormat::Json => {
                json!({ "refresh": refresh, "elapsed_ms": elapsed.as_millis() as u64, "status": report.json() })
                    .to_string()
            }
            OutputFormat::Human => format!(
                "{}raft-cli status --watch: refresh {refresh} at +{}, every {} (Ctrl+C stops)\n{}",
                if tty { CLEAR } else { "" },
                format_duration(elapsed),
                format_duration(opts.interval),
                report.human().trim_end_matches('\n')
            ),
        };
        let mut out = std::io::stdout().lock();
        // A closed pipe ends the watch like Ctrl+C would.
        if writeln!(out, "{frame}").and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
        if opts.count.is_some_and(|n| refresh >= n) {
            return Ok(());
        }
    }
}
