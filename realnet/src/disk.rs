//! A [`Disk`] on a real directory: the peer's own files, written through at
//! once and made durable by [`FileDisk::sync`] (fsync), where the simulator
//! syncs.
//!
//! Each of the peer's files is a file of the same name in the directory. A
//! whole-file `write` goes to `NAME.tmp` and is renamed over `NAME` at the next
//! sync, after the temporary file's own fsync: a crash at any moment leaves the
//! old file or the new one, never a mix (the simulator's rule: a whole-file
//! write is atomic). Appends and truncations go to the file (or to its pending
//! temporary) at once, so a `kill -9` keeps them (the page cache survives the
//! process); a power cut may keep any prefix of an unsynced append, a torn tail
//! the peer's checksummed records tell from rot.
//!
//! The `Disk` trait cannot fail, so the first I/O error is kept and returned
//! by the next [`FileDisk::sync`]: the node stops there, before anything that
//! depended on the failed write leaves it.

use peer::Disk;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const TMP_SUFFIX: &str = ".tmp";

struct OpenFile {
    /// What the file holds now (what `read` returns).
    bytes: Vec<u8>,
    /// Where writes go: the file itself, or its pending temporary.
    handle: File,
    /// Written since the last sync.
    dirty: bool,
    /// A whole-file write waits in `NAME.tmp` for the next sync's rename.
    pending_rename: bool,
}

/// A peer's files in one directory. See the module documentation.
pub struct FileDisk {
    dir: PathBuf,
    files: BTreeMap<String, OpenFile>,
    /// Files created or renamed since the last sync: the directory needs one too.
    dir_dirty: bool,
    error: Option<io::Error>,
}

impl std::fmt::Debug for FileDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileDisk({})", self.dir.display())
    }
}

fn open_rw(path: &Path, truncate: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .open(path)
}

