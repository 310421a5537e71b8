//! This peer's on-disk format, in three files of records ([`peer::record`]: a
//! checksummed header, then the body: the protobuf encoding of one raft-rs value).
//!
//! A crash can tear an unsynced append: the true prefix of a record at the end of
//! the log is dropped at restore (it was never synced) and cut off before the next
//! append. A checksum that fails is synced data the disk damaged: restore refuses.
//! Files that are replaced (hard state, snapshot) are replaced atomically, so any
//! defect in them is damage.
//!
//! - `raftrs-hardstate`: one record, an `eraftpb::HardState` (term, vote, commit),
//!   replaced whenever it changes;
//! - `raftrs-log`: one record per `eraftpb::Entry`, appended; cut at the record of the
//!   first conflicting entry; rewritten (the kept suffix) when a snapshot compacts it;
//! - `raftrs-snapshot`: one record, an `eraftpb::Snapshot` (index, term, conf state and
//!   the service's data), replaced.
//!
//! No file means a fresh peer, whose configuration is every peer as a voter. The
//! membership never changes (the adapter proposes no configuration change), so the
//! conf state on disk is the one inside the snapshot.

use peer::record::{self, Record, Rot};
use peer::{Disk, PeerError};
use raft_rs::eraftpb::{ConfState, Entry, HardState, Snapshot};

pub const HARD_STATE_FILE: &str = "raftrs-hardstate";
pub const LOG_FILE: &str = "raftrs-log";
pub const SNAPSHOT_FILE: &str = "raftrs-snapshot";

/// Appends one record holding `value` to `buf`.
fn put_record<M: protobuf::Message>(buf: &mut Vec<u8>, value: &M) {
    let body = value
        .write_to_bytes()
        .expect("encoding a raft-rs message into memory cannot fail");
    record::append(buf, &body);
}

fn record<M: protobuf::Message>(value: &M) -> Vec<u8> {
    let mut buf = Vec::new();
    put_record(&mut buf, value);
    buf
}

fn corrupt(msg: String) -> PeerError {
    PeerError(format!("raft-rs peer: corrupt disk: {msg}"))
}

/// Reads the record at `offset` of `file`'s `bytes`: the value and the next offset,
/// or `None` for the true prefix of a record (a torn append).
fn get_record<M: protobuf::Message>(
    file: &str,
    bytes: &[u8],
    offset: usize,
) -> Result<Option<(M, usize)>, PeerError> {
    let read = record::read(&bytes[offset..])
        .map_err(|Rot(what)| corrupt(format!("{file}: {what} in the record at byte {offset}")))?;
    let Record::Whole(body, len) = read else {
        return Ok(None);
    };
    let value = M::parse_from_bytes(body)
        .map_err(|e| corrupt(format!("{file}: undecodable record at byte {offset}: {e}")))?;
    Ok(Some((value, offset + len)))
}

/// A file of exactly one record.
fn read_single<M: protobuf::Message>(disk: &dyn Disk, file: &str) -> Result<Option<M>, PeerError> {
    let Some(bytes) = disk.read(file) else {
        return Ok(None);
    };
    let Some((value, end)) = get_record(file, bytes, 0)? else {
        return Err(corrupt(format!(
            "{file}: {} bytes, less than its record (it is replaced whole, never torn)",
            bytes.len()
        )));
    };
    if end != bytes.len() {
        return Err(corrupt(format!(
            "{file}: {} trailing bytes after its record",
            bytes.len() - end
        )));
    }
    Ok(Some(value))
}

pub(crate) fn write_hard_state(disk: &mut dyn Disk, hs: &HardState) {
    disk.write(HARD_STATE_FILE, &record(hs));
}

pub(crate) fn write_snapshot(disk: &mut dyn Disk, snapshot: &Snapshot) {
    disk.write(SNAPSHOT_FILE, &record(snapshot));
}

/// Where each record of the log file starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct DiskLog {
    /// Index of the entry in the file's first record (meaningful when it has one).
    first_index: u64,
    /// `offsets[i]` is the byte offset of entry `first_index + i`.
    offsets: Vec<u64>,
    /// Length of the file.
    bytes: u64,
}

