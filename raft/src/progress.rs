//! The leader's view of each follower's log (Figure 2's nextIndex and matchIndex), like
//! etcd's tracker/progress.

use crate::{Index, PeerId};
use peer::{Membership, PeerSet};

/// Replication state of one follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Next entry to send.
    pub(crate) next_index: Index,
    /// Highest entry known to be replicated on the follower; only moves forward.
    pub(crate) match_index: Index,
    /// An AppendEntries or InstallSnapshot is outstanding: hold new entries back for
    /// batching until its reply (or the next heartbeat, in case it was lost).
    pub(crate) inflight: bool,
    /// The last index covered by the most recent AppendEntries or InstallSnapshot
    /// sent. Only the reply that acknowledges it may send more right away: replies to
    /// older messages (a heartbeat overtaken by a newer one) must not, or every
    /// heartbeat would start one more self-sustaining chain of AppendEntries.
    pub(crate) sent_up_to: Index,
    /// CheckQuorum: the follower answered in this term since the last check.
    pub(crate) recent_active: bool,
    /// ReadIndex: the highest read round the follower echoed in this term.
    pub(crate) acked_read_round: u64,
}

impl Progress {
    fn new(last_index: Index) -> Progress {
        Progress {
            next_index: last_index + 1,
            match_index: 0,
            inflight: false,
            sent_up_to: 0,
            recent_active: false,
            acked_read_round: 0,
        }
    }

    /// The follower holds the leader's log through `index`. Returns true if match_index
    /// moved. Stale or duplicated acknowledgements are harmless: nothing moves backwards.
    pub(crate) fn on_match(&mut self, index: Index) -> bool {
        let moved = index > self.match_index;
        if moved {
            self.match_index = index;
        }
        self.next_index = self.next_index.max(self.match_index + 1);
        self.check();
        moved
    }

    /// The follower rejected `rejected_prev` (the prev_log_index we sent); `hint` is where
    /// the leader wants to resume. Returns false for a stale rejection (not about the
    /// current next_index), which is ignored.
    pub(crate) fn on_reject(&mut self, rejected_prev: Index, hint: Index) -> bool {
        if rejected_prev + 1 != self.next_index || rejected_prev < self.match_index {
            return false;
        }
        // Always move back at least one and never behind what is known to match.
        self.next_index = hint.min(self.next_index - 1).max(self.match_index + 1);
        self.check();
        true
    }

    fn check(&self) {
        debug_assert!(
            self.match_index < self.next_index,
            "match_index {} must stay below next_index {}",
            self.match_index,
            self.next_index
        );
    }
}

/// Progress of every peer, indexed by peer id. The leader's own slot tracks its log end.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProgressTracker {
    progress: Vec<Progress>,
}

impl ProgressTracker {
    pub(crate) fn new(peers: usize, last_index: Index) -> ProgressTracker {
        ProgressTracker {
            progress: vec![Progress::new(last_index); peers],
        }
    }

    pub(crate) fn get(&self, peer: PeerId) -> &Progress {
        &self.progress[peer]
    }

    pub(crate) fn get_mut(&mut self, peer: PeerId) -> &mut Progress {
        &mut self.progress[peer]
    }

    /// CheckQuorum: true if a majority of `membership` (the leader, `me`,
    /// included) answered since the last check; then starts the next period
    /// with only `me`.
    pub(crate) fn check_quorum_active(&mut self, me: PeerId, membership: &Membership) -> bool {
        self.progress[me].recent_active = true;
        let active: PeerSet = (0..self.progress.len())
            .filter(|&p| self.progress[p].recent_active)
            .collect();
        for (peer, p) in self.progress.iter_mut().enumerate() {
            p.recent_active = peer == me;
        }
        membership.is_quorum(active)
    }

    /// ReadIndex: the highest read round a majority echoed (the leader counts
    /// through its own slot, which the caller keeps at its latest round).
    pub(crate) fn quorum_read_round(&self, membership: &Membership) -> u64 {
        membership.committed_index(|p| self.progress[p].acked_read_round)
    }

    /// The highest index replicated on a majority (the leader counts through its own
    /// slot, which the caller keeps at its last index).
    pub(crate) fn quorum_match_index(&self, membership: &Membership) -> Index {
        membership.committed_index(|p| self.progress[p].match_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_only_moves_forward() {
        let mut p = Progress::new(10);
        assert!(p.on_match(5));
        assert_eq!((p.match_index, p.next_index), (5, 11));
        assert!(!p.on_match(3)); // stale reply
        assert_eq!((p.match_index, p.next_index), (5, 11));
        assert!(p.on_match(12));
        assert_eq!(p.next_index, 13);
    }

    #[test]
    fn reject_backs_off_and_ignores_stale() {
        let mut p = Progress::new(10); // next 11
        assert!(!p.on_reject(7, 3)); // not about next_index 11
        assert!(p.on_reject(10, 4));
        assert_eq!(p.next_index, 4);
        assert!(p.on_reject(3, 100)); // a hint forward still moves back by one
        assert_eq!(p.next_index, 3);
        p.on_match(2);
        assert!(!p.on_reject(1, 1)); // below match: stale
        assert_eq!(p.next_index, 3);
    }

    fn all(n: usize) -> Membership {
        Membership::of_voters(PeerSet::first(n))
    }

    #[test]
    fn check_quorum_counts_the_answers_of_one_period() {
        let mut t = ProgressTracker::new(5, 0);
        t.get_mut(1).recent_active = true;
        assert!(!t.check_quorum_active(0, &all(5)), "2 of 5 are no majority");
        t.get_mut(1).recent_active = true;
        t.get_mut(4).recent_active = true;
        assert!(t.check_quorum_active(0, &all(5)), "3 of 5 are");
        assert!(
            !t.check_quorum_active(0, &all(5)),
            "a new period starts from the leader alone"
        );
        t.get_mut(1).recent_active = true;
        let two: Membership = Membership::of_voters([0, 1].into_iter().collect());
        assert!(t.check_quorum_active(0, &two), "2 of the 2 voters are");
    }

    #[test]
    fn quorum() {
        let mut t = ProgressTracker::new(5, 0);
        for (peer, m) in [(0, 9), (1, 7), (2, 3), (3, 8), (4, 1)] {
            t.get_mut(peer).on_match(m);
        }
        assert_eq!(t.quorum_match_index(&all(5)), 7);
        let mut t = ProgressTracker::new(4, 0);
        for (peer, m) in [(0, 9), (1, 7), (2, 3), (3, 8)] {
            t.get_mut(peer).on_match(m);
        }
        assert_eq!(t.quorum_match_index(&all(4)), 7); // 3 of 4 hold 7
    }
}
