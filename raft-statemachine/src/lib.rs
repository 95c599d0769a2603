//! # raft-statemachine: what committed entries are applied to
//!
//! Raft only agrees on a *log*; the service is whatever deterministic state
//! machine that log drives (§1, §5.3). This crate defines that seam, the
//! [`StateMachine`] trait, so any service can sit behind a Raft node, and
//! ships the project's replicated KV store, [`KvStore`].
//!
//! ## The contract
//!
//! * **Deterministic apply.** [`StateMachine::apply`] receives every committed
//!   entry exactly once, in log order, on every replica. Its result must
//!   depend only on the state and the entry: no wall clock, no randomness, no
//!   per-node configuration. This is what makes State Machine Safety (§5.4.3)
//!   mean "identical state" rather than merely "identical log". The
//!   [`KvStore`] therefore expires client sessions by log index, not by time.
//! * **No gaps, no repeats.** `apply` accepts only index `applied_index() + 1`
//!   and returns [`StateMachineError::OutOfOrder`] otherwise, without changing
//!   anything. [`AppliedState`] implements that check for any state machine.
//! * **Errors stop the node.** An `Err` from `apply` means the state machine
//!   cannot continue; the runtime stops the node. It never skips the entry,
//!   because a replica that skipped one would silently diverge. Outcomes that
//!   every replica computes identically (a malformed or oversize command, a
//!   compare-and-swap that fails) are ordinary responses, `Ok(Some(_))`.
//! * **Noop and Membership entries** advance the applied index and return
//!   `Ok(None)`; the state machine remembers the latest membership so that
//!   [`StateMachine::snapshot`] can describe its snapshot (§7).
//! * **Reads** go through [`StateMachine::query`] once the runtime's
//!   ReadIndex round (thesis §6.4) confirms the applied state is current.
//! * **Snapshots stream.** `snapshot` writes into a `&mut dyn Write` and
//!   `restore` reads from a `&mut dyn Read`, so neither needs the whole state
//!   in one buffer. Restore replaces the entire state, is idempotent
//!   (restoring the same snapshot twice yields the same state) and leaves the
//!   state unchanged when it fails.
//!
//! ## Where the KV state lives
//!
//! In memory. Durability comes from Raft: on restart the runtime restores the
//! newest snapshot from storage (which sets `applied_index` to the snapshot's
//! index) and then replays the committed entries after it. Because apply
//! accepts only `applied_index() + 1`, a restart can neither apply an entry
//! twice nor skip one. A fresh node restores the bootstrap snapshot (index 0,
//! empty data), which yields an empty store.
//!
//! ## Malformed commands
//!
//! Entry data that does not decode as a [`KvRequest`] is answered with
//! [`KvResponse::Rejected`]`(`[`KvError::Malformed`]`)` and changes nothing.
//! Decoding is deterministic, so every replica rejects the same entry the same
//! way; panicking would crash every replica on the same entry, forever. The
//! same holds for commands over [`KvLimits`], which the server should have
//! refused with [`KvLimits::validate`] before proposing.
//!
//! ## Exactly-once writes
//!
//! Every write carries `(client_id, seq)`; the store remembers each client's
//! recent responses and answers a retry of an applied command with the
//! original response instead of applying it again (thesis §6.3). A retry
//! whose session the store has forgotten is refused, never applied again, so
//! exactly-once holds however many clients there are and however fast the
//! log grows. The exact rule and the bounds are documented on
//! [`SessionConfig`] and in [`KvError::StaleSequence`] /
//! [`KvError::SessionExpired`].
//!
//! ## Example
//!
//! ```
//! use raft_core::{Entry, EntryPayload, LogIndex, Term};
//! use raft_statemachine::{KvOp, KvQuery, KvQueryResult, KvRequest, KvResponse, KvStore, StateMachine};
//!
//! let mut store = KvStore::default();
//! let put = KvRequest::new(7, 1, KvOp::Put { key: b"k".to_vec(), value: b"v".to_vec() });
//! store.limits().validate(&put).unwrap(); // the server checks before proposing
//! let entry = Entry::new(Term(1), LogIndex(1), EntryPayload::Normal(put.encode().unwrap().into()));
//! assert_eq!(store.apply(&entry).unwrap(), Some(KvResponse::Put { prev: None }));
//! let read = store.query(&KvQuery::Get { key: b"k".to_vec() }).unwrap();
//! assert_eq!(read, KvQueryResult::Get { value: Some(b"v".to_vec()) });
//!
//! // Snapshot and restore elsewhere: identical state, including sessions.
//! let (meta, bytes) = store.snapshot_to_vec().unwrap();
//! let mut replica = KvStore::default();
//! replica.restore(&meta, &mut &bytes[..]).unwrap();
//! assert_eq!(replica, store);
//! ```
#![deny(missing_docs)]

mod applied;
mod error;
pub mod kv;
mod state_machine;

pub use applied::AppliedState;
pub use error::{SnapshotError, StateMachineError};
pub use kv::{
    KvCodecError, KvConfig, KvError, KvLimits, KvOp, KvQuery, KvQueryResult, KvRequest, KvResponse, KvStore, ScanRange,
    SessionConfig,
};
pub use state_machine::{SnapshotValidator, StateMachine};
