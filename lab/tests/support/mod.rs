//! Scratch directories for lab's tests: each test writes in a directory of
//! its own under the system's temporary directory, so a test run leaves
//! nothing behind. A test that holds its [`Scratch`] keeps it when it fails
//! (its path on standard error); one held by a thread-local is dropped only
//! after libtest caught the panic, and goes with the rest.

use std::path::Path;
use tempfile::TempDir;

/// A test's scratch directory; removed on drop unless the test is failing.
pub struct Scratch(Option<TempDir>);

impl Scratch {
    /// A new, empty directory named `raftlab-{what}-` and a random suffix.
    pub fn new(what: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("raftlab-{what}-"))
            .tempdir()
            .expect("a scratch directory in the temporary directory");
        Scratch(Some(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("held until drop").path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let dir = self.0.take().expect("held until drop");
        if std::thread::panicking() {
            eprintln!("kept for a look at the failure: {}", dir.keep().display());
        }
    }
}
