//! `lab check-determinism`: each seed run twice; a divergence names the
//! first event that differs.

use crate::campaign::{CampaignOptions, Progress, run_campaign};
use crate::common::fail;
use std::process::ExitCode;
use std::time::Duration;
use tests::failure::{Failure, FailureKind, run_caught};
use tests::hooks;
use tests::raft_suite::RunReport;
use tests::seeds::Seeds;
use tests::targets::Target;

/// A seed's verdict: `Ok(None)` if both runs agree, `Ok(Some(report))` if
/// not, `Err` if a run did not hand back its trace.
type Verdict = Result<Option<String>, String>;

/// Checks the seeds on the campaign runner (its threads, progress and time
/// budget): a seed "passes" when its two runs agree, event for event,
/// whether or not they pass the run's own checks.
pub fn check_determinism(
    name: &str,
    seeds: &Seeds,
    jobs: usize,
    time_budget: Option<Duration>,
) -> ExitCode {
    let target = match crate::common::target(name) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let check = move |seed| match diverges(&target, seed) {
        Ok(None) => Ok(RunReport::default()),
        Ok(Some(report)) | Err(report) => Err(Failure::new(
            target.name,
            seed,
            0,
            FailureKind::Check,
            report,
        )),
    };
    crate::interrupt::catch();
    let summary = run_campaign(
        &check,
        CampaignOptions {
            label: target.name.to_string(),
            seeds: seeds.clone(),
            jobs,
            time_budget,
            max_failures: None,
            progress: Progress::for_stderr(),
            on_failure: Box::new(|_| {}),
        },
    );
    if summary.runs == 0 {
        // A gate that checked nothing must not read as a pass.
        eprintln!("lab: no seed was checked: {}", summary.why_none());
        return summary.exit_status();
    }
    for f in &summary.failures {
        println!("{}", f.what);
    }
    let divergent = summary.failures.len() as u64;
    let cut = summary.why_short();
    println!(
        "{} seeds checked, {divergent} divergent (each seed run twice and its runs compared, whether or not they pass the test){cut}",
        summary.runs
    );
    if divergent > 0 {
        println!(
            "a run is a function of its seed alone: where two runs part, something read another source (randomness not drawn from PeerConfig::rng_seed, a clock, HashMap order, a thread)"
        );
    }
    // Every command's last line; "passed" here: the seed's two runs agreed.
    println!("{} passed, {divergent} failed", summary.runs - divergent);
    summary.exit_status()
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
