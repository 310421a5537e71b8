//! Majority arithmetic, in one place (as etcd raft's `quorum/majority.go`): who counts
//! as a majority of the cluster, for votes and for commitment.

use crate::Index;

/// The smallest number of peers that is a majority of `peers`.
pub(crate) fn majority(peers: usize) -> usize {
    peer::majority(peers)
}

/// True when the `true`s among `granted` (one slot per peer) are a majority.
pub(crate) fn has_majority(granted: &[bool]) -> bool {
    granted.iter().filter(|g| **g).count() >= majority(granted.len())
}

/// The highest index that a majority of peers hold, given each peer's match index
/// (Figure 2: "a majority of matchIndex[i] >= N").
pub(crate) fn committed_index(match_index: impl Iterator<Item = Index>) -> Index {
    let mut matched: Vec<Index> = match_index.collect();
    assert!(!matched.is_empty(), "a cluster has at least one peer");
    matched.sort_unstable_by(|a, b| b.cmp(a));
    // The majority(n) highest all hold at least the majority(n)-th highest.
    matched[majority(matched.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majorities() {
        assert_eq!(
            (1..=6).map(majority).collect::<Vec<_>>(),
            [1, 2, 2, 3, 3, 4]
        );
        assert!(has_majority(&[true]));
        assert!(!has_majority(&[true, false]));
        assert!(has_majority(&[true, false, true]));
        assert!(!has_majority(&[true, false, true, false]));
    }

    #[test]
    fn committed_index_is_held_by_a_majority() {
        assert_eq!(committed_index([5].into_iter()), 5);
        assert_eq!(committed_index([9, 3, 7].into_iter()), 7);
        assert_eq!(committed_index([9, 3, 7, 1].into_iter()), 3);
        assert_eq!(committed_index([9, 8, 7, 1, 0].into_iter()), 7);
    }
}
