//! What `members` prints: the configuration as a table under a header
//! line, and the outcome of a change, in both output formats.

use raft_rpc::{ChangeOutcome, ClientError, MemberRole, MembersView, RefusalReason};
use serde_json::{json, Value};

use crate::output::{Report, Table};

fn role_name(r: MemberRole) -> &'static str {
    match r {
        MemberRole::Voter => "voter",
        MemberRole::Learner => "learner",
        MemberRole::OutgoingVoter => "outgoing-voter",
    }
}

/// Result of `members list`.
#[derive(Debug)]
pub struct MembersReport {
    /// The endpoint whose view this is (the leader's when reachable).
    pub endpoint: String,
    /// Its view.
    pub view: MembersView,
}

impl MembersReport {
    fn header(&self) -> String {
        let v = &self.view;
        let committed = if v.config_committed { "committed" } else { "not yet committed" };
        let joint = if v.joint { "joint (change in progress)" } else { "not joint" };
        let who = if v.leader == Some(v.node) { "leader" } else { "not the leader: no progress shown" };
        format!(
            "term {}, config index {} ({committed}), {joint}; as seen by node {} ({who}) at {}",
            v.term.0, v.config_index.0, v.node.0, self.endpoint
        )
    }
}

impl Report for MembersReport {
    fn human(&self) -> String {
        let mut t = Table::new(["ID", "ADDRESS", "ROLE", "LEADER", "MATCH", "LAG"]);
        let dash = || "-".to_string();
        for m in &self.view.members {
            t.row([
                m.id.0.to_string(),
                if m.address.is_empty() { dash() } else { m.address.clone() },
                role_name(m.role).to_string(),
                if m.leader { "*".to_string() } else { String::new() },
                m.matched.map_or_else(dash, |i| i.0.to_string()),
                m.lag.map_or_else(dash, |l| l.to_string()),
            ]);
        }
        format!("{}\n{}", self.header(), t.render())
    }

    fn json(&self) -> Value {
        let v = &self.view;
        let members: Vec<Value> = v
            .members
            .iter()
            .map(|m| {
                json!({
                    "id": m.id.0,
                    "address": m.address,
                    "role": role_name(m.role),
                    "leader": m.leader,
                    "matched": m.matched.map(|i| i.0),
                    "lag": m.lag,
                })
            })
            .collect();
        json!({
            "ok": true,
            "endpoint": self.endpoint,
            "node": v.node.0,
            "term": v.term.0,
            "leader": v.leader.map(|l| l.0),
            "config_index": v.config_index.0,
            "config_committed": v.config_committed,
            "joint": v.joint,
            "members": members,
        })
    }
}

/// Result of `members add-learner`, `promote` or `remove`.
#[derive(Debug)]
pub struct ChangeReport {
    /// "add-learner", "promote" or "remove".
    pub op: &'static str,
    /// The member changed.
    pub id: u64,
    /// The leader that made the change.
    pub endpoint: String,
    /// The committed configuration.
    pub outcome: ChangeOutcome,
}

fn ids(set: &std::collections::BTreeSet<raft_core::NodeId>) -> Vec<u64> {
    set.iter().map(|n| n.0).collect()
}

impl Report for ChangeReport {
    fn human(&self) -> String {
        let m = &self.outcome.membership;
        let what = match self.op {
            "add-learner" => "added as a learner",
            "promote" => "promoted to voter",
            _ => "removed",
        };
        let list = |v: Vec<u64>| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        format!(
            "node {} {what}: configuration at index {} committed (voters {}; learners {})",
            self.id,
            self.outcome.index.0,
            list(ids(&m.voters)),
            if m.learners.is_empty() { "none".to_string() } else { list(ids(&m.learners)) },
        )
    }

    fn json(&self) -> Value {
        let m = &self.outcome.membership;
        let addrs: serde_json::Map<String, Value> =
            m.addrs.iter().map(|(id, a)| (id.0.to_string(), Value::from(a.clone()))).collect();
        json!({
            "ok": true,
            "op": self.op,
            "id": self.id,
            "endpoint": self.endpoint,
            "index": self.outcome.index.0,
            "voters": ids(&m.voters),
            "learners": ids(&m.learners),
            "addresses": addrs,
        })
    }
}

/// Why a change failed, as the JSON `"reason"` names it: the leader's
/// refusal class, or what kept the command from getting an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// The leader refused the change for this reason.
    Refused(RefusalReason),
    /// Bad input, nothing sent (exit 2).
    BadInput,
    /// No leader took the change in time (exit 3).
    NoLeader,
    /// An attempt got no answer; it may still commit (exit 3).
    OutcomeUnknown,
    /// The TLS handshake failed or the certificate was refused (exit 2):
    /// nothing was sent.
    Tls,
    /// Any other failure (a malformed reply, a cluster-id mismatch...).
    Other,
}

impl FailureReason {
    /// The reason behind a client error.
    pub fn of(e: &ClientError) -> Self {
        match e {
            ClientError::MembershipRefused(r) => FailureReason::Refused(r.reason),
            ClientError::InvalidArgument(_) | ClientError::InvalidEndpoint(_) | ClientError::ClusterMismatch(_) => {
                FailureReason::BadInput
            }
            ClientError::Unavailable(_) | ClientError::NotLeader { .. } => FailureReason::NoLeader,
            ClientError::Unknown(_) => FailureReason::OutcomeUnknown,
            ClientError::Tls(_) => FailureReason::Tls,
            ClientError::Rejected { .. } | ClientError::Protocol(_) => FailureReason::Other,
        }
    }

