//! Classifies one attempt's gRPC outcome for the retry loop. The key
//! distinction is whether a failed write attempt may still have been
//! applied ("ambiguous"): only then can the operation end as
//! [`ClientError::Unknown`].

use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::api::LeaderHint;
use crate::convert::NotLeaderReply;
use crate::error::ClientError;

/// What one attempt produced.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// A definite answer.
    Done(T),
    /// The node is not the leader; try the hinted one.
    Redirect(Option<LeaderHint>),
    /// Try again (elsewhere). `ambiguous`: the request may have been applied.
    Retry {
        /// May have been applied.
        ambiguous: bool,
        /// For the final error message.
        reason: String,
        /// The connection looks broken: reconnect before the next attempt.
        reconnect: bool,
    },
    /// A definite failure; stop.
    Fail(ClientError),
}

impl<T> Attempt<T> {
    /// From a decoded reply: the result or a redirect.
    pub(crate) fn from_reply(reply: Result<T, NotLeaderReply>) -> Self {
        match reply {
            Ok(v) => Attempt::Done(v),
            Err(NotLeaderReply(hint)) => Attempt::Redirect(hint),
        }
    }

    /// From an error status. A TLS refusal is definite: the request never
    /// reached the node, and retrying cannot fix a certificate.
    pub(crate) fn from_status(s: &Status) -> Self {
        if let Some(why) = std::error::Error::source(s).and_then(crate::tls::failure) {
            return Attempt::Fail(ClientError::Tls(why));
        }
        let reason = format!("{:?}: {}", s.code(), s.message());
        match s.code() {
            Code::InvalidArgument | Code::OutOfRange => Attempt::Fail(ClientError::InvalidArgument(reason)),
            Code::FailedPrecondition => Attempt::Fail(ClientError::ClusterMismatch(s.message().to_owned())),
            Code::ResourceExhausted => Attempt::Retry { ambiguous: false, reason, reconnect: false },
            Code::Aborted | Code::DeadlineExceeded | Code::Cancelled | Code::Internal => {
                Attempt::Retry { ambiguous: true, reason, reconnect: false }
            }
            Code::Unavailable | Code::Unknown => Attempt::Retry { ambiguous: true, reason, reconnect: true },
            code => Attempt::Fail(ClientError::Rejected { code, message: s.message().to_owned() }),
        }
    }

    /// A connection to `endpoint` could not be made: a TLS refusal is
    /// definite, anything else worth another try (nothing was sent).
    pub(crate) fn connect_failed(endpoint: &str, e: &tonic::transport::Error) -> Self {
        match crate::tls::failure(e) {
            Some(why) => Attempt::Fail(ClientError::Tls(format!("{endpoint}: {why}"))),
            None => {
                Attempt::Retry { ambiguous: false, reason: format!("{endpoint}: connect failed: {e}"), reconnect: true }
            }
        }
    }

    /// Confirms that a new TLS `channel` to `endpoint` is really accepted,
    /// with a gRPC health check (served without the node's runtime), before
    /// any request goes out on it. Under TLS 1.3 the server checks the
    /// client's certificate after the client considers the handshake done,
    /// so a refused client would otherwise learn of it only from a broken
    /// first request, whose fate would look unknown. After this check a
    /// refusal is definite ([`ClientError::Tls`]) and any other failure is
    /// a retry with nothing sent.
    pub(crate) async fn confirm_tls(endpoint: &str, channel: &Channel, wait: Duration) -> Result<(), Self> {
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let check = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() });
        let reason = match tokio::time::timeout(wait, check).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(status)) => match std::error::Error::source(&status).and_then(crate::tls::failure) {
                Some(why) => return Err(Attempt::Fail(ClientError::Tls(format!("{endpoint}: {why}")))),
                None => format!("{endpoint}: TLS connection check failed: {:?}: {}", status.code(), status.message()),
            },
            Err(_) => format!("{endpoint}: no answer to the TLS connection check within {wait:?}"),
        };
        Err(Attempt::Retry { ambiguous: false, reason, reconnect: true })
    }

    /// The attempt's own deadline passed without an answer.
    pub(crate) fn timed_out(after: std::time::Duration) -> Self {
        Attempt::Retry { ambiguous: true, reason: format!("no answer within {after:?}"), reconnect: true }
    }
}
