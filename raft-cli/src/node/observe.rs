//! What a node serves besides gRPC: Prometheus metrics at
//! `--metrics-listen ADDR` (`GET /metrics`) and the live web view at
//! `--web ADDR`.
//!
//! Both are optional plain-HTTP listeners next to the gRPC port, so a
//! Prometheus server or a browser needs nothing but the address. The node
//! runtime collects the metrics ([`raft_cluster::NodeMetrics`]); this only
//! encodes them on each scrape.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use raft_cluster::{NodeConfig, NodeMetrics, METRICS_CONTENT_TYPE};
use tracing::{error, info};

/// Serves `metrics` at `http://listen/metrics` until the runtime stops.
pub async fn serve_metrics(listen: &str, metrics: Arc<NodeMetrics>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for metrics"))?;
    let addr = listener.local_addr().context("metrics listener has no address")?;
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = Arc::clone(&metrics);
            async move { ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], metrics.encode()) }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            error!(error = %e, "metrics endpoint stopped serving");
        }
    });
    info!(%addr, "serving Prometheus metrics at http://{addr}/metrics");
    Ok(addr)
}

/// Serves the web view of this node's cluster (watch only: no fault buttons).
pub async fn serve_web(listen: &str, config: &NodeConfig) -> anyhow::Result<SocketAddr> {
    let nodes: BTreeMap<u64, String> = config.peers.iter().map(|p| (p.id, p.addr.clone())).collect();
    let options = crate::web::WebOptions {
        listen: listen.to_string(),
        nodes,
        cluster_id: config.cluster_id.clone(),
        controls: None,
    };
    let server = crate::web::start(options).await?;
    info!(addr = %server.addr, "serving the live web view at http://{}/", server.addr);
    Ok(server.addr)
}
