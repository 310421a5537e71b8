//! The Raft safety oracle: checks, as every event happens, that at most one
//! peer leads per term, that logs match, that no two peers apply different
//! commands at one index, and that each peer applies in order without gaps.
//!
//! Peers report to it the way 6.824's peers send on applyCh: it is the test's
//! own bookkeeping, which no peer reads. A violation is kept, and the
//! simulation's invariant hook stops the run at that very event.

use peer::coverage::{self, mark};
use peer::{Index, PeerId, Term};
use std::collections::BTreeMap;

/// What the harness knows of the cluster's history.
pub struct Oracle {
    /// Per peer, every command it applied (6.824's `cfg.logs`), kept across
    /// crashes: all of `applied` up to `floor` (loaded from a snapshot whose
    /// digest matched), and the commands it applied one by one.
    logs: Vec<BTreeMap<Index, u64>>,
    floor: Vec<Index>,
    /// `prefix[i]` is the digest chain of the commands at 1..=i.
    prefix: Vec<u64>,
    /// Per peer, the last index applied in its current life.
    last_applied: Vec<Index>,
    /// The first command applied at each index, by anyone.
    applied: BTreeMap<Index, Vec<u8>>,
    /// The leader of each term.
    leaders: BTreeMap<Term, PeerId>,
    /// Every log entry seen, by (index, term): a digest of its command and
    /// the term of the entry before it. Equal keys must have equal values;
    /// by induction that is the Log Matching property.
    entries: BTreeMap<(Index, Term), (u64, Term)>,
    max_index: Index,
    /// Per peer, the term and vote its last messages left with, kept across
    /// crashes. Figure 2: both are on stable storage before a message leaves,
    /// so a restart must come back with them (or a later term).
    promised: Vec<(Term, Option<PeerId>)>,
    /// Per term, the vote each peer sent (once a message left after it).
    votes: BTreeMap<Term, Vec<Option<PeerId>>>,
    violation: Option<String>,
}

const PREFIX_SEED: u64 = 0x5eed;

/// The digest chain of applied commands: what a tester's snapshot holds
/// instead of every command (6.824 keeps the whole log; a digest checks the
/// same thing at a fraction of the cost).
pub fn chain(prev: u64, command: &[u8]) -> u64 {
    let mut h = labsim::TraceHasher::new();
    h.u64(prev);
    h.bytes(command);
    h.finish()
}

/// The digest of no commands.
pub fn empty_chain() -> u64 {
    PREFIX_SEED
}

fn digest(bytes: &[u8]) -> u64 {
    let mut h = labsim::TraceHasher::new();
    h.bytes(bytes);
    h.finish()
}

impl Oracle {
    /// An oracle for `peers` peers.
    pub fn new(peers: usize) -> Oracle {
        Oracle {
            logs: vec![BTreeMap::new(); peers],
            floor: vec![0; peers],
            prefix: vec![PREFIX_SEED],
            last_applied: vec![0; peers],
            promised: vec![(0, None); peers],
            votes: BTreeMap::new(),
            applied: BTreeMap::new(),
            leaders: BTreeMap::new(),
            entries: BTreeMap::new(),
            max_index: 0,
            violation: None,
        }
    }

