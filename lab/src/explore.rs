//! `lab explore`: a scenario over many seeds under generated faults (the
//! main job); failing seeds are appended to a corpus.

use crate::ManySeeds;
use crate::campaign::{CampaignOptions, Progress, run_campaign};
use crate::common::{fail, finish, print_failure, shard};
use crate::guided::{Guide, Guided, GuidedOptions, Proposal, run_guided};
use std::collections::HashSet;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use tests::failure::Failure;
use tests::nemesis::Schedule;
use tests::scenarios::{Faults, Scenario};

pub fn explore(name: &str, many: ManySeeds, corpus: &Path) -> ExitCode {
    let scenario = match crate::common::scenario(name) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let seeds = shard(many.seeds, many.shard);
    let file = match Corpus::open(corpus) {
        Ok(f) => Mutex::new(f),
        Err(e) => return fail(e),
    };
    let on_failure = move |f: &Failure| {
        print_failure(f);
        let line = corpus_line(scenario, f, &(scenario.schedule)(f.seed));
        file.lock().expect("no panics while locked").append(&line);
    };
    crate::interrupt::catch();
    let summary = run_campaign(
        &|seed| scenario.run(seed),
        CampaignOptions {
            label: scenario.name.to_string(),
            seeds,
            jobs: many.jobs,
            time_budget: many.time_budget,
            max_failures: many.max_failures,
            progress: Progress::for_stderr(),
            on_failure: Box::new(on_failure),
        },
    );
    finish(&summary)
}

/// Where a guided campaign's pool comes from and goes to.
pub struct PoolFiles {
    /// Start from this pool (`--pool`; `none`: from nothing; absent: the
    /// scenario's shipped pool, if any).
    pub from: Option<PathBuf>,
    /// Save the pool here at the end (`--save-pool`).
    pub to: Option<PathBuf>,
}

/// `lab explore --guided`: the same, the seeds' schedules bred by the guide.
pub fn explore_guided(name: &str, many: ManySeeds, corpus: &Path, pools: PoolFiles) -> ExitCode {
    let scenario = match crate::common::scheduled_scenario(name) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let learned = match Guide::starting(pools.from.as_deref(), scenario) {
        Ok(guide) => guide,
        Err(e) => return fail(e),
    };
    if let Some(Err(e)) = pools.to.as_deref().map(crate::common::can_write) {
        return fail(e);
    }
    let mut file = match Corpus::open_beside(corpus) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let dir = corpus.parent().unwrap_or(Path::new(".")).join("guided");
    // As each generation ends: the line, the schedule saved if bred, the corpus.
    let mut on_failure = |f: &Failure, proposal: &Proposal| {
        match proposal.bred {
            false => print_failure(f),
            true => {
                let peer = tests::peers::file_part(&f.peer);
                let name = format!("{}{peer}-{}.json", scenario.name, f.seed);
                let schedule = naming_peer(proposal.schedule.clone(), f);
                let path = dir.join(name);
                match crate::common::write_file(&path, schedule.to_json()) {
                    Ok(()) => eprintln!("{}", f.with_schedule(&path)),
                    Err(e) => eprintln!("{f}\nlab: {e}"),
                }
            }
        }
        file.append(&corpus_line(scenario, f, &proposal.schedule));
    };
    crate::interrupt::catch();
    let guided = run_guided(
        &|seed, schedule| scenario.run_with(seed, schedule),
        GuidedOptions {
            name: scenario.name.to_string(),
            own: scenario.schedule,
            seeds: shard(many.seeds, many.shard),
            jobs: many.jobs,
            time_budget: many.time_budget,
            max_failures: many.max_failures,
            progress: Progress::for_stderr(),
            stop_at_failure: false,
            learned,
        },
        &mut on_failure,
    );
    // The pool first, and these lines whatever became of standard output:
    // a reader that stopped early must not cost the pool or the verdict.
    let saved = (pools.to.as_deref()).is_none_or(|path| save_pool(&guided, path, scenario));
    let _ = writeln!(
        std::io::stdout(),
        "guided: {} of {} seeds ran a bred schedule; {} genomes in the pool at the end",
        guided.guide.bred,
        guided.summary.runs,
        guided.guide.pool_len()
    );
    // The summary comes whatever happened to the pool; an unsaved pool is
    // exit 2 unless a failure or a signal already says otherwise.
    match (saved, finish(&guided.summary)) {
        (false, ExitCode::SUCCESS) => ExitCode::from(2),
        (_, code) => code,
    }
}

