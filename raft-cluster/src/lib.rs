//! # raft-cluster: a Raft node as a running process
//!
//! `raft-core` decides; this crate does. One tokio task per node owns the
//! IO-free [`raft_core::RaftNode`] and carries out what each `Ready` asks:
//! persist (one synced write per Ready, on a blocking thread), send, apply,
//! answer clients. Everything else is the plumbing around that task.
//!
//! Why one task owns the node: the core is a plain `&mut` state machine, so
//! a single owner needs no locks, keeps every decision in order, and makes
//! batching natural: client writes that queue up while a write is being
//! fsynced are all proposed before the next `ready()`, so they share one
//! append and one fsync.
//!
//! The runtime is written against three small traits so it can be tested
//! without a disk or a network and wired to the real crates later:
//! - [`NodeStore`]: durable log, hard state, snapshots (RocksDB or memory);
//! - [`NodeStateMachine`]: the application (the KV store);
//! - [`Transport`]: outgoing messages (gRPC or in-process), with
//!   [`LinkFilter`] to cut links in tests.
//!
//! Membership changes (issue #14) enter as requests like writes:
//! [`NodeClient::change_membership`] proposes the target configuration on
//! the leader and answers once the configuration ending the change is
//! applied. Member addresses travel in the configuration, and the task
//! hands the [`Transport`] the links the configuration calls for
//! ([`Transport::set_peers`]); the static `peers` of the config are the
//! fallback, and a node started with [`NodeConfig::join`] bootstraps
//! nothing and waits to be added.
//!
//! [`LocalCluster`] starts several nodes in one process for tests, the demo
//! and embedding, with partition, kill and restart controls and wait-for
//! helpers that take deadlines.
//!
//! A client write, end to end (STYLE.md §3): [`NodeClient::propose`] queues
//! the request; the task calls `propose`, records `(index, term)`, persists
//! and sends in the next Ready; when the entry comes back committed it is
//! applied, and the request is answered only if the applied entry has the
//! same term (§5.3 Log Matching), otherwise with
//! [`ClientError::NotCommitted`].
#![deny(missing_docs)]

mod bootstrap;
mod client;
pub mod config;
mod error;
mod event;
mod fsm;
pub mod grpc;
mod kv;
mod local_cluster;
mod log_cache;
mod mem_store;
mod metrics;
mod node;
mod probe;
mod rocks;
mod runtime;
mod snapshot_read;
pub mod start_mode;
mod status;
mod store;
mod tls_config;
pub mod transport;
mod wait;

#[cfg(test)]
mod restore_off_task_test;
#[cfg(test)]
mod test_support;

pub use client::NodeClient;
pub use config::{ConfigError, InitialClusterState, Limits, NodeConfig, PeerConfig, TlsPaths};
pub use error::{ClientError, ClusterError};
pub use event::{EventKind, NodeEvent};
pub use fsm::{NodeStateMachine, RestoreJob, SnapshotCheck, SnapshotJob};
pub use grpc::{start_grpc_node, GrpcNode, GrpcTransport, RpcServer};
pub use kv::{KvReadResult, KvSession};
pub use local_cluster::{ClusterOptions, LocalCluster, StateMachineFactory, StoreKind, TransportKind};
pub use mem_store::MemNodeStore;
pub use metrics::{NodeMetrics, METRICS_CONTENT_TYPE};
pub use node::{Node, NodeParts, ShutdownHandle, EVENT_CAPACITY};
pub use probe::{probe_peers, PROBE_WAIT};
pub use runtime::outbound_snapshot::MAX_CONCURRENT_SNAPSHOT_SENDS;
pub use runtime::ReadMode;
pub use start_mode::{PeerAnswer, Probe, StartMode};
pub use status::NodeStatus;
pub use store::{NodeStore, PersistBatch, SharedStore, SnapshotData, StoreFailure, StoreIdentity};
pub use transport::{LinkFilter, LocalNetwork, MessageSink, Transport};
pub use wait::{wait_until, WaitError};

/// Opens (creating if needed) the RocksDB store in `config.data_dir`, after
/// checking that the directory is writable.
pub fn open_disk_store(config: &NodeConfig) -> Result<std::sync::Arc<dyn NodeStore>, ClusterError> {
    Ok(rocks::open_rocks(config)?)
}
