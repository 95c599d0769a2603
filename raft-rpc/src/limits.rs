//! Explicit size and time limits of the server. Every breach is answered
//! with a status naming the limit (INVALID_ARGUMENT for sizes), so a
//! misbehaving peer or client can never make a node buffer without bound.

use std::time::Duration;

/// Limits applied by [`crate::serve`]. All sizes in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded gRPC message accepted or sent (tonic's decode and
    /// encode limits). Default 16 MiB.
    pub max_message_bytes: usize,
    /// Largest data payload in one snapshot chunk. Default 1 MiB.
    pub max_snapshot_chunk_bytes: usize,
    /// Largest whole snapshot a node assembles. Default 1 GiB.
    pub max_snapshot_bytes: u64,
    /// Largest key. Default 4 KiB.
    pub max_key_bytes: usize,
    /// Largest value. Default 1 MiB.
    pub max_value_bytes: usize,
    /// Largest number of pairs one scan returns. Default 10 000.
    pub max_scan_limit: u32,
    /// Largest number of messages in one peer batch. Default 4096.
    pub max_batch_messages: usize,
    /// How long a client or admin request may wait for the runtime.
    /// Default 5 s.
    pub request_timeout: Duration,
    /// How long an inbound peer message may wait for room in the node's
    /// peer inbox before the batch is refused (RESOURCE_EXHAUSTED, so the
    /// sender knows it was not delivered). Default 500 ms.
    pub peer_enqueue_timeout: Duration,
    /// How long a snapshot stream may stay silent between chunks before it
    /// is abandoned. Default 10 s.
    pub snapshot_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 << 20,
            max_snapshot_chunk_bytes: 1 << 20,
            max_snapshot_bytes: 1 << 30,
            max_key_bytes: 4 << 10,
            max_value_bytes: 1 << 20,
            max_scan_limit: 10_000,
            max_batch_messages: 4096,
            request_timeout: Duration::from_secs(5),
            peer_enqueue_timeout: Duration::from_millis(500),
            snapshot_idle_timeout: Duration::from_secs(10),
        }
    }
}
