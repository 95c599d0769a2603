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
    /// Largest whole snapshot a node receives. Default 1 GiB.
    pub max_snapshot_bytes: u64,
    /// InstallSnapshot streams received (or staged and not yet installed)
    /// at once; a further stream is refused with RESOURCE_EXHAUSTED. Each
    /// holds a staging file of up to `max_snapshot_bytes` on disk (or, for a
    /// node without a staging directory, in memory). Default 2.
    pub max_incoming_snapshot_streams: usize,
    /// Largest key. Default 4 KiB.
    pub max_key_bytes: usize,
    /// Largest value. Default 1 MiB.
    pub max_value_bytes: usize,
    /// Largest number of pairs one scan returns. Default 10 000.
    pub max_scan_limit: u32,
    /// Largest number of messages in one peer batch. Default 4096.
    pub max_batch_messages: usize,
    /// Client write payload (keys and values) admitted at once, from the
    /// moment a write is decoded until it is answered. A write that would
    /// go past it is refused at once with RESOURCE_EXHAUSTED (nothing was
    /// done; retry with backoff). With the per-connection stream limit this
    /// is what bounds a node's memory under a client flood. Default 64 MiB.
    pub max_inflight_write_bytes: u64,
    /// Concurrent gRPC calls per client connection (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`); further calls wait in the client.
    /// Default 1024.
    pub max_concurrent_streams: u32,
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

impl Limits {
    /// Largest encoded KvService request: a key and two values (a
    /// compare-and-swap carries the expected and the new value) plus
    /// framing. Anything longer is refused from its length prefix, before
    /// it is buffered.
    pub fn max_kv_request_bytes(&self) -> usize {
        self.max_key_bytes + 2 * self.max_value_bytes + KV_REQUEST_OVERHEAD_BYTES
    }
}

/// Room for a KV request's fields besides the key and values.
pub const KV_REQUEST_OVERHEAD_BYTES: usize = 4 << 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 << 20,
            max_snapshot_chunk_bytes: 1 << 20,
            max_snapshot_bytes: 1 << 30,
            max_incoming_snapshot_streams: 2,
            max_key_bytes: 4 << 10,
            max_value_bytes: 1 << 20,
            max_scan_limit: 10_000,
            max_inflight_write_bytes: 64 << 20,
            max_concurrent_streams: 1024,
            max_batch_messages: 4096,
            request_timeout: Duration::from_secs(5),
            peer_enqueue_timeout: Duration::from_millis(500),
            snapshot_idle_timeout: Duration::from_secs(10),
        }
    }
}
