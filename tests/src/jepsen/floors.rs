//! Floors a Jepsen run must clear besides linearizability: a history with one
//! operation is trivially linearizable, so a run also has to show that the
//! clients did real work, that some of it happened while a fault was in force,
//! that a fault leaving no majority let no write through, and that service came
//! back after it.
//!
//! Times are nanoseconds on the history's clock ([`crate::HistoryRecorder::at`]).

use crate::linearizability::{History, Op, Operation, Output};

/// One applied fault, on the history's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The fault, as printed.
    pub fault: String,
    /// Injection finished.
    pub start: u64,
    /// Healing started.
    pub end: u64,
    /// No majority could talk while it was in force.
    pub quorum_loss: bool,
}

/// Operations of clients below `max_client` that completed.
pub fn completed(history: &History, max_client: u64) -> usize {
    history.operations.iter().filter(|o| o.client < max_client && o.complete.is_some()).count()
}

/// Of those, the ones that completed while some fault was in force.
pub fn completed_under_fault(history: &History, max_client: u64, windows: &[Window]) -> usize {
    let inside = |t: u64| windows.iter().any(|w| (w.start..=w.end).contains(&t));
    history.operations.iter().filter(|o| o.client < max_client && o.complete.is_some_and(inside)).count()
}

/// An acknowledged write: a put, or a compare-and-swap that succeeded.
fn acked_write(o: &Operation) -> bool {
    match (&o.op, &o.output) {
        (Op::Put { .. } | Op::Delete { .. }, Some(Output::Ok)) => true,
        (Op::Cas { .. }, Some(Output::Cas(true))) => true,
        _ => false,
    }
}

/// Writes acknowledged during a quorum loss that were invoked after it began
/// (writes already in flight when it began may still commit); must be empty.
pub fn writes_during_quorum_loss(history: &History, windows: &[Window]) -> Vec<String> {
    let mut out = Vec::new();
    for w in windows.iter().filter(|w| w.quorum_loss) {
        for o in history.operations.iter().filter(|o| acked_write(o)) {
            if o.invoke >= w.start && o.complete.is_some_and(|c| c <= w.end) {
                out.push(format!("during `{}`: {o}", w.fault));
            }
        }
    }
    out
}

/// Quorum-loss windows after whose heal no write was acknowledged within
/// `bound` ns; must be empty (service resumes after the heal).
pub fn unserved_after_quorum_loss(history: &History, windows: &[Window], bound: u64) -> Vec<String> {
    windows
        .iter()
        .filter(|w| w.quorum_loss)
        .filter(|w| {
            let served = |o: &&Operation| o.complete.is_some_and(|c| c >= w.end && c - w.end <= bound);
            !history.operations.iter().filter(|o| acked_write(o)).any(|o| served(&o))
        })
        .map(|w| format!("no write acknowledged within {:.1} s after healing `{}`", bound as f64 / 1e9, w.fault))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn put(client: u64, invoke: u64, complete: Option<u64>) -> Operation {
        let op = Op::Put { key: "k".into(), value: format!("v{invoke}") };
        match complete {
            Some(c) => Operation::completed(client, op, invoke, c, Output::Ok),
            None => Operation::indeterminate(client, op, invoke),
        }
    }

    fn window(start: u64, end: u64, quorum_loss: bool) -> Window {
        Window { fault: "f".into(), start, end, quorum_loss }
    }

    #[test]
    fn counts_only_completed_ops_of_workload_clients_and_those_inside_windows() {
        let h = History::new(vec![put(1, 0, Some(S)), put(2, 0, None), put(1, 3 * S, Some(4 * S)), put(9, 0, Some(1))]);
        assert_eq!(completed(&h, 5), 2);
        assert_eq!(completed_under_fault(&h, 5, &[window(3 * S, 5 * S, false)]), 1);
        assert_eq!(completed_under_fault(&h, 5, &[]), 0);
    }

    #[test]
    fn a_write_invoked_and_acknowledged_inside_a_quorum_loss_is_flagged_but_in_flight_ones_are_not() {
        let w = [window(10 * S, 20 * S, true)];
        let in_flight = History::new(vec![put(1, 9 * S, Some(11 * S)), put(2, 12 * S, Some(21 * S))]);
        assert!(writes_during_quorum_loss(&in_flight, &w).is_empty());
        let bad = History::new(vec![put(1, 12 * S, Some(13 * S))]);
        assert_eq!(writes_during_quorum_loss(&bad, &w).len(), 1);
        let not_ql = [window(10 * S, 20 * S, false)];
        assert!(writes_during_quorum_loss(&bad, &not_ql).is_empty());
    }

    #[test]
    fn service_must_resume_within_the_bound_after_a_quorum_loss_heals() {
        let w = [window(10 * S, 20 * S, true)];
        let served = History::new(vec![put(1, 20 * S, Some(25 * S))]);
        assert!(unserved_after_quorum_loss(&served, &w, 10 * S).is_empty());
        let late = History::new(vec![put(1, 20 * S, Some(35 * S)), put(1, 21 * S, None)]);
        assert_eq!(unserved_after_quorum_loss(&late, &w, 10 * S).len(), 1);
    }
}
