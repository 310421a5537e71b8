//! `lab`: raftlab's command-line tool. Explore scenarios over many seeds
//! under generated faults, run and grade the 6.824 suites, replay a seed
//! with its full trace, check determinism, and check histories for
//! linearizability. Run `lab help` or `lab COMMAND --help`.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tests::campaign::{CampaignOptions, Summary, on_terminal, run_campaign};

/// A simulation allocates and frees small messages all the time; mimalloc's
/// per-thread free lists do that in about half the time glibc's malloc takes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tests::failure::{Failure, parse_seeds};
use tests::nemesis::Schedule;
use tests::{hooks, peers, scenarios, targets};

#[derive(Parser)]
#[command(
    name = "lab",
    version,
    about = "raftlab: deterministic simulation of Raft and KV peers in virtual time",
    long_about = "raftlab runs Raft and KV peers inside one process, on a simulated network and disks, \
driven by virtual time and a seeded random generator: a run is a pure function of (scenario, seed). \
Every failure prints the one command that replays it.",
    after_help = "Examples:\n  \
lab explore --seeds 0..2000 --jobs 2        explore the default scenario over 2000 seeds\n  \
lab run raft::figure8_unreliable --seeds 1..1000\n  \
lab replay raft::figure8 --seed 7 --trace run.jsonl --node 2 --from 1s --to 3s\n  \
lab check-determinism raft-nemesis --seeds 0..100\n  \
lab grade --seeds 1..6"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The Raft under test (`lab list --peers`): every command runs it; failure
    /// lines, replay commands, schedules and the corpus name it.
    #[arg(long, global = true, value_parser = parse_peer)]
    peer: Option<&'static str>,
}

