//! [`Identity`]: which cluster and node a data directory belongs to.

use std::fmt;

use raft_core::NodeId;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The longest cluster id accepted, in bytes.
pub const MAX_CLUSTER_ID_LEN: usize = 256;

/// The owner of a data directory, written once and checked at every start so
/// that a node never runs on another cluster's (or another node's) log: doing
/// so would let it vote and acknowledge with a history it never had.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// Names the cluster; chosen by the operator at bootstrap.
    pub cluster_id: String,
    /// This node's id within the cluster.
    pub node_id: NodeId,
}

impl Identity {
    /// Builds an identity.
    pub fn new(cluster_id: impl Into<String>, node_id: NodeId) -> Self {
        Identity { cluster_id: cluster_id.into(), node_id }
    }

    /// Checks the explicit limits ([`MAX_CLUSTER_ID_LEN`]).
    pub fn validate(&self) -> Result<(), StoreError> {
        let len = self.cluster_id.len();
        if len > MAX_CLUSTER_ID_LEN {
            return Err(StoreError::ClusterIdTooLong { len, max: MAX_CLUSTER_ID_LEN });
        }
        Ok(())
    }

    /// Decides what `ensure_identity` does given what is stored: `Ok(true)`
    /// means "record `self`", `Ok(false)` means "already recorded".
    pub(crate) fn check_against(&self, stored: Option<&Identity>) -> Result<bool, StoreError> {
        self.validate()?;
        match stored {
            None => Ok(true),
            Some(s) if s == self => Ok(false),
            Some(s) => Err(StoreError::IdentityMismatch { stored: s.clone(), expected: self.clone() }),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster {:?} node {}", self.cluster_id, self.node_id)
    }
}
