//! `lab shrink`: a failing seed's fault schedule shrunk to the few faults
//! that matter, written out with the command that replays it.

use crate::ShrinkArgs;
use crate::common::{fail, load_schedule, runs_on, schedule_peer};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tests::nemesis::Schedule;
use tests::peers;
use tests::scenarios::Scenario;
use tests::shrink::Shrunk;

pub fn shrink(args: ShrinkArgs, peer: Option<&'static str>) -> ExitCode {
    let ShrinkArgs {
        scenario: name,
        seed,
        schedule,
        out,
        max_runs,
        method,
    } = args;
    let scenario = match crate::common::scheduled_scenario(&name) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let schedule = match schedule {
        Some(path) => match load_schedule(&path, scenario) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
        None => (scenario.schedule)(seed),
    };
    let peer = schedule_peer(peer, Some(&schedule));
    let peer = match peer.and_then(|p| runs_on(scenario.name, p).map(|()| p)) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let out = out
        .unwrap_or_else(|| PathBuf::from(format!("lab-out/shrunk-{}-{seed}.json", scenario.name)));
    // Before the shrinking, which can take minutes.
    if let Err(e) = crate::common::can_write(&out) {
        return fail(e);
    }
    let max_runs = usize::try_from(max_runs).unwrap_or(usize::MAX);
    let shrink = || tests::shrink::shrink(scenario, seed, schedule, max_runs, method);
    let mut shrunk = match peers::with_peer(peer, shrink) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    shrunk.shrunk.peer = Some(peer.to_owned());
    if let Err(e) = write_schedule(&out, &shrunk.shrunk) {
        // The shrinking is not lost: the schedule goes to stdout all the same.
        println!("{}", shrunk.shrunk.to_json());
        return fail(e);
    }
    report(scenario, seed, &shrunk, &out, max_runs);
    ExitCode::SUCCESS
}

/// Writes the shrunk schedule, creating its directory.
fn write_schedule(out: &Path, schedule: &Schedule) -> Result<(), String> {
    crate::common::write_file(out, schedule.to_json())
}

/// Prints the shrunk schedule on stdout (`lab shrink ... > s.json` is a
/// schedule), and on stderr how much it shrank, the failure it still gives
/// and the command that replays it.
fn report(scenario: &Scenario, seed: u64, shrunk: &Shrunk, out: &Path, max_runs: usize) {
    println!("{}", shrunk.shrunk.to_json());
    let (before, after) = (&shrunk.original, &shrunk.shrunk);
    eprintln!(
        "shrunk {} faults to {} and {} aimed faults to {} in {} runs ({} ms of faults to {}; \
         clients {} to {}; operations per client {} to {}); it still fails:",
        before.faults.len(),
        after.faults.len(),
        before.aims.len(),
        after.aims.len(),
        shrunk.runs,
        before.fault_ms(),
        after.fault_ms(),
        before.workload.clients(),
        after.workload.clients(),
        ops_limit(before),
        ops_limit(after),
    );
    if shrunk.runs >= max_runs {
        eprintln!("it used all {max_runs} runs --max-runs allows: more may shrink it further");
    }
    if shrunk.seed != seed {
        eprintln!(
            "seed {seed} became seed {}: a fault dropped only changed which messages and \
             operations the seed draws, so the smaller schedule fails on a neighbouring seed",
            shrunk.seed
        );
    }
    let mut failure = shrunk.failure.clone();
    failure.what = format!("{} (with the shrunk schedule)", failure.what);
    eprintln!("{}", failure.headline());
    // The schedule names the peer it ran: no flag needed.
    let replay = format!(
        "replay {} --seed {} --schedule {}",
        scenario.name,
        shrunk.seed,
        out.display()
    );
    eprintln!(
        "replay: {}",
        tests::failure::lab_command(&replay, peers::REFERENCE)
    );
}

fn ops_limit(s: &Schedule) -> String {
    s.workload
        .max_ops_per_client
        .map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}