impl DiskLog {
    fn last_index(&self) -> u64 {
        self.first_index + self.offsets.len() as u64 - 1
    }

    /// Writes `entries`, first cutting the file from the record of `entries[0].index`.
    pub(crate) fn append(&mut self, disk: &mut dyn Disk, entries: &[Entry]) {
        let Some(first) = entries.first().map(|e| e.index) else {
            return;
        };
        // A torn tail left by a crash goes before anything is appended.
        if disk.read(LOG_FILE).map_or(0, |b| b.len() as u64) > self.bytes {
            disk.truncate(LOG_FILE, self.bytes);
        }
        if self.offsets.is_empty() || first <= self.first_index {
            if self.bytes > 0 {
                disk.truncate(LOG_FILE, 0);
            }
            *self = DiskLog {
                first_index: first,
                ..DiskLog::default()
            };
        } else {
            assert!(
                first <= self.last_index() + 1,
                "entries from {first} leave a gap after the log file's last index {}",
                self.last_index()
            );
            if first <= self.last_index() {
                let keep = (first - self.first_index) as usize;
                self.bytes = self.offsets[keep];
                self.offsets.truncate(keep);
                disk.truncate(LOG_FILE, self.bytes);
            }
        }
        let mut buf = Vec::new();
        for e in entries {
            self.offsets.push(self.bytes + buf.len() as u64);
            put_record(&mut buf, e);
        }
        self.bytes += buf.len() as u64;
        disk.append(LOG_FILE, &buf);
    }

    /// Drops the records through `index` (all of them if `index` is past the last).
    pub(crate) fn compact_to(&mut self, disk: &mut dyn Disk, index: u64) {
        if self.offsets.is_empty() || index < self.first_index {
            return;
        }
        if index >= self.last_index() {
            self.clear(disk, index + 1);
            return;
        }
        let from = (index + 1 - self.first_index) as usize;
        let base = self.offsets[from];
        // Up to `bytes` only: a torn tail past it is not part of the log.
        let suffix =
            disk.read(LOG_FILE).unwrap_or(&[])[base as usize..self.bytes as usize].to_vec();
        disk.write(LOG_FILE, &suffix);
        self.offsets = self.offsets[from..].iter().map(|o| o - base).collect();
        self.first_index = index + 1;
        self.bytes -= base;
    }

    /// Empties the file; the next entry written will be `next_index`.
    pub(crate) fn clear(&mut self, disk: &mut dyn Disk, next_index: u64) {
        if self.bytes > 0 {
            disk.write(LOG_FILE, &[]);
        }
        *self = DiskLog {
            first_index: next_index,
            ..DiskLog::default()
        };
    }
}

/// Everything a peer persisted, checked for coherence.
#[derive(Debug)]
pub(crate) struct Restored {
    pub hard_state: HardState,
    pub conf_state: ConfState,
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot.
    pub entries: Vec<Entry>,
    pub log: DiskLog,
}

/// The configuration of a cluster of `peers` voters, with raft-rs ids `1..=peers`.
pub(crate) fn all_voters(peers: usize) -> ConfState {
    ConfState::from(((1..=peers as u64).collect::<Vec<u64>>(), Vec::<u64>::new()))
}

/// Reads what a peer of a `peers`-voter cluster persisted; a fresh state when `disk`
/// holds none of this peer's files.
pub(crate) fn restore(disk: &dyn Disk, peers: usize) -> Result<Restored, PeerError> {
    let hard_state: Option<HardState> = read_single(disk, HARD_STATE_FILE)?;
    let snapshot: Option<Snapshot> = read_single(disk, SNAPSHOT_FILE)?;
    let log_bytes = disk.read(LOG_FILE).unwrap_or(&[]);
    let voters = all_voters(peers);
    let Some(mut hard_state) = hard_state else {
        if snapshot.is_some() || !log_bytes.is_empty() {
            // Every entry and snapshot has a term >= 1, written with or after it.
            return Err(corrupt(format!(
                "{HARD_STATE_FILE} is missing but {LOG_FILE} or {SNAPSHOT_FILE} exists"
            )));
        }
        return Ok(Restored {
            hard_state: HardState::default(),
            conf_state: voters,
            snapshot: None,
            entries: Vec::new(),
            log: DiskLog::default(),
        });
    };
    let (mut entries, mut log) = read_log(log_bytes)?;
    let (snap_index, snap_term) = snapshot_meta(snapshot.as_ref(), &voters, peers)?;
    // Records at or below the snapshot are covered by it (the snapshot is written
    // before the log is compacted): drop them as the compaction would have.
    entries.retain(|e| e.index > snap_index);
    if entries.is_empty() && snapshot.is_some() {
        // Every record is stale (a crash came between writing the snapshot and
        // emptying the log): the next append starts the file afresh.
        log = DiskLog {
            first_index: snap_index + 1,
            ..DiskLog::default()
        };
    }
    check_log_after_snapshot(&entries, snap_index, snap_term)?;
    complete_torn_ready(&mut hard_state, &entries, (snap_index, snap_term));
    check_hard_state(&hard_state, &entries, (snap_index, snap_term), peers)?;
    Ok(Restored {
        hard_state,
        conf_state: voters,
        snapshot,
        entries,
        log,
    })
}

