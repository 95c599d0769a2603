//! The gRPC server: PeerService, KvService and AdminService, plus standard
//! health checking and reflection. Handlers validate and convert requests,
//! then hand them to the runtime through [`Inbound`]; they never touch Raft
//! state themselves, so the runtime stays the single owner of the node.

mod admin;
mod kv;
mod members;
mod peer;
mod shared;
mod snapshot;
mod staging;
mod stream_check;

pub use shared::{channels, Inbound, PeerInbox, PeerRefusal, ServerConfig, ServerHandles};
pub use snapshot::SnapshotAssembler;
pub use staging::StagedSnapshot;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

use crate::error::RpcError;
use crate::pb::admin_service_server::AdminServiceServer;
use crate::pb::kv_service_server::KvServiceServer;
use crate::pb::peer_service_server::PeerServiceServer;
use crate::tls::TlsConfig;

/// The connections `listener` accepts, each with TCP_NODELAY set. A raw
/// listener bypasses tonic's own `Server::tcp_nodelay` (it applies only
/// when tonic binds), and without it Nagle's algorithm holds back the small
/// frames of a unary reply behind the previous unacknowledged segment, so
/// every Raft message and client answer could wait for a delayed ACK.
fn accepting(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Binds `addr` and serves until `shutdown` resolves. See
/// [`serve_with_listener`].
pub async fn serve(
    addr: SocketAddr,
    config: ServerConfig,
    handles: ServerHandles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RpcError> {
    let listener = TcpListener::bind(addr).await?;
    serve_with_listener(listener, config, handles, shutdown).await
}

/// Serves all services on an already bound listener (tests bind
/// `127.0.0.1:0` and read the port first) until `shutdown` resolves;
/// in-flight unary calls finish first and Watch and peer streams end. Plaintext:
/// see [`serve_with_tls`].
pub async fn serve_with_listener(
    listener: TcpListener,
    config: ServerConfig,
    handles: ServerHandles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RpcError> {
    serve_with_tls(listener, config, None, handles, shutdown).await
}

/// [`serve_with_listener`], with mutual TLS when `tls` is given: every
/// connection (peers, clients, admin, health, reflection alike) must
/// complete a TLS handshake and present a certificate that chains to the
/// CA of `tls`; anything else is dropped before a single request is read.
pub async fn serve_with_tls(
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<TlsConfig>,
    handles: ServerHandles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RpcError> {
    let max = config.limits.max_message_bytes;
    let kv_max = config.limits.max_kv_request_bytes().min(max);
    let streams = config.limits.max_concurrent_streams;
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(shared::Shared::new(config, handles, stop_rx)?);
    let shutdown = async move {
        shutdown.await;
        // Ends Watch and peer streams; in-flight unary calls still finish.
        let _ = stop_tx.send(true);
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<PeerServiceServer<peer::PeerHandler>>().await;
    health.set_serving::<KvServiceServer<kv::KvHandler>>().await;
    health.set_serving::<AdminServiceServer<admin::AdminHandler>>().await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| RpcError::Reflection(e.to_string()))?;

    let peer = PeerServiceServer::new(peer::PeerHandler::new(shared.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let kv = KvServiceServer::new(kv::KvHandler::new(shared.clone()))
        .max_decoding_message_size(kv_max)
        .max_encoding_message_size(max);
    let admin = AdminServiceServer::new(admin::AdminHandler::new(shared))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);

    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls.server())?;
    }
    builder
        .max_concurrent_streams(Some(streams))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(peer)
        .add_service(kv)
        .add_service(admin)
        .serve_with_incoming_shutdown(accepting(listener), shutdown)
        .await?;
    Ok(())
}
