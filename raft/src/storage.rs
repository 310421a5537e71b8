//! The on-disk format of a peer's persistent state, shared by the simulated disk and a
//! real file-backed one.
//!
//! Three files:
//! - `raft-hardstate`: bincode [`HardState`], replaced on every change;
//! - `raft-log`: records of `u32` little-endian length + bincode [`Entry`], appended;
//!   truncated by byte offset on a conflict; rewritten (the kept suffix) on a snapshot;
//! - `raft-snapshot`: bincode [`Snapshot`] (metadata and data), replaced.
//!
//! [`LogStore::persist`] writes the snapshot before rewriting the log, so a crash between
//! the two leaves entries at or below the snapshot in the log; [`LogStore::restore`]
//! drops them by the same rule as a fresh snapshot.

use crate::{Entry, HardState, Index, RaftError, Ready, Restored, Snapshot, Term};

/// Name of the file holding the bincode [`HardState`].
pub const HARD_STATE_FILE: &str = "raft-hardstate";
/// Name of the file holding the log records.
pub const LOG_FILE: &str = "raft-log";
/// Name of the file holding the bincode [`Snapshot`].
pub const SNAPSHOT_FILE: &str = "raft-snapshot";

/// Bytes of the length prefix of each log record.
const RECORD_HEADER_BYTES: usize = 4;

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
    pub fn restore(disk: &dyn Disk) -> Result<(LogStore, Option<Restored>), RaftError> {
        let hard_state_bytes = disk.read(HARD_STATE_FILE);
        let log_bytes = disk.read(LOG_FILE).unwrap_or(&[]);
        let snapshot_bytes = disk.read(SNAPSHOT_FILE);
        let Some(hard_state_bytes) = hard_state_bytes else {
            if log_bytes.is_empty() && snapshot_bytes.is_none() {
                return Ok((LogStore::default(), None));
            }
            // Any entry or snapshot has a term >= 1, so a term was persisted before it.
            return Err(RaftError::CorruptState(format!(
                "{HARD_STATE_FILE} is missing but {LOG_FILE} or {SNAPSHOT_FILE} exists"
            )));
        };
        let hard_state: HardState = decode(hard_state_bytes, HARD_STATE_FILE)?;
        let snapshot: Option<Snapshot> = snapshot_bytes
            .map(|b| decode(b, SNAPSHOT_FILE))
            .transpose()?;

        let mut store = LogStore::default();
        let mut entries = Vec::new();
        let mut offset = 0usize;
        while offset < log_bytes.len() {
            let rest = &log_bytes[offset..];
            if rest.len() < RECORD_HEADER_BYTES {
                return Err(RaftError::CorruptState(format!(
                    "{LOG_FILE}: truncated record header at byte {offset} ({} of {RECORD_HEADER_BYTES} bytes)",
                    rest.len()
                )));
            }
            let len = u32::from_le_bytes(rest[..RECORD_HEADER_BYTES].try_into().unwrap()) as usize;
            let body = &rest[RECORD_HEADER_BYTES..];
            if body.len() < len {
                return Err(RaftError::CorruptState(format!(
                    "{LOG_FILE}: truncated record at byte {offset}: {len} bytes announced, {} present",
                    body.len()
                )));
            }
            let entry: Entry =
                decode(&body[..len], &format!("{LOG_FILE} record at byte {offset}"))?;
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
            offset += RECORD_HEADER_BYTES + len;
        }
        store.log_bytes = offset as u64;

        // Entries the snapshot covers are left over from a crash between writing the
        // snapshot and rewriting the log: drop them as persist would have.
        if let Some(s) = &snapshot {
            if store.term_at(s.last_included_index) == Some(s.last_included_term) {
                let skip = (s.last_included_index + 1 - store.first_index) as usize;
                entries.drain(..skip.min(entries.len()));
            } else if entries
                .first()
                .is_some_and(|e| e.index <= s.last_included_index)
            {
                entries.clear();
            }
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

    /// Write what `ready` asks to persist: hard state, then snapshot, then entries. The
    /// caller syncs the disk afterwards.
    pub fn persist(&mut self, disk: &mut dyn Disk, ready: &Ready) {
        if let Some(hs) = &ready.hard_state {
            disk.write(HARD_STATE_FILE, &encode(hs));
        }
        if let Some(s) = &ready.snapshot {
            disk.write(SNAPSHOT_FILE, &encode(s));
            self.compact_to(disk, s.last_included_index, s.last_included_term);
        }
        if let Some(first) = ready.entries.first().map(|e| e.index) {
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
                let body = encode(e);
                self.offsets.push(self.log_bytes + buf.len() as u64);
                self.terms.push(e.term);
                buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
                buf.extend_from_slice(&body);
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
        let suffix = disk.read(LOG_FILE).expect("log file exists")[base as usize..].to_vec();
        disk.write(LOG_FILE, &suffix);
        self.offsets = self.offsets[from..].iter().map(|o| o - base).collect();
        self.terms.drain(..from);
        self.first_index = index + 1;
        self.log_bytes -= base;
    }
}
