//! `lab check-determinism`: each seed run twice; a divergence names the
//! first event that differs.

use crate::campaign::{on_terminal, progress_bar};
use crate::common::fail;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::failure::run_caught;
use tests::hooks;
use tests::seeds::Seeds;
use tests::targets::{self, Target};

/// A seed's verdict: `Ok(None)` if both runs agree, `Ok(Some(report))` if
/// not, `Err` if a run did not hand back its trace.
type Verdict = Result<Option<String>, String>;

pub fn check_determinism(
    name: &str,
    seeds: &Seeds,
    jobs: usize,
    time_budget: Option<Duration>,
) -> ExitCode {
    let target = match targets::find(name) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let checked = check_all(&target, seeds, jobs, time_budget);
    let mut divergent = 0;
    for (_, verdict) in checked.divergent {
        match verdict {
            Ok(None) => {}
            Ok(Some(report)) => {
                divergent += 1;
                println!("{report}");
            }
            Err(e) => return fail(e),
        }
    }
    if checked.seeds == 0 {
        // A gate that checked nothing must not read as a pass.
        return fail("no seed was checked: the time budget was spent before the first");
    }
    // Whether a run passes is explore's question; here a seed passes when
    // its two runs are the same, event for event.
    let cut = if checked.cut_short {
        " (time budget reached)"
    } else {
        ""
    };
    println!(
        "{} seeds checked, {divergent} divergent (each seed run twice, whether it passes or not){cut}",
        checked.seeds
    );
    println!("{} passed, {divergent} failed", checked.seeds - divergent);
    if divergent == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What the seeds checked showed.
struct Checked {
    /// Seeds checked.
    seeds: u64,
    /// Each divergent seed's verdict, in seed order.
    divergent: Vec<(u64, Verdict)>,
    /// True if the time budget stopped the check before the last seed.
    cut_short: bool,
}

/// Every seed's verdict, `jobs` seeds at a time, with a progress bar on a
/// terminal, until the seeds or the time budget run out.
fn check_all(target: &Target, seeds: &Seeds, jobs: usize, budget: Option<Duration>) -> Checked {
    let start = Instant::now();
    let progress = on_terminal();
    let bar = progress_bar(target.name, seeds.len(), progress);
    let plain_every = (seeds.len() / 20).max(1);
    let (next, done) = (AtomicU64::new(0), AtomicU64::new(0));
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..(jobs as u64).clamp(1, seeds.len().max(1)) {
            scope.spawn(|| {
                while budget.is_none_or(|b| start.elapsed() < b)
                    && let Some(seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    // Only divergences are kept: a long range costs no memory.
                    let verdict = diverges(target, seed);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.inc(1);
                    // Without a terminal (a CI log), a plain line now and then.
                    if !progress && (n.is_multiple_of(plain_every) || n == seeds.len()) {
                        eprintln!("{}: {n}/{} seeds checked", target.name, seeds.len());
                    }
                    if verdict != Ok(None) {
                        let mut found = found.lock().expect("no panics while locked");
                        found.push((seed, verdict));
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut divergent = found.into_inner().expect("no panics while locked");
    divergent.sort_by_key(|(seed, _)| *seed);
    let seeds_checked = done.into_inner();
    Checked {
        seeds: seeds_checked,
        divergent,
        cut_short: seeds_checked < seeds.len(),
    }
}

/// Runs a seed twice; the first difference between the runs, if any.
fn diverges(target: &Target, seed: u64) -> Verdict {
    let run = || run_caught(target.name, seed, || target.run(seed));
    let (_, first) = hooks::with_trace(|t| t.record_summaries(), run);
    let mut first = first.ok_or("the run did not hand back its trace")?;
    let mut reference = Some(first.take_summaries());
    let prepare = move |t: &mut labsim::Trace| {
        if let Some(r) = reference.take() {
            t.compare_with(r);
        }
    };
    let (_, second) = hooks::with_trace(prepare, run);
    let second = second.ok_or("the run did not hand back its trace")?;
    Ok(match second.divergence() {
        Some(d) => Some(format!(
            "{} seed={seed}: NOT deterministic\n{d}",
            target.name
        )),
        None if first.hash() != second.hash() => Some(format!(
            "{} seed={seed}: hashes differ ({:#x} vs {:#x})",
            target.name,
            first.hash(),
            second.hash()
        )),
        None => None,
    })
}
