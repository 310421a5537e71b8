//! `lab explore`: a scenario over many seeds under generated faults (the
//! main job); failing seeds are appended to a corpus.

use crate::ManySeeds;
use crate::campaign::{CampaignOptions, on_terminal, run_campaign};
use crate::common::{fail, finish, print_failure, shard};
use crate::guided::{GuidedOptions, run_guided};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use tests::failure::Failure;
use tests::nemesis::Schedule;
use tests::scenarios::{self, Scenario};

pub fn explore(name: &str, many: ManySeeds, corpus: &Path) -> ExitCode {
    let Some(scenario) = scenarios::find(name) else {
        return fail(format!("no scenario named `{name}`; `lab list` shows them"));
    };
    let seeds = shard(many.seeds, many.shard);
    let file = match open_corpus(corpus) {
        Ok(f) => Mutex::new(f),
        Err(e) => return fail(e),
    };
    let on_failure = move |f: &Failure| {
        print_failure(f);
        let line = corpus_line(scenario, f, &(scenario.schedule)(f.seed));
        let mut file = file.lock().expect("no panics while locked");
        if let Err(e) = writeln!(file, "{line}") {
            eprintln!("lab: cannot append to the corpus: {e}");
        }
    };
    let summary = run_campaign(
        &|seed| scenario.run(seed),
        CampaignOptions {
            label: scenario.name.to_string(),
            seeds,
            jobs: many.jobs,
            time_budget: many.time_budget,
            progress: on_terminal(),
            on_failure: Box::new(on_failure),
        },
    );
    finish(&summary)
}

/// `lab explore --guided`: the same, the seeds' schedules bred by the guide.
pub fn explore_guided(name: &str, many: ManySeeds, corpus: &Path) -> ExitCode {
    let Some(scenario) = scenarios::find(name) else {
        return fail(format!("no scenario named `{name}`; `lab list` shows them"));
    };
    let mut file = match open_corpus(corpus) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let guided = run_guided(
        &|seed, schedule| scenario.run_with(seed, schedule),
        GuidedOptions {
            label: format!("{} (guided)", scenario.name),
            own: scenario.schedule,
            seeds: shard(many.seeds, many.shard),
            jobs: many.jobs,
            time_budget: many.time_budget,
            progress: on_terminal(),
            stop_at_failure: false,
        },
    );
    let dir = corpus.parent().unwrap_or(Path::new(".")).join("guided");
    for (f, proposal) in &guided.failures {
        print_failure(f);
        if proposal.bred {
            match save_schedule(&dir, scenario.name, f.seed, &proposal.schedule) {
                Ok(path) => eprintln!(
                    "  its schedule was bred by the guide (not the seed's own): cargo run --release -p lab -- replay {} --seed {} --schedule {}{}",
                    scenario.name,
                    f.seed,
                    path.display(),
                    tests::peers::flag(&f.peer)
                ),
                Err(e) => eprintln!("lab: {e}"),
            }
        }
        let line = corpus_line(scenario, f, &proposal.schedule);
        if let Err(e) = writeln!(file, "{line}") {
            eprintln!("lab: cannot append to the corpus: {e}");
        }
    }
    println!(
        "guided: {} of {} seeds ran a bred schedule; {} genomes in the pool at the end",
        guided.bred, guided.summary.runs, guided.pool
    );
    finish(&guided.summary)
}

/// Writes a bred schedule where a replay can find it.
fn save_schedule(dir: &Path, scenario: &str, seed: u64, s: &Schedule) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{scenario}-{seed}.json"));
    std::fs::write(&path, s.to_json())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Opens the corpus to append to, creating its directory.
fn open_corpus(corpus: &Path) -> Result<File, String> {
    if let Some(dir) = corpus.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(corpus)
        .map_err(|e| format!("cannot open the corpus {}: {e}", corpus.display()))
}

/// A failure as a corpus line: enough to replay it (`lab corpus`).
fn corpus_line(scenario: &Scenario, f: &Failure, schedule: &Schedule) -> serde_json::Value {
    serde_json::json!({
        "scenario": scenario.name,
        "peer": f.peer,
        "seed": f.seed,
        "kind": f.kind.to_string(),
        "what": f.what,
        "at_ns": f.at_ns,
        "schedule": schedule,
    })
}
