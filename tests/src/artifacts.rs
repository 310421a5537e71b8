//! Where a failure leaves what a person reads next (a linearizability
//! violation's page): `RAFTLAB_ARTIFACTS` if set, else the directory a
//! program chose ([`set_dir`]: `lab` writes under `lab-out/`, beside its
//! other outputs), else the workspace's `target/raftlab` (`cargo test`).

use std::path::PathBuf;
use std::sync::OnceLock;

static CHOSEN: OnceLock<PathBuf> = OnceLock::new();

/// Sets the directory for this process; the first call wins, and the
/// environment variable still overrides it.
pub fn set_dir(dir: PathBuf) {
    let _ = CHOSEN.set(dir);
}

/// The directory artifacts go under.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAFTLAB_ARTIFACTS") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = CHOSEN.get() {
        return dir.clone();
    }
    let tests_crate = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_crate
        .parent()
        .unwrap_or(tests_crate)
        .join("target/raftlab")
}
