//! Client libraries: [`KvClient`] (leader-following, exactly-once writes) and
//! [`AdminClient`] (one node's status, leader transfer, events).

mod admin;
mod attempt;
mod kv;
mod members;

pub use admin::AdminClient;
pub use kv::KvClient;

use std::time::Duration;

/// Tuning shared by [`KvClient`] and [`AdminClient`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Sent with every request; a node of another cluster refuses it.
    pub cluster_id: String,
    /// TCP connect timeout. Default 1 s.
    pub connect_timeout: Duration,
    /// Deadline of one attempt. Default 3 s.
    pub request_timeout: Duration,
    /// Deadline of a whole operation, retries included. Default 15 s.
    pub operation_timeout: Duration,
    /// First delay between retries. Default 20 ms.
    pub backoff_base: Duration,
    /// Largest delay between retries. Default 500 ms.
    pub backoff_max: Duration,
    /// Largest encoded message sent or received. Default 16 MiB.
    pub max_message_bytes: usize,
    /// Mutual TLS (verify the node against the CA, present our
    /// certificate). Default none: plaintext.
    pub tls: Option<crate::tls::TlsConfig>,
}

impl ClientConfig {
    /// Defaults for `cluster_id`.
    pub fn new(cluster_id: impl Into<String>) -> Self {
        ClientConfig {
            cluster_id: cluster_id.into(),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(15),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(500),
            max_message_bytes: 16 << 20,
            tls: None,
        }
    }
}

/// `host:port` for `http://host:port/` and `host:port` alike, so that
/// leader hints match configured endpoints.
pub(crate) fn normalize(address: &str) -> String {
    let a = address.strip_prefix("http://").or_else(|| address.strip_prefix("https://")).unwrap_or(address);
    a.trim_end_matches('/').to_owned()
}
