//! The append (set) workload: catches an acknowledged write that is lost after
//! being overwritten.
//!
//! Why: the register workload checks each key's history, but a key's value only
//! shows its last write; a write acknowledged and then silently dropped is
//! invisible once someone overwrites the key. Here each client appends unique
//! elements to a few keys by read-modify-write with compare-and-swap (the value
//! is the space-separated list of elements), so every later value must still
//! contain every element whose append was acknowledged. [`check_appends`]
//! compares the acknowledged appends of a history with the final read of each
//! key: each one must be there, exactly once, and nothing there may be an
//! element nobody tried to append.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use raft_rpc::{ClientConfig, ClientError, Consistency, KvClient};

use crate::history::HistoryRecorder;
use crate::linearizability::{History, Op, Output};
use crate::rng::Rng;
use crate::workload::{resolve_write_error, OpCounts};

/// Compare-and-swap attempts per element before a client moves on.
const CAS_ATTEMPTS: usize = 5;

/// Parameters of the appending clients.
#[derive(Clone, Debug)]
pub struct AppendConfig {
    /// Concurrent appending clients.
    pub clients: usize,
    /// Keys, named `s0`, `s1`, ... (disjoint from the register keys `k*`).
    pub keys: usize,
    /// First client id; client `i` is `first_client_id + i`.
    pub first_client_id: u64,
    /// Seeds the choice of key.
    pub seed: u64,
    /// Client library settings.
    pub client: ClientConfig,
}

impl AppendConfig {
    /// The key names.
    pub fn key_names(&self) -> Vec<String> {
        (0..self.keys).map(|i| format!("s{i}")).collect()
    }
}

/// What the appenders did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Linearizable reads of the current list.
    pub reads: OpCounts,
    /// Compare-and-swaps (an acknowledged append is a completed, succeeded one).
    pub cas: OpCounts,
    /// Appends acknowledged.
    pub acked: u64,
}

impl std::fmt::Display for AppendStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "appends: {} acknowledged; cas {} ok, {} failed, {} indeterminate",
            self.acked, self.cas.ok, self.cas.failed, self.cas.indeterminate
        )
    }
}

/// Runs the appending clients until `stop` is set.
pub async fn run_appenders(
    config: AppendConfig,
    endpoints: Vec<String>,
    recorder: Arc<HistoryRecorder>,
    stop: Arc<AtomicBool>,
) -> Result<AppendStats, ClientError> {
    let keys = Arc::new(config.key_names());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..config.clients as u64 {
        let id = config.first_client_id + i;
        let kv = KvClient::with_client_id(&endpoints, config.client.clone(), id)?;
        let rng = Rng::new(config.seed ^ id.wrapping_mul(0xA24B_AED4_963E_E407));
        let appender = Appender { id, kv, rng, keys: keys.clone(), recorder: recorder.clone(), next: 0 };
        tasks.spawn(appender.run(stop.clone()));
    }
    let mut total = AppendStats::default();
    while let Some(joined) = tasks.join_next().await {
        let s = joined.expect("invariant: appender tasks do not panic");
        for (t, o) in [(&mut total.reads, &s.reads), (&mut total.cas, &s.cas)] {
            t.ok += o.ok;
            t.failed += o.failed;
            t.indeterminate += o.indeterminate;
        }
        total.acked += s.acked;
    }
    Ok(total)
}

struct Appender {
    id: u64,
    kv: KvClient,
    rng: Rng,
    keys: Arc<Vec<String>>,
    recorder: Arc<HistoryRecorder>,
    next: u64,
}

impl Appender {
    async fn run(mut self, stop: Arc<AtomicBool>) -> AppendStats {
        let mut stats = AppendStats::default();
        while !stop.load(Ordering::Relaxed) {
            let key = self.keys[self.rng.index(self.keys.len())].clone();
            self.next += 1;
            let element = format!("a{}-{}", self.id, self.next);
            self.append(&key, &element, &mut stats).await;
            tokio::time::sleep(Duration::from_millis(self.rng.range(0, 10))).await;
        }
        stats
    }

