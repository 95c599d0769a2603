//! Random histories produced by a real register, and mutations of them.
//!
//! Clients get random, sequential-per-client intervals; every operation gets a
//! random linearization point inside its interval; the operations are then run
//! against a sequential KV map in linearization-point order, which fixes their
//! outputs. Such a history is linearizable by construction, so the checker must
//! accept it. Mutations then break it in ways the checker must (or, for the
//! uncertain ones, may) detect. Every put/cas value is unique, which is what makes
//! stale reads and reads "from the future" certainly detectable.

use std::collections::BTreeMap;

use super::history::{History, Operation};
use super::model::{Op, Output};
use crate::rng::Rng;

/// Shape of a generated history.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Operations issued by each client, one after another.
    pub ops_per_client: usize,
    /// Distinct keys (named `k0`, `k1`, ...).
    pub keys: usize,
    /// Probability an operation's outcome is unknown to its client.
    pub indeterminate: f64,
    /// Probability an indeterminate operation nevertheless took effect.
    pub indeterminate_applied: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig { clients: 5, ops_per_client: 100, keys: 3, indeterminate: 0.03, indeterminate_applied: 0.5 }
    }
}

struct Planned {
    client: u64,
    invoke: u64,
    complete: u64,
    point: u64,
    key: String,
}

/// A linearizable history generated from `seed`.
pub fn generate(seed: u64, cfg: &GenConfig) -> History {
    let mut rng = Rng::new(seed);
    let mut planned = Vec::new();
    for client in 0..cfg.clients as u64 {
        let mut t = rng.range(0, 10);
        for _ in 0..cfg.ops_per_client {
            let invoke = t;
            let complete = invoke + rng.range(0, 30);
            let point = rng.range(invoke, complete + 1);
            let key = format!("k{}", rng.index(cfg.keys.max(1)));
            planned.push(Planned { client, invoke, complete, point, key });
            t = complete + rng.range(0, 5);
        }
    }
    planned.sort_by_key(|p| p.point);
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    let mut operations = Vec::with_capacity(planned.len());
    for (n, p) in planned.into_iter().enumerate() {
        let current = store.get(&p.key).cloned();
        let op = random_op(&mut rng, &p.key, current, n);
        let indeterminate = rng.chance(cfg.indeterminate);
        let applied = !indeterminate || rng.chance(cfg.indeterminate_applied);
        let output = if applied { apply(&mut store, &op) } else { Output::Ok };
        operations.push(if indeterminate {
            Operation::indeterminate(p.client, op, p.invoke)
        } else {
            Operation::completed(p.client, op, p.invoke, p.complete, output)
        });
    }
    History::new(operations)
}

fn random_op(rng: &mut Rng, key: &str, current: Option<String>, n: usize) -> Op {
    let key = key.to_string();
    let fresh = format!("v{n}");
    match rng.range(0, 10) {
        0..=3 => Op::Get { key },
        4..=6 => Op::Put { key, value: fresh },
        7..=8 => {
            let expected = if rng.chance(0.6) { current } else { Some(format!("v{}", rng.range(0, n as u64 + 1))) };
            Op::Cas { key, expected, new: fresh }
        }
        _ => Op::Delete { key },
    }
}

/// Runs `op` on a sequential KV map and returns its output.
pub fn apply(store: &mut BTreeMap<String, String>, op: &Op) -> Output {
    match op {
        Op::Put { key, value } => {
            store.insert(key.clone(), value.clone());
            Output::Ok
        }
        Op::Get { key } => Output::Value(store.get(key).cloned()),
        Op::Delete { key } => {
            store.remove(key);
            Output::Ok
        }
        Op::Cas { key, expected, new } => {
            let ok = store.get(key) == expected.as_ref();
            if ok {
                store.insert(key.clone(), new.clone());
            }
            Output::Cas(ok)
        }
    }
}

/// Ways to corrupt a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// A read returns a value nobody wrote. Always detectable.
    ReadNeverWritten,
    /// A read returns the value of a write overwritten (by a definite write)
    /// before the read began. Always detectable.
    StaleRead,
    /// A read returns a value whose only write began after the read finished.
    /// Always detectable.
    ReadFromFuture,
    /// A completed cas reports the opposite outcome. Sometimes undetectable.
    FlipCas,
}

