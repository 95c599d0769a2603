//! Robustness of message intake: whatever a peer sends, over the whole
//! `u64` range of every index and term, the node neither panics nor
//! corrupts its log (Figure 2's receiver rules assume sane input; a real
//! network does not guarantee it). Bad input is dropped with a tracing
//! event.

use crate::message::{
    AppendEntries, AppendEntriesResponse, AppendResult, ConflictHint, InstallSnapshot, InstallSnapshotResponse,
    Message, MessageBody, RequestVote, RequestVoteResponse,
};
use crate::rng::SeededRng;
use crate::test_util::*;
use crate::types::{Entry, EntryPayload, LogId, LogIndex, NodeId, Snapshot, SnapshotMeta, Term};

/// The values that break naive arithmetic.
const EDGES: [u64; 4] = [0, 1, u64::MAX - 1, u64::MAX];

/// Where the recipient is: wild values cluster around it half the time so
/// that messages also get past the first checks.
#[derive(Clone, Copy)]
struct Near {
    term: u64,
    index: u64,
}

/// An edge value, any `u64`, or a value within 2 of `base`.
fn wild_around(rng: &mut SeededRng, base: u64) -> u64 {
    match rng.gen_range(0, 4) {
        0 => EDGES[rng.gen_range(0, 4) as usize],
        1 => rng.next_u64(),
        _ => base.saturating_add(rng.gen_range(0, 4)).saturating_sub(2),
    }
}

fn wild(rng: &mut SeededRng) -> u64 {
    wild_around(rng, 2)
}

fn wild_append(rng: &mut SeededRng, near: Near) -> AppendEntries {
    let prev = LogId::new(Term(wild_around(rng, near.term)), LogIndex(wild_around(rng, near.index)));
    let n = rng.gen_range(0, 3);
    let consecutive = rng.gen_bool(0.8);
    let entries = (0..n)
        .map(|k| {
            let index = if consecutive {
                LogIndex(prev.index.0.wrapping_add(1 + k))
            } else {
                LogIndex(wild_around(rng, near.index))
            };
            Entry::new(Term(wild_around(rng, near.term)), index, EntryPayload::Noop)
        })
        .collect();
    AppendEntries {
        prev_log_id: prev,
        entries,
        leader_commit: LogIndex(wild_around(rng, near.index)),
        read_round: wild(rng),
    }
}

fn wild_append_response(rng: &mut SeededRng, near: Near) -> AppendEntriesResponse {
    let result = if rng.gen_bool(0.5) {
        AppendResult::Success { match_index: LogIndex(wild_around(rng, near.index)) }
    } else {
        let conflict_term = rng.gen_bool(0.5).then(|| Term(wild_around(rng, near.term)));
        AppendResult::Conflict(ConflictHint {
            rejected_index: LogIndex(wild_around(rng, near.index)),
            conflict_term,
            first_index: LogIndex(wild_around(rng, near.index)),
        })
    };
    AppendEntriesResponse { result, read_round: wild(rng) }
}

fn wild_snapshot(rng: &mut SeededRng, near: Near) -> InstallSnapshot {
    let voters: &[u64] = if rng.gen_bool(0.9) { &[1, 2, 3] } else { &[] };
    let meta = SnapshotMeta {
        last_log_id: LogId::new(Term(wild_around(rng, near.term)), LogIndex(wild_around(rng, near.index))),
        membership: membership(voters),
    };
    InstallSnapshot { snapshot: Snapshot { meta, data: Vec::new() } }
}

/// One message of any kind with wild numbers.
fn wild_message(rng: &mut SeededRng, near: Near) -> Message {
    let body = match rng.gen_range(0, 7) {
        0 => MessageBody::AppendEntries(wild_append(rng, near)),
        1 => MessageBody::AppendEntriesResponse(wild_append_response(rng, near)),
        2 => MessageBody::InstallSnapshot(wild_snapshot(rng, near)),
        3 => MessageBody::InstallSnapshotResponse(InstallSnapshotResponse {
            last_index: LogIndex(wild_around(rng, near.index)),
        }),
        4 => MessageBody::RequestVote(RequestVote {
            pre_vote: rng.gen_bool(0.5),
            last_log_id: LogId::new(Term(wild_around(rng, near.term)), LogIndex(wild_around(rng, near.index))),
            leader_transfer: rng.gen_bool(0.2),
        }),
        5 => MessageBody::RequestVoteResponse(RequestVoteResponse {
            pre_vote: rng.gen_bool(0.5),
            granted: rng.gen_bool(0.5),
            retry_next_term: rng.gen_bool(0.3),
        }),
        _ => MessageBody::TimeoutNow,
    };
    let term = Term(wild_around(rng, near.term.saturating_add(1)));
    Message { from: NodeId(rng.gen_range(0, 5)), to: NodeId(0), term, body }
}

fn near(n: &Node) -> Near {
    let st = n.status();
    Near { term: st.term.0, index: st.last_index.0 }
}

/// The log pointers stay ordered. Checked explicitly because a release
/// build wraps on overflow silently and skips `debug_assert!`.
fn assert_sane(n: &Node, seed: u64) {
    let st = n.status();
    let ordered = st.applied <= st.commit && st.commit <= st.last_index && st.first_index <= st.last_index.next();
    assert!(ordered, "seed {seed}: log pointers out of order on {}: {st:?}", n.id());
}

/// Feeds `steps` wild messages (and ticks) to a live 3-node cluster.
/// Returns how many of them changed the recipient's term, commit or log.
fn fuzz_one(seed: u64, steps: usize) -> usize {
    println!("garbage fuzz seed {seed}");
    let mut rng = SeededRng::new(seed);
    let mut c = Cluster::new(&[1, 2, 3]);
    c.elect(1);
    let mut effective = 0;
    for _ in 0..steps {
        let to = NodeId(rng.gen_range(1, 4));
        if let Some(n) = c.nodes.get_mut(&to) {
            let mut m = wild_message(&mut rng, near(n));
            m.to = if rng.gen_bool(0.95) { to } else { NodeId(9) };
            let before = n.status();
            n.step(m).unwrap_or_else(|e| panic!("seed {seed}: step failed: {e}"));
            let after = n.status();
            if (before.term, before.commit, before.last_index) != (after.term, after.commit, after.last_index) {
                effective += 1;
            }
            if rng.gen_bool(0.1) {
                n.tick();
            }
        }
        c.process_readies();
        c.queue.clear();
        for n in c.nodes.values() {
            assert_sane(n, seed);
        }
    }
    effective
}

#[test]
fn garbage_of_every_kind_over_the_whole_u64_range_never_panics() {
    let effective: usize = (0..64u64).map(|seed| fuzz_one(seed, 2000)).sum();
    // The fuzz must reach past the intake checks, not just be dropped there.
    println!("{effective} of {} messages changed term, commit or log", 64 * 2000);
    assert!(effective > 64 * 20, "only {effective} messages had any effect");
}

#[test]
fn garbage_on_a_fresh_node_never_panics() {
    for seed in 1000..1064u64 {
        println!("garbage fuzz seed {seed}");
        let mut rng = SeededRng::new(seed);
        let mut n = node(2, &[1, 2, 3]);
        for _ in 0..500 {
            let mut m = wild_message(&mut rng, near(&n));
            m.to = NodeId(2);
            n.step(m).unwrap_or_else(|e| panic!("seed {seed}: step failed: {e}"));
            handle_ready(&mut n);
            assert_sane(&n, seed);
        }
    }
}
