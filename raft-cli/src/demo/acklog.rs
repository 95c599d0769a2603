//! What the demo promised: every acknowledged write, and what a node must
//! hold for each key at the end.
//!
//! The workload is one sequential client, so log order equals issue order.
//! A write whose outcome is unknown (timeout, leader change) may or may not
//! have been applied, but only before any later write of the same session:
//! so for each key the final value must be the last acknowledged value or
//! one of the unknown-outcome values written after it.

use std::collections::BTreeMap;

/// Expected final state of one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeyHistory {
    /// Last acknowledged value.
    acked: Option<Vec<u8>>,
    /// Values written after `acked` whose outcome is unknown (may be applied).
    maybe: Vec<Vec<u8>>,
}

/// How a node's copy of a key compares with the acknowledged history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The value is the last acknowledged one (or a later unknown-outcome write).
    Present,
    /// The key is absent: an acknowledged write was lost.
    Missing,
    /// The key holds some other value.
    Wrong {
        /// What the node returned.
        found: Vec<u8>,
    },
}

/// Every acknowledged write, per key.
#[derive(Clone, Debug, Default)]
pub struct AckLog {
    keys: BTreeMap<String, KeyHistory>,
    acked: u64,
    unknown: u64,
}

impl AckLog {
    /// Records a write the cluster acknowledged.
    pub fn ack(&mut self, key: &str, value: Vec<u8>) {
        let h = self.keys.entry(key.to_string()).or_default();
        h.acked = Some(value);
        h.maybe.clear();
        self.acked += 1;
    }

    /// Records a write whose outcome is unknown.
    pub fn unknown(&mut self, key: &str, value: Vec<u8>) {
        self.keys.entry(key.to_string()).or_default().maybe.push(value);
        self.unknown += 1;
    }

    /// Writes acknowledged.
    pub fn acked_writes(&self) -> u64 {
        self.acked
    }

    /// Writes with unknown outcome.
    pub fn unknown_writes(&self) -> u64 {
        self.unknown
    }

    /// Keys with at least one acknowledged write: the ones to verify.
    pub fn acked_keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter(|(_, h)| h.acked.is_some()).map(|(k, _)| k.as_str())
    }

    /// The last acknowledged value of `key`.
    pub fn expected(&self, key: &str) -> Option<&[u8]> {
        self.keys.get(key).and_then(|h| h.acked.as_deref())
    }

    /// Compares what a node holds for `key` with the history.
    pub fn check(&self, key: &str, found: Option<&[u8]>) -> Verdict {
        let Some(history) = self.keys.get(key) else {
            return match found {
                None => Verdict::Present,
                Some(v) => Verdict::Wrong { found: v.to_vec() },
            };
        };
        match found {
            None if history.acked.is_some() => Verdict::Missing,
            None => Verdict::Present,
            Some(v) if history.acked.as_deref() == Some(v) || history.maybe.iter().any(|m| m == v) => Verdict::Present,
            Some(v) => Verdict::Wrong { found: v.to_vec() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_acknowledged_value_is_required() {
        let mut log = AckLog::default();
        log.ack("k", b"1".to_vec());
        log.ack("k", b"2".to_vec());
        assert_eq!(log.check("k", Some(b"2")), Verdict::Present);
        assert_eq!(log.check("k", Some(b"1")), Verdict::Wrong { found: b"1".to_vec() });
        assert_eq!(log.check("k", None), Verdict::Missing);
        assert_eq!(log.acked_writes(), 2);
    }

    #[test]
    fn an_unknown_outcome_after_the_last_ack_is_acceptable() {
        let mut log = AckLog::default();
        log.ack("k", b"1".to_vec());
        log.unknown("k", b"2".to_vec());
        assert_eq!(log.check("k", Some(b"1")), Verdict::Present);
        assert_eq!(log.check("k", Some(b"2")), Verdict::Present);
        assert_eq!(log.check("k", None), Verdict::Missing);
    }

    #[test]
    fn an_ack_supersedes_earlier_unknown_outcomes() {
        let mut log = AckLog::default();
        log.unknown("k", b"1".to_vec());
        log.ack("k", b"2".to_vec());
        assert_eq!(log.check("k", Some(b"1")), Verdict::Wrong { found: b"1".to_vec() });
    }

    #[test]
    fn only_acknowledged_keys_are_verified() {
        let mut log = AckLog::default();
        log.unknown("u", b"1".to_vec());
        log.ack("a", b"1".to_vec());
        assert_eq!(log.acked_keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(log.check("u", None), Verdict::Present, "an unknown write may never have happened");
        assert_eq!(log.expected("a"), Some(&b"1"[..]));
    }
}
