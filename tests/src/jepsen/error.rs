//! Why a Jepsen run failed.

use std::path::PathBuf;

use crate::error::HarnessError;
use crate::linearizability::HistoryError;
use crate::netns::NetnsError;
use crate::probe::ProbeError;

/// A failed Jepsen run. Every variant names the run folder (logs, histories,
/// schedule) where it applies, and the seed is printed by the runner.
#[derive(Debug, thiserror::Error)]
pub enum JepsenError {
    /// Starting, faulting or inspecting the node processes failed.
    #[error("harness: {0}")]
    Harness(#[from] HarnessError),
    /// Entering the client namespace failed.
    #[error("network namespace: {0}")]
    Netns(#[from] NetnsError),
    /// The tokio runtime could not be built.
    #[error("tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A membership step of the run failed (refused, or not done in time).
    #[error("membership change: {0}")]
    Operator(#[from] crate::operator::OperatorError),
    /// A cluster check (serving, catching up, reading) failed.
    #[error("cluster check: {0}")]
    Probe(#[from] ProbeError),
    /// The workload's clients could not be created.
    #[error("workload: {0}")]
    Workload(#[from] raft_rpc::ClientError),
    /// The recorded history is malformed (a harness bug).
    #[error("history: {0}")]
    History(#[from] HistoryError),
    /// The checker found a violation.
    #[error("history is NOT linearizable (run folder {run}):\n{report}")]
    NotLinearizable {
        /// The checker's report.
        report: String,
        /// The run folder.
        run: PathBuf,
    },
    /// The checker ran out of budget; nothing is proven.
    #[error("linearizability unknown (checker budget exhausted) (run folder {run}):\n{report}")]
    Unknown {
        /// The checker's report.
        report: String,
        /// The run folder.
        run: PathBuf,
    },
    /// Caught-up nodes hold different values, or differ from the final read.
    #[error("nodes disagree after catching up (run folder {run}):\n{details}")]
    Divergence {
        /// One line per key.
        details: String,
        /// The run folder.
        run: PathBuf,
    },
    /// An acknowledged append is missing from the final value of its key.
    #[error("acknowledged appends lost (run folder {run}):\n{details}")]
    LostAppends {
        /// One line per problem.
        details: String,
        /// The run folder.
        run: PathBuf,
    },
    /// A write was acknowledged while no majority could talk, or service did
    /// not resume after such a fault healed.
    #[error("quorum loss check failed (run folder {run}):\n{details}")]
    QuorumLoss {
        /// One line per problem.
        details: String,
        /// The run folder.
        run: PathBuf,
    },
    /// The run did too little to prove anything (ops, faults, recovery time).
    #[error("run below its floors (run folder {run}): {what}")]
    Floor {
        /// Which floor.
        what: String,
        /// The run folder.
        run: PathBuf,
    },
}
