//! Crash durability: a child process appends synced batches and reports each
//! acknowledged index; the test SIGKILLs it at a random point, reopens the
//! directory and checks that every acknowledged entry survived, unchanged,
//! in a contiguous log. Seeded: set `RAFT_STORAGE_CRASH_SEED` to replay.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use raft_core::{LogIndex, SeededRng, Storage};
use raft_storage::{RocksStore, StoreError};

mod support {
    pub mod crash_workload;
}
use support::crash_workload;

/// Kill/reopen rounds per test run.
const ROUNDS: u64 = 6;
/// The child is killed after between 1 and this many acknowledgements.
const MAX_ACKS_BEFORE_KILL: u64 = 300;
/// How long to wait for the child's next line before failing the test.
const LINE_DEADLINE: Duration = Duration::from_secs(60);

/// One `ack <first index> <last index> <term> <commit>` line.
#[derive(Clone, Copy, Debug)]
struct Ack {
    first: u64,
    last: u64,
    term: u64,
    commit: u64,
}

fn parse_ack(line: &str) -> Ack {
    let fields: Vec<u64> = line
        .strip_prefix("ack ")
        .unwrap_or_else(|| panic!("unexpected line from the crash writer: {line:?}"))
        .split(' ')
        .map(|f| f.parse().unwrap_or_else(|e| panic!("bad number in {line:?}: {e}")))
        .collect();
    let [first, last, term, commit] = fields[..] else { panic!("expected 4 fields in {line:?}") };
    Ack { first, last, term, commit }
}

fn spawn_writer(dir: &Path, seed: u64) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_raft-storage-crash-writer"))
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the crash writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for the next line, failing the test after [`LINE_DEADLINE`].
fn next_line(rx: &Receiver<String>, child: &mut Child) -> String {
    match rx.recv_timeout(LINE_DEADLINE) {
        Ok(line) => line,
        Err(RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            panic!("the crash writer printed nothing for {LINE_DEADLINE:?}")
        }
        Err(RecvTimeoutError::Disconnected) => panic!("the crash writer exited early: {:?}", child.wait()),
    }
}

fn seed() -> u64 {
    match std::env::var("RAFT_STORAGE_CRASH_SEED") {
        Ok(s) => s.parse().expect("RAFT_STORAGE_CRASH_SEED must be a u64"),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64,
    }
}

/// Everything acknowledged so far: the term of every acknowledged index and
/// the last acknowledgement.
#[derive(Default)]
struct Acknowledged {
    terms: BTreeMap<u64, u64>,
    last: Option<Ack>,
}

impl Acknowledged {
    fn record(&mut self, ack: Ack) {
        for i in ack.first..=ack.last {
            self.terms.insert(i, ack.term);
        }
        self.last = Some(ack);
    }
}

fn check_recovered(dir: &Path, acked: &Acknowledged) {
    let store = RocksStore::open_existing(dir).expect("reopen after SIGKILL");
    let first = store.first_index().expect("first index").get();
    let last = store.last_index().expect("last index").get();
    let Some(ack) = acked.last else { return };
    assert!(last >= ack.last, "acknowledged up to {} but the log ends at {last}", ack.last);
    let log = store.entries(LogIndex(first), LogIndex(last + 1), None).expect("the whole log reads back");
    for (offset, entry) in log.iter().enumerate() {
        assert_eq!(entry.index.get(), first + offset as u64, "the log is contiguous");
        assert_eq!(*entry, crash_workload::entry(entry.term.get(), entry.index.get()), "entry contents");
    }
    for (&index, &term) in acked.terms.range(first..) {
        assert_eq!(log[(index - first) as usize].term.get(), term, "acknowledged entry {index} kept its term");
    }
    let snapshot = store.snapshot().expect("snapshot reads back");
    let snap_index = snapshot.meta.last_log_id.index.get();
    assert_eq!(snap_index + 1, first, "the log starts right after the snapshot");
    if snap_index > 0 {
        assert_eq!(snapshot.data, crash_workload::snapshot_data(snap_index), "snapshot data");
    }
    let hs = store.hard_state();
    assert!(hs.term.get() >= ack.term, "term {} below acknowledged term {}", hs.term, ack.term);
    assert!(hs.commit.get() >= ack.commit && hs.commit.get() <= last, "commit {} vs ack {ack:?}", hs.commit);
}

#[test]
fn acknowledged_entries_survive_sigkill() {
    let seed = seed();
    println!("crash durability seed {seed} (RAFT_STORAGE_CRASH_SEED={seed} reproduces the kill points)");
    let mut rng = SeededRng::new(seed);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut acked = Acknowledged::default();
    for round in 0..ROUNDS {
        let kill_after = rng.gen_range(1, MAX_ACKS_BEFORE_KILL + 1);
        let (mut child, rx) = spawn_writer(dir.path(), rng.next_u64());
        for _ in 0..kill_after {
            acked.record(parse_ack(&next_line(&rx, &mut child)));
        }
        child.kill().expect("SIGKILL the writer");
        child.wait().expect("reap the writer");
        // Lines printed before the kill were acknowledged too.
        for line in rx.iter() {
            acked.record(parse_ack(&line));
        }
        let ack = acked.last.expect("at least one acknowledgement");
        println!("round {round}: killed after {kill_after}+ acks, acknowledged up to {}", ack.last);
        check_recovered(dir.path(), &acked);
    }
}

#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (mut child, rx) = spawn_writer(dir.path(), 1);
    parse_ack(&next_line(&rx, &mut child));
    let result = RocksStore::open(dir.path());
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    match result {
        Err(StoreError::Locked { path, detail }) => {
            assert!(path.ends_with("db"), "the error names the database directory: {path:?}");
            assert!(!detail.is_empty());
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second process opened a store in use"),
    }
    RocksStore::open(dir.path()).expect("the store opens once the writer is gone");
}
