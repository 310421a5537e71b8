//! The on-disk format of a peer's persistent state, shared by the simulated disk and a
//! real file-backed one.
//!
//! Three files:
//! - `raft-hardstate`: CRC-32 (`u32` little-endian) of the bincode [`HardState`], then
//!   it; replaced on every change;
//! - `raft-log`: records ([`peer::record`]: a checksummed header, then the bincode
//!   [`Entry`]), appended; truncated by byte offset on a conflict; rewritten (the kept
//!   suffix) on a snapshot;
//! - `raft-snapshot`: CRC-32, then the bincode [`Snapshot`] (metadata and data); replaced.
//!
//! A disk can tear an append that was not synced (power lost mid-write) and can rot a
//! byte that was. The two look different: a torn append leaves a true prefix of a
//! record at the end of the log, which [`LogStore::restore`] drops (it was never
//! synced, so never promised to anyone); a record whose checksums fail, or a damaged
//! hard state or snapshot, is rot, and restoring refuses with `CorruptState` naming the
//! file and offset rather than serve data it cannot trust. (A replaced file is never
//! torn: `write` is atomic, as a write to a temporary file and a rename are.)
//!
//! [`LogStore::persist`] writes the snapshot before rewriting the log, so a crash between
//! the two leaves entries at or below the snapshot in the log; [`LogStore::restore`]
//! drops them by the same rule as a fresh snapshot.

use crate::{Entry, HardState, Index, RaftError, Ready, Restored, Snapshot, Term};
use peer::record::{self, Record, Rot};

/// Name of the file holding the bincode [`HardState`].
pub const HARD_STATE_FILE: &str = "raft-hardstate";
/// Name of the file holding the log records.
pub const LOG_FILE: &str = "raft-log";
/// Name of the file holding the bincode [`Snapshot`].
pub const SNAPSHOT_FILE: &str = "raft-snapshot";

/// Bytes of the CRC in front of the hard state and the snapshot.
const CRC_BYTES: usize = 4;

pub use peer::Disk;

/// In-memory index of the log file: where each entry record starts, and its term (to
/// decide what a snapshot keeps without reading the file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogStore {
    /// Index of the first record in the file (meaningful when the file has records).
    first_index: Index,
    /// Byte offset of each record; `offsets[i]` is entry `first_index + i`.
    offsets: Vec<u64>,
    terms: Vec<Term>,
    /// Length of the log file in bytes.
    log_bytes: u64,
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("bincode encoding into a Vec cannot fail")
}

fn crc(bytes: &[u8]) -> u32 {
    peer::record::crc32(bytes)
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))
}

