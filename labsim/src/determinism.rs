//! The determinism self-check: run a scenario twice with the same seed and,
//! if the traces differ, name the first event where they part.

use crate::trace::{Divergence, Trace};

/// Runs `scenario` twice. It must build its simulation, call `prepare` on
/// the simulation's trace before the first event, run it, and return the
/// finished trace (`Sim::trace_mut` gives it; `std::mem::take` it out).
/// Returns the trace hash when both runs agree, or where they first differ.
pub fn check(
    mut scenario: impl FnMut(&mut dyn FnMut(&mut Trace)) -> Trace,
) -> Result<u64, Box<Divergence>> {
    let mut first = scenario(&mut |t: &mut Trace| t.record_summaries());
    let summaries = first.take_summaries();
    let first_hash = first.hash();
    let mut reference = Some(summaries);
    let second = scenario(&mut |t: &mut Trace| {
        if let Some(r) = reference.take() {
            t.compare_with(r);
        }
    });
    match second.divergence() {
        Some(d) => Err(Box::new(d)),
        None => {
            // Equal summaries of every event imply equal hashes; check anyway.
            assert_eq!(
                first_hash,
                second.hash(),
                "hashes differ although every event matched"
            );
            Ok(first_hash)
        }
    }
}