    /// The first violation seen.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    fn fail(&mut self, what: String) {
        if self.violation.is_none() {
            self.violation = Some(what);
        }
    }

    /// A peer is (or is not) leader in `term`, having voted for `voted_for`.
    pub fn observe_role(
        &mut self,
        peer: PeerId,
        term: Term,
        is_leader: bool,
        voted_for: Option<PeerId>,
        membership: Option<peer::Membership>,
    ) {
        if !is_leader {
            return;
        }
        let newest = self.leaders.last_key_value().map(|(t, _)| *t);
        if newest.is_some_and(|newest| newest > term) {
            mark(coverage::DEPOSED_LEADER_ACTING);
        }
        match self.leaders.get(&term) {
            Some(&other) if other != peer => {
                let (a, b) = (other.min(peer), other.max(peer));
                self.fail(format!("two leaders in term {term} (peers {a}, {b})"));
            }
            Some(_) => {}
            None => {
                if let Some(newest) = newest {
                    mark(coverage::LEADER_CHANGED);
                    // Terms between two leaders had none (a later leader
                    // reported late leaves its gap counted once, from the
                    // newest leader before it).
                    for _ in newest.saturating_add(1)..term {
                        mark(coverage::TERM_WITHOUT_LEADER);
                    }
                }
                self.leaders.insert(term, peer);
                // A peer that reports its votes voted for itself as candidate.
                if voted_for == Some(peer) {
                    self.check_elected(peer, term, membership);
                }
            }
        }
    }

    /// A peer's log now holds `entries` (index, term, command), the first
    /// one following an entry of term `prev_term`.
    pub fn observe_entries<'a>(
        &mut self,
        peer: PeerId,
        mut prev_term: Term,
        entries: impl Iterator<Item = (Index, Term, &'a [u8])>,
        truncated: bool,
    ) {
        if truncated {
            mark(coverage::SUFFIX_OVERWRITTEN);
        }
        for (index, term, command) in entries {
            let value = (digest(command), prev_term);
            match self.entries.get(&(index, term)) {
                Some(seen) if *seen != value => {
                    let what = if seen.0 != value.0 {
                        "a different command"
                    } else {
                        "a different previous entry"
                    };
                    self.fail(format!(
                        "log matching: peer {peer} holds entry (index {index}, term {term}) with {what} than another peer"
                    ));
                }
                Some(_) => {}
                None => {
                    self.entries.insert((index, term), value);
                }
            }
            prev_term = term;
        }
    }

    /// A peer restarted: it applies again from its snapshot (or the start).
    pub fn restarted(&mut self, peer: PeerId) {
        self.last_applied[peer] = 0;
    }

    /// A peer sent messages from a state with this term and vote: the vote
    /// is cast, and no other may follow in that term.
    pub fn promise(&mut self, peer: PeerId, term: Term, voted_for: Option<PeerId>) {
        if term >= self.promised[peer].0 {
            self.promised[peer] = (term, voted_for);
        }
        let Some(candidate) = voted_for else { return };
        let n = self.logs.len();
        let cast = &mut self.votes.entry(term).or_insert_with(|| vec![None; n])[peer];
        match *cast {
            Some(earlier) if earlier != candidate => self.fail(format!(
                "peer {peer} voted for both {earlier} and {candidate} in term {term}"
            )),
            _ => *cast = Some(candidate),
        }
    }

    /// Election Safety rests on a majority of votes: `leader` won `term` with
    /// a majority of the votes cast in that term (its own included), counted
    /// in the configuration it follows (both halves of a joint one); a peer
    /// that reports none counts every peer a voter.
    fn check_elected(&mut self, leader: PeerId, term: Term, membership: Option<peer::Membership>) {
        let n = self.logs.len();
        let granted: peer::PeerSet = self.votes.get(&term).map_or(peer::PeerSet::EMPTY, |v| {
            (0..n).filter(|p| v[*p] == Some(leader)).collect()
        });
        let granted = granted.with(leader);
        let membership =
            membership.unwrap_or_else(|| peer::Membership::of_voters(peer::PeerSet::first(n)));
        if !membership.is_quorum(granted) {
            self.fail(format!(
                "peer {leader} became leader of term {term} with the votes of {granted} only, not a majority of {membership}"
            ));
        }
    }

    /// A peer came back from its disk with this term and vote: no earlier than
    /// what its messages promised. A leadership it held in a later term, in
    /// which no message of its left and its disk kept nothing, led nobody
    /// (a lone voter elects itself without a message, and a crash can take
    /// that term with it): it is forgotten, and another may lead that term.
    pub fn restored(&mut self, peer: PeerId, term: Term, voted_for: Option<PeerId>) {
        let (promised_term, promised_vote) = self.promised[peer];
        let kept = term.max(promised_term);
        self.leaders.retain(|&t, &mut p| p != peer || t <= kept);
        if term < promised_term {
            self.fail(format!(
                "peer {peer} restarted in term {term} after sending messages in term {promised_term} (Figure 2: currentTerm reaches the disk before a message leaves)"
            ));
        } else if term == promised_term
            && let Some(vote) = promised_vote
            && voted_for != Some(vote)
        {
            self.fail(format!(
                "peer {peer} restarted in term {term} without its vote for {vote}, which it had sent (Figure 2: votedFor reaches the disk before the vote leaves)"
            ));
        }
    }

    /// A peer applied `command` at `index`.
    pub fn apply(&mut self, peer: PeerId, index: Index, command: &[u8]) {
        let expected = self.last_applied[peer] + 1;
        if index != expected {
            self.fail(format!(
                "peer {peer} applied index {index} out of order (expected {expected})"
            ));
        }
        self.last_applied[peer] = index;
        self.check_and_log(peer, index, command);
    }

    fn check_and_log(&mut self, peer: PeerId, index: Index, command: &[u8]) {
        match self.applied.get(&index) {
            Some(first) if first.as_slice() != command => {
                let (a, b) = (short(first), short(command));
                self.fail(format!(
                    "state machine safety: peer {peer} applied {b} at index {index}, another peer applied {a}"
                ));
            }
            Some(_) => {}
            None => {
                self.applied.insert(index, command.to_vec());
                if index as usize == self.prefix.len() {
                    let next = chain(self.prefix[index as usize - 1], command);
                    self.prefix.push(next);
                }
            }
        }
        if index > self.floor[peer] {
            self.logs[peer].insert(index, digest(command));
        }
        self.max_index = self.max_index.max(index);
    }

    /// A peer loaded a snapshot covering 1..=index whose commands have the
    /// digest chain `digest`.
    pub fn apply_snapshot(&mut self, peer: PeerId, index: Index, digest: u64, from_leader: bool) {
        if from_leader {
            mark(coverage::SNAPSHOT_INSTALLED);
        }
        if index < self.last_applied[peer] {
            self.fail(format!(
                "peer {peer} installed a snapshot at index {index} after applying {}",
                self.last_applied[peer]
            ));
        }
        match self.prefix.get(index as usize) {
            Some(d) if *d == digest => {}
            Some(_) => self.fail(format!(
                "state machine safety: peer {peer}'s snapshot at index {index} holds other commands than were committed"
            )),
            None => self.fail(format!("peer {peer} has a snapshot at index {index}, beyond anything applied")),
        }
        self.last_applied[peer] = index;
        if index > self.floor[peer] {
            self.floor[peer] = index;
            let rest = self.logs[peer].split_off(&(index + 1));
            self.logs[peer] = rest;
        }
        self.max_index = self.max_index.max(index);
    }

    /// 6.824's nCommitted: how many peers applied `index`, and the command.
    pub fn n_committed(&self, index: Index) -> (usize, Option<&[u8]>) {
        let mut count = 0;
        let mut command = None;
        // Every peer's command at an index equals the first one applied
        // there (or the oracle has already stopped the run), so the command
        // is the global one.
        for (log, floor) in self.logs.iter().zip(&self.floor) {
            if index <= *floor || log.contains_key(&index) {
                count += 1;
                command = self.applied.get(&index).map(Vec::as_slice);
            }
        }
        (count, command)
    }

    /// The highest index anyone applied.
    pub fn max_index(&self) -> Index {
        self.max_index
    }

    /// What `peer` applied at `index`.
    pub fn applied_at(&self, peer: PeerId, index: Index) -> Option<&[u8]> {
        if index <= self.floor[peer] || self.logs[peer].contains_key(&index) {
            return self.applied.get(&index).map(Vec::as_slice);
        }
        None
    }
}

