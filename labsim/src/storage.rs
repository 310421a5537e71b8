//! Simulated durable storage: one small file system per node.
//!
//! Writes land in a volatile view at once (what the node reads back), and
//! become durable only when a sync that follows them completes. A crash
//! throws the volatile view away and keeps the durable one, so a node loses
//! exactly what it wrote but had not synced. A sync latency of zero makes
//! every sync complete on the spot: that is 6.824's Persister.
//!
//! The fault model, beyond losing what was not synced: a crash can tear the
//! writes in flight (those issued since the last completed sync reach the
//! platter in order, up to a point, and an append can stop in the middle),
//! and a byte of synced data can rot. `write` replaces a file atomically (as
//! writing a temporary file and renaming it would), so it survives whole or
//! not at all; `append` is where torn data comes from.

use std::collections::BTreeMap;

/// One write to a file, as it waits for a sync.
#[derive(Clone, Debug)]
enum Op {
    Write(String, Vec<u8>),
    Append(String, Vec<u8>),
    Truncate(String, u64),
    Remove(String),
}

impl Op {
    fn apply(self, files: &mut BTreeMap<String, Vec<u8>>) {
        match self {
            Op::Write(name, data) => {
                files.insert(name, data);
            }
            Op::Append(name, data) => match files.get_mut(&name) {
                Some(file) => file.extend_from_slice(&data),
                None => {
                    files.insert(name, data);
                }
            },
            Op::Truncate(name, len) => {
                if let Some(file) = files.get_mut(&name) {
                    file.truncate(len as usize);
                }
            }
            Op::Remove(name) => {
                files.remove(&name);
            }
        }
    }

    /// Applies a copy of the op, without consuming it.
    fn apply_ref(&self, files: &mut BTreeMap<String, Vec<u8>>) {
        match self {
            Op::Write(name, data) => match files.get_mut(name) {
                Some(file) => {
                    file.clear();
                    file.extend_from_slice(data);
                }
                None => {
                    files.insert(name.clone(), data.clone());
                }
            },
            Op::Append(name, data) => match files.get_mut(name) {
                Some(file) => file.extend_from_slice(data),
                None => {
                    files.insert(name.clone(), data.clone());
                }
            },
            Op::Truncate(name, len) => {
                if let Some(file) = files.get_mut(name) {
                    file.truncate(*len as usize);
                }
            }
            Op::Remove(name) => {
                files.remove(name);
            }
        }
    }
}

/// Identifies one sync of one node's storage.
pub type SyncId = u64;

/// A node's disk. Owned by the simulator, so it outlives the node's crashes.
#[derive(Default)]
pub struct Storage {
    volatile: BTreeMap<String, Vec<u8>>,
    durable: BTreeMap<String, Vec<u8>>,
    /// Writes not yet covered by a completed sync, each tagged with the sync
    /// that covers it (`None` until a sync is issued).
    pending: Vec<(Option<SyncId>, Op)>,
    next_sync: SyncId,
    bytes_written: u64,
    syncs: u64,
}

impl Storage {
    /// The contents of `file` as the node sees it (synced or not).
    pub fn read(&self, file: &str) -> Option<&[u8]> {
        self.volatile.get(file).map(Vec::as_slice)
    }

    /// The size of `file` in bytes, 0 if it does not exist.
    pub fn len(&self, file: &str) -> u64 {
        self.volatile.get(file).map_or(0, |f| f.len() as u64)
    }

    /// True if no file exists.
    pub fn is_empty(&self) -> bool {
        self.volatile.is_empty()
    }

