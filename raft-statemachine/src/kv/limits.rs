//! [`KvLimits`]: explicit size limits, checked before proposing and again at
//! apply time.

use serde::{Deserialize, Serialize};

use super::{KvError, KvOp, KvQuery, KvRequest};

/// Size limits of the KV store. Must be identical on every replica: apply
/// re-checks them, and a replica with different limits would answer
/// differently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvLimits {
    /// Longest key, in bytes. Default 4 KiB.
    pub max_key_bytes: u64,
    /// Longest value, in bytes. Default 1 MiB.
    pub max_value_bytes: u64,
    /// Largest `limit` a scan may ask for. Default 1000.
    pub max_scan_limit: u32,
    /// A scan page stops before its keys and values exceed this many bytes
    /// (it always returns at least one pair). Default 4 MiB.
    pub max_scan_bytes: u64,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits { max_key_bytes: 4 << 10, max_value_bytes: 1 << 20, max_scan_limit: 1000, max_scan_bytes: 4 << 20 }
    }
}

impl KvLimits {
    /// Checks a write against the limits. The server calls this before
    /// proposing, so that an oversize command never reaches the log.
    pub fn validate(&self, request: &KvRequest) -> Result<(), KvError> {
        self.check_key(request.op.key())?;
        match &request.op {
            KvOp::Put { value, .. } => self.check_value(value),
            KvOp::Delete { .. } => Ok(()),
            KvOp::Cas { expected, new, .. } => {
                expected.as_deref().map_or(Ok(()), |v| self.check_value(v))?;
                new.as_deref().map_or(Ok(()), |v| self.check_value(v))
            }
        }
    }

    /// Checks a read against the limits.
    pub fn validate_query(&self, query: &KvQuery) -> Result<(), KvError> {
        match query {
            KvQuery::Get { key } => self.check_key(key),
            KvQuery::Scan { limit, .. } if *limit == 0 => Err(KvError::ScanLimitZero),
            KvQuery::Scan { limit, .. } if *limit > self.max_scan_limit => {
                Err(KvError::ScanLimitTooLarge { requested: u64::from(*limit), max: u64::from(self.max_scan_limit) })
            }
            KvQuery::Scan { .. } => Ok(()),
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), KvError> {
        if key.len() as u64 > self.max_key_bytes {
            return Err(KvError::KeyTooLarge { len: key.len() as u64, max: self.max_key_bytes });
        }
        Ok(())
    }

    fn check_value(&self, value: &[u8]) -> Result<(), KvError> {
        if value.len() as u64 > self.max_value_bytes {
            return Err(KvError::ValueTooLarge { len: value.len() as u64, max: self.max_value_bytes });
        }
        Ok(())
    }
}
