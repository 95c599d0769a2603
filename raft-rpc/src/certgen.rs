//! Throwaway certificate authorities for tests and `raft-cli demo --tls`.
//!
//! mTLS tests must not depend on files checked into the repository (they
//! expire, and a private key in git teaches the wrong habit), so they make a
//! CA and its certificates at run time with `rcgen`. Every certificate this
//! module issues is good for both server and client authentication and
//! names `localhost`, `127.0.0.1` and `::1`, which is where test clusters
//! and the demo listen. Not for production: keys live in memory and in
//! whatever directory [`IssuedCert::write`] is given.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::tls::{TlsConfig, TlsError, TlsFiles};

/// One day: issued certificates start this far in the past, so clocks a
/// little apart still agree that they are valid.
const SKEW: Duration = Duration::from_secs(24 * 3600);

/// How long certificates issued by [`TestCa::issue`] stay valid.
const VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Certificate generation failed (a bug in the parameters, or a clock
/// outside the representable range).
#[derive(Debug, thiserror::Error)]
pub enum CertGenError {
    /// rcgen refused the parameters.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A validity bound is not a representable date.
    #[error("certificate validity out of range: {0}")]
    Time(String),
    /// Writing a PEM file failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// The IO error.
        reason: String,
    },
    /// The generated material did not load (should not happen).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A self-signed CA that can issue node and client certificates.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM, with the PEM of the CA that signed it.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// The issuing CA's certificate.
    pub ca_pem: String,
}

impl TestCa {
    /// A new CA named `name`, valid from a day ago for 30 days.
    pub fn new(name: &str) -> Result<Self, CertGenError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = named(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let now = SystemTime::now();
        params.not_before = at(now - SKEW)?;
        params.not_after = at(now + VALIDITY)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(TestCa { cert, key })
    }

    /// The CA certificate (PEM): what every party trusts.
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `name`, valid now (from a day ago for 30 days).
    pub fn issue(&self, name: &str) -> Result<IssuedCert, CertGenError> {
        let now = SystemTime::now();
        self.issue_valid(name, now - SKEW, now + VALIDITY)
    }

    /// A certificate for `name` valid only between `not_before` and
    /// `not_after` (tests make expired ones with this).
    pub fn issue_valid(
        &self,
        name: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<IssuedCert, CertGenError> {
        let sans = vec![name.to_owned(), "localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name = named(name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = at(not_before)?;
        params.not_after = at(not_after)?;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem(), ca_pem: self.ca_pem() })
    }
}

impl IssuedCert {
    /// The loaded TLS configuration (trusting the issuing CA).
    pub fn tls(&self) -> Result<TlsConfig, CertGenError> {
        Ok(TlsConfig::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes(), self.ca_pem.as_bytes())?)
    }

    /// The same, trusting `ca_pem` instead (a party of another CA).
    pub fn tls_trusting(&self, ca_pem: &str) -> Result<TlsConfig, CertGenError> {
        Ok(TlsConfig::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes(), ca_pem.as_bytes())?)
    }

    /// Writes `<stem>.crt`, `<stem>.key` and `ca.crt` into `dir` (the key
    /// readable by the owner only) and returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<TlsFiles, CertGenError> {
        let files = TlsFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
            ca: dir.join("ca.crt"),
        };
        write(&files.cert, &self.cert_pem, 0o644)?;
        write(&files.key, &self.key_pem, 0o600)?;
        write(&files.ca, &self.ca_pem, 0o644)?;
        Ok(files)
    }
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), CertGenError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: std::io::Error| CertGenError::Write { path: path.display().to_string(), reason: e.to_string() };
    std::fs::write(path, text).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}

fn named(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "raft-rs-kv throwaway CA");
    dn
}

fn at(t: SystemTime) -> Result<time::OffsetDateTime, CertGenError> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| CertGenError::Time(e.to_string()))
}
