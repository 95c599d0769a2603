//! [`TlsPaths`]: the `[tls]` table of a node's TOML config.
//!
//! ```toml
//! [tls]
//! cert = "/etc/raft/node-1.crt"   # this node's certificate (server and client auth)
//! key  = "/etc/raft/node-1.key"   # its private key
//! ca   = "/etc/raft/ca.crt"       # the CA every peer and client must chain to
//! ```
//!
//! With the table, the node serves only mutual TLS (peers, clients and admin
//! alike) and dials its peers over mutual TLS; without it everything is
//! plaintext, as before. The files are read and checked when the config is
//! validated, so a wrong path or a key that does not match its certificate
//! stops the node at start-up with an error that names the file.

use std::path::PathBuf;

use raft_rpc::{TlsConfig, TlsFiles};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Paths of a node's TLS material (PEM).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsPaths {
    /// This node's certificate chain, used both to serve and to dial peers.
    pub cert: PathBuf,
    /// The private key of `cert`.
    pub key: PathBuf,
    /// The cluster's CA certificate: peers and clients must chain to it.
    pub ca: PathBuf,
}

impl TlsPaths {
    /// Reads and checks the three files.
    pub fn load(&self) -> Result<TlsConfig, ConfigError> {
        let files = TlsFiles { cert: self.cert.clone(), key: self.key.clone(), ca: self.ca.clone() };
        TlsConfig::load(&files).map_err(ConfigError::Tls)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, NodeConfig};

    const BASE: &str = r#"
        node_id = 1
        listen_addr = "127.0.0.1:7001"
        data_dir = "/var/lib/raft/n1"
        cluster_id = "prod"
        peers = [{ id = 1, addr = "127.0.0.1:7001" }]
    "#;

    #[test]
    fn a_tls_table_loads_validates_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let ca = raft_rpc::certgen::TestCa::new("config test CA").unwrap();
        let files = ca.issue("node-1").unwrap().write(dir.path(), "node-1").unwrap();
        let text = format!(
            "{BASE}\n[tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
            files.cert.display().to_string(),
            files.key.display().to_string(),
            files.ca.display().to_string()
        );
        let c = NodeConfig::from_toml_str(&text).unwrap();
        c.validate().unwrap();
        assert!(c.tls().unwrap().is_some());
        assert_eq!(NodeConfig::from_toml_str(&c.to_toml_string().unwrap()).unwrap(), c);
        assert_eq!(NodeConfig::from_toml_str(BASE).unwrap().tls, None, "no table: plaintext");
    }

    #[test]
    fn an_unusable_tls_file_fails_validation_naming_it() {
        let text = format!("{BASE}\n[tls]\ncert = \"/nonexistent/n1.crt\"\nkey = \"/nonexistent/n1.key\"\nca = \"/nonexistent/ca.crt\"\n");
        let c = NodeConfig::from_toml_str(&text).unwrap();
        let err = c.validate().unwrap_err();
        assert!(matches!(err, ConfigError::Tls(_)), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/n1.crt"), "{err}");
        let typo = format!("{BASE}\n[tls]\ncert = \"a\"\nkey = \"b\"\ncaa = \"c\"\n");
        assert!(
            matches!(NodeConfig::from_toml_str(&typo), Err(ConfigError::Parse(_))),
            "unknown keys in [tls] are refused"
        );
    }
}
