//! Mutual TLS for every gRPC connection: peer traffic, clients and admin.
//!
//! Without TLS anyone who can reach a node's port and knows the cluster id
//! can read and write the store, reconfigure it, or forge Raft messages.
//! With a [`TlsConfig`] both ends prove who they are: the server presents
//! its certificate and *requires* one from the caller, and each side checks
//! the other's chain against the cluster's CA (and its validity period), so
//! only holders of a CA-signed key get past the handshake. Nodes and
//! clients use the same kind of certificate (server and client auth), so
//! one [`TlsConfig`] serves a node's server, its outgoing peer connections
//! and its start-up probe.
//!
//! Files are read and checked once, at start-up, so that a typo in a path
//! or a key in the certificate's place is a clear [`TlsError`] naming the
//! file rather than a handshake failure on the first message. Handshake
//! failures later are recognised in error chains by [`failure`], so that
//! clients can report them as [`crate::ClientError::Tls`] instead of a
//! generic "unavailable".

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A server waits this long for a client's handshake before dropping it,
/// so a connection that never speaks costs only this much.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a node's or a client's TLS material lives (PEM files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// This party's certificate chain (leaf first).
    pub cert: PathBuf,
    /// The private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificate(s) every peer, server and client must chain to.
    pub ca: PathBuf,
}

/// Loaded, checked TLS material. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    ca_pem: Vec<u8>,
    server_name: Option<String>,
}

impl fmt::Debug for TlsConfig {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

/// TLS material that cannot be used. Every variant names the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read TLS {what} file {file}: {reason}")]
    Read {
        /// `certificate`, `key` or `CA`.
        what: &'static str,
        /// The path.
        file: String,
        /// The IO error.
        reason: String,
    },
    /// The file was read but does not hold what it should.
    #[error("TLS {what} file {file}: {reason}")]
    Invalid {
        /// `certificate`, `key` or `CA`.
        what: &'static str,
        /// The path (or `<memory>`).
        file: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl TlsConfig {
    /// Reads and checks the three files of `files`.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let cert = read("certificate", &files.cert)?;
        let key = read("key", &files.key)?;
        let ca = read("CA", &files.ca)?;
        Self::checked(cert, key, ca, [&files.cert, &files.key, &files.ca].map(|p| p.display().to_string()))
    }

    /// The same from PEM text already in memory (tests, the demo).
    pub fn from_pem(
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
        ca: impl Into<Vec<u8>>,
    ) -> Result<Self, TlsError> {
        let memory = || "<memory>".to_owned();
        Self::checked(cert.into(), key.into(), ca.into(), [memory(), memory(), memory()])
    }

    /// Expect servers' certificates to name `name` instead of the host
    /// that is dialled (for nodes reached by an address their certificate
    /// does not list).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    fn checked(cert: Vec<u8>, key: Vec<u8>, ca: Vec<u8>, files: [String; 3]) -> Result<Self, TlsError> {
        let [cert_file, key_file, ca_file] = files;
        let chain = certificates("certificate", &cert_file, &cert)?;
        certificates("CA", &ca_file, &ca)?;
        let invalid_key = |reason: String| TlsError::Invalid { what: "key", file: key_file.clone(), reason };
        let der = PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| invalid_key(format!("no PEM private key found ({e}); is this the certificate?")))?;
        let signer = rustls::crypto::ring::sign::any_supported_type(&der)
            .map_err(|e| invalid_key(format!("unsupported private key: {e}")))?;
        match rustls::sign::CertifiedKey::new(chain, signer).keys_match() {
            // A key type whose public half rustls cannot derive: the
            // handshake itself will tell.
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(e) => {
                return Err(TlsError::Invalid {
                    what: "key",
                    file: key_file.clone(),
                    reason: format!("does not belong to the certificate in {cert_file}: {e}"),
                })
            }
        }
        Ok(TlsConfig { cert_pem: cert, key_pem: key, ca_pem: ca, server_name: None })
    }

    /// The server side: present our certificate, require and verify the
    /// caller's against the CA.
    pub(crate) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .client_auth_optional(false)
            .timeout(HANDSHAKE_TIMEOUT)
    }

    /// The client side: verify the server against the CA (and only it: no
    /// system roots), present our certificate.
    pub(crate) fn client(&self) -> ClientTlsConfig {
        let c = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .assume_http2(true)
            .timeout(HANDSHAKE_TIMEOUT);
        match &self.server_name {
            Some(name) => c.domain_name(name.clone()),
            None => c,
        }
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read { what, file: path.display().to_string(), reason: e.to_string() })
}

