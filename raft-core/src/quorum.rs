//! Pure majority arithmetic: which index a quorum has stored (§5.3, §5.4),
//! and whether an election is won, lost or still open (§5.2).
//!
//! Kept free of node state so it can be property-tested on its own. Joint
//! consensus (thesis §4.3) combines the two voter sets of a
//! [`Membership`]: while joint, every decision needs a majority of the
//! incoming voters *and* a majority of the outgoing ones, so the joint
//! value is the minimum of the two majorities' values. The `joint_*`
//! functions are the ones the node uses; outside a change they reduce to
//! the plain majority of `voters`.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::{Membership, NodeId};

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

/// [`quorum_value`] under `m`: while joint, the smaller of the two
/// majorities' values (an index is only committed once both store it).
pub fn joint_quorum_value(m: &Membership, value: impl Fn(NodeId) -> u64) -> u64 {
    let incoming = quorum_value(&m.voters, &value);
    if m.is_joint() {
        incoming.min(quorum_value(&m.outgoing, &value))
    } else {
        incoming
    }
}

/// [`vote_result`] under `m`: won only if both halves are won, lost as soon
/// as either half is lost.
pub fn joint_vote_result(m: &Membership, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let incoming = vote_result(&m.voters, votes);
    if !m.is_joint() {
        return incoming;
    }
    match (incoming, vote_result(&m.outgoing, votes)) {
        (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
        (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
        _ => VoteResult::Pending,
    }
}

/// [`has_quorum`] under `m`: while joint, both halves need an active majority.
pub fn joint_has_quorum(m: &Membership, active: impl Fn(NodeId) -> bool) -> bool {
    has_quorum(&m.voters, &active) && (!m.is_joint() || has_quorum(&m.outgoing, &active))
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

    fn joint(incoming: &[u64], outgoing: &[u64]) -> Membership {
        Membership { voters: set(incoming), outgoing: set(outgoing), ..Membership::default() }
    }

    #[test]
    fn joint_commit_needs_both_majorities() {
        // thesis §4.3: C_old,new agreement requires separate majorities of
        // C_old and C_new. {1,2,3} -> {1,4,5}: 1,2,3 hold 9, 4 and 5 hold 2.
        let m = joint(&[1, 4, 5], &[1, 2, 3]);
        let matched = [0u64, 9, 9, 9, 2, 2];
        assert_eq!(joint_quorum_value(&m, |id| matched[id.0 as usize]), 2);
        let matched = [0u64, 9, 9, 9, 9, 2];
        assert_eq!(joint_quorum_value(&m, |id| matched[id.0 as usize]), 9);
        // The new majority alone (1, 4, 5) is not enough either.
        let matched = [0u64, 9, 0, 0, 9, 9];
        assert_eq!(joint_quorum_value(&m, |id| matched[id.0 as usize]), 0);
    }

    #[test]
    fn joint_election_is_won_only_in_both_halves_and_lost_in_either() {
        // thesis §4.3: elections need a majority of both configurations.
        let m = joint(&[1, 4, 5], &[1, 2, 3]);
        let votes = |v: &[(u64, bool)]| v.iter().map(|&(i, g)| (NodeId(i), g)).collect::<BTreeMap<_, _>>();
        assert_eq!(joint_vote_result(&m, &votes(&[(1, true), (2, true), (3, true)])), VoteResult::Pending);
        assert_eq!(joint_vote_result(&m, &votes(&[(1, true), (2, true), (4, true)])), VoteResult::Won);
        assert_eq!(joint_vote_result(&m, &votes(&[(1, true), (4, false), (5, false)])), VoteResult::Lost);
        assert_eq!(joint_vote_result(&m, &votes(&[(1, true), (2, false), (3, false)])), VoteResult::Lost);
    }

    #[test]
    fn joint_activity_needs_both_halves() {
        let m = joint(&[1, 4, 5], &[1, 2, 3]);
        assert!(!joint_has_quorum(&m, |id| [1, 2, 3].contains(&id.0)));
        assert!(!joint_has_quorum(&m, |id| [1, 4, 5].contains(&id.0)));
        assert!(joint_has_quorum(&m, |id| [1, 2, 4].contains(&id.0)));
    }

    #[test]
    fn learners_never_count() {
        let mut m = joint(&[1, 2, 3], &[]);
        m.learners = set(&[4, 5, 6]);
        assert!(!joint_has_quorum(&m, |id| id.0 != 2 && id.0 != 3));
        assert_eq!(joint_quorum_value(&m, |id| if id.0 >= 3 { 7 } else { 0 }), 0);
    }

    proptest! {
        /// Outside a change the joint functions are the plain majority ones.
        #[test]
        fn joint_without_outgoing_is_plain(values in proptest::collection::vec(0u64..100, 1..9)) {
            let voters: BTreeSet<NodeId> = (1..=values.len() as u64).map(NodeId).collect();
            let m = Membership { voters: voters.clone(), ..Membership::default() };
            let f = |id: NodeId| values[(id.0 - 1) as usize];
            prop_assert_eq!(joint_quorum_value(&m, f), quorum_value(&voters, f));
            prop_assert_eq!(joint_has_quorum(&m, |id| f(id) > 50), has_quorum(&voters, |id| f(id) > 50));
        }

        /// The joint value is reached by a majority of each half, and is the largest such value.
        #[test]
        fn joint_value_is_reached_by_both_majorities(values in proptest::collection::vec(0u64..100, 2..9), split in 1usize..8) {
            let n = values.len() as u64;
            let cut = (split as u64).min(n - 1);
            let m = Membership {
                voters: (1..=cut + 1).map(NodeId).collect(),
                outgoing: (cut..=n).map(NodeId).collect(),
                ..Membership::default()
            };
            let f = |id: NodeId| values[(id.0 - 1) as usize];
            let v = joint_quorum_value(&m, f);
            for half in [&m.voters, &m.outgoing] {
                let at_least = half.iter().filter(|&&id| f(id) >= v).count();
                prop_assert!(at_least > half.len() / 2);
            }
            let above_in_both = [&m.voters, &m.outgoing]
                .iter()
                .all(|half| half.iter().filter(|&&id| f(id) > v).count() > half.len() / 2);
            prop_assert!(!above_in_both);
        }
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
