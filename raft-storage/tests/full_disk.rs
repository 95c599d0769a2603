//! A full disk, for real: a RocksStore on a small tmpfs (root only) is filled
//! until a synced append fails. The failure must be an error (never a panic),
//! and everything acknowledged before it must still be there, contiguous and
//! intact, after the store is reopened. Without root the test prints why it
//! is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use raft_core::{Entry, EntryPayload, LogIndex, Storage, Term};
use raft_storage::{RaftStore, RocksStore, WriteBatch};

/// Size of the filesystem the store fills.
const TMPFS_SIZE: &str = "24m";
/// Bytes per entry and entries per synced batch (64 KiB per write).
const ENTRY_BYTES: usize = 4096;
const BATCH: u64 = 16;

/// A tmpfs mounted for the test and unmounted when dropped, pass or fail.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Result<Self, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("needs root to mount a small tmpfs".into());
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "raft-full-disk"])
            .arg(dir.path())
            .status()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !status.success() {
            return Err(format!("mount -t tmpfs failed ({status}); is this a container without mount rights?"));
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn batch(first: u64) -> Vec<Entry> {
    (first..first + BATCH)
        .map(|i| Entry::new(Term(1), LogIndex(i), EntryPayload::Normal(vec![(i % 251) as u8; ENTRY_BYTES].into())))
        .collect()
}

/// Appends batches until one fails; returns the last acknowledged index and the error.
fn fill(path: &Path) -> (u64, String) {
    let store = RocksStore::open(path).expect("open on the small disk");
    let mut acked = 0;
    loop {
        match store.write(WriteBatch::append(batch(acked + 1))) {
            Ok(()) => acked += BATCH,
            Err(e) => return (acked, e.to_string()),
        }
        assert!(acked < 1_000_000, "a {TMPFS_SIZE} disk never filled up");
    }
}

#[test]
fn a_full_disk_fails_the_append_and_keeps_every_acknowledged_entry() {
    let disk = match SmallDisk::mount() {
        Ok(d) => d,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let (acked, error) = fill(&disk.path());
    eprintln!("disk full after {acked} acknowledged entries: {error}");
    assert!(acked > 0, "the disk filled before the first append: {error}");
    assert!(error.to_lowercase().contains("space"), "the error should say the disk is full: {error}");

    // Free room for RocksDB's own files on reopen, as an operator would.
    let _ = Command::new("mount").args(["-o", "remount,size=64m"]).arg(disk.dir.path()).status();
    let store = RocksStore::open(&disk.path()).expect("reopen after the disk filled");
    let last = store.last_index().unwrap().0;
    assert!(last >= acked, "acknowledged up to {acked}, but the log ends at {last}");
    let got = store.entries(LogIndex(1), LogIndex(acked + 1), None).expect("acknowledged entries readable");
    assert_eq!(got.len() as u64, acked);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.index, LogIndex(i as u64 + 1), "the log is a contiguous prefix");
        assert_eq!(e.payload, EntryPayload::Normal(vec![((i as u64 + 1) % 251) as u8; ENTRY_BYTES].into()));
    }
}
