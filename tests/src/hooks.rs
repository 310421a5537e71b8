//! How the `lab` tool reaches into a graded run it did not build: before
//! the run it sets a hook for the trace of the simulation the run will
//! create (stream it as JSON, record it for a determinism check), and after
//! the run it takes that trace back. One simulation per thread, so the
//! hook is thread-local.

use labsim::Trace;
use std::cell::RefCell;

type Prepare = Box<dyn FnMut(&mut Trace)>;

thread_local! {
    static PREPARE: RefCell<Option<Prepare>> = const { RefCell::new(None) };
    static FINISHED: RefCell<Option<Trace>> = const { RefCell::new(None) };
}

/// Runs `f` with `prepare` applied to the trace of every simulation a
/// harness builds on this thread; returns what `f` returned and the trace of
/// the last simulation that finished.
pub fn with_trace<R>(
    prepare: impl FnMut(&mut Trace) + 'static,
    f: impl FnOnce() -> R,
) -> (R, Option<Trace>) {
    PREPARE.with(|p| *p.borrow_mut() = Some(Box::new(prepare)));
    FINISHED.with(|t| *t.borrow_mut() = None);
    let r = f();
    PREPARE.with(|p| *p.borrow_mut() = None);
    let trace = FINISHED.with(|t| t.borrow_mut().take());
    (r, trace)
}

/// Called by harnesses on a new simulation's trace.
pub(crate) fn prepare(trace: &mut Trace) {
    PREPARE.with(|p| {
        if let Some(f) = p.borrow_mut().as_mut() {
            f(trace);
        }
    });
}

/// Called by harnesses when their simulation is dropped.
pub(crate) fn finished(trace: &mut Trace) {
    let active = PREPARE.with(|p| p.borrow().is_some());
    if active {
        let _ = trace.flush();
        FINISHED.with(|t| *t.borrow_mut() = Some(std::mem::take(trace)));
    }
}
