//! Pure majority arithmetic: which index a quorum has stored (§5.3, §5.4),
//! and whether an election is won, lost or still open (§5.2).
//!
//! Kept free of node state so it can be property-tested on its own, and so
//! joint consensus (thesis §4.3) can be added later by combining two voter
//! sets (the joint value is the minimum of the two majorities' values).

use std::collections::{BTreeMap, BTreeSet};

use crate::types::NodeId;

/// Outcome of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// A majority of voters granted.
    Won,
    /// A majority of voters can no longer be reached: enough rejected.
    Lost,
    /// Not decided yet.
    Pending,
}

/// The largest value that a majority of `voters` has reached, where
/// `value(id)` is what voter `id` has reached (for example its match index).
/// With no voters nothing can be agreed, so the result is 0.
pub fn quorum_value(voters: &BTreeSet<NodeId>, value: impl Fn(NodeId) -> u64) -> u64 {
    if voters.is_empty() {
        return 0;
    }
    let mut values: Vec<u64> = voters.iter().map(|&id| value(id)).collect();
    values.sort_unstable_by(|a, b| b.cmp(a));
    // The majority-th largest value: at least `quorum` voters are >= it.
    let quorum = voters.len() / 2 + 1;
    values[quorum - 1]
}

/// Tallies `votes` (voter -> granted) among `voters`; votes from non-voters
/// are not counted.
pub fn vote_result(voters: &BTreeSet<NodeId>, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    if voters.is_empty() {
        return VoteResult::Pending;
    }
    let quorum = voters.len() / 2 + 1;
    let granted = voters.iter().filter(|id| votes.get(id) == Some(&true)).count();
    let rejected = voters.iter().filter(|id| votes.get(id) == Some(&false)).count();
    if granted >= quorum {
        VoteResult::Won
    } else if voters.len() - rejected < quorum {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

/// True if the members for which `active(id)` holds form a majority of
/// `voters` (CheckQuorum, thesis §6.2).
pub fn has_quorum(voters: &BTreeSet<NodeId>, active: impl Fn(NodeId) -> bool) -> bool {
    !voters.is_empty() && voters.iter().filter(|&&id| active(id)).count() > voters.len() / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(ids: &[u64]) -> BTreeSet<NodeId> {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn majority_of_three_is_the_median() {
        // §5.3: an entry is committed once stored on a majority.
        let voters = set(&[1, 2, 3]);
        let m = [0u64, 5, 7, 2];
        assert_eq!(quorum_value(&voters, |id| m[id.0 as usize]), 5);
    }

    #[test]
    fn empty_voter_set_agrees_on_nothing() {
        assert_eq!(quorum_value(&BTreeSet::new(), |_| 9), 0);
        assert_eq!(vote_result(&BTreeSet::new(), &BTreeMap::new()), VoteResult::Pending);
    }

    #[test]
    fn votes_from_non_voters_are_ignored() {
        let voters = set(&[1, 2, 3]);
        let votes: BTreeMap<_, _> = [(NodeId(1), true), (NodeId(9), true)].into_iter().collect();
        assert_eq!(vote_result(&voters, &votes), VoteResult::Pending);
    }

    #[test]
    fn two_rejections_of_three_lose() {
        let voters = set(&[1, 2, 3]);
        let votes: BTreeMap<_, _> = [(NodeId(1), true), (NodeId(2), false), (NodeId(3), false)].into_iter().collect();
        assert_eq!(vote_result(&voters, &votes), VoteResult::Lost);
    }

    proptest! {
        /// The quorum value is reached by a majority and exceeded by no majority.
        #[test]
        fn quorum_value_is_the_highest_majority_value(values in proptest::collection::vec(0u64..100, 1..9)) {
            let voters: BTreeSet<NodeId> = (1..=values.len() as u64).map(NodeId).collect();
            let v = quorum_value(&voters, |id| values[(id.0 - 1) as usize]);
            let at_least = values.iter().filter(|&&x| x >= v).count();
            let above = values.iter().filter(|&&x| x > v).count();
            prop_assert!(at_least > values.len() / 2, "a majority must have reached {}", v);
            prop_assert!(above <= values.len() / 2, "no majority may be above {}", v);
        }

        /// Won and Lost are exclusive and final: a decided tally never flips when more votes arrive.
        #[test]
        fn vote_result_is_monotonic(votes in proptest::collection::vec(proptest::option::of(any::<bool>()), 1..9)) {
            let voters: BTreeSet<NodeId> = (1..=votes.len() as u64).map(NodeId).collect();
            let mut tally = BTreeMap::new();
            let mut decided: Option<VoteResult> = None;
            for (i, v) in votes.iter().enumerate() {
                if let Some(g) = v {
                    tally.insert(NodeId(i as u64 + 1), *g);
                }
                let r = vote_result(&voters, &tally);
                if let Some(d) = decided {
                    prop_assert_eq!(r, d);
                } else if r != VoteResult::Pending {
                    decided = Some(r);
                }
            }
            let granted = tally.values().filter(|g| **g).count();
            prop_assert_eq!(vote_result(&voters, &tally) == VoteResult::Won, granted > votes.len() / 2);
        }

        /// has_quorum agrees with counting.
        #[test]
        fn has_quorum_matches_count(active in proptest::collection::vec(any::<bool>(), 1..9)) {
            let voters: BTreeSet<NodeId> = (1..=active.len() as u64).map(NodeId).collect();
            let n = active.iter().filter(|a| **a).count();
            prop_assert_eq!(has_quorum(&voters, |id| active[(id.0 - 1) as usize]), n > active.len() / 2);
        }
    }
}
