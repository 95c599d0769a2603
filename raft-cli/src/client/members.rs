//! `members list | add-learner | promote | remove`: the operator side of
//! membership changes (thesis §4).
//!
//! `list` shows the leader's view when it can reach the leader (only the
//! leader knows each member's progress). A change is sent to the first
//! endpoint that answers and follows not-leader hints to the leader, as the
//! KV writes do; a retryable refusal (another change pending, a new leader
//! without a commit in its term yet) is retried until `--timeout`.
//! Removing the leader makes it hand leadership over first and answer with
//! the new leader as hint, so the same loop simply retries there.
//!
//! Exit codes: 0 once the new configuration is committed; 1 for a definite
//! refusal (already a member, unknown member, lagging learner...); 2 for
//! bad input; 3 when no leader answered in time, or when an attempt may
//! have been made but no answer came (check with `members list`).
//!
//! With `--output json` a failed change prints one document with a
//! machine-readable `"reason"` (see [`super::member_reports::FailureReport`]),
//! so a script can tell a lagging learner (wait, then promote again) from
//! an unknown member (a typo) without parsing the message.

use std::time::Duration;

use raft_core::NodeId;
use raft_rpc::{AdminClient, ChangeOutcome, ClientConfig, ClientError, MembersView};
use tokio::time::Instant;

use super::member_reports::{ChangeReport, FailureReason, FailureReport, MembersReport};
use super::{classify, Connection, MembersCommand};
use crate::exit::{CliError, CliResult};
use crate::output::{print, OutputFormat};

/// Pause between attempts that were redirected or refused for now.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Runs one `members` subcommand.
pub async fn run(conn: &Connection, config: ClientConfig, action: MembersCommand) -> CliResult {
    match action {
        MembersCommand::List => list(conn, config).await,
        change => {
            let (op, id) = op_name(&change);
            apply(conn, config, change).await.map_err(|(reason, e)| report_failure(conn, op, id, reason, e))
        }
    }
}

/// In JSON mode, prints the failure with its reason and marks it reported.
fn report_failure(conn: &Connection, op: &'static str, id: u64, reason: FailureReason, e: CliError) -> CliError {
    if conn.output != OutputFormat::Json {
        return e;
    }
    print(conn.output, &FailureReport { op, id, reason, exit_code: e.code as u8, error: e.to_string() });
    e.mark_reported()
}

async fn view_of(endpoint: &str, config: &ClientConfig) -> Result<MembersView, ClientError> {
    AdminClient::connect(endpoint, config.clone()).await?.members().await
}

/// The first answering endpoint's view, replaced by the leader's when the
/// answering node is not the leader and the leader is reachable.
async fn list(conn: &Connection, config: ClientConfig) -> CliResult {
    let mut failures = Vec::new();
    let mut last = None;
    for ep in &conn.endpoints {
        match view_of(ep, &config).await {
            Ok(view) => {
                let (endpoint, view) = prefer_leader(ep, view, &config).await;
                print(conn.output, &MembersReport { endpoint, view });
                return Ok(());
            }
            Err(e) => {
                failures.push(format!("{ep}: {e}"));
                last = Some(e);
            }
        }
    }
    Err(match last {
        Some(e @ (ClientError::ClusterMismatch(_) | ClientError::InvalidEndpoint(_))) => {
            classify(e, &conn.endpoints, conn.timeout)
        }
        _ => classify(ClientError::Unavailable(failures.join("; ")), &conn.endpoints, conn.timeout),
    })
}

async fn prefer_leader(endpoint: &str, view: MembersView, config: &ClientConfig) -> (String, MembersView) {
    let Some(leader) = view.leader.filter(|l| *l != view.node) else { return (endpoint.to_owned(), view) };
    let Some(address) = view.members.iter().find(|m| m.id == leader).map(|m| m.address.clone()) else {
        return (endpoint.to_owned(), view);
    };
    match view_of(&address, config).await {
        Ok(lv) if lv.leader == Some(lv.node) => (address, lv),
        _ => (endpoint.to_owned(), view),
    }
}

fn op_name(c: &MembersCommand) -> (&'static str, u64) {
    match c {
        MembersCommand::AddLearner { id, .. } => ("add-learner", *id),
        MembersCommand::Promote { id } => ("promote", *id),
        MembersCommand::Remove { id, .. } => ("remove", *id),
        MembersCommand::List => ("list", 0),
    }
}

async fn attempt(admin: &AdminClient, change: &MembersCommand) -> Result<ChangeOutcome, ClientError> {
    match change {
        MembersCommand::AddLearner { id, addr } => admin.add_learner(NodeId(*id), addr).await,
        MembersCommand::Promote { id } => admin.promote(NodeId(*id)).await,
        MembersCommand::Remove { id, no_transfer } => admin.remove_member(NodeId(*id), *no_transfer).await,
        MembersCommand::List => Err(ClientError::InvalidArgument("list is not a change".into())),
    }
}

/// Sends the change to the leader, following hints, until it commits, is
/// refused for good, or `--timeout` passes; a failure comes with its reason.
async fn apply(
    conn: &Connection,
    config: ClientConfig,
    change: MembersCommand,
) -> Result<(), (FailureReason, CliError)> {
    let (op, id) = op_name(&change);
    if id == 0 {
        let e = CliError::usage(anyhow::anyhow!("node id 0 is reserved; ids start at 1"));
        return Err((FailureReason::BadInput, e));
    }
    let fail = |e: ClientError| (FailureReason::of(&e), classify(e, &conn.endpoints, conn.timeout));
    let deadline = Instant::now() + conn.timeout;
    let mut next_endpoint = 0;
    let mut target = conn.endpoints[0].clone();
    let mut last = ClientError::Unavailable("no endpoint answered".into());
    while Instant::now() < deadline {
        let admin = match AdminClient::connect(&target, config.clone()).await {
            Ok(a) => a,
            Err(e) => {
                // Nothing was sent: try the next endpoint.
                last = e;
                next_endpoint = (next_endpoint + 1) % conn.endpoints.len();
                target = conn.endpoints[next_endpoint].clone();
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        match attempt(&admin, &change).await {
            Ok(outcome) => {
                print(conn.output, &ChangeReport { op, id, endpoint: target, outcome });
                return Ok(());
            }
            Err(ClientError::NotLeader { leader }) => {
                target = match leader.as_ref().and_then(|h| h.address.clone()) {
                    Some(address) => address,
                    None => {
                        next_endpoint = (next_endpoint + 1) % conn.endpoints.len();
                        conn.endpoints[next_endpoint].clone()
                    }
                };
                last = ClientError::NotLeader { leader };
            }
            Err(ClientError::MembershipRefused(r)) if r.reason.retryable() => last = ClientError::MembershipRefused(r),
            Err(ClientError::Unavailable(why)) => {
                return Err((FailureReason::OutcomeUnknown, ambiguous(op, id, &target, &why)))
            }
            Err(e) => return Err(fail(e)),
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    Err(fail(last))
}

/// The change reached a node but no answer came back: it may still commit.
fn ambiguous(op: &str, id: u64, endpoint: &str, why: &str) -> CliError {
    CliError::unavailable(anyhow::anyhow!(
        "no definite answer from {endpoint} to `members {op} {id}` ({why}): the change may or may not have been made; \
         check with `raft-cli members list`"
    ))
}
