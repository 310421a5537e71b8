//! The in-memory log: entries after the snapshot, addressed by absolute index.

use crate::{Entry, Index, Term};
use peer::{EntryKind, Membership};

/// The log after the snapshot. `entries[i].index == snapshot_index + 1 + i`; the snapshot
/// stands in for everything at or below `snapshot_index` (index 0, term 0 when there is
/// none).
#[derive(Clone, Debug, Default)]
pub(crate) struct RaftLog {
    snapshot_index: Index,
    snapshot_term: Term,
    /// The configuration in effect at `snapshot_index` (the initial one
    /// without a snapshot).
    snapshot_membership: Membership,
    entries: Vec<Entry>,
}

impl RaftLog {
    /// The caller has validated `entries` (contiguous from `snapshot_index + 1`).
    pub(crate) fn new(
        snapshot_index: Index,
        snapshot_term: Term,
        snapshot_membership: Membership,
        entries: Vec<Entry>,
    ) -> RaftLog {
        let log = RaftLog {
            snapshot_index,
            snapshot_term,
            snapshot_membership,
            entries,
        };
        log.check_invariants();
        log
    }

    pub(crate) fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }

    pub(crate) fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// First index still held as an entry (one past the snapshot).
    pub(crate) fn first_index(&self) -> Index {
        self.snapshot_index + 1
    }

    pub(crate) fn last_index(&self) -> Index {
        self.snapshot_index + self.entries.len() as Index
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term at `index`, if known: the snapshot's own index still has a known term;
    /// indices inside the snapshot or past the end do not.
    pub(crate) fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            Some(self.snapshot_term)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }

    pub(crate) fn entry(&self, index: Index) -> Option<&Entry> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.first_index()) as usize)
    }

    /// Up to `max` entries starting at `from` (which must be in the log or one past it).
    pub(crate) fn entries_from(&self, from: Index, max: usize) -> &[Entry] {
        assert!(
            from > self.snapshot_index && from <= self.last_index() + 1,
            "entries_from({from}) outside {}..={}",
            self.first_index(),
            self.last_index() + 1
        );
        let lo = (from - self.first_index()) as usize;
        let hi = self.entries.len().min(lo.saturating_add(max));
        &self.entries[lo..hi]
    }

    /// Appends the next entry. That terms never decrease along the log is
    /// the peer's to assert (`Raft::append_entry`): a mutant run switches
    /// the peer's own assertions off, and the harness must then catch what
    /// the log holds.
    pub(crate) fn append(&mut self, entry: Entry) {
        assert_eq!(
            entry.index,
            self.last_index() + 1,
            "log must stay contiguous"
        );
        self.entries.push(entry);
    }

    /// Delete the entry at `index` and everything after it.
    pub(crate) fn truncate_from(&mut self, index: Index) {
        assert!(
            index > self.snapshot_index,
            "cannot truncate into the snapshot"
        );
        if index <= self.last_index() {
            self.entries.truncate((index - self.first_index()) as usize);
        }
    }

    /// Last index holding `term` (the snapshot's own index counts), if any is known.
    pub(crate) fn last_index_of_term(&self, term: Term) -> Option<Index> {
        for e in self.entries.iter().rev() {
            if e.term == term {
                return Some(e.index);
            }
            if e.term < term {
                return None; // terms only decrease going back
            }
        }
        (self.snapshot_term == term && self.snapshot_index > 0).then_some(self.snapshot_index)
    }

    /// First index of the run of entries having the same term as `index` (which must be a
    /// held entry), not looking into the snapshot.
    pub(crate) fn first_index_of_term_at(&self, index: Index) -> Index {
        let term = self.term_at(index).expect("index must be in the log");
        let mut first = index;
        while first > self.first_index() && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// Make `(index, term)` the snapshot point. Entries after it are kept when the log
    /// holds `(index, term)` (they extend the same history); otherwise the whole log goes.
    /// The configuration in effect at `index` (thesis 4.1: the latest one in
    /// the log through `index`, committed or not) and the index of the entry
    /// that holds it (the snapshot's index, or 0, when no entry does).
    pub(crate) fn membership_at(&self, index: Index) -> (Membership, Index) {
        let upto = index.min(self.last_index());
        if upto > self.snapshot_index {
            let held = &self.entries[..(upto - self.snapshot_index) as usize];
            for e in held.iter().rev() {
                if e.kind == EntryKind::Membership {
                    let m = Membership::decode(&e.command).expect("a configuration entry decodes");
                    return (m, e.index);
                }
            }
        }
        (self.snapshot_membership, self.snapshot_index)
    }

    /// Drop entries through `index` (of `term`), which a snapshot now stands
    /// for; `membership` was in effect there.
    pub(crate) fn compact_to(&mut self, index: Index, term: Term, membership: Membership) {
        self.snapshot_membership = membership;
        assert!(index > self.snapshot_index, "compaction must move forward");
        if self.term_at(index) == Some(term) {
            self.entries.drain(..(index - self.snapshot_index) as usize);
        } else {
            self.entries.clear();
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.check_invariants();
    }

    /// Cheap in release builds: full scans only under debug assertions.
    /// (That terms never decrease is the peer's to assert, at each append.)
    pub(crate) fn check_invariants(&self) {
        if cfg!(debug_assertions) {
            for (i, e) in self.entries.iter().enumerate() {
                assert_eq!(
                    e.index,
                    self.snapshot_index + 1 + i as Index,
                    "log not contiguous"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with_terms(snapshot_index: Index, snapshot_term: Term, terms: &[Term]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, &term)| Entry::command(term, snapshot_index + 1 + i as Index, vec![i as u8]))
            .collect();
        RaftLog::new(
            snapshot_index,
            snapshot_term,
            Membership::default(),
            entries,
        )
    }

    #[test]
    fn indexing_around_the_snapshot() {
        let log = log_with_terms(5, 2, &[2, 3, 3]);
        assert_eq!(
            (log.first_index(), log.last_index(), log.last_term()),
            (6, 8, 3)
        );
        assert_eq!(log.term_at(4), None);
        assert_eq!(log.term_at(5), Some(2));
        assert_eq!(log.term_at(8), Some(3));
        assert_eq!(log.term_at(9), None);
        assert_eq!(log.entry(5), None);
        assert_eq!(log.entry(7).unwrap().index, 7);
        assert_eq!(log.entries_from(7, 10).len(), 2);
        assert_eq!(log.entries_from(6, 1).len(), 1);
        assert!(log.entries_from(9, 10).is_empty());
    }

    #[test]
    fn term_searches() {
        let log = log_with_terms(0, 0, &[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.last_index_of_term(3), None);
        assert_eq!(log.last_index_of_term(1), Some(2));
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.first_index_of_term_at(1), 1);
        let log = log_with_terms(4, 2, &[2, 3]);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.first_index_of_term_at(5), 5);
        let log = log_with_terms(4, 2, &[3]);
        assert_eq!(log.last_index_of_term(2), Some(4));
    }

    #[test]
    fn compaction_keeps_matching_suffix_only() {
        let mut log = log_with_terms(0, 0, &[1, 1, 2, 2]);
        log.compact_to(2, 1, Membership::default());
        assert_eq!((log.first_index(), log.last_index()), (3, 4));
        let mut other = log_with_terms(0, 0, &[1, 1, 2, 2]);
        other.compact_to(3, 3, Membership::default()); // term mismatch: whole log goes
        assert_eq!(
            (other.first_index(), other.last_index(), other.last_term()),
            (4, 3, 3)
        );
        let mut beyond = log_with_terms(0, 0, &[1]);
        beyond.compact_to(10, 5, Membership::default());
        assert_eq!((beyond.last_index(), beyond.last_term()), (10, 5));
    }

    #[test]
    fn the_latest_configuration_in_the_log_is_in_effect() {
        let first = Membership::of_voters(peer::PeerSet::first(3));
        let mut log = RaftLog::new(2, 1, first, vec![]);
        assert_eq!(log.membership_at(9), (first, 2));
        let second = Membership::of_voters(peer::PeerSet::first(4));
        log.append(Entry::command(1, 3, vec![]));
        log.append(Entry {
            kind: EntryKind::Membership,
            ..Entry::command(1, 4, second.encode())
        });
        log.append(Entry::command(1, 5, vec![]));
        assert_eq!(
            log.membership_at(5),
            (second, 4),
            "appended, not yet committed"
        );
        assert_eq!(log.membership_at(3), (first, 2));
        log.truncate_from(4);
        assert_eq!(
            log.membership_at(5),
            (first, 2),
            "a cut configuration is gone"
        );
    }

    #[test]
    fn truncate_and_append() {
        let mut log = log_with_terms(0, 0, &[1, 1, 1]);
        log.truncate_from(2);
        assert_eq!(log.last_index(), 1);
        log.append(Entry::command(2, 2, vec![]));
        assert_eq!(log.last_term(), 2);
    }

    #[test]
    #[should_panic(expected = "contiguous")]
    fn append_with_gap_panics() {
        let mut log = log_with_terms(0, 0, &[1]);
        log.append(Entry::command(1, 3, vec![]));
    }
}