/// The log file's entries, checked to run on by one index with terms that never fall,
/// and where each record starts.
fn read_log(log_bytes: &[u8]) -> Result<(Vec<Entry>, DiskLog), PeerError> {
    let mut log = DiskLog::default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut offset = 0;
    while offset < log_bytes.len() {
        // A torn tail ends the log.
        let Some((entry, next)) = get_record::<Entry>(LOG_FILE, log_bytes, offset)? else {
            break;
        };
        match entries.last() {
            Some(prev) if entry.index != prev.index + 1 => {
                return Err(corrupt(format!(
                    "{LOG_FILE}: the record at byte {offset} has index {} after index {}",
                    entry.index, prev.index
                )));
            }
            Some(prev) if entry.term < prev.term => {
                return Err(corrupt(format!(
                    "{LOG_FILE}: entry {} has term {} after term {}",
                    entry.index, entry.term, prev.term
                )));
            }
            None if entry.index == 0 => {
                return Err(corrupt(format!("{LOG_FILE}: an entry with index 0")));
            }
            None => log.first_index = entry.index,
            _ => {}
        }
        log.offsets.push(offset as u64);
        entries.push(entry);
        offset = next;
    }
    log.bytes = offset as u64;
    Ok((entries, log))
}

/// The snapshot's (index, term), (0, 0) without one; its configuration must be every
/// voter of the cluster (membership never changes here).
fn snapshot_meta(
    snapshot: Option<&Snapshot>,
    voters: &ConfState,
    peers: usize,
) -> Result<(u64, u64), PeerError> {
    let Some(s) = snapshot else {
        return Ok((0, 0));
    };
    let meta = s.get_metadata();
    if meta.index == 0 || meta.term == 0 {
        return Err(corrupt(format!(
            "{SNAPSHOT_FILE}: snapshot at index {} term {}: both must be at least 1",
            meta.index, meta.term
        )));
    }
    let mut cs = meta.get_conf_state().clone();
    cs.voters.sort_unstable();
    if cs != *voters {
        return Err(corrupt(format!(
            "{SNAPSHOT_FILE}: configuration {:?} is not the {peers} voters of this cluster",
            meta.get_conf_state()
        )));
    }
    Ok((meta.index, meta.term))
}

/// The log kept after the snapshot must follow it directly, in a term at least its own.
fn check_log_after_snapshot(
    entries: &[Entry],
    snap_index: u64,
    snap_term: u64,
) -> Result<(), PeerError> {
    let Some(first) = entries.first() else {
        return Ok(());
    };
    if first.index != snap_index + 1 {
        return Err(corrupt(format!(
            "{LOG_FILE} starts at index {} but the snapshot ends at {snap_index}",
            first.index
        )));
    }
    if first.term < snap_term {
        return Err(corrupt(format!(
            "{LOG_FILE}: entry {} has term {} below the snapshot's term {snap_term}",
            first.index, first.term
        )));
    }
    Ok(())
}