/// Saves what the guide learned to `path`, saying so; false if it could not.
fn save_pool(guided: &Guided, path: &Path, scenario: &Scenario) -> bool {
    match guided.guide.save(path, scenario) {
        Ok(()) => {
            let _ = writeln!(
                std::io::stdout(),
                "pool saved to {} (lab explore --guided --pool)",
                path.display()
            );
            true
        }
        Err(e) => {
            eprintln!("lab: {e}");
            false
        }
    }
}

/// The corpus that keeps nothing: a campaign whose failures are only printed.
const NO_CORPUS: &str = "/dev/null";

/// The corpus a campaign appends its failures to, each line once: a seed
/// run again by a later campaign fails the same way (a run is a pure
/// function of its inputs), and its line is not written twice.
struct Corpus {
    file: File,
    /// Digests of the lines it holds.
    lines: HashSet<u64>,
    /// The file does not end with a newline (a line cut short, or written by
    /// hand): the next line starts on a new one.
    unterminated: bool,
}

impl Corpus {
    fn open(path: &Path) -> Result<Corpus, String> {
        crate::common::create_parent(path)?;
        let cannot = |e: std::io::Error| format!("cannot open the corpus {}: {e}", path.display());
        // Read whole before the first append: a device or a pipe would never
        // end (/dev/zero) or never start (a pipe nobody writes). /dev/null
        // is the one that reads nothing and keeps nothing, as asked.
        if path != Path::new(NO_CORPUS) && std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(format!(
                "the corpus {} is not a regular file (a directory, a device or a pipe): \
                 name a file, new or one an earlier campaign wrote",
                path.display()
            ));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(cannot)?;
        let mut lines = HashSet::new();
        for line in BufReader::new(&file).lines() {
            lines.insert(line_digest(&line.map_err(cannot)?));
        }
        let len = file.metadata().map_err(cannot)?.len();
        let unterminated = len > 0 && !ends_with_newline(&file, len);
        Ok(Corpus {
            file,
            lines,
            unterminated,
        })
    }

    /// The corpus of a guided campaign, which saves its bred schedules
    /// beside it: one that keeps nothing has no beside.
    fn open_beside(path: &Path) -> Result<Corpus, String> {
        if path == Path::new(NO_CORPUS) {
            return Err(format!(
                "a guided campaign saves its bred schedules beside its corpus: --corpus \
                 {NO_CORPUS} leaves them nowhere; name a file"
            ));
        }
        Corpus::open(path)
    }

    /// Appends `line` unless the corpus holds it already: in one write, so
    /// that campaigns appending to one file at once (shards on one host)
    /// interleave whole lines.
    fn append(&mut self, line: &serde_json::Value) {
        if !self.lines.insert(value_digest(line.clone())) {
            return;
        }
        let line = line.to_string();
        let start = if std::mem::take(&mut self.unterminated) {
            "\n"
        } else {
            ""
        };
        if let Err(e) = self.file.write_all(format!("{start}{line}\n").as_bytes()) {
            eprintln!("lab: cannot append to the corpus: {e}");
        }
    }
}

fn ends_with_newline(file: &File, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1).is_ok() && last[0] == b'\n'
}

/// A line's identity, as [`value_digest`] says; a line that is not JSON
/// (cut short, or written by hand) is its own text.
fn line_digest(line: &str) -> u64 {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(v) => value_digest(v),
        Err(_) => {
            let mut h = std::hash::DefaultHasher::new();
            line.trim_end().hash(&mut h);
            h.finish()
        }
    }
}

/// A line's identity: the line without its failure's page (`what` names the
/// page by its path, which depends on where the campaign ran).
fn value_digest(mut v: serde_json::Value) -> u64 {
    if let Some(what) = v.get_mut("what").and_then(|w| w.as_str().map(without_page)) {
        v["what"] = what.into();
    }
    let mut h = std::hash::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// A failure's text without the page it points to (`; see PATH.html`).
fn without_page(what: &str) -> String {
    match what.rfind("; see ") {
        Some(at) if what.ends_with(".html") => what[..at].to_string(),
        _ => what.to_string(),
    }
}

/// `schedule`, naming the peer that failed unless it names one: taken on its
/// own (a file, a corpus line's), it replays that peer.
fn naming_peer(mut schedule: Schedule, f: &Failure) -> Schedule {
    schedule.peer.get_or_insert_with(|| f.peer.clone());
    schedule
}

/// A failure as a corpus line: enough to replay it (`lab corpus`).
fn corpus_line(scenario: &Scenario, f: &Failure, schedule: &Schedule) -> serde_json::Value {
    // The schedule names its peer too: taken out of the line, it still
    // replays the peer that failed. A scenario with faults of its own takes
    // no schedule: its line has none.
    let schedule = (scenario.faults != Faults::BuiltIn).then(|| naming_peer(schedule.clone(), f));
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
