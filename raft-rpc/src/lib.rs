//! # raft-rpc: the gRPC transport of the cluster
//!
//! Raft itself (`raft-core`) is IO-free; something has to move its messages
//! between machines and let clients in. This crate is that something, and the
//! only place that knows the wire format (`proto/raft.proto`, package
//! `raft.v1`). Keeping every prost type behind [`convert`] means the core and
//! the runtime never change when the wire does, and every byte from the
//! network is validated once, here, before it can reach the protocol.
//!
//! ## Server side
//! [`serve`] runs PeerService, KvService, AdminService, gRPC health and
//! reflection. Handlers validate (cluster id, sizes, required fields) and
//! deliver peer messages to the node's own [`PeerInbox`] (acknowledging a
//! batch only once it is delivered) and forward client and admin work to the
//! runtime as [`Inbound`] values over a separate bounded channel.
//! InstallSnapshot streams are written chunk by chunk to a staging file
//! when the node has a data directory (the sender's CRC-32 checked on the
//! way, at most two streams at once) and delivered as a [`StagedSnapshot`]
//! that the node's store installs by rename, so a follower never holds a
//! received snapshot in memory. The runtime answers through oneshot replies and publishes [`NodeEvent`]s
//! on a broadcast channel for `Watch`.
//!
//! With a [`TlsConfig`] ([`serve_with_tls`]) the server requires mutual
//! TLS: callers must present a certificate signed by the cluster's CA
//! ([`tls`]; [`certgen`] makes throwaway ones for tests and the demo).
//!
//! ## Client side
//! - [`PeerPool`]: one lazily connected channel and one sender task per
//!   peer, a bounded queue that drops the oldest message rather than grow
//!   (Raft retransmits, §5.3), batching, backoff with jitter, and chunked
//!   snapshot streaming with a completion report.
//! - [`KvClient`]: finds and follows the leader, retries a write with the
//!   same `(client_id, seq)` so it applies at most once (thesis §6.3), and
//!   reports a write whose fate is unknown as [`ClientError::Unknown`].
//! - [`AdminClient`]: status, leader transfer, event stream, membership
//!   changes ([`members`]), and the `SetPartition` fault injection that
//!   tests and the chaos demo use.
//! - [`etcd::EtcdKv`]: etcd's own KV API, so the benchmark can load etcd
//!   and this cluster with the same generator.
#![deny(missing_docs)]

pub mod api;
mod backoff;
pub mod certgen;
mod client;
pub mod convert;
pub mod error;
pub mod etcd;
pub mod event;
pub mod limits;
pub mod members;
pub mod pb;
mod peer;
mod server;
pub mod status;
pub mod tls;

pub use api::{
    Consistency, LeaderHint, ReadRequest, ReadResult, ScanRange, ScanResult, ServiceError, WriteOp, WriteRequest,
    WriteResult,
};
pub use client::{AdminClient, ClientConfig, KvClient};
pub use error::{ClientError, ConvertError, PeerError, RpcError};
pub use event::{EventKind, NodeEvent};
pub use limits::Limits;
pub use members::{
    ChangeError, ChangeOutcome, ChangeRefused, MemberChange, MemberInfo, MemberRole, MembersView, RefusalReason,
    MAX_MEMBER_ADDR_BYTES,
};
pub use peer::{snapshot_chunks, PeerConfig, PeerPool, PeerReport, PeerStats, SnapshotSource, READ_AHEAD_CHUNKS};
pub use server::{
    channels, serve, serve_with_listener, serve_with_tls, Inbound, PeerInbox, PeerRefusal, ServerConfig, ServerHandles,
    SnapshotAssembler, StagedSnapshot,
};
pub use status::{MemberStatus, NodeStatus};
pub use tls::{TlsConfig, TlsError, TlsFiles};