/// A crash that tears one Ready keeps a prefix of its writes, in `persist`'s
/// order: snapshot, log, then hard state (raft-nemesis seed 249 kept a new
/// snapshot at 460 with the hard state's commit at 452). That Ready never
/// synced, so nothing of it left the node, and what survived completes the
/// hard state: a snapshot proves its index committed, and an entry or a
/// snapshot of a later term proves that term (in which no vote was cast yet).
fn complete_torn_ready(
    hard_state: &mut HardState,
    entries: &[Entry],
    (snap_index, snap_term): (u64, u64),
) {
    hard_state.commit = hard_state.commit.max(snap_index);
    let last_term = entries.last().map_or(snap_term, |e| e.term);
    if hard_state.term < last_term {
        hard_state.term = last_term;
        hard_state.vote = raft_rs::INVALID_ID;
    }
}

/// The hard state must agree with the log: commit within it, a term no lower than its
/// last entry's, a vote for a peer of the cluster.
fn check_hard_state(
    hard_state: &HardState,
    entries: &[Entry],
    (snap_index, snap_term): (u64, u64),
    peers: usize,
) -> Result<(), PeerError> {
    let last_index = entries.last().map_or(snap_index, |e| e.index);
    let last_term = entries.last().map_or(snap_term, |e| e.term);
    if hard_state.commit > last_index {
        return Err(corrupt(format!(
            "{HARD_STATE_FILE}: commit index {} outside the persisted log {snap_index}..={last_index}",
            hard_state.commit
        )));
    }
    if hard_state.term < last_term {
        return Err(corrupt(format!(
            "{HARD_STATE_FILE}: term {} is below the last entry's term {last_term}",
            hard_state.term
        )));
    }
    if hard_state.vote > peers as u64 {
        return Err(corrupt(format!(
            "{HARD_STATE_FILE}: vote for {} in a cluster of {peers}",
            hard_state.vote
        )));
    }
    Ok(())
}

/// Bytes of the files that are not the snapshot.
pub(crate) fn raft_state_bytes(disk: &dyn Disk) -> u64 {
    [HARD_STATE_FILE, LOG_FILE]
        .iter()
        .map(|f| disk.read(f).map_or(0, |b| b.len() as u64))
        .sum()
}

