//! [`probe_peers`]: before bootstrapping an empty data directory, ask every
//! configured peer (Admin `Status`) whether the cluster already exists.
//!
//! See [`crate::start_mode`] for why. The probe is bounded: each attempt
//! has a short deadline, a peer is retried until it answers or
//! [`PROBE_WAIT`] has passed, and peers that never answer are simply
//! absent from the result (if none answers, the node bootstraps: the
//! residual risk the README states).

use std::time::Duration;

use raft_core::NodeId;
use raft_rpc::{AdminClient, ClientConfig};
use tracing::{debug, info};

use crate::config::NodeConfig;
use crate::start_mode::{PeerAnswer, Probe};

/// How long the probe waits for the peers in total.
pub const PROBE_WAIT: Duration = Duration::from_secs(2);
/// Deadline of one connect or status attempt.
const ATTEMPT_DEADLINE: Duration = Duration::from_millis(300);
/// Pause between attempts at one peer.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Asks every configured peer but this node for its status, concurrently,
/// for at most `wait`.
pub async fn probe_peers(config: &NodeConfig, wait: Duration) -> Probe {
    let me = config.id();
    let peers: Vec<_> = config.peers.iter().filter(|p| p.id != me.0).collect();
    let asks = peers.iter().map(|p| ask(config, NodeId(p.id), &p.addr, wait));
    let answers: Vec<PeerAnswer> = futures::future::join_all(asks).await.into_iter().flatten().collect();
    let asked = peers.iter().map(|p| NodeId(p.id)).collect();
    info!(node = %me, answered = answers.len(), of = peers.len(), "start-up probe of the configured peers");
    Probe { asked, answers }
}

async fn ask(config: &NodeConfig, peer: NodeId, addr: &str, wait: Duration) -> Option<PeerAnswer> {
    let mut client_config = ClientConfig::new(config.cluster_id.clone());
    client_config.connect_timeout = ATTEMPT_DEADLINE;
    client_config.request_timeout = ATTEMPT_DEADLINE;
    // The config was validated before the probe, so the files load.
    client_config.tls = config.tls().ok().flatten();
    let end = tokio::time::Instant::now() + wait;
    loop {
        match attempt(addr, client_config.clone(), config.id()).await {
            Ok(answer) => return Some(PeerAnswer { peer, ..answer }),
            Err(e) => debug!(%peer, %addr, error = %e, "start-up probe: no answer yet"),
        }
        if tokio::time::Instant::now() + RETRY_PAUSE >= end {
            return None;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

async fn attempt(addr: &str, config: ClientConfig, me: NodeId) -> Result<PeerAnswer, raft_rpc::ClientError> {
    let status =
        tokio::time::timeout(ATTEMPT_DEADLINE * 2, async { AdminClient::connect(addr, config).await?.status().await })
            .await
            .map_err(|_| raft_rpc::ClientError::Unavailable(format!("{addr}: no answer")))??;
    let remembers_me = status.peer_incarnations.iter().find(|(id, _)| *id == me).map(|(_, inc)| *inc);
    Ok(PeerAnswer { peer: status.id, term: status.term.0, last_index: status.last_index.0, remembers_me })
}
