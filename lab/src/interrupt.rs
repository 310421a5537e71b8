//! Ctrl-C (SIGINT) or SIGTERM during a campaign: the first stops it from
//! starting seeds, as a spent time budget does, so that the summary of the
//! seeds that ran is still printed (a CI job cancelled or cut at its time
//! limit keeps its record); a second ends the process at once.
//!
//! Only the commands that call [`catch`] (the campaigns a CI job runs:
//! explore, run, check-determinism) change how signals end them.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked the campaign to stop; 0 for none.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe calls here: an atomic swap, and _exit.
    if SIGNAL.swap(signal, Ordering::SeqCst) != 0 {
        // SAFETY: _exit is async-signal-safe and takes no pointer.
        unsafe { libc::_exit(i32::from(status(signal))) };
    }
}

/// From now on, SIGINT and SIGTERM ask the campaign to stop (see the module).
pub fn catch() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit.
        unsafe { libc::signal(signal, handler) };
    }
}

/// The signal that asked the campaign to stop, if one did.
pub fn received() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The exit status of a process a signal stopped, as a shell reports it.
pub fn status(signal: i32) -> u8 {
    (128 + signal) as u8
}

/// The signal's name, for the summary.
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