/// A command as a violation names it: its value if it is one of the Raft
/// tests' numbers, else its size and a digest (two commands of one size
/// still read differently).
fn short(command: &[u8]) -> String {
    match crate::raft_suite::decode_cmd(command) {
        Some(v) => format!("command {v}"),
        None => format!(
            "{} bytes (digest {:08x})",
            command.len(),
            digest(command) as u32
        ),
    }
}

#[cfg(test)]
mod figure2_tests {
    use super::*;

    #[test]
    fn two_commands_of_one_size_read_differently() {
        let mut o = Oracle::new(2);
        o.apply(0, 1, b"put k1 value1");
        o.apply(1, 1, b"put k1 value2");
        let what = o.violation().expect("state machine safety").to_owned();
        let (a, b) = (short(b"put k1 value1"), short(b"put k1 value2"));
        assert!(a.starts_with("13 bytes (digest ") && a != b, "{a} {b}");
        assert!(what.contains(&a) && what.contains(&b), "{what}");
    }

    #[test]
    fn a_restart_must_keep_the_term_and_vote_its_messages_promised() {
        let mut o = Oracle::new(3);
        o.promise(1, 4, Some(2));
        o.restored(1, 5, None);
        assert_eq!(o.violation(), None, "a later term may hold any vote");
        o.restored(1, 4, Some(2));
        assert_eq!(o.violation(), None, "the same term and vote");

        let mut forgot = Oracle::new(3);
        forgot.promise(1, 4, Some(2));
        forgot.restored(1, 4, None);
        assert!(
            forgot
                .violation()
                .unwrap()
                .contains("without its vote for 2")
        );

        let mut behind = Oracle::new(3);
        behind.promise(0, 3, None);
        behind.restored(0, 2, None);
        assert!(behind.violation().unwrap().contains("restarted in term 2"));
    }

