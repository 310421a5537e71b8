//! raft-rs's view of what this peer persisted: an in-memory [`Storage`] that mirrors
//! the files on the lab's disk (see `disk.rs`) and, unlike raft-rs's `MemStorage`,
//! keeps the service's snapshot *with its data*, so that a leader can send it to a
//! follower that fell behind the compacted log.

use raft_rs::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft_rs::{Error, GetEntriesContext, RaftState, Storage, StorageError};

/// Hard state, configuration, the latest snapshot (index 0 when there is none) and
/// every entry after it: `entries[0].index == snapshot index + 1`.
#[derive(Clone, Debug, Default)]
pub(crate) struct LabStorage {
    pub(crate) hard_state: HardState,
    pub(crate) conf_state: ConfState,
    snapshot: Snapshot,
    entries: Vec<Entry>,
}

impl LabStorage {
    /// Storage restored from what was on disk (the caller checked it is coherent).
    pub(crate) fn new(
        hard_state: HardState,
        conf_state: ConfState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    ) -> LabStorage {
        let snapshot = snapshot.unwrap_or_else(|| {
            let mut s = Snapshot::default();
            s.mut_metadata().set_conf_state(conf_state.clone());
            s
        });
        debug_assert!(
            entries
                .first()
                .is_none_or(|e| e.index == snapshot.get_metadata().index + 1)
        );
        LabStorage {
            hard_state,
            conf_state,
            snapshot,
            entries,
        }
    }

    pub(crate) fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    pub(crate) fn snapshot_term(&self) -> u64 {
        self.snapshot.get_metadata().term
    }

    /// The latest snapshot (metadata index 0 when there is none).
    pub(crate) fn current_snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn first(&self) -> u64 {
        self.snapshot_index() + 1
    }

    fn last(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot_index(), |e| e.index)
    }

    /// Appends entries that raft-rs made stable, cutting the log at `ents[0].index`.
    pub(crate) fn append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first().map(|e| e.index) else {
            return;
        };
        assert!(
            first > self.snapshot_index() && first <= self.last() + 1,
            "entries from {first} do not fit a log holding {}..={}",
            self.first(),
            self.last()
        );
        self.entries.truncate((first - self.first()) as usize);
        self.entries.extend_from_slice(ents);
    }

    /// Installs a snapshot received from the leader: it replaces the whole log (raft-rs
    /// only hands one over when the log lacks the snapshot's last entry).
    pub(crate) fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let meta = snapshot.get_metadata();
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        self.conf_state = meta.get_conf_state().clone();
        self.entries.clear();
        self.snapshot = snapshot;
    }

    /// The service's snapshot through `index` (an entry this storage holds): drops the
    /// log through `index` and keeps `data` to send to followers.
    pub(crate) fn compact_to(&mut self, index: u64, data: Vec<u8>) {
        assert!(index > self.snapshot_index() && index <= self.last());
        let term = self.entries[(index - self.first()) as usize].term;
        self.entries.drain(..(index + 1 - self.first()) as usize);
        let mut s = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        let meta = s.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.conf_state.clone());
        self.snapshot = s;
    }
}

impl Storage for LabStorage {
    fn initial_state(&self) -> raft_rs::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft_rs::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(Error::Store(StorageError::Compacted));
        }
        if high > self.last() + 1 || low > high {
            return Err(Error::Store(StorageError::Unavailable));
        }
        let from = (low - self.first()) as usize;
        let to = (high - self.first()) as usize;
        let mut ents = self.entries[from..to].to_vec();
        raft_rs::util::limit_size(&mut ents, max_size.into());
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft_rs::Result<u64> {
        if idx == self.snapshot_index() {
            return Ok(self.snapshot_term());
        }
        if idx < self.first() {
            return Err(Error::Store(StorageError::Compacted));
        }
        if idx > self.last() {
            return Err(Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.first()) as usize].term)
    }

    fn first_index(&self) -> raft_rs::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft_rs::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft_rs::Result<Snapshot> {
        // Only a snapshot the service made (or one received) can be sent: raft-rs skips
        // the follower for now on this error and tries again later.
        if self.snapshot_index() == 0 || self.snapshot_index() < request_index {
            return Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(self.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    #[test]
    fn appends_truncate_compact_and_answer_raft_rs() {
        let mut s = LabStorage::default();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 2)]);
        s.append(&[entry(3, 3), entry(4, 3)]);
        assert_eq!(s.last_index().unwrap(), 4);
        assert_eq!(s.term(3).unwrap(), 3);
        s.compact_to(2, b"state".to_vec());
        assert_eq!(s.first_index().unwrap(), 3);
        assert_eq!(s.term(2).unwrap(), 1);
        assert_eq!(s.term(1), Err(Error::Store(StorageError::Compacted)));
        assert_eq!(s.term(5), Err(Error::Store(StorageError::Unavailable)));
        let ctx = || GetEntriesContext::empty(false);
        assert_eq!(
            s.entries(2, 4, None, ctx()),
            Err(Error::Store(StorageError::Compacted))
        );
        assert_eq!(s.entries(3, 5, None, ctx()).unwrap().len(), 2);
        let snap = s.snapshot(0, 2).unwrap();
        assert_eq!(
            (snap.get_metadata().index, &snap.data[..]),
            (2, &b"state"[..])
        );
        assert!(LabStorage::default().snapshot(0, 2).is_err());
    }
}