    /// Names of the files that exist, in order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.volatile.keys().map(String::as_str)
    }

    /// The contents of `file` as a crash would leave it.
    pub fn read_durable(&self, file: &str) -> Option<&[u8]> {
        self.durable.get(file).map(Vec::as_slice)
    }

    /// Total bytes ever written, and syncs issued: for counters and benches.
    pub fn stats(&self) -> (u64, u64) {
        (self.bytes_written, self.syncs)
    }

    /// True if some write is not yet durable.
    pub fn has_unsynced(&self) -> bool {
        !self.pending.is_empty()
    }

    pub(crate) fn write(&mut self, file: &str, data: &[u8]) {
        self.bytes_written += data.len() as u64;
        self.log(Op::Write(file.to_owned(), data.to_vec()));
    }

    pub(crate) fn append(&mut self, file: &str, data: &[u8]) {
        self.bytes_written += data.len() as u64;
        self.log(Op::Append(file.to_owned(), data.to_vec()));
    }

    pub(crate) fn truncate(&mut self, file: &str, len: u64) {
        self.log(Op::Truncate(file.to_owned(), len));
    }

    pub(crate) fn remove(&mut self, file: &str) {
        self.log(Op::Remove(file.to_owned()));
    }

    fn log(&mut self, op: Op) {
        op.apply_ref(&mut self.volatile);
        self.pending.push((None, op));
    }

    /// Issues a sync covering every write so far. It completes later, through
    /// `complete_sync`, or at once with `complete_now`.
    pub(crate) fn begin_sync(&mut self) -> SyncId {
        let id = self.next_sync;
        self.next_sync += 1;
        self.syncs += 1;
        for (tag, _) in self.pending.iter_mut().rev() {
            if tag.is_some() {
                break;
            }
            *tag = Some(id);
        }
        id
    }

    /// Makes durable every write covered by sync `id` (and by earlier syncs).
    pub(crate) fn complete_sync(&mut self, id: SyncId) {
        let covered = self
            .pending
            .iter()
            .take_while(|(tag, _)| tag.is_some_and(|t| t <= id))
            .count();
        for (_, op) in self.pending.drain(..covered) {
            op.apply(&mut self.durable);
        }
    }

    /// A machine crash that tears the writes in flight: the first `keep` of
    /// them survive, and if the next is an append, its first `bytes` bytes
    /// too (callers draw both; out-of-range values are clamped).
    pub(crate) fn crash_torn(&mut self, keep: usize, bytes: usize) {
        let keep = keep.min(self.pending.len());
        let mut ops = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(_, op)| op);
        for op in ops.by_ref().take(keep) {
            op.apply(&mut self.durable);
        }
        if let Some(Op::Append(name, data)) = ops.next() {
            let prefix = data[..bytes.min(data.len())].to_vec();
            Op::Append(name, prefix).apply(&mut self.durable);
        }
        self.volatile = self.durable.clone();
    }

    /// Writes in flight (not yet made durable by a completed sync).
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// The byte length of the `i`-th write in flight, if it is an append.
    pub(crate) fn in_flight_append_len(&self, i: usize) -> Option<usize> {
        match self.pending.get(i) {
            Some((_, Op::Append(_, data))) => Some(data.len()),
            _ => None,
        }
    }

    /// Flips the bits of one byte of synced data (bit rot): byte `at` of the
    /// non-empty durable files laid end to end, in name order (wrapping).
    /// Returns the file and offset, or `None` if no file holds data.
    pub(crate) fn corrupt(&mut self, at: u64) -> Option<(String, usize)> {
        let total: u64 = self.durable.values().map(|f| f.len() as u64).sum();
        if total == 0 {
            return None;
        }
        let mut at = at % total;
        let (name, offset) = self.durable.iter().find_map(|(name, f)| {
            let len = f.len() as u64;
            if at < len {
                return Some((name.clone(), at as usize));
            }
            at -= len;
            None
        })?;
        for files in [&mut self.durable, &mut self.volatile] {
            if let Some(byte) = files.get_mut(&name).and_then(|f| f.get_mut(offset)) {
                *byte ^= 0xff;
            }
        }
        Some((name, offset))
    }

    /// The node crashed: writes not yet synced are lost, unless
    /// `keep_unsynced` (a process crash whose page cache survived).
    pub(crate) fn crash(&mut self, keep_unsynced: bool) {
        if keep_unsynced {
            for (_, op) in self.pending.drain(..) {
                op.apply(&mut self.durable);
            }
        } else {
            self.pending.clear();
            self.volatile = self.durable.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_are_lost_at_a_crash() {
        let mut s = Storage::default();
        s.write("a", b"one");
        let sync = s.begin_sync();
        s.append("a", b"-two");
        assert_eq!(s.read("a"), Some(&b"one-two"[..]));
        s.complete_sync(sync);
        assert_eq!(s.read_durable("a"), Some(&b"one"[..]));
        s.crash(false);
        assert_eq!(s.read("a"), Some(&b"one"[..]));
        assert!(!s.has_unsynced());
    }

    #[test]
    fn a_sync_in_flight_at_the_crash_is_lost_too() {
        let mut s = Storage::default();
        s.write("a", b"x");
        let _sync = s.begin_sync();
        s.crash(false);
        assert_eq!(s.read("a"), None);
    }

    #[test]
    fn a_torn_crash_keeps_a_prefix_of_the_writes_in_flight() {
        let mut s = Storage::default();
        s.write("a", b"synced");
        let sync = s.begin_sync();
        s.complete_sync(sync);
        s.append("log", b"first");
        s.write("b", b"whole");
        s.append("log", b"-second");
        assert_eq!(s.in_flight(), 3);
        assert_eq!(s.in_flight_append_len(2), Some(7));
        s.crash_torn(2, 4);
        assert_eq!(s.read("log"), Some(&b"first-sec"[..]));
        assert_eq!(s.read("b"), Some(&b"whole"[..]));
        assert_eq!(s.read("a"), Some(&b"synced"[..]));
        assert!(!s.has_unsynced());
    }

    #[test]
    fn a_write_survives_a_tear_whole_or_not_at_all() {
        let mut s = Storage::default();
        s.write("a", b"old");
        let sync = s.begin_sync();
        s.complete_sync(sync);
        s.write("a", b"new");
        s.crash_torn(0, 2);
        assert_eq!(s.read("a"), Some(&b"old"[..]));
    }

    #[test]
    fn rot_flips_one_synced_byte() {
        let mut s = Storage::default();
        s.write("a", b"xy");
        s.write("b", b"z");
        let sync = s.begin_sync();
        s.complete_sync(sync);
        assert_eq!(s.corrupt(2), Some(("b".to_string(), 0)));
        assert_eq!(s.read("b"), Some(&[b'z' ^ 0xff][..]));
        assert_eq!(s.read_durable("b"), s.read("b"));
        assert_eq!(Storage::default().corrupt(5), None);
    }

    #[test]
    fn a_process_crash_can_keep_unsynced_writes() {
        let mut s = Storage::default();
        s.write("a", b"x");
        s.truncate("a", 0);
        s.append("a", b"yz");
        s.crash(true);
        assert_eq!(s.read("a"), Some(&b"yz"[..]));
        assert_eq!(s.read_durable("a"), Some(&b"yz"[..]));
    }
}