pub(crate) fn snapshot_bytes(disk: &dyn Disk) -> u64 {
    disk.read(SNAPSHOT_FILE).map_or(0, |b| b.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peer::MemDisk;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry {
            index,
            term,
            data: data.to_vec().into(),
            ..Default::default()
        }
    }

    fn hs(term: u64, vote: u64, commit: u64) -> HardState {
        HardState {
            term,
            vote,
            commit,
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_disk_is_a_fresh_peer() {
        let r = restore(&MemDisk::default(), 3).unwrap();
        assert_eq!(r.conf_state.voters, vec![1, 2, 3]);
        assert!(r.snapshot.is_none() && r.entries.is_empty());
    }

    #[test]
    fn log_truncation_and_compaction_survive_a_restore() {
        let mut disk = MemDisk::default();
        let mut log = DiskLog::default();
        log.append(
            &mut disk,
            &[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")],
        );
        log.append(&mut disk, &[entry(3, 2, b"C"), entry(4, 2, b"d")]);
        write_hard_state(&mut disk, &hs(2, 1, 4));
        let r = restore(&disk, 3).unwrap();
        let got: Vec<_> = r.entries.iter().map(|e| (e.index, e.term)).collect();
        assert_eq!(got, vec![(1, 1), (2, 1), (3, 2), (4, 2)]);

        let mut s = Snapshot {
            data: b"state".to_vec().into(),
            ..Default::default()
        };
        s.mut_metadata().index = 2;
        s.mut_metadata().term = 1;
        s.mut_metadata().set_conf_state(all_voters(3));
        write_snapshot(&mut disk, &s);
        // A crash between the snapshot and the compaction: the covered records go.
        let r = restore(&disk, 3).unwrap();
        assert_eq!(r.entries.first().map(|e| e.index), Some(3));
        log.compact_to(&mut disk, 2);
        log.append(&mut disk, &[entry(5, 2, b"e")]);
        write_hard_state(&mut disk, &hs(2, 1, 5));
        let r = restore(&disk, 3).unwrap();
        let got: Vec<_> = r.entries.iter().map(|e| e.index).collect();
        assert_eq!(got, vec![3, 4, 5]);
        assert_eq!(&r.snapshot.unwrap().data[..], b"state");
        assert!(
            restore(&disk, 5).is_err(),
            "a snapshot of 3 voters in a cluster of 5"
        );
    }

    #[test]
    fn a_snapshot_past_the_whole_log_then_an_append_after_a_crash() {
        // A torn crash kept the snapshot at 5 but not the emptied log (1..=3).
        let mut disk = MemDisk::default();
        let mut log = DiskLog::default();
        log.append(
            &mut disk,
            &[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")],
        );
        write_snapshot(&mut disk, &snapshot_at(5, 1));
        write_hard_state(&mut disk, &hs(1, 1, 5));
        let mut r = restore(&disk, 3).unwrap();
        assert!(r.entries.is_empty());
        r.log.append(&mut disk, &[entry(6, 1, b"f")]);
        let got: Vec<_> = restore(&disk, 3)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.index)
            .collect();
        assert_eq!(got, vec![6]);
    }

    fn snapshot_at(index: u64, term: u64) -> Snapshot {
        let mut s = Snapshot::default();
        s.mut_metadata().index = index;
        s.mut_metadata().term = term;
        s.mut_metadata().set_conf_state(all_voters(3));
        s
    }

    #[test]
    fn a_commit_lost_below_a_synced_snapshot_is_the_snapshot_s() {
        let mut disk = MemDisk::default();
        write_snapshot(&mut disk, &snapshot_at(5, 1));
        write_hard_state(&mut disk, &hs(1, 1, 2));
        assert_eq!(restore(&disk, 3).unwrap().hard_state.commit, 5);
    }

    #[test]
    fn entries_of_a_later_term_kept_without_their_hard_state_raise_the_term() {
        let mut disk = MemDisk::default();
        let mut log = DiskLog::default();
        log.append(&mut disk, &[entry(1, 1, b"a"), entry(2, 3, b"b")]);
        write_hard_state(&mut disk, &hs(1, 2, 1));
        let hard_state = restore(&disk, 3).unwrap().hard_state;
        assert_eq!(
            (hard_state.term, hard_state.vote, hard_state.commit),
            (3, 0, 1)
        );
    }

    #[test]
    fn corruption_is_an_error_not_a_panic() {
        let mut disk = MemDisk::default();
        let mut log = DiskLog::default();
        log.append(&mut disk, &[entry(1, 1, b"a"), entry(2, 1, b"b")]);
        write_hard_state(&mut disk, &hs(1, 1, 2));
        let good = disk.clone();

        // A torn tail is dropped: only entry 1 is left.
        let first_record = record(&entry(1, 1, b"a")).len() as u64;
        for cut in [first_record + 3, first_record + 13] {
            let mut d = good.clone();
            d.truncate(LOG_FILE, cut);
            write_hard_state(&mut d, &hs(1, 1, 1));
            let r = restore(&d, 3).unwrap();
            assert_eq!(r.entries.len(), 1, "cut at {cut}");
        }

        // Rot in any byte of the log is refused.
        let len = good.read(LOG_FILE).unwrap().len();
        for at in 0..len {
            let mut d = good.clone();
            let mut bytes = d.read(LOG_FILE).unwrap().to_vec();
            bytes[at] ^= 0x01;
            d.write(LOG_FILE, &bytes);
            assert!(
                restore(&d, 3).unwrap_err().0.contains("checksum"),
                "byte {at}"
            );
        }

        let mut d = good.clone();
        let mut bytes = d.read(LOG_FILE).unwrap().to_vec();
        *bytes.last_mut().unwrap() ^= 0x40;
        d.write(LOG_FILE, &bytes);
        assert!(restore(&d, 3).unwrap_err().0.contains("checksum"));

        let mut d = good.clone();
        d.write(HARD_STATE_FILE, b"garbage!garbage!");
        assert!(restore(&d, 3).unwrap_err().0.contains(HARD_STATE_FILE));

        let mut d = good.clone();
        write_hard_state(&mut d, &hs(1, 1, 7));
        assert!(restore(&d, 3).unwrap_err().0.contains("commit index 7"));

        let mut d = MemDisk::default();
        d.write(LOG_FILE, good.read(LOG_FILE).unwrap());
        assert!(restore(&d, 3).unwrap_err().0.contains("missing"));
    }
}