    /// Read, then CAS the list with `element` added, re-trying on a lost race
    /// with the value the failed CAS reported.
    async fn append(&mut self, key: &str, element: &str, stats: &mut AppendStats) {
        let pending = self.recorder.invoke(self.id, Op::Get { key: key.into() });
        let mut current = match self.kv.get(key.as_bytes(), Consistency::Linearizable).await {
            Ok(v) => {
                let v = v.map(utf8);
                self.recorder.complete(pending, Output::Value(v.clone()));
                stats.reads.ok += 1;
                v
            }
            Err(_) => {
                self.recorder.failed(pending);
                stats.reads.failed += 1;
                return;
            }
        };
        for _ in 0..CAS_ATTEMPTS {
            let new = match &current {
                Some(list) if !list.is_empty() => format!("{list} {element}"),
                _ => element.to_string(),
            };
            let op = Op::Cas { key: key.into(), expected: current.clone(), new: new.clone() };
            let pending = self.recorder.invoke(self.id, op);
            let expected = current.clone().map(String::into_bytes);
            match self.kv.compare_and_swap(key.as_bytes(), expected, new.as_bytes()).await {
                Ok(r) => {
                    self.recorder.complete(pending, Output::Cas(r.succeeded));
                    stats.cas.ok += 1;
                    if r.succeeded {
                        stats.acked += 1;
                        return;
                    }
                    current = r.previous.map(utf8);
                }
                Err(e) => {
                    // Indeterminate appends may or may not show up; either is fine.
                    resolve_write_error(&self.recorder, pending, &e, &mut stats.cas);
                    return;
                }
            }
        }
    }
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The element a compare-and-swap on an append key adds: the last one of its new list.
fn appended(new: &str) -> Option<&str> {
    new.split(' ').next_back().filter(|e| !e.is_empty())
}

/// Problems with the final lists `finals` (key -> value read after healing)
/// given `history`: an acknowledged append missing (lost), an element present
/// twice, or an element no operation tried to append. Only keys in `finals`
/// are checked. Empty means every acknowledged append survived.
pub fn check_appends(history: &History, finals: &BTreeMap<String, Option<String>>) -> Vec<String> {
    let mut acked: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut attempted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for o in &history.operations {
        let Op::Cas { key, new, .. } = &o.op else { continue };
        if !finals.contains_key(key) {
            continue;
        }
        let Some(element) = appended(new) else { continue };
        attempted.entry(key).or_default().insert(element);
        if o.output == Some(Output::Cas(true)) {
            acked.entry(key).or_default().insert(element);
        }
    }
    let mut problems = Vec::new();
    for (key, value) in finals {
        let list: Vec<&str> = value.as_deref().unwrap_or("").split(' ').filter(|e| !e.is_empty()).collect();
        let present: BTreeSet<&str> = list.iter().copied().collect();
        if present.len() != list.len() {
            problems.push(format!("{key:?}: an element appears twice in {value:?}"));
        }
        for lost in acked.get(key.as_str()).into_iter().flatten().filter(|e| !present.contains(*e)) {
            problems.push(format!("{key:?}: acknowledged append {lost:?} is missing from the final {value:?}"));
        }
        let tried = attempted.get(key.as_str());
        for phantom in present.iter().filter(|e| !tried.is_some_and(|t| t.contains(*e))) {
            problems.push(format!("{key:?}: {phantom:?} in the final value was never appended"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::Operation;

    fn cas(client: u64, t: u64, expected: Option<&str>, new: &str, ok: Option<bool>) -> Operation {
        let op = Op::Cas { key: "s0".into(), expected: expected.map(str::to_string), new: new.into() };
        match ok {
            Some(ok) => Operation::completed(client, op, t, t + 1, Output::Cas(ok)),
            None => Operation::indeterminate(client, op, t),
        }
    }

    fn finals(v: &str) -> BTreeMap<String, Option<String>> {
        BTreeMap::from([("s0".to_string(), Some(v.to_string()))])
    }

    #[test]
    fn every_acknowledged_append_present_passes() {
        let h = History::new(vec![
            cas(1, 0, None, "a1-1", Some(true)),
            cas(2, 2, Some("a1-1"), "a1-1 a2-1", Some(true)),
            cas(1, 4, Some("a1-1"), "a1-1 a1-2", Some(false)),
            cas(1, 6, Some("a1-1 a2-1"), "a1-1 a2-1 a1-2", None),
        ]);
        assert_eq!(check_appends(&h, &finals("a1-1 a2-1")), Vec::<String>::new());
        assert_eq!(check_appends(&h, &finals("a1-1 a2-1 a1-2")), Vec::<String>::new(), "indeterminate may land");
    }

    #[test]
    fn an_acknowledged_append_lost_after_an_overwrite_is_flagged() {
        // a2-1 was acknowledged, then a node lost it: the next append built on
        // the old list, so the key's last value looks fine on its own.
        let h = History::new(vec![
            cas(1, 0, None, "a1-1", Some(true)),
            cas(2, 2, Some("a1-1"), "a1-1 a2-1", Some(true)),
            cas(1, 4, Some("a1-1"), "a1-1 a1-2", Some(true)),
        ]);
        let problems = check_appends(&h, &finals("a1-1 a1-2"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("acknowledged append \"a2-1\" is missing"), "{problems:?}");
    }

    #[test]
    fn duplicates_and_phantoms_are_flagged() {
        let h = History::new(vec![cas(1, 0, None, "a1-1", Some(true))]);
        let problems = check_appends(&h, &finals("a1-1 a1-1 zz"));
        assert!(problems.iter().any(|p| p.contains("twice")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("\"zz\" in the final value was never appended")), "{problems:?}");
        let empty = BTreeMap::from([("s0".to_string(), None)]);
        assert!(check_appends(&h, &empty)[0].contains("missing"));
    }
}
