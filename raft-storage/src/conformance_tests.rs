//! Runs the conformance suite against both stores.

use crate::conformance::Harness;
use crate::{MemStore, RocksStore};

/// Fresh [`MemStore`]s; nothing survives a reopen.
struct MemHarness;

impl Harness for MemHarness {
    type Store = MemStore;

    fn fresh(&mut self) -> MemStore {
        MemStore::new()
    }

    fn reopen(&mut self, _store: MemStore) -> Option<MemStore> {
        None
    }
}

/// [`RocksStore`]s in subdirectories of one temporary directory.
struct RocksHarness {
    root: tempfile::TempDir,
    count: usize,
}

impl RocksHarness {
    fn new() -> Self {
        RocksHarness { root: tempfile::tempdir().expect("create a temporary directory"), count: 0 }
    }
}

impl Harness for RocksHarness {
    type Store = RocksStore;

    fn fresh(&mut self) -> RocksStore {
        self.count += 1;
        RocksStore::open(self.root.path().join(format!("store-{}", self.count))).expect("open a new store")
    }

    fn reopen(&mut self, store: RocksStore) -> Option<RocksStore> {
        let dir = store.dir().to_path_buf();
        drop(store);
        Some(RocksStore::open_existing(&dir).expect("reopen the store"))
    }
}

mod mem {
    crate::conformance_tests!(super::MemHarness);
}

mod rocks {
    crate::conformance_tests!(super::RocksHarness::new());
}
