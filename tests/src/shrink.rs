//! Shrinking a failing run's fault schedule by delta debugging (Zeller's
//! ddmin over the list of faults), then simplifying each remaining fault
//! (shorter, milder), keeping every step that still fails the same way.

use crate::failure::{Failure, FailureKind};
use crate::nemesis::{FaultKind, Schedule};
use crate::scenarios::Scenario;

/// What "the same failure" means: the same kind, and the same message up to
/// its first number (`two leaders in term 7` matches `two leaders in term 9`).
fn signature(f: &Failure) -> (FailureKind, String) {
    let head: String = f.what.chars().take_while(|c| !c.is_ascii_digit()).collect();
    (f.kind, head)
}

/// The outcome of a shrink.
#[derive(Debug)]
pub struct Shrunk {
    /// The schedule it started from.
    pub original: Schedule,
    /// The smallest schedule found that still fails the same way.
    pub shrunk: Schedule,
    /// The failure the shrunk schedule produces.
    pub failure: Failure,
    /// Runs made.
    pub runs: usize,
}

struct Runner<'a> {
    scenario: &'a Scenario,
    seed: u64,
    target: (FailureKind, String),
    runs: usize,
    max_runs: usize,
}

impl Runner<'_> {
    /// Runs a candidate; Some(failure) if it fails the same way.
    fn fails(&mut self, candidate: &Schedule) -> Option<Failure> {
        if self.runs >= self.max_runs {
            return None;
        }
        self.runs += 1;
        let (scenario, seed) = (self.scenario, self.seed);
        match crate::campaign::run_caught(scenario.name, seed, || {
            (scenario.run_with)(seed, candidate)
        }) {
            Err(f) if signature(&f) == self.target => Some(f),
            _ => None,
        }
    }
}

/// Shrinks `schedule` for `scenario` on `seed`, making at most `max_runs` runs.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    schedule: Schedule,
    max_runs: usize,
) -> Result<Shrunk, String> {
    let first = match crate::campaign::run_caught(scenario.name, seed, || {
        (scenario.run_with)(seed, &schedule)
    }) {
        Ok(_) => {
            return Err(format!(
                "{} seed={seed} passes with this schedule: nothing to shrink",
                scenario.name
            ));
        }
        Err(f) => f,
    };
    let mut runner = Runner {
        scenario,
        seed,
        target: signature(&first),
        runs: 1,
        max_runs,
    };
    let mut best = schedule.clone();
    let mut failure = first;

    // ddmin over the faults.
    let mut n = 2;
    while best.faults.len() >= 2 {
        let len = best.faults.len();
        let chunk = len.div_ceil(n);
        let mut reduced = false;
        for start in (0..len).step_by(chunk) {
            let mut candidate = best.clone();
            candidate.faults.drain(start..(start + chunk).min(len));
            if let Some(f) = runner.fails(&candidate) {
                best = candidate;
                failure = f;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= len {
                break;
            }
            n = (2 * n).min(len);
        }
    }
    if best.faults.len() == 1 {
        let mut candidate = best.clone();
        candidate.faults.clear();
        if let Some(f) = runner.fails(&candidate) {
            best = candidate;
            failure = f;
        }
    }

    // Simplify what is left: shorter faults, milder rates.
    for i in 0..best.faults.len() {
        loop {
            let mut candidate = best.clone();
            let fault = &mut candidate.faults[i];
            let milder = match &mut fault.kind {
                FaultKind::Duplicate { per_million } if *per_million > 1000 => {
                    *per_million /= 2;
                    true
                }
                FaultKind::ClockDrift { ppm, .. } if ppm.abs() > 1000 => {
                    *ppm /= 2;
                    true
                }
                FaultKind::SlowDisk { latency_ms, .. } if *latency_ms > 1 => {
                    *latency_ms /= 2;
                    true
                }
                _ => false,
            };
            let shorter = fault.duration_ms > 20;
            if shorter {
                fault.duration_ms /= 2;
            }
            if !shorter && !milder {
                break;
            }
            match runner.fails(&candidate) {
                Some(f) => {
                    best = candidate;
                    failure = f;
                }
                None => break,
            }
        }
    }
    Ok(Shrunk {
        original: schedule,
        shrunk: best,
        failure,
        runs: runner.runs,
    })
}
