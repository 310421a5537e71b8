//! Cluster membership (Raft thesis, chapter 4): who votes, who only listens,
//! and what a majority is while a configuration is changing.
//!
//! Peers of a cluster are numbered `0..peers` (the universe: every server that
//! may ever take part); a [`Membership`] says which of them take part now. A
//! single-server change moves one voter in or out; joint consensus (thesis 4.3)
//! passes through a joint configuration in which every decision needs a
//! majority of the old voters and a majority of the new ones.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Index, PeerId, majority};

/// The most peers a [`PeerSet`] holds: ids `0..MAX_PEERS`.
pub const MAX_PEERS: usize = 64;

/// A set of peer ids below [`MAX_PEERS`], as a bit mask (cheap to copy and
/// compare, so a [`crate::Status`] can carry one).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PeerSet(u64);

impl PeerSet {
    /// The empty set.
    pub const EMPTY: PeerSet = PeerSet(0);

    /// Peers `0..n`.
    pub fn first(n: usize) -> PeerSet {
        assert!(n <= MAX_PEERS, "{n} peers: at most {MAX_PEERS}");
        PeerSet(if n == MAX_PEERS {
            u64::MAX
        } else {
            (1 << n) - 1
        })
    }

    /// True when `peer` is in the set.
    pub fn contains(self, peer: PeerId) -> bool {
        peer < MAX_PEERS && self.0 & (1 << peer) != 0
    }

    /// The set with `peer` added.
    pub fn with(self, peer: PeerId) -> PeerSet {
        assert!(peer < MAX_PEERS, "peer {peer}: ids stop at {MAX_PEERS}");
        PeerSet(self.0 | 1 << peer)
    }

    /// The set without `peer`.
    pub fn without(self, peer: PeerId) -> PeerSet {
        if peer >= MAX_PEERS {
            return self;
        }
        PeerSet(self.0 & !(1 << peer))
    }

    pub fn union(self, other: PeerSet) -> PeerSet {
        PeerSet(self.0 | other.0)
    }

    pub fn intersection(self, other: PeerSet) -> PeerSet {
        PeerSet(self.0 & other.0)
    }

    /// Members of `self` not in `other`.
    pub fn minus(self, other: PeerSet) -> PeerSet {
        PeerSet(self.0 & !other.0)
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in increasing order.
    pub fn iter(self) -> impl Iterator<Item = PeerId> {
        (0..MAX_PEERS).filter(move |&p| self.contains(p))
    }

    /// True when `acks` holds a majority of this set (an empty set has none:
    /// a configuration without voters decides nothing).
    pub fn is_majority(self, acks: PeerSet) -> bool {
        !self.is_empty() && self.intersection(acks).len() >= majority(self.len())
    }

    /// The highest value that a majority of this set reaches, given each
    /// member's (Figure 2: "a majority of matchIndex[i] >= N"); 0 when empty.
    pub fn majority_value(self, value_of: impl Fn(PeerId) -> u64) -> u64 {
        let mut values: Vec<u64> = self.iter().map(value_of).collect();
        if values.is_empty() {
            return 0;
        }
        values.sort_unstable_by(|a, b| b.cmp(a));
        // The majority(n) highest all hold at least the majority(n)-th highest.
        values[majority(values.len()) - 1]
    }
}

impl FromIterator<PeerId> for PeerSet {
    fn from_iter<I: IntoIterator<Item = PeerId>>(iter: I) -> PeerSet {
        iter.into_iter().fold(PeerSet::EMPTY, PeerSet::with)
    }
}

impl fmt::Debug for PeerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for PeerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.iter().map(|p| p.to_string()).collect();
        write!(f, "{{{}}}", ids.join(","))
    }
}

/// A configuration: who votes, who learns. During joint consensus,
/// `outgoing` holds the old voters and `voters` the new ones, and a decision
/// needs a majority of each; otherwise `outgoing` is empty.
///
/// Invariant: `learners` is disjoint from `voters`. It may share peers with
/// `outgoing`: voters being demoted, who vote until the joint configuration
/// is left and learn after.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Membership {
    /// The voters (the new ones, during joint consensus).
    pub voters: PeerSet,
    /// Joint consensus: the old voters, still needed for every majority.
    pub outgoing: PeerSet,
    /// Non-voting members: they receive the log but neither vote nor count
    /// toward a majority (a new server catching up, thesis 4.2.1).
    pub learners: PeerSet,
}

impl Membership {
    /// A configuration in which `voters` vote and nobody only learns.
    pub fn of_voters(voters: PeerSet) -> Membership {
        Membership {
            voters,
            ..Membership::default()
        }
    }

