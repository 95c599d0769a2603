//! `raft-cli demo --tls`: the whole demo over mutual TLS, with a throwaway
//! CA made at start-up (raft-rpc's `certgen`) in the demo's temp directory.
//!
//! Every node gets the same node certificate (they all listen on loopback,
//! which it names) and the demo's own client calls (writes, Watch, status,
//! partitions, the final reads) present a separate client certificate, so
//! the run exercises exactly what a production cluster with `[tls]` does:
//! peers verifying each other, the server requiring a client certificate.

use std::path::Path;

use anyhow::Context;
use raft_rpc::certgen::TestCa;
use raft_rpc::{TlsConfig, TlsFiles};

/// What `--tls` adds to a demo run.
pub struct DemoTls {
    /// Flags for every `raft-cli node` child.
    pub node_args: Vec<String>,
    /// The demo's own client identity.
    pub client: TlsConfig,
    /// Where the client certificate lives (printed so a user can talk to
    /// the demo cluster from another terminal).
    pub client_files: TlsFiles,
}

/// Makes a CA, a node and a client certificate in `dir/tls`.
pub fn make(dir: &Path) -> anyhow::Result<DemoTls> {
    let tls_dir = dir.join("tls");
    std::fs::create_dir_all(&tls_dir).with_context(|| format!("cannot create {}", tls_dir.display()))?;
    let ca = TestCa::new("raft-cli demo CA").context("cannot make the demo CA")?;
    let node = ca.issue("raft-demo-node").context("cannot issue the demo node certificate")?;
    let client = ca.issue("raft-demo-client").context("cannot issue the demo client certificate")?;
    let node_files = node.write(&tls_dir, "node")?;
    let client_files = client.write(&tls_dir, "client")?;
    let path = |p: &Path| p.display().to_string();
    let node_args = vec![
        "--tls-cert".into(),
        path(&node_files.cert),
        "--tls-key".into(),
        path(&node_files.key),
        "--tls-ca".into(),
        path(&node_files.ca),
    ];
    let client_tls = TlsConfig::load(&client_files).context("the demo's own client certificate does not load")?;
    Ok(DemoTls { node_args, client: client_tls, client_files })
}

impl DemoTls {
    /// The command a user can run from another terminal while the demo runs.
    pub fn hint(&self) -> String {
        let f = &self.client_files;
        format!(
            "mTLS on: every connection needs a certificate of the demo's CA, e.g.\n  raft-cli --tls-cert {} --tls-key {} --tls-ca {} put k v",
            f.cert.display(),
            f.key.display(),
            f.ca.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_loadable_node_and_client_material() {
        let dir = tempfile::tempdir().unwrap();
        let tls = make(dir.path()).unwrap();
        assert_eq!(tls.node_args.len(), 6);
        assert_eq!(tls.node_args[0], "--tls-cert");
        let node = TlsFiles {
            cert: tls.node_args[1].clone().into(),
            key: tls.node_args[3].clone().into(),
            ca: tls.node_args[5].clone().into(),
        };
        TlsConfig::load(&node).expect("node files load");
        assert!(tls.hint().contains("--tls-cert"));
    }
}
