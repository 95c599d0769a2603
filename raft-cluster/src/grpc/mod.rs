//! The node over the network: [`GrpcTransport`] for outgoing peer messages
//! and [`RpcServer`] for everything inbound (peers, KV clients, admin).

mod convert;
mod members;
mod node;
mod server;
mod transport;

pub use node::{start_grpc_node, GrpcNode};
pub use server::RpcServer;
pub use transport::GrpcTransport;