    /// True during joint consensus.
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Everyone whose vote counts in some majority.
    pub fn all_voters(&self) -> PeerSet {
        self.voters.union(self.outgoing)
    }

    /// Everyone the leader replicates to (itself included, if a member).
    pub fn members(&self) -> PeerSet {
        self.all_voters().union(self.learners)
    }

    /// True when `peer` votes in this configuration (in either half of a
    /// joint one).
    pub fn is_voter(&self, peer: PeerId) -> bool {
        self.all_voters().contains(peer)
    }

    /// True when `acks` is a majority of this configuration: of `voters`, and
    /// during joint consensus of `outgoing` too.
    pub fn is_quorum(&self, acks: PeerSet) -> bool {
        self.voters.is_majority(acks) && (!self.is_joint() || self.outgoing.is_majority(acks))
    }

    /// The highest index a majority of this configuration holds, given each
    /// member's match index (both majorities during joint consensus).
    pub fn committed_index(&self, match_index: impl Fn(PeerId) -> Index) -> Index {
        let new = self.voters.majority_value(&match_index);
        match self.is_joint() {
            true => new.min(self.outgoing.majority_value(&match_index)),
            false => new,
        }
    }

    /// The configuration that ends a joint one: the new voters alone.
    pub fn leave_joint(&self) -> Membership {
        Membership {
            outgoing: PeerSet::EMPTY,
            ..*self
        }
    }

    /// Bytes of this configuration, as a configuration entry carries them.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("a membership always encodes")
    }

    /// The configuration in an entry's bytes, if they hold one.
    pub fn decode(bytes: &[u8]) -> Option<Membership> {
        let (m, used): (Membership, usize) =
            bincode::serde::decode_from_slice(bytes, bincode::config::standard()).ok()?;
        (used == bytes.len()).then_some(m)
    }
}

impl fmt::Debug for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters={}", self.voters)?;
        if self.is_joint() {
            write!(f, "&&{}", self.outgoing)?;
        }
        if !self.learners.is_empty() {
            write!(f, " learners={}", self.learners)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[PeerId]) -> PeerSet {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_majority_of_a_set() {
        let s = set(&[0, 1, 2]);
        assert!(s.is_majority(set(&[0, 2])));
        assert!(!s.is_majority(set(&[2, 3, 4])), "outsiders do not count");
        assert!(!PeerSet::EMPTY.is_majority(set(&[0])));
        assert_eq!(PeerSet::first(3), s);
        assert_eq!(format!("{}", s.with(5).without(1)), "{0,2,5}");
    }

    #[test]
    fn majorities_and_the_index_a_majority_holds() {
        let five = Membership::of_voters(PeerSet::first(5));
        assert!(five.is_quorum(set(&[0, 3, 4])));
        assert!(!five.is_quorum(set(&[0, 3])));
        let four = Membership::of_voters(PeerSet::first(4));
        assert!(!four.is_quorum(set(&[0, 1])), "half is no majority");
        let m = [9, 3, 7, 1, 0];
        assert_eq!(
            Membership::of_voters(set(&[0, 1, 2])).committed_index(|p| m[p]),
            7
        );
        assert_eq!(
            Membership::of_voters(set(&[0, 1, 2, 3])).committed_index(|p| m[p]),
            3
        );
        assert_eq!(
            Membership::of_voters(set(&[0])).committed_index(|p| m[p]),
            9
        );
    }

    #[test]
    fn joint_consensus_needs_both_majorities() {
        let m = Membership {
            voters: set(&[3, 4, 5]),
            outgoing: set(&[0, 1, 2]),
            learners: PeerSet::EMPTY,
        };
        assert!(!m.is_quorum(set(&[0, 1, 2])), "old majority alone");
        assert!(!m.is_quorum(set(&[3, 4])), "new majority alone");
        assert!(m.is_quorum(set(&[0, 1, 3, 4])));
        let matched = [9, 9, 1, 7, 2, 1];
        assert_eq!(m.committed_index(|p| matched[p]), 2);
        assert_eq!(m.leave_joint().committed_index(|p| matched[p]), 2);
        assert_eq!(
            Membership::of_voters(set(&[0, 1, 2])).committed_index(|p| matched[p]),
            9
        );
    }

    #[test]
    fn a_membership_round_trips_through_bytes() {
        let m = Membership {
            voters: set(&[0, 1]),
            outgoing: PeerSet::EMPTY,
            learners: set(&[4]),
        };
        assert_eq!(Membership::decode(&m.encode()), Some(m));
        assert_eq!(Membership::decode(b"\xff\xff"), None);
        assert_eq!(m.to_string(), "voters={0,1} learners={4}");
    }
}