/// `value` as bincode behind its CRC (the hard state and snapshot files).
fn encode_checked<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let body = encode(value);
    let mut out = Vec::with_capacity(CRC_BYTES + body.len());
    out.extend_from_slice(&crc(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The inverse of [`encode_checked`]; a mismatch is rot.
fn decode_checked<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, RaftError> {
    if bytes.len() < CRC_BYTES || le_u32(bytes) != crc(&bytes[CRC_BYTES..]) {
        return Err(RaftError::CorruptState(format!(
            "{what}: checksum mismatch ({} bytes): the disk damaged synced data",
            bytes.len()
        )));
    }
    decode(&bytes[CRC_BYTES..], what)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, RaftError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| RaftError::CorruptState(format!("{what}: undecodable: {e}")))?;
    if used != bytes.len() {
        return Err(RaftError::CorruptState(format!(
            "{what}: {} trailing bytes after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

impl LogStore {
    /// Read what a peer persisted. `None` when the disk holds no Raft state (a fresh
    /// peer); `CorruptState` naming the file and offset on anything malformed.
    /// The files' shapes are judged here (checksums, torn tails); whether
    /// what they hold hangs together as Raft state, a missing hard state
    /// beside a log included, is `Raft::new`'s to judge.
    pub fn restore(disk: &dyn Disk) -> Result<(LogStore, Option<Restored>), RaftError> {
        let hard_state_bytes = disk.read(HARD_STATE_FILE);
        let log_bytes = disk.read(LOG_FILE).unwrap_or(&[]);
        let snapshot_bytes = disk.read(SNAPSHOT_FILE);
        if hard_state_bytes.is_none() && log_bytes.is_empty() && snapshot_bytes.is_none() {
            return Ok((LogStore::default(), None));
        }
        let hard_state: Option<HardState> = hard_state_bytes
            .map(|b| decode_checked(b, HARD_STATE_FILE))
            .transpose()?;
        let snapshot: Option<Snapshot> = snapshot_bytes
            .map(|b| decode_checked(b, SNAPSHOT_FILE))
            .transpose()?;

        let (mut store, mut entries) = LogStore::read_log(log_bytes)?;
        if let Some(s) = &snapshot {
            store.drop_covered(&mut entries, s);
        }
        Ok((
            store,
            Some(Restored {
                hard_state,
                snapshot,
                entries,
            }),
        ))
    }

    /// The log file's whole records, in order, and their index: up to a torn
    /// tail, which ends the log (`persist` cuts it off before appending).
    fn read_log(log_bytes: &[u8]) -> Result<(LogStore, Vec<Entry>), RaftError> {
        let mut store = LogStore::default();
        let mut entries = Vec::new();
        let mut offset = 0usize;
        while offset < log_bytes.len() {
            let read = record::read(&log_bytes[offset..]).map_err(|Rot(what)| {
                RaftError::CorruptState(format!(
                    "{LOG_FILE}: record at byte {offset}: {what}: the disk damaged synced data"
                ))
            })?;
            let Record::Whole(body, len) = read else {
                peer::coverage::mark(peer::coverage::TORN_TAIL_DROPPED);
                break;
            };
            let entry: Entry = decode(body, &format!("{LOG_FILE} record at byte {offset}"))?;
            if let Some(prev) = entries.last().map(|e: &Entry| e.index) {
                if entry.index != prev + 1 {
                    return Err(RaftError::CorruptState(format!(
                        "{LOG_FILE}: record at byte {offset} has index {} after index {prev}",
                        entry.index
                    )));
                }
            } else {
                store.first_index = entry.index;
            }
            store.offsets.push(offset as u64);
            store.terms.push(entry.term);
            entries.push(entry);
            offset += len;
        }
        store.log_bytes = offset as u64;
        Ok((store, entries))
    }

    /// Drops the restored entries the snapshot covers: they are left over from a
    /// crash between writing the snapshot and rewriting the log, and persist would
    /// have dropped them.
    fn drop_covered(&mut self, entries: &mut Vec<Entry>, s: &Snapshot) {
        if self.term_at(s.last_included_index) == Some(s.last_included_term) {
            let skip = (s.last_included_index + 1 - self.first_index) as usize;
            entries.drain(..skip.min(entries.len()));
        } else if entries
            .first()
            .is_some_and(|e| e.index <= s.last_included_index)
        {
            entries.clear();
            // The file's records are all stale: the next persist starts the
            // log afresh after the snapshot (and cuts the file to nothing).
            *self = LogStore {
                first_index: s.last_included_index + 1,
                ..LogStore::default()
            };
        }
    }

    /// Write what `ready` asks to persist: hard state, then snapshot, then entries. The
    /// caller syncs the disk afterwards.
    pub fn persist(&mut self, disk: &mut dyn Disk, ready: &Ready) {
        if let Some(hs) = &ready.hard_state {
            disk.write(HARD_STATE_FILE, &encode_checked(hs));
        }
        if let Some(s) = &ready.snapshot {
            disk.write(SNAPSHOT_FILE, &encode_checked(s));
            self.compact_to(disk, s.last_included_index, s.last_included_term);
        }
        if let Some(first) = ready.entries.first().map(|e| e.index) {
            // A torn tail left by a crash goes before anything is appended.
            let on_disk = disk.read(LOG_FILE).map_or(0, |b| b.len() as u64);
            if on_disk > self.log_bytes {
                disk.truncate(LOG_FILE, self.log_bytes);
            }
            if self.offsets.is_empty() || first <= self.first_index {
                if self.log_bytes > 0 {
                    disk.truncate(LOG_FILE, 0);
                }
                *self = LogStore {
                    first_index: first,
                    ..LogStore::default()
                };
            } else {
                assert!(
                    first <= self.last_index() + 1,
                    "Ready.entries start at {first}, leaving a gap after persisted index {}",
                    self.last_index()
                );
                if first <= self.last_index() {
                    let keep = (first - self.first_index) as usize;
                    self.log_bytes = self.offsets[keep];
                    self.offsets.truncate(keep);
                    self.terms.truncate(keep);
                    disk.truncate(LOG_FILE, self.log_bytes);
                }
            }
            let mut buf = Vec::new();
            for e in &ready.entries {
                self.offsets.push(self.log_bytes + buf.len() as u64);
                self.terms.push(e.term);
                record::append(&mut buf, &encode(e));
            }
            self.log_bytes += buf.len() as u64;
            disk.append(LOG_FILE, &buf);
        }
    }

    /// 6.824's RaftStateSize: bytes of hard state and log, not the snapshot.
    pub fn raft_state_size(disk: &dyn Disk) -> u64 {
        [HARD_STATE_FILE, LOG_FILE]
            .iter()
            .map(|f| disk.read(f).map_or(0, |b| b.len() as u64))
            .sum()
    }

    fn last_index(&self) -> Index {
        self.first_index + self.offsets.len() as Index - 1
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        if self.offsets.is_empty() || index < self.first_index {
            return None;
        }
        self.terms.get((index - self.first_index) as usize).copied()
    }

    /// Keep only the records after `(index, term)` if the file holds that entry; else none.
    fn compact_to(&mut self, disk: &mut dyn Disk, index: Index, term: Term) {
        let kept_from = if self.term_at(index) == Some(term) && index < self.last_index() {
            Some((index + 1 - self.first_index) as usize)
        } else {
            None
        };
        let Some(from) = kept_from else {
            if self.log_bytes > 0 {
                disk.write(LOG_FILE, &[]);
            }
            *self = LogStore {
                first_index: index + 1,
                ..LogStore::default()
            };
            return;
        };
        let base = self.offsets[from];
        // Up to log_bytes only: a torn tail past it is not part of the log.
        let file = disk.read(LOG_FILE).expect("log file exists");
        let suffix = file[base as usize..self.log_bytes as usize].to_vec();
        disk.write(LOG_FILE, &suffix);
        self.offsets = self.offsets[from..].iter().map(|o| o - base).collect();
        self.terms.drain(..from);
        self.first_index = index + 1;
        self.log_bytes -= base;
    }
}
