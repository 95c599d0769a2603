//! A brute-force reference checker, straight from the definition (Herlihy &
//! Wing 1990): some order of all completed operations, plus any subset of the
//! indeterminate ones, respects real-time order and matches every observed output
//! when run on a sequential KV map. Exponential; meant for differential tests of
//! [`super::Checker`] on histories of a handful of operations per key.

use std::collections::BTreeMap;

use super::generate::apply;
use super::history::{History, Operation};

/// Largest per-key sub-history the reference accepts.
pub const MAX_OPS_PER_KEY: usize = 10;

/// Whether `history` is linearizable, or `None` if some key has more than
/// [`MAX_OPS_PER_KEY`] operations.
pub fn is_linearizable(history: &History) -> Option<bool> {
    for indices in history.partition_by_key().values() {
        if indices.len() > MAX_OPS_PER_KEY {
            return None;
        }
        let ops: Vec<&Operation> = indices.iter().map(|&i| &history.operations[i]).collect();
        let all = (1u32 << ops.len()) - 1;
        if !extend(&ops, all, &mut BTreeMap::new()) {
            return Some(false);
        }
    }
    Some(true)
}

/// Tries every next operation from `remaining` (a bitmask over `ops`).
fn extend(ops: &[&Operation], remaining: u32, store: &mut BTreeMap<String, String>) -> bool {
    let pending_required = (0..ops.len()).any(|i| remaining & (1 << i) != 0 && ops[i].complete.is_some());
    if !pending_required {
        return true; // the remaining indeterminate ops never took effect
    }
    for i in (0..ops.len()).filter(|&i| remaining & (1 << i) != 0) {
        // `i` may go next only if no remaining op finished strictly before it began.
        let blocked =
            (0..ops.len()).any(|j| remaining & (1 << j) != 0 && ops[j].complete.is_some_and(|end| end < ops[i].invoke));
        if blocked {
            continue;
        }
        let before = store.clone();
        let output = apply(store, &ops[i].op);
        let matches = match &ops[i].output {
            None => true,
            Some(observed) => *observed == output,
        };
        if matches && extend(ops, remaining & !(1 << i), store) {
            return true;
        }
        *store = before;
        // An indeterminate op may also never take effect.
        if ops[i].complete.is_none() && extend(ops, remaining & !(1 << i), store) {
            return true;
        }
    }
    false
}
