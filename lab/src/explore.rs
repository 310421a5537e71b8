//! `lab explore`: a scenario over many seeds under generated faults (the
//! main job); failing seeds are appended to a corpus.

use crate::ManySeeds;
use crate::campaign::{CampaignOptions, on_terminal, run_campaign};
use crate::common::{fail, finish, print_failure, shard};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use tests::failure::Failure;
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
        let line = corpus_line(scenario, f);
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
fn corpus_line(scenario: &Scenario, f: &Failure) -> serde_json::Value {
    serde_json::json!({
        "scenario": scenario.name,
        "peer": f.peer,
        "seed": f.seed,
        "kind": f.kind.to_string(),
        "what": f.what,
        "at_ns": f.at_ns,
        "schedule": (scenario.schedule)(f.seed),
    })
}
