//! [`RaftStore`]: the write side that goes with the core's read-only
//! [`raft_core::Storage`].

use raft_core::{LogIndex, Membership, NodeId, Snapshot, Storage};

use crate::batch::WriteBatch;
use crate::error::StoreError;
use crate::identity::Identity;
use crate::incarnation::PeerIncarnations;

/// Durable storage a runtime writes a node's state to. All methods take
/// `&self` (implementations lock internally) so one handle can be shared by
/// the task driving the node and the tasks reading the log for replication.
///
/// Every successful write is visible to the [`Storage`] reads as soon as it
/// returns; a synced write is also on disk. A failed write leaves the store
/// as it was, except that a backend failure (`Io`, `Backend`) may leave the
/// outcome unknown: the caller must stop and acknowledge nothing.
pub trait RaftStore: Storage + Send + Sync + 'static {
    /// Applies `batch` atomically: truncation, appended entries and hard
    /// state all land together, with one fsync when `batch.sync`.
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Installs a snapshot received from the leader (Figure 13, §7): if the
    /// log holds an entry with the snapshot's last index and term, the
    /// entries after it are kept (rule 6); otherwise the whole log is
    /// discarded (rule 7). The commit index is raised to the snapshot index.
    /// Fails with `StaleSnapshot` unless it is newer than the stored one.
    fn install_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// Records a snapshot the application took locally at `index` (a
    /// committed entry still in the log) and discards the log up to and
    /// including `index` (§7 log compaction).
    fn create_snapshot(&self, index: LogIndex, membership: Membership, data: Vec<u8>) -> Result<(), StoreError>;

    /// Gives a brand-new store its initial configuration: an "empty"
    /// snapshot at index 0 whose membership is `membership`. Fails with
    /// `NotEmpty` unless [`RaftStore::is_empty`].
    fn bootstrap(&self, membership: Membership) -> Result<(), StoreError>;

    /// True while the store holds no log, no hard state and no membership:
    /// the node has never been bootstrapped nor received a snapshot.
    fn is_empty(&self) -> bool;

    /// The recorded owner of this store, if any.
    fn identity(&self) -> Option<Identity>;

    /// Records `identity` if none is recorded yet (durably), succeeds if the
    /// same one is recorded, and fails with `IdentityMismatch` otherwise.
    fn ensure_identity(&self, identity: &Identity) -> Result<(), StoreError>;

    /// This data directory's incarnation: random, non-zero, created with
    /// the directory and durable before the store was handed out. A wiped
    /// and recreated directory gets a new one (see `crate::incarnation`).
    fn incarnation(&self) -> u64;

    /// The incarnations remembered for peers (first seen, see
    /// [`RaftStore::set_peer_incarnation`]).
    fn peer_incarnations(&self) -> PeerIncarnations;

    /// Durably remembers `incarnation` for `peer`, or forgets the peer's
    /// (`None`, when it left the configuration).
    fn set_peer_incarnation(&self, peer: NodeId, incarnation: Option<u64>) -> Result<(), StoreError>;
}
