//! What the load generator drives: this cluster through its own client
//! ([`KvClient`], leader-following, exactly-once sessions) or an etcd
//! cluster through etcd's KV API ([`EtcdKv`]). One generator, two backends:
//! the side-by-side comparison in `scripts/bench-vs-etcd.sh` is only fair
//! because everything but the backend is the same code.

use std::sync::Arc;

use clap::ValueEnum;
use raft_rpc::etcd::EtcdKv;
use raft_rpc::{ClientError, Consistency, KvClient};
use tokio::sync::Mutex;

use super::args::{bench_key, BenchArgs};
use super::load::OpKind;
use crate::client::{classify, client_config};
use crate::exit::CliError;

/// Which system `raft-cli bench` loads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// This project's KV service (the default).
    #[default]
    Raft,
    /// An etcd v3 cluster: puts, and linearizable gets (etcd's default Range).
    Etcd,
}

impl Target {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::Raft => "raft",
            Target::Etcd => "etcd",
        }
    }
}

/// How the benchmark's reads are served on this cluster.
pub(super) fn read_consistency(args: &BenchArgs) -> Consistency {
    if args.stale_reads {
        Consistency::Stale
    } else {
        Consistency::Linearizable
    }
}

/// Connected clients, one per `--clients`, sharing `--conns` connections.
pub(super) enum Clients {
    Raft(Vec<Arc<Mutex<KvClient>>>),
    /// `EtcdKv` clones share their connection and need no lock.
    Etcd(Vec<EtcdKv>),
}

impl Clients {
    /// Opens `args.conns` connections and spreads `args.clients` clients
    /// over them. Returns the clients and the number of connections open.
    pub(super) async fn connect(args: &BenchArgs, endpoints: &[String]) -> Result<(Clients, usize), CliError> {
        let conns = args.conns.min(args.clients) as usize;
        let fail = |e| classify(e, endpoints, args.timeout);
        match args.target {
            Target::Raft => {
                let mut config = client_config(&args.cluster_id, args.timeout);
                config.tls = args.tls.clone();
                // Each base session finds the leader with one read (with
                // --stale-reads: starts at the next member in turn and stays
                // there); the other clients are new sessions sharing its
                // connection.
                let mut bases = Vec::with_capacity(conns);
                for i in 0..conns {
                    let mut members = endpoints.to_vec();
                    if args.stale_reads && !members.is_empty() {
                        members.rotate_left(i % endpoints.len());
                    }
                    let mut kv = KvClient::new(&members, config.clone()).map_err(fail)?;
                    kv.get(bench_key(0, args.key_size as usize), read_consistency(args)).await.map_err(fail)?;
                    bases.push(kv);
                }
                let connections = bases.iter().map(KvClient::connections).sum();
                let clients =
                    (0..args.clients as usize).map(|i| Arc::new(Mutex::new(bases[i % conns].new_session()))).collect();
                Ok((Clients::Raft(clients), connections))
            }
            Target::Etcd => {
                // etcd forwards to its leader from any member; the first
                // endpoint is used (the comparison script passes the leader).
                let first = endpoints.first().ok_or_else(|| CliError::usage(anyhow::anyhow!("no endpoint given")))?;
                let mut bases = Vec::with_capacity(conns);
                for _ in 0..conns {
                    let mut kv = EtcdKv::connect(first, args.timeout).await.map_err(fail)?;
                    kv.get(bench_key(0, args.key_size as usize), false).await.map_err(fail)?;
                    bases.push(kv);
                }
                let clients = (0..args.clients as usize).map(|i| bases[i % conns].clone()).collect();
                Ok((Clients::Etcd(clients), conns))
            }
        }
    }

    /// One operation of client `client` on `key`.
    pub(super) async fn run(
        &self,
        client: usize,
        kind: OpKind,
        key: Vec<u8>,
        value: &[u8],
        consistency: Consistency,
    ) -> Result<(), ClientError> {
        match self {
            Clients::Raft(clients) => {
                let mut kv = clients[client].lock().await;
                match kind {
                    OpKind::Read => kv.get(key, consistency).await.map(|_| ()),
                    OpKind::Write => kv.put(key, value.to_vec()).await.map(|_| ()),
                }
            }
            Clients::Etcd(clients) => {
                let mut kv = clients[client].clone();
                match kind {
                    OpKind::Read => kv.get(key, false).await.map(|_| ()),
                    OpKind::Write => kv.put(key, value.to_vec()).await.map(|_| ()),
                }
            }
        }
    }
}
