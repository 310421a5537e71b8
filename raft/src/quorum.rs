//! Majority arithmetic, in one place (as etcd raft's `quorum/majority.go`): who counts
//! as a majority of a configuration, for votes, for commitment, for CheckQuorum and
//! for reads. The arithmetic itself is `peer::Membership`'s, shared with the lab's
//! oracle; this module names the reference's uses of it.

use crate::{Index, PeerId};
use peer::{Membership, PeerSet};

/// True when the peers in `granted` are a majority of `membership` (of both
/// halves during joint consensus).
pub(crate) fn has_quorum(membership: &Membership, granted: PeerSet) -> bool {
    membership.is_quorum(granted)
}

/// The highest value a majority of `membership` reaches, given each peer's
/// (Figure 2: "a majority of matchIndex[i] >= N").
pub(crate) fn committed(membership: &Membership, value_of: impl Fn(PeerId) -> Index) -> Index {
    membership.committed_index(value_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[PeerId]) -> PeerSet {
        ids.iter().copied().collect()
    }

    #[test]
    fn majorities() {
        let five = Membership::of_voters(PeerSet::first(5));
        assert!(has_quorum(&five, set(&[0, 3, 4])));
        assert!(!has_quorum(&five, set(&[0, 3])));
        let four = Membership::of_voters(PeerSet::first(4));
        assert!(!has_quorum(&four, set(&[0, 1])), "half is no majority");
    }

    #[test]
    fn committed_index_is_held_by_a_majority() {
        let m = [9, 3, 7, 1, 0];
        assert_eq!(
            committed(&Membership::of_voters(set(&[0, 1, 2])), |p| m[p]),
            7
        );
        assert_eq!(
            committed(&Membership::of_voters(set(&[0, 1, 2, 3])), |p| m[p]),
            3
        );
        assert_eq!(committed(&Membership::of_voters(set(&[0])), |p| m[p]), 9);
    }
}