fn certificates(what: &'static str, file: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |reason: String| TlsError::Invalid { what, file: file.to_owned(), reason };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(certs)
}

/// If `err` or anything in its source chain is a TLS failure, says what
/// failed in words; `None` for any other error.
pub fn failure(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(r));
        }
        // io::Error's own `source` skips the error it wraps: look inside.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|inner| failure(inner)) {
                return Some(found);
            }
            // tokio-rustls reports errors after the handshake as text.
            if io.kind() == std::io::ErrorKind::InvalidData {
                if let Some(found) = io.get_ref().and_then(|inner| describe_text(&inner.to_string())) {
                    return Some(found);
                }
            }
        }
        current = e.source();
    }
    None
}

/// [`describe`] for a rustls error that reached us only as its message
/// (`received fatal alert: CertificateRequired`); `None` if the text is not
/// one of rustls's.
fn describe_text(message: &str) -> Option<String> {
    use rustls::AlertDescription as A;
    if let Some(alert) = message.strip_prefix("received fatal alert: ") {
        let known = [
            A::CertificateRequired,
            A::BadCertificate,
            A::UnknownCA,
            A::CertificateExpired,
            A::CertificateRevoked,
            A::CertificateUnknown,
            A::UnsupportedCertificate,
            A::AccessDenied,
        ];
        let found = known.into_iter().find(|a| format!("{a:?}") == alert.trim());
        return Some(match found {
            Some(a) => describe(&rustls::Error::AlertReceived(a)),
            None => format!("the other side ended the TLS session ({})", alert.trim()),
        });
    }
    let tls_words = ["certificate", "corrupt message", "handshake"];
    tls_words.iter().any(|w| message.contains(w)).then(|| format!("TLS failed: {message}"))
}

fn describe(e: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::AlertReceived(A::CertificateRequired) => {
            "the server requires a client certificate and none was presented".into()
        }
        rustls::Error::AlertReceived(
            a @ (A::BadCertificate
            | A::UnknownCA
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::AccessDenied),
        ) => {
            format!("the other side rejected our certificate ({a:?}): is it signed by the cluster's CA and valid now?")
        }
        rustls::Error::InvalidCertificate(c) => {
            format!("the other side's certificate is not trusted: {c:?} (is it signed by our CA, valid now, and issued for this address?)")
        }
        rustls::Error::InvalidMessage(m) => format!("the other side does not speak TLS ({m:?})"),
        rustls::Error::NoCertificatesPresented => "the other side presented no certificate".into(),
        other => format!("TLS handshake failed: {other}"),
    }
}

/// The first bytes a plaintext HTTP/2 client sends.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// For a plaintext client whose call failed at the transport: asks the
/// node at `address` whether it is a TLS server, by sending the plaintext
/// HTTP/2 preface on a fresh connection and looking at the first byte of
/// the answer. A plaintext gRPC server answers with a SETTINGS frame (first
/// byte 0, a small length); a TLS server answers with a TLS record (an
/// alert, 0x15, or a handshake, 0x16) and hangs up. The plaintext client
/// itself only sees a connection that broke, which would otherwise be
/// reported as an unreachable node and retried until the deadline.
pub(crate) async fn plaintext_refused(address: &str, wait: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bare = address.strip_prefix("http://").or_else(|| address.strip_prefix("https://")).unwrap_or(address);
    let bare = bare.trim_end_matches('/');
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(bare).await.ok()?;
        stream.write_all(H2_PREFACE).await.ok()?;
        let mut first = [0u8; 1];
        let n = stream.read(&mut first).await.ok()?;
        Some(n == 1 && (first[0] == 0x15 || first[0] == 0x16))
    };
    match tokio::time::timeout(wait, probe).await {
        Ok(Some(true)) => Some(format!(
            "{bare}: the node requires TLS (mutual TLS is on) and this client connected in plaintext; \
             give it a certificate of the cluster's CA"
        )),
        _ => None,
    }
}
