//! Synced append throughput of `RocksStore`, next to the raw floor of the
//! disk it runs on (small write + fdatasync in a loop, same filesystem).
//!
//! Targets: a batch of 1 within 1.5x the raw fdatasync floor; 256 x 128 B
//! above 100,000 entries/s. Data lives under the target directory (never
//! tmpfs), given by CARGO_TARGET_TMPDIR.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use raft_core::{Entry, EntryPayload, LogIndex, Term};
use raft_storage::{RaftStore, RocksStore, WriteBatch};

const PAYLOAD_SIZES: [usize; 2] = [128, 4096];
const BATCH_SIZES: [u64; 3] = [1, 16, 256];

fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory under the target dir")
}

/// The floor: append `size` bytes to a file and fdatasync, as a WAL would.
fn raw_fdatasync(c: &mut Criterion) {
    let dir = bench_dir();
    let mut group = c.benchmark_group("raw_fdatasync");
    group.throughput(Throughput::Elements(1));
    for size in PAYLOAD_SIZES {
        let mut file =
            OpenOptions::new().create(true).append(true).open(dir.path().join(format!("raw-{size}"))).unwrap();
        let buf = vec![0xAB; size];
        group.bench_function(BenchmarkId::new("append_write", size), |b| {
            b.iter(|| {
                file.write_all(&buf).unwrap();
                // SAFETY: fdatasync on a file descriptor we own for the whole call.
                assert_eq!(unsafe { libc::fdatasync(file.as_raw_fd()) }, 0, "fdatasync failed");
            })
        });
    }
    group.finish();
}

fn synced_appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("rocks_synced_append");
    for size in PAYLOAD_SIZES {
        for batch in BATCH_SIZES {
            let dir = bench_dir();
            let store = RocksStore::open(dir.path()).unwrap();
            let payload = vec![0x5A; size];
            let mut next = 1u64;
            group.throughput(Throughput::Elements(batch));
            group.bench_function(BenchmarkId::new(format!("{size}B"), batch), |b| {
                b.iter_batched(
                    || {
                        let entries: Vec<Entry> = (next..next + batch)
                            .map(|i| Entry::new(Term(1), LogIndex(i), EntryPayload::Normal(payload.clone().into())))
                            .collect();
                        next += batch;
                        WriteBatch::append(entries)
                    },
                    |wb| store.write(wb).unwrap(),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = raw_fdatasync, synced_appends }
criterion_main!(benches);
