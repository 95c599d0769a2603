//! Issue #17, point 4: a snapshot from the leader is read into the state
//! machine on a blocking thread (`NodeStateMachine::restore_job`), not on the
//! node task. On a single-threaded runtime that is the difference between a
//! cluster that keeps running during a long restore and one that stops dead:
//! here the restore cannot finish until the test task (on the same, only
//! runtime thread) has run and opened a gate. Restored on the node task, the
//! gate never opens, the restore gives up after `GATE_TIMEOUT` and the
//! follower never catches up.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use raft_core::{Entry, LogIndex, SnapshotMeta};
use tokio::sync::Notify;

use crate::event::EventKind;
use crate::fsm::{NodeStateMachine, RestoreJob, SnapshotCheck, SnapshotJob};
use crate::local_cluster::{ClusterOptions, LocalCluster};
use crate::runtime::ReadMode;
use crate::test_support::TestKv;

const DEADLINE: Duration = Duration::from_secs(20);
const GATE_TIMEOUT: Duration = Duration::from_secs(15);

/// Every restore of a leader's snapshot waits here until the test opens it.
#[derive(Default)]
struct Gate {
    started: Notify,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// Blocks the calling (restore) thread until opened, or fails.
    fn pass(&self) -> Result<(), String> {
        self.started.notify_one();
        let open = self.open.lock().map_err(|e| e.to_string())?;
        let (open, _) = self.opened.wait_timeout_while(open, GATE_TIMEOUT, |open| !*open).map_err(|e| e.to_string())?;
        if *open {
            Ok(())
        } else {
            Err(format!("the gate stayed shut for {GATE_TIMEOUT:?}: the restore held the only runtime thread"))
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// [`TestKv`] whose snapshot restores pass the gate first.
struct GatedKv {
    inner: TestKv,
    gate: Arc<Gate>,
}

impl NodeStateMachine for GatedKv {
    type Response = u64;
    type Query = String;
    type QueryResult = Option<String>;

    fn apply(&mut self, entry: &Entry) -> Result<Option<u64>, String> {
        self.inner.apply(entry)
    }

    fn applied_index(&self) -> LogIndex {
        self.inner.applied_index()
    }

    fn query(&self, key: &String) -> Option<String> {
        self.inner.query(key)
    }

    fn snapshot_job(&self) -> Result<SnapshotJob, String> {
        self.inner.snapshot_job()
    }

    fn restore(&mut self, meta: &SnapshotMeta, data: &mut dyn std::io::Read) -> Result<(), String> {
        self.gate.pass()?;
        self.inner.restore(meta, data)
    }

    fn restore_job(&self) -> RestoreJob<Self> {
        let (inner, gate) = (self.inner.restore_job(), Arc::clone(&self.gate));
        Box::new(move |meta: &SnapshotMeta, data: &mut dyn std::io::Read| {
            gate.pass()?;
            Ok(GatedKv { inner: inner(meta, data)?, gate })
        })
    }

    fn snapshot_check(&self) -> SnapshotCheck {
        self.inner.snapshot_check()
    }
}

/// The default `#[tokio::test]` runtime has exactly one thread.
#[tokio::test]
async fn a_snapshot_restore_does_not_hold_the_runtime_thread() {
    let gate = Arc::new(Gate::default());
    let make_gate = Arc::clone(&gate);
    let opts = ClusterOptions { nodes: 3, snapshot_threshold: 10, ..ClusterOptions::default() };
    let mut c = LocalCluster::start(
        opts,
        Arc::new(move |_| GatedKv { inner: TestKv::default(), gate: Arc::clone(&make_gate) }),
    )
    .await
    .expect("cluster starts");
    let leader = c.wait_for_leader(DEADLINE).await.unwrap();
    let follower = c.ids().into_iter().find(|id| *id != leader).unwrap();
    c.kill(follower).await.unwrap();
    let mut last = 0;
    for i in 0..40 {
        last = c.propose(format!("k{i}={i}").into_bytes(), DEADLINE).await.expect("write").1;
    }
    let leader_client = c.client(leader).unwrap();
    leader_client.wait_for("log compacted", DEADLINE, |s| s.snapshot_index.0 > 2).await.unwrap();
    c.restart(follower).await.unwrap();
    let mut events = c.subscribe(follower).unwrap();
    // The follower's restore is now waiting on the gate; this task runs
    // only if the restore left the runtime thread free.
    tokio::time::timeout(DEADLINE, gate.started.notified()).await.expect("the follower began a restore");
    gate.open();
    c.wait_for_applied_on(&[follower], LogIndex(last), DEADLINE).await.unwrap();
    let installed =
        std::iter::from_fn(|| events.try_recv().ok()).any(|e| matches!(e.kind, EventKind::SnapshotInstalled { .. }));
    assert!(installed, "the follower caught up through InstallSnapshot");
    let value = c.client(follower).unwrap().read("k39".to_string(), ReadMode::Stale).await.unwrap();
    assert_eq!(value.as_deref(), Some("39"));
    c.shutdown().await.unwrap();
}
