//! [`KvQuery`]: reads, served from the applied state once ReadIndex says the
//! node is up to date (thesis §6.4).

use super::store::KvMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::{KvError, KvLimits};

/// A read against the KV store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvQuery {
    /// The value of one key.
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// Key/value pairs in key order.
    Scan {
        /// Which keys.
        range: ScanRange,
        /// At most this many pairs (1..=[`KvLimits::max_scan_limit`]).
        limit: u32,
    },
}

/// The keys a scan covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanRange {
    /// Every key starting with these bytes.
    Prefix(Vec<u8>),
    /// Keys `k` with `start <= k < end` (`end: None` is unbounded).
    Range {
        /// Inclusive lower bound.
        start: Vec<u8>,
        /// Exclusive upper bound, if any.
        end: Option<Vec<u8>>,
    },
}

impl ScanRange {
    /// The half-open key interval `[start, end)` this range covers.
    pub fn bounds(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            ScanRange::Prefix(prefix) => (prefix.clone(), prefix_successor(prefix)),
            ScanRange::Range { start, end } => (start.clone(), end.clone()),
        }
    }

    /// The range that continues a truncated scan at `next_key` (the
    /// [`KvQueryResult::Scan::next_key`] of the previous page).
    pub fn resume_at(&self, next_key: Vec<u8>) -> ScanRange {
        let (_, end) = self.bounds();
        ScanRange::Range { start: next_key, end }
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None`
/// if there is none (empty prefix or all `0xff`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The answer to a [`KvQuery`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvQueryResult {
    /// Answer to [`KvQuery::Get`].
    Get {
        /// The value, or `None` if the key is absent.
        value: Option<Vec<u8>>,
    },
    /// Answer to [`KvQuery::Scan`].
    Scan {
        /// Pairs in ascending key order.
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        /// If the scan stopped early (limit or byte budget), the first key not
        /// returned; continue with [`ScanRange::resume_at`].
        next_key: Option<Vec<u8>>,
    },
}

/// Runs `query` against `data`.
pub(crate) fn run_query(data: &KvMap, limits: &KvLimits, query: &KvQuery) -> Result<KvQueryResult, KvError> {
    limits.validate_query(query)?;
    match query {
        KvQuery::Get { key } => Ok(KvQueryResult::Get { value: data.get(key).cloned() }),
        KvQuery::Scan { range, limit } => scan(data, limits, range, *limit),
    }
}

fn scan(data: &KvMap, limits: &KvLimits, range: &ScanRange, limit: u32) -> Result<KvQueryResult, KvError> {
    let (start, end) = range.bounds();
    if end.as_ref().is_some_and(|end| *end < start) {
        return Err(KvError::InvalidRange);
    }
    let upper = match end {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    let mut pairs = Vec::new();
    let mut bytes = 0u64;
    for (key, value) in data.range((Bound::Included(start), upper)) {
        let size = (key.len() + value.len()) as u64;
        // Always return at least one pair so that a scan makes progress even
        // when a single pair is larger than the byte budget.
        let full =
            pairs.len() as u64 >= u64::from(limit) || (!pairs.is_empty() && bytes + size > limits.max_scan_bytes);
        if full {
            return Ok(KvQueryResult::Scan { pairs, next_key: Some(key.clone()) });
        }
        bytes += size;
        pairs.push((key.clone(), value.clone()));
    }
    Ok(KvQueryResult::Scan { pairs, next_key: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_handles_trailing_ff_and_empty() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
