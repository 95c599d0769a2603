//! Test harness for the workspace integration tests.
//!
//! Why a library: the end-to-end tests run real `raft-cli node` processes and
//! break them the way production breaks (kill -9, SIGSTOP, partitions, lossy
//! links), record what concurrent clients saw, and then ask one question: was
//! every response consistent with a single, atomic KV map? The pieces:
//!
//! - [`linearizability`]: the checker that answers that question.
//! - [`history`]: a thread-safe recorder clients write their operations to.
//! - [`cluster`]: [`cluster::ProcessCluster`], N node processes with kill/pause/restart.
//! - [`netns`]: per-node Linux network namespaces with iptables-based link faults.
//! - [`nemesis`]: seeded fault schedules, executed through a small trait.
//! - [`rundir`]: the folder that keeps logs and histories of a run for post-mortems.
//! - [`workload`]: concurrent KV clients that record what they saw.
//! - [`probe`]: leader lookup, "serves again", catch-up and per-node reads.
//! - [`jepsen`]: one whole run — nodes, clients, nemesis, heal, verdict.
//! - [`operator`]: membership changes made the way an operator makes them.
#![deny(missing_docs)]

pub mod append;
pub mod linearizability;
pub mod rng;

pub mod binary;
pub mod cluster;
pub mod error;
pub mod history;
pub mod jepsen;
pub mod nemesis;
pub mod netns;
pub mod operator;
pub mod ports;
pub mod probe;
pub mod process;
pub mod rundir;
pub mod skip;
pub mod workload;

pub use cluster::{ClusterConfig, Network, ProcessCluster};
pub use error::{HarnessError, NodeId};
pub use history::{HistoryRecorder, PendingOp};
pub use nemesis::{ClusterTarget, Fault, FaultKind, FaultTarget, Nemesis, Schedule, ScheduleConfig, Target};
pub use netns::{LinkFault, Netns, NetnsError};
pub use rundir::RunDir;