/// Applies `mutation` at a random applicable spot; `None` if the history has none.
/// Returns the mutated history and what was changed.
pub fn mutate(history: &History, mutation: Mutation, seed: u64) -> Option<(History, String)> {
    let mut rng = Rng::new(seed);
    let ops = &history.operations;
    let mut candidates: Vec<(usize, Output)> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        match (mutation, &o.op, &o.output) {
            (Mutation::ReadNeverWritten, Op::Get { .. }, Some(_)) => {
                candidates.push((i, Output::Value(Some(format!("never-written-{i}")))))
            }
            (Mutation::FlipCas, Op::Cas { .. }, Some(Output::Cas(ok))) => candidates.push((i, Output::Cas(!ok))),
            (Mutation::StaleRead, Op::Get { .. }, Some(_)) => {
                candidates.extend(stale_values(history, i).into_iter().map(|v| (i, Output::Value(Some(v)))))
            }
            (Mutation::ReadFromFuture, Op::Get { .. }, Some(_)) => {
                candidates.extend(future_values(history, i).into_iter().map(|v| (i, Output::Value(Some(v)))))
            }
            _ => {}
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let (i, output) = candidates.swap_remove(rng.index(candidates.len()));
    let mut mutated = history.clone();
    let what = format!("#{i} {}: output {} -> {}", ops[i].op, ops[i].output.as_ref()?, output);
    mutated.operations[i].output = Some(output);
    Some((mutated, what))
}

/// The value `o` certainly wrote, if it is a definite effective write (put or successful cas).
fn written_value(o: &Operation) -> Option<&str> {
    match (&o.op, &o.output) {
        (Op::Put { value, .. }, Some(_)) => Some(value),
        (Op::Cas { new, .. }, Some(Output::Cas(true))) => Some(new),
        _ => None,
    }
}

/// Whether `o` may write `v` (a put of `v`, or a cas to `v` of any outcome).
fn writes(o: &Operation, v: &str) -> bool {
    matches!(&o.op, Op::Put { value, .. } if value == v) || matches!(&o.op, Op::Cas { new, .. } if new == v)
}

/// Whether `o` certainly changed its key (put, delete or successful cas, completed).
fn definite_write(o: &Operation) -> bool {
    matches!(
        (&o.op, &o.output),
        (Op::Put { .. } | Op::Delete { .. }, Some(_)) | (Op::Cas { .. }, Some(Output::Cas(true)))
    )
}

/// Values of writes w1 such that a definite write w2 on the same key started after
/// w1 completed and completed before read `r` was invoked.
fn stale_values(history: &History, r: usize) -> Vec<String> {
    let ops = &history.operations;
    let read = &ops[r];
    let same_key = |o: &&Operation| o.op.key() == read.op.key();
    let mut out = Vec::new();
    for w1 in ops.iter().filter(same_key) {
        let (Some(v1), Some(w1_end)) = (written_value(w1), w1.complete) else { continue };
        if ops.iter().filter(same_key).filter(|o| writes(o, v1)).count() != 1 {
            continue;
        }
        let overwritten = ops.iter().filter(same_key).any(|w2| {
            definite_write(w2)
                && written_value(w2) != Some(v1)
                && w2.invoke > w1_end
                && w2.complete.is_some_and(|end| end < read.invoke)
        });
        if overwritten && read.output != Some(Output::Value(Some(v1.to_string()))) {
            out.push(v1.to_string());
        }
    }
    out
}

/// Values whose every writer (of any outcome) was invoked after read `r` completed.
fn future_values(history: &History, r: usize) -> Vec<String> {
    let ops = &history.operations;
    let read = &ops[r];
    let Some(read_end) = read.complete else { return Vec::new() };
    let mut out = Vec::new();
    for o in ops.iter().filter(|o| o.op.key() == read.op.key()) {
        let v = match &o.op {
            Op::Put { value, .. } => value,
            Op::Cas { new, .. } => new,
            _ => continue,
        };
        let mut writers = ops.iter().filter(|w| w.op.key() == read.op.key() && writes(w, v));
        if writers.all(|w| w.invoke > read_end) {
            out.push(v.clone());
        }
    }
    out
}
