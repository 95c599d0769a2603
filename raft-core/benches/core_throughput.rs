//! Throughput of the IO-free core: a 3-node cluster in memory, messages
//! passed by hand, `MemStorage` writes, no network and no disk. Measures
//! entries committed (and applied on every node) per second, proposing one
//! entry at a time and in batches of 64.
//!
//! Why: it isolates the protocol's own CPU cost (log bookkeeping, progress
//! tracking, Ready assembly) from IO, so regressions in the core show up
//! here and not as noise in end-to-end numbers.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raft_core::{Config, MemStorage, Membership, Message, NodeId, RaftNode, Role, Storage};

/// Payload size of each proposed entry.
const ENTRY_BYTES: usize = 64;

/// Three nodes wired together by a FIFO queue.
struct MemCluster {
    nodes: Vec<RaftNode<MemStorage>>,
    stores: Vec<MemStorage>,
    queue: VecDeque<Message>,
    applied: Vec<u64>,
}

impl MemCluster {
    fn new() -> Self {
        let ids = [NodeId(1), NodeId(2), NodeId(3)];
        let membership = Membership::new(ids);
        let mut nodes = Vec::new();
        let mut stores = Vec::new();
        for id in ids {
            let store = MemStorage::new_with_membership(membership.clone());
            let mut cfg = Config::new(id);
            cfg.snapshot_threshold = 4096; // keeps memory bounded over millions of entries
            nodes.push(RaftNode::new(cfg, store.clone()).expect("valid config"));
            stores.push(store);
        }
        let mut c = MemCluster { nodes, stores, queue: VecDeque::new(), applied: vec![0; 3] };
        c.nodes[0].campaign().expect("campaign");
        c.stabilize();
        assert_eq!(c.nodes[0].role(), Role::Leader, "node 1 must win the bootstrap election");
        c
    }

    /// The runtime loop of `ready.rs`, for one node.
    fn handle_ready(&mut self, i: usize) {
        let ready = self.nodes[i].ready().expect("ready");
        self.queue.extend(ready.messages.iter().cloned());
        {
            let mut core = self.stores[i].wl();
            if let Some(s) = &ready.snapshot {
                core.apply_snapshot(s.clone());
            }
            core.append(&ready.entries);
            if let Some(hs) = ready.hard_state {
                core.set_hard_state(hs);
            }
        }
        self.queue.extend(ready.persisted_messages.iter().cloned());
        if let Some(last) = ready.committed_entries.last() {
            self.applied[i] = last.index.0;
        }
        if ready.snapshot_hint.is_some() {
            let index = raft_core::LogIndex(self.applied[i]);
            let first = self.stores[i].first_index().expect("mem");
            if index >= first {
                let m = self.stores[i].snapshot().expect("mem").meta.membership;
                self.stores[i].wl().create_snapshot(index, m, index.0.to_le_bytes().to_vec()).expect("snapshot");
            }
        }
        self.nodes[i].advance(ready).expect("advance");
    }

    /// Delivers everything until no node has work left.
    fn stabilize(&mut self) {
        loop {
            let mut progressed = false;
            for i in 0..3 {
                if self.nodes[i].has_ready() {
                    self.handle_ready(i);
                    progressed = true;
                }
            }
            if let Some(msg) = self.queue.pop_front() {
                let to = (msg.to.0 - 1) as usize;
                self.nodes[to].step(msg).expect("step");
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    /// Proposes `batch` entries at the leader and runs until all three
    /// nodes applied them.
    fn commit_batch(&mut self, batch: usize) {
        let target = self.applied[0];
        let mut last = 0;
        for _ in 0..batch {
            last = self.nodes[0].propose(vec![7u8; ENTRY_BYTES]).expect("leader accepts").index.0;
        }
        self.stabilize();
        // Followers learn the final commit index from the next heartbeat.
        while self.applied.iter().any(|&a| a < last) {
            self.nodes[0].tick();
            self.stabilize();
        }
        debug_assert!(self.applied[0] >= target + batch as u64);
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_throughput");
    for batch in [1usize, 64] {
        group.throughput(Throughput::Elements(batch as u64));
        let name = if batch == 1 { "one_at_a_time".to_string() } else { format!("batch_{batch}") };
        let mut cluster = MemCluster::new();
        group.bench_function(name, |b| b.iter(|| cluster.commit_batch(black_box(batch))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