#[derive(Subcommand)]
enum Command {
    /// List every scenario and graded test, by name (or, with --peers, every peer).
    List {
        /// List the peers instead: the Raft implementations `--peer` can name.
        #[arg(long)]
        peers: bool,
    },
    /// Run a scenario over many seeds under generated faults (the main job).
    Explore {
        /// The scenario (see `lab list`).
        #[arg(default_value = scenarios::DEFAULT_SCENARIO)]
        scenario: String,
        #[command(flatten)]
        many: ManySeeds,
        /// Append failing seeds to this corpus (JSON lines: scenario, seed, schedule, failure kind).
        #[arg(long, default_value = "lab-out/corpus.jsonl")]
        corpus: PathBuf,
    },
    /// Run a graded test (or a scenario) over many seeds.
    Run {
        /// The test, e.g. `raft::figure8` (see `lab list`).
        test: String,
        #[command(flatten)]
        many: ManySeeds,
    },
    /// Re-run one seed, print its outcome and trace hash, and write its trace.
    Replay(ReplayArgs),
    /// Print the fault schedule a scenario's seed generates (JSON; edit it and pass it to replay).
    Schedule {
        /// The scenario.
        scenario: String,
        /// The seed.
        #[arg(long)]
        seed: u64,
    },
    /// Run each seed twice; any divergence names the first event that differs.
    CheckDeterminism {
        /// The test or scenario.
        name: String,
        /// Seeds, e.g. 0..100.
        #[arg(long, value_parser = parse_seed_list, default_value = "0..10")]
        seeds: SeedList,
        /// Threads, one seed (two runs) each at a time.
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
    },
    /// Shrink a failing seed's fault schedule to the few faults that matter.
    Shrink {
        /// The scenario.
        scenario: String,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Start from this schedule instead of the seed's own.
        #[arg(long)]
        schedule: Option<PathBuf>,
        /// Write the shrunk schedule here [default: lab-out/shrunk-SCENARIO-SEED.json].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Give up after this many runs.
        #[arg(long, default_value_t = 400)]
        max_runs: usize,
        /// ddmin (delta debugging, then halving lengths, rates and the
        /// workload) or proptest (proptest's value-tree shrinking).
        #[arg(long, default_value = "ddmin")]
        method: tests::shrink::Method,
    },
    /// Check a history file for linearizability. Exit 0: linearizable; 1: not
    /// (the HTML page shows why); 3: unknown within the timeout; 2: unreadable.
    #[command(
        after_help = "Formats:\n  kv        Porcupine/Jepsen key-value text, one event a line:\n            {:process 0, :type :invoke, :f :put, :key \"3\", :value \"x 0 1 y\"} then its {:process 0, :type :ok, ...}\n  register  Jepsen etcd logs of a compare-and-set register (read, write, cas; :fail and :info returns):\n            INFO  jepsen.util - 2  :invoke  :cas  [3 0]"
    )]
    CheckHistory {
        /// The history file.
        file: PathBuf,
        /// The model (and file format): kv or register.
        #[arg(long, default_value = "kv")]
        model: String,
        /// Give up (verdict unknown, exit 3) after this long.
        #[arg(long, value_parser = parse_wall, default_value = "60s")]
        timeout: Duration,
        /// Write the picture of the history (and of the violation) here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Replay every line of a corpus of past failures (a regression suite):
    /// each must pass now. Exit 1 if any still fails.
    Corpus {
        /// The corpus (JSON lines with scenario, seed and, for scenarios, schedule).
        file: PathBuf,
        /// Replay only this line (from 1).
        #[arg(long)]
        line: Option<usize>,
    },
    /// Every graded test over some seeds: a table by part, as a student hands in.
    Grade {
        /// Seeds per test.
        #[arg(long, value_parser = parse_seed_list, default_value = "1..4")]
        seeds: SeedList,
        /// Only this part: 3A, 3B, 3C, 3D (Raft) or 4A, 4B (KV).
        #[arg(long, value_parser = parse_part)]
        part: Option<&'static str>,
        /// Threads.
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The test or scenario.
    name: String,
    /// The seed.
    #[arg(long)]
    seed: u64,
    /// Use this fault schedule (JSON, as `lab schedule` prints) instead of the seed's own.
    #[arg(long)]
    schedule: Option<PathBuf>,
    /// Write the trace here, one JSON object per line (time, node, kind, detail).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Keep only events at this node (and sim-level events).
    #[arg(long)]
    node: Option<usize>,
    /// Keep only events at or after this virtual time (e.g. 1.5s, 300ms).
    #[arg(long, value_parser = parse_time)]
    from: Option<u64>,
    /// Keep only events at or before this virtual time.
    #[arg(long, value_parser = parse_time)]
    to: Option<u64>,
    /// Draw the run as a self-contained HTML page (a space-time diagram, one lane per peer).
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ManySeeds {
    /// Seeds: A..B (B excluded), A..=B, N, or a comma list.
    #[arg(long, value_parser = parse_seed_list, default_value = "0..1000")]
    seeds: SeedList,
    /// Threads, one simulation each.
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    /// Take every N-th seed from offset I (I/N), so N machines split one campaign.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Stop starting new seeds after this much wall time (e.g. 10m, 90s).
    #[arg(long, value_parser = parse_wall)]
    time_budget: Option<Duration>,
}

#[derive(Clone)]
struct SeedList(Vec<u64>);

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn parse_seed_list(text: &str) -> Result<SeedList, String> {
    parse_seeds(text).map(SeedList)
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{text}` is not a shard: write I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn parse_peer(text: &str) -> Result<&'static str, String> {
    peers::resolve(text)
}

fn parse_time(text: &str) -> Result<u64, String> {
    labsim::parse_duration_ns(text)
}

fn parse_wall(text: &str) -> Result<Duration, String> {
    labsim::parse_duration_ns(text).map(Duration::from_nanos)
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("lab: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tests::campaign::quiet_panics();
    // An explicit --peer binds every run; without one, a replayed schedule or
    // corpus line names its own, and everything else runs the reference.
    let peer = cli.peer;
    let selected = peers::select(peer.unwrap_or(peers::DEFAULT_PEER));
    if let Err(e) = selected {
        return fail(e);
    }
    match cli.command {
        Command::List { peers } => list(peers),
        Command::Explore {
            scenario,
            many,
            corpus,
        } => explore(&scenario, many, &corpus),
        Command::Run { test, many } => run(&test, many),
        Command::Replay(args) => replay(args, peer),
        Command::Schedule { scenario, seed } => match scenarios::find(&scenario) {
            Some(s) => {
                let schedule = Schedule {
                    peer: Some(peers::current_name()),
                    ..(s.schedule)(seed)
                };
                println!("{}", schedule.to_json());
                ExitCode::SUCCESS
            }
            None => fail(format!(
                "no scenario named `{scenario}`; `lab list` shows them"
            )),
        },
        Command::CheckDeterminism { name, seeds, jobs } => check_determinism(&name, &seeds.0, jobs),
        Command::Grade { seeds, part, jobs } => grade(&seeds.0, part, jobs),
        Command::Shrink {
            scenario,
            seed,
            schedule,
            out,
            max_runs,
            method,
        } => shrink(peer, &scenario, seed, schedule, out, max_runs, method),
        Command::Corpus { file, line } => corpus(&file, line),
        Command::CheckHistory {
            file,
            model,
            timeout,
            html,
        } => check_history(&file, &model, timeout, html),
    }
}

fn list(peers: bool) -> ExitCode {
    if peers {
        println!(
            "Peers (lab --peer NAME; cargo test: {}=NAME)",
            peers::PEER_ENV
        );
        for p in peers::PEERS {
            let default = if p.name == peers::DEFAULT_PEER {
                " (default)"
            } else {
                ""
            };
            println!("  {:<12} {}{default}", p.name, p.about);
        }
        return ExitCode::SUCCESS;
    }
    let mut group = "";
    for t in targets::all() {
        if t.group != group {
            group = t.group;
            let title = match group {
                "scenario" => "Scenarios (lab explore NAME)".to_string(),
                part => format!("Graded tests, part {part} (lab run NAME)"),
            };
            println!("\n{title}");
        }
        println!("  {:<42} {}", t.name, t.about);
    }
    ExitCode::SUCCESS
}

fn shard(seeds: Vec<u64>, shard: Option<(usize, usize)>) -> Vec<u64> {
    match shard {
        Some((i, n)) => seeds
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % n == i)
            .map(|(_, s)| s)
            .collect(),
        None => seeds,
    }
}

fn print_failure(f: &Failure) {
    eprintln!("{f}");
}

fn finish(summary: &Summary) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = summary.print(&mut out);
    if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn explore(name: &str, many: ManySeeds, corpus: &Path) -> ExitCode {
    let Some(scenario) = scenarios::find(name) else {
        return fail(format!("no scenario named `{name}`; `lab list` shows them"));
    };
    let seeds = shard(many.seeds.0, many.shard);
    if let Some(dir) = corpus.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return fail(format!("cannot create {}: {e}", dir.display()));
    }
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(corpus)
    {
        Ok(f) => std::sync::Mutex::new(f),
        Err(e) => return fail(format!("cannot open the corpus {}: {e}", corpus.display())),
    };
    let schedule_of = scenario.schedule;
    let scenario_name = scenario.name;
    let on_failure = move |f: &Failure| {
        print_failure(f);
        let line = serde_json::json!({
            "scenario": scenario_name,
            "peer": f.peer,
            "seed": f.seed,
            "kind": f.kind.to_string(),
            "what": f.what,
            "at_ns": f.at_ns,
            "schedule": (schedule_of)(f.seed),
        });
        let mut file = file.lock().expect("no panics while locked");
        if let Err(e) = writeln!(file, "{line}") {
            eprintln!("lab: cannot append to the corpus: {e}");
        }
    };
    let summary = run_campaign(
        &scenario.run,
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

fn run(name: &str, many: ManySeeds) -> ExitCode {
    let target = match targets::find(name) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let seeds = shard(many.seeds.0, many.shard);
    let summary = run_campaign(
        &target.run,
        CampaignOptions {
            label: target.name.to_string(),
            seeds,
            jobs: many.jobs,
            time_budget: many.time_budget,
            progress: on_terminal(),
            on_failure: Box::new(print_failure),
        },
    );
    finish(&summary)
}

fn replay(args: ReplayArgs, peer: Option<&'static str>) -> ExitCode {
    let ReplayArgs {
        name,
        seed,
        schedule,
        trace,
        node,
        from,
        to,
        html,
    } = args;
    let name = name.as_str();
    let target = match targets::find(name) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    // The picture is drawn from the trace: keep it beside the page.
    let trace = trace.or_else(|| html.as_ref().map(|h| h.with_extension("jsonl")));
    let schedule = match schedule {
        None => None,
        Some(path) => {
            if scenarios::find(target.name).is_none() {
                return fail(format!(
                    "{} is a graded test; only scenarios take a --schedule",
                    target.name
                ));
            }
            match load_schedule(&path) {
                Ok(s) => Some(s),
                Err(e) => return fail(e),
            }
        }
    };
    let peer = match schedule_peer(peer, schedule.as_ref()) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let sink: Option<Box<dyn Write>> = match &trace {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
            Err(e) => return fail(format!("cannot write the trace to {}: {e}", path.display())),
        },
    };
    let filter = labsim::TraceFilter {
        node,
        from_ns: from,
        to_ns: to,
    };
    let mut sink = sink;
    let run = || {
        peers::with_peer(peer, || {
            tests::campaign::run_caught(target.name, seed, || match schedule {
                Some(s) => scenarios::with_schedule(s, || (target.run)(seed)),
                None => (target.run)(seed),
            })
        })
    };
    let (outcome, finished) = hooks::with_trace(
        move |t| {
            if let Some(out) = sink.take() {
                t.stream_json(out, filter.clone());
            }
        },
        run,
    );
    let code = match &outcome {
        Ok(report) => {
            println!(
                "PASSED {}{} seed={seed}: {} events, {:.3} s virtual, {} RPCs, {} commands",
                target.name,
                if peer == peers::DEFAULT_PEER {
                    String::new()
                } else {
                    format!(" peer={peer}")
                },
                report.events,
                report.virtual_ns as f64 / 1e9,
                report.rpcs,
                report.commands
            );
            ExitCode::SUCCESS
        }
        Err(f) => {
            println!("{f}");
            ExitCode::from(1)
        }
    };
    match finished {
        Some(mut t) => {
            if let Err(e) = t.flush() {
                eprintln!("lab: {e}");
                return ExitCode::from(2);
            }
            println!("trace-hash: {:#018x} ({} events)", t.hash(), t.events());
            drop(t);
            if let Some(path) = &trace {
                println!("trace: {}", path.display());
            }
        }
        None => eprintln!("lab: the run did not hand back its trace"),
    }
    if let (Some(page), Some(trace)) = (&html, &trace) {
        let (title, link) = match &outcome {
            Ok(_) => (format!("{} seed={seed}: passed", target.name), None),
            Err(f) => {
                // A linearizability failure names its own page: link to it.
                let link = f
                    .what
                    .split_whitespace()
                    .find(|w| w.ends_with(".html"))
                    .map(str::to_owned);
                (
                    format!(
                        "FAILED {} seed={seed} at t={}: {}",
                        target.name,
                        labsim::fmt_ns(f.at_ns),
                        f.what
                    ),
                    link,
                )
            }
        };
        let text = match std::fs::read_to_string(trace) {
            Ok(t) => t,
            Err(e) => {
                return fail(format!(
                    "cannot read back the trace {}: {e}",
                    trace.display()
                ));
            }
        };
        let options = tests::picture::PictureOptions {
            link: link.as_deref(),
            link_text: link.as_ref().map(|_| "the linearizability failure"),
        };
        if let Err(e) = tests::picture::write_run_html(page, &title, &text, &options) {
            return fail(e);
        }
        println!("picture: {}", page.display());
    }
    code
}

/// Runs a seed twice; the first difference between the runs, if any.
fn diverges(target: &targets::Target, seed: u64) -> Result<Option<String>, String> {
    let run = || tests::campaign::run_caught(target.name, seed, || (target.run)(seed));
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

fn check_determinism(name: &str, seeds: &[u64], jobs: usize) -> ExitCode {
    let target = match targets::find(name) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some(&seed) =
                    seeds.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let outcome = diverges(&target, seed);
                    found
                        .lock()
                        .expect("no panics while locked")
                        .push((seed, outcome));
                }
            });
        }
    });
    let mut found = found.into_inner().expect("no panics while locked");
    found.sort_by_key(|(seed, _)| *seed);
    let mut divergent = 0;
    for (_, outcome) in found {
        match outcome {
            Ok(None) => {}
            Ok(Some(report)) => {
                divergent += 1;
                println!("{report}");
            }
            Err(e) => return fail(e),
        }
    }
    println!("{} seeds checked, {divergent} divergent", seeds.len());
    println!("{} passed, {divergent} failed", seeds.len() - divergent);
    if divergent == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn parse_part(text: &str) -> Result<&'static str, String> {
    let parts = targets::parts();
    let wanted = text.trim().to_ascii_uppercase();
    parts
        .iter()
        .copied()
        .find(|p| *p == wanted)
        .ok_or_else(|| format!("no part `{text}`; the parts are {}", parts.join(", ")))
}

fn grade(seeds: &[u64], part: Option<&str>, jobs: usize) -> ExitCode {
    let mut rows: Vec<(&str, usize, usize, usize)> = vec![]; // part, tests, tests passing all seeds, seeds failed
    let mut failed_total = 0;
    let mut runs_total = 0u64;
    let graded = targets::all()
        .into_iter()
        .filter(|t| t.group != "scenario" && part.is_none_or(|p| p == t.group));
    for t in graded {
        let summary = run_campaign(
            &t.run,
            CampaignOptions {
                label: t.name.to_string(),
                seeds: seeds.to_vec(),
                jobs,
                time_budget: None,
                progress: on_terminal(),
                on_failure: Box::new(print_failure),
            },
        );
        let failed = summary.failures.len();
        println!(
            "{:<44} {:>4}/{:<4} {}",
            t.name,
            summary.runs as usize - failed,
            summary.runs,
            if failed == 0 { "ok" } else { "FAIL" }
        );
        runs_total += summary.runs;
        failed_total += failed;
        match rows.iter_mut().find(|r| r.0 == t.group) {
            Some(r) => {
                r.1 += 1;
                r.2 += usize::from(failed == 0);
                r.3 += failed;
            }
            None => rows.push((t.group, 1, usize::from(failed == 0), failed)),
        }
    }
    println!(
        "\n{:<8} {:>6} {:>8} {:>13}",
        "part", "tests", "passing", "failed seeds"
    );
    for (part, tests, passing, failed) in &rows {
        println!("{part:<8} {tests:>6} {passing:>8} {failed:>13}");
    }
    println!(
        "{} passed, {} failed",
        runs_total as usize - failed_total,
        failed_total
    );
    if failed_total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The peer a replay runs: the command line's, else the schedule's, else the
/// default. A schedule found on another peer than the one named is refused.
fn schedule_peer(
    explicit: Option<&'static str>,
    schedule: Option<&Schedule>,
) -> Result<&'static str, String> {
    let recorded = match schedule.and_then(|s| s.peer.as_deref()) {
        Some(name) => Some(peers::resolve(name).map_err(|e| format!("the schedule's peer: {e}"))?),
        None => None,
    };
    match (explicit, recorded) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "the schedule was found on peer `{b}`, but --peer says `{a}`; drop one"
        )),
        (Some(a), _) => Ok(a),
        (None, Some(b)) => Ok(b),
        (None, None) => Ok(peers::DEFAULT_PEER),
    }
}

/// Reads a schedule file and checks it against the scenarios' cluster.
fn load_schedule(path: &Path) -> Result<Schedule, String> {
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| Schedule::from_json(&t))
        .and_then(|s| s.validate(scenarios::SERVERS).map(|()| s))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn shrink(
    peer: Option<&'static str>,
    name: &str,
    seed: u64,
    schedule: Option<PathBuf>,
    out: Option<PathBuf>,
    max_runs: usize,
    method: tests::shrink::Method,
) -> ExitCode {
    let Some(scenario) = scenarios::find(name) else {
        return fail(format!(
            "no scenario named `{name}`; `lab list` shows them (graded tests have no schedule)"
        ));
    };
    let schedule = match schedule {
        Some(path) => match load_schedule(&path) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
        None => (scenario.schedule)(seed),
    };
    let peer = match schedule_peer(peer, Some(&schedule)) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let shrink = || tests::shrink::shrink(scenario, seed, schedule, max_runs, method);
    let mut shrunk = match peers::with_peer(peer, shrink) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    shrunk.shrunk.peer = Some(peer.to_owned());
    let out = out
        .unwrap_or_else(|| PathBuf::from(format!("lab-out/shrunk-{}-{seed}.json", scenario.name)));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out, shrunk.shrunk.to_json()) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    println!("{}", shrunk.shrunk.to_json());
    let (before, after) = (&shrunk.original, &shrunk.shrunk);
    println!(
        "shrunk {} faults to {} in {} runs ({} ms of faults to {}; clients {} to {}; \
         operations per client {} to {}); it still fails:",
        before.faults.len(),
        after.faults.len(),
        shrunk.runs,
        before.fault_ms(),
        after.fault_ms(),
        before.workload.clients(),
        after.workload.clients(),
        ops_limit(before),
        ops_limit(after),
    );
    let mut failure = shrunk.failure.clone();
    failure.what = format!("{} (with the shrunk schedule)", failure.what);
    println!("{}", failure.to_string().lines().next().unwrap_or_default());
    println!(
        "replay: cargo run --release -p tests --bin lab -- replay {} --seed {seed} --schedule {}",
        scenario.name,
        out.display()
    );
    ExitCode::SUCCESS
}

fn ops_limit(s: &Schedule) -> String {
    s.workload
        .max_ops_per_client
        .map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

fn check_history(file: &Path, model: &str, timeout: Duration, html: Option<PathBuf>) -> ExitCode {
    use linearizability::{CheckOptions, CheckResult, ModelKind, check_file};
    let kind: ModelKind = match model.parse() {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let options = CheckOptions {
        timeout: Some(timeout),
        threads: default_jobs(),
    };
    let report = match check_file(file, kind, &options) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    println!("{}", report.summary());
    if let Some(path) = &html {
        match report.write_html(path) {
            Ok(p) => println!("picture: {}", p.display()),
            Err(e) => return fail(format!("cannot write {}: {e}", path.display())),
        }
    }
    match report.result {
        CheckResult::Linearizable => ExitCode::SUCCESS,
        CheckResult::NotLinearizable(_) => ExitCode::from(1),
        CheckResult::Unknown => ExitCode::from(3),
    }
}

fn corpus(file: &Path, only: Option<usize>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", file.display())),
    };
    let (mut passed, mut failed) = (0, 0);
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim().is_empty() || only.is_some_and(|k| k != n) {
            continue;
        }
        let entry: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => return fail(format!("{}:{n}: not JSON: {e}", file.display())),
        };
        let (Some(name), Some(seed)) = (entry["scenario"].as_str(), entry["seed"].as_u64()) else {
            return fail(format!(
                "{}:{n}: a corpus line needs \"scenario\" and \"seed\"",
                file.display()
            ));
        };
        let target = match targets::find(name) {
            Ok(t) => t,
            Err(e) => return fail(format!("{}:{n}: {e}", file.display())),
        };
        let schedule = match &entry["schedule"] {
            serde_json::Value::Null => None,
            v => match serde_json::from_value::<Schedule>(v.clone())
                .map_err(|e| e.to_string())
                .and_then(|s| s.validate(scenarios::SERVERS).map(|()| s))
            {
                Ok(s) => Some(s),
                Err(e) => {
                    return fail(format!("{}:{n}: not a fault schedule: {e}", file.display()));
                }
            },
        };
        let peer = match entry["peer"].as_str().map(peers::resolve).transpose() {
            Ok(p) => p.unwrap_or(peers::DEFAULT_PEER),
            Err(e) => return fail(format!("{}:{n}: {e}", file.display())),
        };
        let outcome = peers::with_peer(peer, || {
            tests::campaign::run_caught(target.name, seed, || match schedule {
                Some(s) => scenarios::with_schedule(s, || (target.run)(seed)),
                None => (target.run)(seed),
            })
        });
        match outcome {
            Ok(_) => {
                passed += 1;
                println!(
                    "passed {} seed={seed}{} (line {n})",
                    target.name,
                    peers::flag(peer)
                );
            }
            Err(f) => {
                failed += 1;
                println!("{f}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