    /// The stable name scripts match on.
    pub fn name(self) -> &'static str {
        match self {
            FailureReason::Refused(RefusalReason::Pending) => "pending",
            FailureReason::Refused(RefusalReason::NotCommittedInTerm) => "not_committed_in_term",
            FailureReason::Refused(RefusalReason::UnknownMember) => "unknown_member",
            FailureReason::Refused(RefusalReason::AlreadyMember) => "already_member",
            FailureReason::Refused(RefusalReason::Lagging) => "lagging",
            FailureReason::Refused(RefusalReason::Invalid) => "invalid",
            FailureReason::BadInput => "bad_input",
            FailureReason::NoLeader => "no_leader",
            FailureReason::OutcomeUnknown => "outcome_unknown",
            FailureReason::Tls => "tls",
            FailureReason::Other => "other",
        }
    }
}

/// A failed `members add-learner | promote | remove`.
#[derive(Debug)]
pub struct FailureReport {
    /// "add-learner", "promote" or "remove".
    pub op: &'static str,
    /// The member the change was about.
    pub id: u64,
    /// Why it failed.
    pub reason: FailureReason,
    /// The process exit code.
    pub exit_code: u8,
    /// The message for people.
    pub error: String,
}

impl Report for FailureReport {
    fn human(&self) -> String {
        format!("error: {}", self.error)
    }

    fn json(&self) -> Value {
        json!({
            "ok": false,
            "op": self.op,
            "id": self.id,
            "reason": self.reason.name(),
            "exit_code": self.exit_code,
            "error": self.error,
        })
    }
}

#[cfg(test)]
mod tests {
    use raft_core::{LogIndex, Membership, NodeId, Term};
    use raft_rpc::MemberInfo;

    use super::*;

    fn report(leader_view: bool) -> MembersReport {
        let info = |id, role, matched| MemberInfo {
            id: NodeId(id),
            address: if id == 3 { String::new() } else { format!("127.0.0.1:700{id}") },
            role,
            leader: id == 1,
            matched: leader_view.then_some(LogIndex(matched)),
            lag: leader_view.then_some(12 - matched),
        };
        let node = if leader_view { 1 } else { 2 };
        MembersReport {
            endpoint: format!("127.0.0.1:700{node}"),
            view: MembersView {
                node: NodeId(node),
                term: Term(5),
                leader: Some(NodeId(1)),
                config_index: LogIndex(12),
                config_committed: true,
                joint: false,
                members: vec![info(1, MemberRole::Voter, 12), info(3, MemberRole::Learner, 7)],
            },
        }
    }

    #[test]
    fn the_table_has_a_header_line_and_one_row_per_member() {
        let text = report(true).human();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "term 5, config index 12 (committed), not joint; as seen by node 1 (leader) at 127.0.0.1:7001"
        );
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(cols, ["ID", "ADDRESS", "ROLE", "LEADER", "MATCH", "LAG"]);
        assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), ["1", "127.0.0.1:7001", "voter", "*", "12", "0"]);
        assert_eq!(lines[3].split_whitespace().collect::<Vec<_>>(), ["3", "-", "learner", "7", "5"]);
    }

    #[test]
    fn a_follower_view_shows_no_progress_and_says_why() {
        let r = report(false);
        assert!(r.human().lines().next().unwrap().contains("not the leader"));
        assert_eq!(r.json()["members"][0]["matched"], Value::Null);
        assert_eq!(r.json()["members"][1]["role"], "learner");
    }

    #[test]
    fn a_failure_names_its_reason_for_scripts() {
        let lagging = raft_rpc::ChangeRefused { reason: RefusalReason::Lagging, message: "behind".into() };
        let reason = FailureReason::of(&ClientError::MembershipRefused(lagging));
        let r = FailureReport { op: "promote", id: 4, reason, exit_code: 1, error: "refused".into() };
        assert_eq!(
            r.json(),
            json!({"ok": false, "op": "promote", "id": 4, "reason": "lagging", "exit_code": 1, "error": "refused"})
        );
        assert_eq!(FailureReason::of(&ClientError::Unavailable("x".into())).name(), "no_leader");
        assert_eq!(FailureReason::of(&ClientError::Unknown("x".into())).name(), "outcome_unknown");
    }

    #[test]
    fn a_change_report_lists_the_new_configuration() {
        let mut m = Membership::new([NodeId(1), NodeId(2)]);
        m.learners.insert(NodeId(4));
        m.addrs.insert(NodeId(4), "127.0.0.1:7004".into());
        let r = ChangeReport {
            op: "add-learner",
            id: 4,
            endpoint: "127.0.0.1:7001".into(),
            outcome: ChangeOutcome { index: LogIndex(9), membership: m },
        };
        assert_eq!(r.human(), "node 4 added as a learner: configuration at index 9 committed (voters 1,2; learners 4)");
        assert_eq!(r.json()["addresses"]["4"], "127.0.0.1:7004");
        assert_eq!(r.json()["voters"], json!([1, 2]));
    }
}
