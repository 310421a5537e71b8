//! The disk a peer persists to: a flat namespace of whole files.

use std::collections::BTreeMap;

/// A flat namespace of whole files. Durability is the driver's business: it syncs
/// after [`crate::Peer::ready`] returns with `must_sync`, and a crash keeps only what
/// was synced.
pub trait Disk {
    /// The file's contents, or None if it does not exist.
    fn read(&self, file: &str) -> Option<&[u8]>;
    /// Replace the whole file.
    fn write(&mut self, file: &str, data: &[u8]);
    /// Append to the file, creating it if needed.
    fn append(&mut self, file: &str, data: &[u8]);
    /// Cut the file to `len` bytes.
    fn truncate(&mut self, file: &str, len: u64);
}

/// A disk in memory, where every write is durable at once: for single-peer tests and
/// drivers outside the simulator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemDisk {
    files: BTreeMap<String, Vec<u8>>,
}

impl Disk for MemDisk {
    fn read(&self, file: &str) -> Option<&[u8]> {
        self.files.get(file).map(Vec::as_slice)
    }
    fn write(&mut self, file: &str, data: &[u8]) {
        self.files.insert(file.to_owned(), data.to_vec());
    }
    fn append(&mut self, file: &str, data: &[u8]) {
        self.files
            .entry(file.to_owned())
            .or_default()
            .extend_from_slice(data);
    }
    fn truncate(&mut self, file: &str, len: u64) {
        if let Some(f) = self.files.get_mut(file) {
            f.truncate(len as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_disk_appends_truncates_and_replaces() {
        let mut d = MemDisk::default();
        assert_eq!(d.read("f"), None);
        d.append("f", b"abc");
        d.append("f", b"def");
        d.truncate("f", 4);
        assert_eq!(d.read("f"), Some(&b"abcd"[..]));
        d.write("f", b"x");
        assert_eq!(d.read("f"), Some(&b"x"[..]));
    }
}
