//! [`HistoryRecorder`]: where concurrent test clients log what they asked and
//! what they saw, on one monotonic clock, for the linearizability checker.
//!
//! Each operation is recorded at invocation (before the request is sent) and
//! resolved exactly once: completed with an output, indeterminate (timeout,
//! lost connection — it may or may not have happened), or failed (the client
//! *knows* it did not happen, e.g. "not leader" before proposing; it is then
//! removed, since it constrains nothing). An operation never resolved counts as
//! indeterminate.

use std::sync::Mutex;
use std::time::Instant;

use crate::linearizability::{History, Op, Operation, Output};

/// A handle to one recorded, unresolved operation. Not `Clone`: resolving consumes it.
#[derive(Debug)]
#[must_use = "resolve the operation with complete/indeterminate/failed"]
pub struct PendingOp {
    index: usize,
}

/// A thread-safe history recorder (share it with `Arc`).
#[derive(Debug)]
pub struct HistoryRecorder {
    origin: Instant,
    ops: Mutex<Vec<Option<Operation>>>,
}

impl Default for HistoryRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl HistoryRecorder {
    /// An empty recorder whose clock starts now.
    pub fn new() -> Self {
        HistoryRecorder { origin: Instant::now(), ops: Mutex::new(Vec::new()) }
    }

    /// `t` on this recorder's clock (ns since its origin; 0 for earlier instants).
    pub fn at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX - 1)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Operation>>> {
        // A client thread that panicked mid-record leaves valid data behind.
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `client` is about to send `op`. Call just before sending.
    pub fn invoke(&self, client: u64, op: Op) -> PendingOp {
        let mut ops = self.lock();
        let invoke = self.now();
        ops.push(Some(Operation::indeterminate(client, op, invoke)));
        PendingOp { index: ops.len() - 1 }
    }

    /// The reply arrived with `output`. Call right after receiving it.
    pub fn complete(&self, pending: PendingOp, output: Output) {
        let now = self.now();
        if let Some(o) = self.lock()[pending.index].as_mut() {
            o.complete = Some(now);
            o.output = Some(output);
        }
    }

    /// The outcome is unknown (it may take effect at any later time, or never).
    pub fn indeterminate(&self, pending: PendingOp) {
        let _ = pending; // already recorded as indeterminate
    }

    /// The operation certainly did not take effect; it is dropped.
    pub fn failed(&self, pending: PendingOp) {
        self.lock()[pending.index] = None;
    }

    /// The history so far (unresolved operations are indeterminate).
    pub fn history(&self) -> History {
        History::new(self.lock().iter().flatten().cloned().collect())
    }

    /// Number of operations recorded and not dropped.
    pub fn len(&self) -> usize {
        self.lock().iter().flatten().count()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn operations_resolve_to_completed_indeterminate_or_dropped() {
        let r = HistoryRecorder::new();
        let a = r.invoke(1, Op::Put { key: "k".into(), value: "1".into() });
        let b = r.invoke(2, Op::Get { key: "k".into() });
        let c = r.invoke(3, Op::Delete { key: "k".into() });
        r.complete(a, Output::Ok);
        r.indeterminate(b);
        r.failed(c);
        let h = r.history();
        assert_eq!(h.operations.len(), 2);
        assert_eq!(h.operations[0].output, Some(Output::Ok));
        assert!(h.operations[0].complete.unwrap() >= h.operations[0].invoke);
        assert_eq!(h.operations[1].complete, None);
        h.validate().unwrap();
    }

    #[test]
    fn concurrent_clients_produce_a_checkable_history() {
        let r = Arc::new(HistoryRecorder::new());
        let store = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        std::thread::scope(|s| {
            for client in 0..4u64 {
                let (r, store) = (r.clone(), store.clone());
                s.spawn(move || {
                    for i in 0..50 {
                        let op = if i % 2 == 0 {
                            Op::Put { key: "k".into(), value: format!("{client}-{i}") }
                        } else {
                            Op::Get { key: "k".into() }
                        };
                        let pending = r.invoke(client, op.clone());
                        let out = crate::linearizability::generate::apply(&mut store.lock().unwrap(), &op);
                        r.complete(pending, out);
                    }
                });
            }
        });
        assert_eq!(r.len(), 200);
        assert!(crate::linearizability::check(&r.history()).unwrap().is_linearizable());
    }
}