    #[test]
    fn one_vote_per_term_and_a_leader_needs_a_majority_of_them() {
        let mut twice = Oracle::new(5);
        twice.promise(0, 7, Some(1));
        twice.promise(0, 7, Some(1));
        assert_eq!(twice.violation(), None, "the same vote sent again");
        twice.promise(0, 7, Some(2));
        assert!(
            twice
                .violation()
                .unwrap()
                .contains("voted for both 1 and 2 in term 7")
        );

        let mut elected = Oracle::new(5);
        elected.promise(1, 3, Some(1));
        elected.promise(2, 3, Some(1));
        elected.promise(4, 3, Some(1));
        elected.promise(3, 2, Some(1)); // a vote of another term does not count
        elected.observe_role(1, 3, true, Some(1), None);
        assert_eq!(elected.violation(), None, "peers 1 (itself), 2 and 4");

        let mut short = Oracle::new(5);
        short.promise(2, 3, Some(1));
        short.promise(3, 2, Some(1));
        short.observe_role(1, 3, true, Some(1), None);
        let v = short.violation().unwrap();
        assert!(
            v.contains("leader of term 3 with the votes of {1,2} only"),
            "{v}"
        );

        let mut silent = Oracle::new(5);
        silent.observe_role(1, 3, true, None, None);
        assert_eq!(
            silent.violation(),
            None,
            "a peer that reports no votes is not judged on them"
        );
    }

    #[test]
    fn a_deposed_leader_and_the_terms_without_a_leader_are_counted() {
        use peer::coverage::{DEPOSED_LEADER_ACTING, LEADER_CHANGED, TERM_WITHOUT_LEADER};
        peer::coverage::take_run();
        let mut o = Oracle::new(3);
        o.observe_role(0, 2, true, None, None);
        o.observe_role(0, 2, true, None, None);
        o.observe_role(1, 5, true, None, None); // terms 3 and 4 had none
        o.observe_role(0, 2, true, None, None); // peer 0 acts on in term 2
        o.observe_role(0, 2, true, None, None);
        o.observe_role(2, 5, false, None, None);
        o.observe_role(1, 5, true, None, None);
        o.observe_role(2, 6, true, None, None); // no gap
        let marks = peer::coverage::take_run();
        assert_eq!(marks.get(LEADER_CHANGED), Some(&2));
        assert_eq!(marks.get(TERM_WITHOUT_LEADER), Some(&2));
        assert_eq!(marks.get(DEPOSED_LEADER_ACTING), Some(&2));
    }

    #[test]
    fn a_leadership_that_left_nothing_and_was_lost_in_a_crash_is_forgotten() {
        let sole = Some(peer::Membership::of_voters([0].into_iter().collect()));
        let mut lost = Oracle::new(3);
        lost.promise(0, 9, Some(0));
        lost.observe_role(0, 10, true, Some(0), sole);
        lost.restored(0, 9, Some(0));
        lost.observe_role(2, 10, true, None, None);
        assert_eq!(lost.violation(), None, "term 10 of peer 0 left nothing");
        // Once a message of term 10 left, the leadership stands.
        let mut kept = Oracle::new(3);
        kept.observe_role(0, 10, true, Some(0), sole);
        kept.promise(0, 10, Some(0));
        kept.restored(0, 10, Some(0));
        kept.observe_role(2, 10, true, None, None);
        assert!(kept.violation().unwrap().contains("two leaders in term 10"));
    }

    #[test]
    fn a_majority_is_one_of_the_configuration_the_leader_follows() {
        use peer::{Membership, PeerSet};
        let three: PeerSet = [0, 1, 2].into_iter().collect();
        let joint = Membership {
            voters: [2, 3, 4].into_iter().collect(),
            outgoing: three,
            learners: PeerSet::EMPTY,
        };
        // Votes of 2 and 3: a majority of {2,3,4} (and 2 of 5 overall) but
        // not of the outgoing {0,1,2}.
        let mut half = Oracle::new(5);
        half.promise(3, 4, Some(2));
        half.observe_role(2, 4, true, Some(2), Some(joint));
        let v = half.violation().unwrap();
        assert!(
            v.contains("not a majority of voters={2,3,4}&&{0,1,2}"),
            "{v}"
        );
        // Votes of 0 and 1 make it a majority of both halves.
        let mut both = Oracle::new(5);
        for p in [0, 1, 3] {
            both.promise(p, 4, Some(2));
        }
        both.observe_role(2, 4, true, Some(2), Some(joint));
        assert_eq!(both.violation(), None);
        // Two of three voters win even when five peers exist.
        let mut small = Oracle::new(5);
        small.promise(1, 2, Some(0));
        small.observe_role(0, 2, true, Some(0), Some(Membership::of_voters(three)));
        assert_eq!(small.violation(), None);
    }
}