fn context(what: &str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

impl FileDisk {
    /// Opens (creating it if needed) the directory `dir` and reads every file
    /// in it. A leftover `NAME.tmp` is a whole-file write that never reached
    /// its sync: it is removed, as the simulator loses an unsynced write.
    pub fn open(dir: &Path) -> io::Result<FileDisk> {
        fs::create_dir_all(dir).map_err(|e| context("cannot create", dir, e))?;
        let mut files = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(|e| context("cannot list", dir, e))? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(TMP_SUFFIX) {
                fs::remove_file(&path).map_err(|e| context("cannot remove", &path, e))?;
                continue;
            }
            if !path.is_file() {
                continue;
            }
            let bytes = fs::read(&path).map_err(|e| context("cannot read", &path, e))?;
            let handle = open_rw(&path, false).map_err(|e| context("cannot open", &path, e))?;
            let file = OpenFile {
                bytes,
                handle,
                dirty: false,
                pending_rename: false,
            };
            files.insert(name.to_owned(), file);
        }
        Ok(FileDisk {
            dir: dir.to_owned(),
            files,
            dir_dirty: false,
            error: None,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        assert!(
            !file.is_empty() && !file.contains('/') && !file.ends_with(TMP_SUFFIX),
            "a peer's file name must be plain: {file:?}"
        );
        self.dir.join(file)
    }

    fn keep_error(&mut self, result: io::Result<()>) {
        if let Err(e) = result
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    /// Makes every write so far durable: fsyncs each file written since the
    /// last sync, renames pending whole-file writes into place, then fsyncs the
    /// directory. Returns the first I/O error since the last sync, if any.
    pub fn sync(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut renamed = false;
        for (name, file) in self.files.iter_mut().filter(|(_, f)| f.dirty) {
            let path = self.dir.join(name);
            file.handle
                .sync_data()
                .map_err(|e| context("cannot fsync", &path, e))?;
            if file.pending_rename {
                let tmp = self.dir.join(format!("{name}{TMP_SUFFIX}"));
                fs::rename(&tmp, &path).map_err(|e| context("cannot rename", &tmp, e))?;
                file.pending_rename = false;
                renamed = true;
            }
            file.dirty = false;
        }
        if renamed || self.dir_dirty {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| context("cannot fsync", &self.dir, e))?;
            self.dir_dirty = false;
        }
        Ok(())
    }
}

impl Disk for FileDisk {
    fn read(&self, file: &str) -> Option<&[u8]> {
        self.files.get(file).map(|f| f.bytes.as_slice())
    }

    fn write(&mut self, file: &str, data: &[u8]) {
        let tmp = self
            .path(file)
            .with_file_name(format!("{file}{TMP_SUFFIX}"));
        let result = open_rw(&tmp, true)
            .and_then(|handle| handle.write_all_at(data, 0).map(|()| handle))
            .map_err(|e| context("cannot write", &tmp, e));
        match result {
            Ok(handle) => {
                let new = OpenFile {
                    bytes: data.to_vec(),
                    handle,
                    dirty: true,
                    pending_rename: true,
                };
                self.files.insert(file.to_owned(), new);
                self.dir_dirty = true;
            }
            Err(e) => self.keep_error(Err(e)),
        }
    }

    fn append(&mut self, file: &str, data: &[u8]) {
        if !self.files.contains_key(file) {
            let path = self.path(file);
            match open_rw(&path, true).map_err(|e| context("cannot create", &path, e)) {
                Ok(handle) => {
                    let new = OpenFile {
                        bytes: Vec::new(),
                        handle,
                        dirty: true,
                        pending_rename: false,
                    };
                    self.files.insert(file.to_owned(), new);
                    self.dir_dirty = true;
                }
                Err(e) => return self.keep_error(Err(e)),
            }
        }
        let f = self.files.get_mut(file).expect("created above");
        let result = f.handle.write_all_at(data, f.bytes.len() as u64);
        f.bytes.extend_from_slice(data);
        f.dirty = true;
        self.keep_error(result);
    }

    fn truncate(&mut self, file: &str, len: u64) {
        let Some(f) = self.files.get_mut(file) else {
            return;
        };
        if len >= f.bytes.len() as u64 {
            return;
        }
        f.bytes.truncate(len as usize);
        f.dirty = true;
        let result = f.handle.set_len(len);
        self.keep_error(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_and_synced_is_read_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = FileDisk::open(dir.path()).unwrap();
        d.append("log", b"abc");
        d.append("log", b"def");
        d.truncate("log", 4);
        d.write("state", b"v1");
        d.append("state", b"+");
        d.write("state", b"v2");
        d.sync().unwrap();
        assert_eq!(d.read("log"), Some(&b"abcd"[..]));
        let again = FileDisk::open(dir.path()).unwrap();
        assert_eq!(again.read("log"), Some(&b"abcd"[..]));
        assert_eq!(again.read("state"), Some(&b"v2"[..]));
        assert_eq!(again.read("missing"), None);
    }

    #[test]
    fn a_whole_file_write_not_yet_synced_is_lost_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = FileDisk::open(dir.path()).unwrap();
        d.write("state", b"old");
        d.sync().unwrap();
        d.write("state", b"new");
        d.append("log", b"kept");
        // The process dies here, without a sync: the page cache keeps the
        // append; the whole-file write was never renamed into place.
        drop(d);
        let again = FileDisk::open(dir.path()).unwrap();
        assert_eq!(again.read("state"), Some(&b"old"[..]));
        assert_eq!(again.read("log"), Some(&b"kept"[..]));
        assert!(!dir.path().join("state.tmp").exists());
    }

    #[test]
    fn an_io_error_is_reported_by_the_next_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = FileDisk::open(dir.path()).unwrap();
        d.append("log", b"x");
        d.sync().unwrap();
        fs::remove_dir_all(dir.path()).unwrap();
        d.write("state", b"v");
        let e = d.sync().unwrap_err();
        assert!(e.to_string().contains("state.tmp"), "{e}");
    }
}
