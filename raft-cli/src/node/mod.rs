//! `raft-cli node`: one cluster member in the foreground.
//!
//! Parses flags (over an optional TOML file), installs the logger, starts
//! the node with its gRPC services (plus, when asked, Prometheus metrics
//! and the live web view: [`observe`]), and on SIGINT/SIGTERM shuts it down
//! gracefully: in-flight requests are answered, the store is flushed.

mod args;
mod observe;
mod serve;

pub use args::NodeArgs;

use anyhow::Context;
use tracing::{error, info};

use crate::exit::{CliError, CliResult};
use crate::logging;

/// Runs the node until a signal or a fatal error.
pub fn run(args: NodeArgs) -> CliResult {
    let config = args.resolve()?;
    logging::init(args.log_format).map_err(|e| CliError::usage(anyhow::anyhow!(e)))?;
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async move {
        let id = config.node_id;
        let listen = config.listen_addr.clone();
        let mut signals = Signals::new()?;
        let (metrics_listen, web_listen) = (config.metrics_listen.clone(), config.web_listen.clone());
        let web_config = config.clone();
        let node = serve::start(config, args.in_memory).await?;
        if let Some(addr) = &metrics_listen {
            observe::serve_metrics(addr, node.metrics()).await.map_err(CliError::usage)?;
        }
        if let Some(addr) = &web_listen {
            observe::serve_web(addr, &web_config).await.map_err(CliError::usage)?;
        }
        info!(node = id, listen = %listen, in_memory = args.in_memory, "node serving; Ctrl+C or SIGTERM stops it");
        let stop = node.shutdown_handle();
        let running = node.wait();
        tokio::pin!(running);
        let outcome = tokio::select! {
            name = signals.next() => {
                info!(node = id, signal = name, "shutting down gracefully");
                stop.shutdown();
                running.await
            }
            result = &mut running => result,
        };
        match outcome {
            Ok(()) => {
                info!(node = id, "stopped");
                Ok(())
            }
            Err(e) => {
                error!(node = id, error = %e, "node failed");
                Err(CliError::from(e.context(format!("node {id} stopped with an error"))))
            }
        }
    })
}

/// SIGINT and SIGTERM.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
