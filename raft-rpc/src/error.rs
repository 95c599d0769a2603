//! The crate's error types: wire conversion, transport setup, and the client
//! library's outcome-aware errors.

/// A protobuf message that does not describe a valid core value. Never a
/// panic, never a silent default: the server answers INVALID_ARGUMENT.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A required field (message or oneof) was not set.
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    /// A field holds a value outside its domain.
    #[error("invalid field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl ConvertError {
    /// Shorthand for [`ConvertError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ConvertError::Invalid { field, reason: reason.into() }
    }
}

impl From<ConvertError> for tonic::Status {
    fn from(e: ConvertError) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}

/// Failure to start or run the server, or to set up a client.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// An address or endpoint could not be parsed.
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Binding or serving failed.
    #[error("transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Socket error.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// The reflection service could not load the descriptor set.
    #[error("reflection setup failed: {0}")]
    Reflection(String),
}

/// What a [`crate::KvClient`] or [`crate::AdminClient`] call can fail with.
/// [`ClientError::Unknown`] is the only variant after which a write may have
/// been applied; every other variant means it definitely was not.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The write may or may not have been applied: a request reached a node
    /// but no definite answer came back before the client's deadline.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// No node could serve the request before the deadline, and no attempt
    /// can have been applied.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request was rejected as invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The node belongs to another cluster.
    #[error("cluster mismatch: {0}")]
    ClusterMismatch(String),
    /// The node is not the leader (only from [`crate::AdminClient`]; the
    /// [`crate::KvClient`] follows redirects itself).
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader, if the node knows it.
        leader: Option<crate::api::LeaderHint>,
    },
    /// The node answered with another definite error.
    #[error("rejected ({code:?}): {message}")]
    Rejected {
        /// The gRPC status code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// A membership change was refused before anything was proposed
    /// (see [`crate::RefusalReason::retryable`]).
    #[error("membership change refused: {0}")]
    MembershipRefused(crate::members::ChangeRefused),
    /// The node answered with a malformed reply.
    #[error("malformed reply: {0}")]
    Protocol(String),
    /// An endpoint could not be parsed, or no endpoint was given.
    #[error("invalid endpoint: {0}")]
    InvalidEndpoint(String),
    /// The TLS handshake failed or was refused: a certificate missing,
    /// expired or from another CA, or one side speaking TLS and the other
    /// not. Nothing reached the node, so nothing was applied; retrying
    /// cannot help until the certificates are fixed.
    #[error("TLS refused: {0}")]
    Tls(String),
}

/// Why [`crate::PeerPool::send`] refused a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The recipient was never added with `set_peer`.
    #[error("unknown peer {0}")]
    UnknownPeer(raft_core::NodeId),
}
