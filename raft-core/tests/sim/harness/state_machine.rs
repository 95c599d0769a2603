//! A tiny replicated state machine: it folds every applied entry into a
//! running digest (a hash chain over `(index, term, payload)`), so two nodes
//! that applied the same prefix hold the same digest at the same index, and
//! a snapshot is just `(applied index, term, digest, count, membership)`.
//! Volatile: a crash loses it and a restart rebuilds it from the stored
//! snapshot plus the log, as a real runtime with an in-memory store does.

use raft_core::{Entry, EntryPayload, LogIndex, Membership, NodeId, Term};

/// FNV-1a over bytes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of an entry's payload (kind included).
pub fn payload_hash(payload: &EntryPayload) -> u64 {
    match payload {
        EntryPayload::Noop => 0x4e4f_4f50,
        EntryPayload::Normal(data) => fnv1a(data) ^ 0x1,
        EntryPayload::Membership(m) => {
            // Separators keep {1}/{} and {}/{1} apart (joint, thesis §4.3).
            let sep = [0u64];
            let ids: Vec<u8> = (m.voters.iter().map(|n| &n.0))
                .chain(&sep)
                .chain(m.outgoing.iter().map(|n| &n.0))
                .chain(&sep)
                .chain(m.learners.iter().map(|n| &n.0))
                .flat_map(|n| n.to_le_bytes())
                .collect();
            fnv1a(&ids) ^ 0x2
        }
    }
}

/// The state machine of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimStateMachine {
    /// Index of the last applied entry.
    pub applied: LogIndex,
    /// Term of the last applied entry.
    pub applied_term: Term,
    /// Hash chain over everything applied so far.
    pub digest: u64,
    /// Number of `Normal` entries applied.
    pub normal_count: u64,
    /// The membership as of `applied`.
    pub membership: Membership,
}

impl SimStateMachine {
    /// The empty state of a fresh cluster with bootstrap `membership`.
    pub fn new(membership: Membership) -> Self {
        SimStateMachine { applied: LogIndex(0), applied_term: Term(0), digest: 0, normal_count: 0, membership }
    }

    /// Applies the next entry. The caller checked that it is `applied + 1`.
    pub fn apply(&mut self, entry: &Entry) {
        self.applied = entry.index;
        self.applied_term = entry.term;
        self.digest = mix(self.digest ^ mix(entry.index.0 ^ mix(entry.term.0 ^ payload_hash(&entry.payload))));
        match &entry.payload {
            EntryPayload::Normal(_) => self.normal_count += 1,
            EntryPayload::Membership(m) => self.membership = m.clone(),
            EntryPayload::Noop => {}
        }
    }

    /// Serializes the state (the snapshot payload): four words of state,
    /// the voter and outgoing-voter counts, then voters, outgoing voters
    /// and learners (a snapshot taken while joint must restore joint).
    pub fn to_bytes(&self) -> Vec<u8> {
        let m = &self.membership;
        let mut out = Vec::with_capacity(48 + 8 * (m.voters.len() + m.outgoing.len() + m.learners.len()));
        let (nv, no) = (m.voters.len() as u64, m.outgoing.len() as u64);
        for v in [self.applied.0, self.applied_term.0, self.digest, self.normal_count, nv, no] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for id in m.voters.iter().chain(m.outgoing.iter()).chain(m.learners.iter()) {
            out.extend_from_slice(&id.0.to_le_bytes());
        }
        out
    }

    /// Restores from a snapshot payload. Empty data is the bootstrap
    /// snapshot, which restores the empty state with `membership`.
    pub fn from_bytes(data: &[u8], membership: &Membership) -> Result<Self, String> {
        if data.is_empty() {
            return Ok(SimStateMachine::new(membership.clone()));
        }
        if data.len() < 48 || !(data.len() - 48).is_multiple_of(8) {
            return Err(format!("snapshot payload of {} bytes is malformed", data.len()));
        }
        let word = |i: usize| u64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let (voters, outgoing) = (word(4) as usize, word(5) as usize);
        let ids: Vec<NodeId> = (6..data.len() / 8).map(|i| NodeId(word(i))).collect();
        if voters.saturating_add(outgoing) > ids.len() {
            return Err(format!("snapshot payload lists {voters}+{outgoing} voters but only {} ids", ids.len()));
        }
        let membership = Membership {
            voters: ids[..voters].iter().copied().collect(),
            outgoing: ids[voters..voters + outgoing].iter().copied().collect(),
            learners: ids[voters + outgoing..].iter().copied().collect(),
            // The simulator never sets addresses; the core only replicates them.
            addrs: membership.addrs.clone(),
            incarnations: membership.incarnations.clone(),
        };
        Ok(SimStateMachine {
            applied: LogIndex(word(0)),
            applied_term: Term(word(1)),
            digest: word(2),
            normal_count: word(3),
            membership,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_bytes_round_trip() {
        let mut sm = SimStateMachine::new(Membership::new([NodeId(1), NodeId(2), NodeId(3)]));
        sm.apply(&Entry::new(Term(1), LogIndex(1), EntryPayload::Noop));
        sm.apply(&Entry::new(Term(1), LogIndex(2), EntryPayload::Normal(b"x".to_vec().into())));
        let back = SimStateMachine::from_bytes(&sm.to_bytes(), &Membership::default()).unwrap();
        assert_eq!(back, sm);
        // A joint configuration (thesis §4.3) survives the round trip.
        sm.membership.outgoing = [NodeId(1), NodeId(4)].into_iter().collect();
        sm.membership.learners = [NodeId(5)].into_iter().collect();
        let back = SimStateMachine::from_bytes(&sm.to_bytes(), &Membership::default()).unwrap();
        assert_eq!(back, sm);
    }

    #[test]
    fn different_entries_give_different_digests() {
        let m = Membership::new([NodeId(1)]);
        let mut a = SimStateMachine::new(m.clone());
        let mut b = SimStateMachine::new(m);
        a.apply(&Entry::new(Term(1), LogIndex(1), EntryPayload::Normal(b"x".to_vec().into())));
        b.apply(&Entry::new(Term(1), LogIndex(1), EntryPayload::Normal(b"y".to_vec().into())));
        assert_ne!(a.digest, b.digest);
    }
}
