//! Throughput of the KV state machine: applying writes, and writing and
//! restoring snapshots. Run with `cargo bench -p raft-statemachine`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use raft_core::{Entry, EntryPayload, LogIndex, Term};
use raft_statemachine::{KvOp, KvRequest, KvStore, StateMachine};

const CLIENTS: u64 = 64;

/// `n` put entries of 16-byte keys and 100-byte values from 64 clients.
fn put_entries(n: u64) -> Vec<Entry> {
    (1..=n)
        .map(|i| {
            let op = KvOp::Put { key: format!("key-{i:012}").into_bytes(), value: vec![b'v'; 100] };
            let request = KvRequest::new(i % CLIENTS, i / CLIENTS + 1, op);
            Entry::new(Term(1), LogIndex(i), EntryPayload::Normal(request.encode().expect("encodable").into()))
        })
        .collect()
}

fn filled(entries: &[Entry]) -> KvStore {
    let mut store = KvStore::default();
    for e in entries {
        store.apply(e).expect("in-order apply");
    }
    store
}

fn apply_puts(c: &mut Criterion) {
    let entries = put_entries(10_000);
    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("put_100B_64_clients", |b| {
        b.iter_batched(
            KvStore::default,
            |mut store| {
                for e in &entries {
                    store.apply(e).expect("in-order apply");
                }
                store
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn snapshots(c: &mut Criterion) {
    let store = filled(&put_entries(100_000));
    let (meta, bytes) = store.snapshot_to_vec().expect("snapshot");
    let mut group = c.benchmark_group("snapshot_100k_keys");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("write", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(bytes.len());
            store.snapshot(&mut out).expect("snapshot");
            out
        })
    });
    group.bench_function("restore", |b| {
        b.iter_batched(
            KvStore::default,
            |mut target| {
                target.restore(&meta, &mut &bytes[..]).expect("restore");
                target
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Freezing the state for a snapshot job is a clone of the store, taken on
/// the node task: it must not grow with the state (issue #17). Compare the
/// two sizes; then the cost of the first writes after a freeze, which copy
/// the tree nodes they touch.
fn freeze(c: &mut Criterion) {
    let mut group = c.benchmark_group("freeze");
    for keys in [10_000u64, 200_000] {
        let store = filled(&put_entries(keys));
        group.bench_function(format!("clone_{keys}_keys"), |b| b.iter(|| store.clone()));
    }
    let entries = put_entries(200_000);
    let (base, more) = entries.split_at(199_000);
    let store = filled(base);
    group.throughput(Throughput::Elements(more.len() as u64));
    group.bench_function("1000_puts_after_freeze_200k_keys", |b| {
        b.iter_batched(
            || (store.clone(), store.clone()),
            |(mut live, frozen)| {
                for e in more {
                    live.apply(e).expect("in-order apply");
                }
                (live, frozen)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = apply_puts, snapshots, freeze
}
criterion_main!(benches);
