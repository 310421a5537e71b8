//! What the commands share: the argument parsers, the error exit, seed
//! shards, the end of a campaign, and one seed's run as `replay` and
//! `corpus` make it (a peer, maybe a schedule, panics caught).

use crate::campaign::Summary;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tests::failure::{Failure, run_caught};
use tests::nemesis::Schedule;
use tests::raft_suite::RunReport;
use tests::seeds::Seeds;
use tests::targets::Target;
use tests::{peers, scenarios};

/// One thread per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
}

/// `--seeds`: `A..B` (B excluded), `A..=B`, `N`, or a comma list.
pub fn parse_seed_list(text: &str) -> Result<Seeds, String> {
    Seeds::parse(text)
}

/// `--shard I/N`, with 0 <= I < N.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
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

/// `--peer`: a name of the peer registry.
pub fn parse_peer(text: &str) -> Result<&'static str, String> {
    peers::resolve(text)
}

/// A virtual time (`1.5s`, `300ms`), in nanoseconds.
pub fn parse_time(text: &str) -> Result<u64, String> {
    labsim::parse_duration_ns(text)
}

/// A wall-clock duration, written as virtual times are, but with its unit
/// always: a bare `10` is milliseconds to a virtual time, and a budget of
/// 10 ms is never what a user meant.
pub fn parse_wall(text: &str) -> Result<Duration, String> {
    if text.trim().ends_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{text}` needs a unit: e.g. 90s, 10m, 1h"));
    }
    labsim::parse_duration_ns(text).map(Duration::from_nanos)
}

/// Most threads `--jobs` takes: a thread per seed in flight, each with its
/// own simulation, so more than this only costs memory.
const MAX_JOBS: usize = 1024;

/// `--jobs N`, from 1 to [`MAX_JOBS`].
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}`: threads are a whole number from 1 to {MAX_JOBS}"
        )),
    }
}

/// `--max-failures N`: at least 1.
pub fn parse_max_failures(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{text}`: a whole number of failures, from 1 to {}",
            usize::MAX
        )),
    }
}

/// Creates the directory `path` goes in, if it names one: a file an option
/// names is written where it says, as the campaigns' own outputs are.
pub fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the directory {}: {e}", dir.display())),
        None => Ok(()),
    }
}

/// Refuses, before the work that makes it (a campaign, a shrink, a run to
/// draw), a path a result could not be written to; creates its directory,
/// as the writing would.
pub fn can_write(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "{} is a directory, not a file to save to",
            path.display()
        ));
    }
    create_parent(path)
}

/// Writes `contents` to `path`, creating its directory.
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), String> {
    create_parent(path)?;
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Says what went wrong on stderr; exit status 2.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("lab: {message}");
    ExitCode::from(2)
}

/// The seeds shard `I/N` takes: every N-th from offset I.
pub fn shard(seeds: Seeds, shard: Option<(usize, usize)>) -> Seeds {
    match shard {
        Some((i, n)) => seeds.shard(i as u64, n as u64),
        None => seeds,
    }
}

/// A failure's line and replay command, on stderr, as it happens.
pub fn print_failure(f: &Failure) {
    eprintln!("{f}");
}

/// Prints a campaign's summary; its exit status (`Summary::exit_status`).
pub fn finish(summary: &Summary) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match summary
        .print(&mut out)
        .and_then(|()| std::io::Write::flush(&mut out))
    {
        // A reader that stopped early: every seed ran, so the verdict stands
        // (`lab explore | grep -q ...` in a CI job must not hide a failure).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return fail(format!("cannot write to standard output: {e}")),
        Ok(()) => {}
    }
    summary.exit_status()
}

/// The peer a replay runs: the command line's, else the schedule's, else the
/// default. A schedule found on another peer than the one named is refused.
pub fn schedule_peer(
    explicit: Option<&'static str>,
    schedule: Option<&Schedule>,
) -> Result<&'static str, String> {
    recorded_peer(
        explicit,
        schedule.and_then(|s| s.peer.as_deref()),
        "schedule",
    )
}

/// The peer to replay a record (a schedule, a corpus line) on: the command
/// line's, else the one the record names, else the default. A record found on
/// another peer than the one named is refused.
pub fn recorded_peer(
    explicit: Option<&'static str>,
    recorded: Option<&str>,
    what: &str,
) -> Result<&'static str, String> {
    let recorded = match recorded {
        Some(name) => Some(peers::resolve(name).map_err(|e| format!("the {what}'s peer: {e}"))?),
        None => None,
    };
    match (explicit, recorded) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "the {what} was found on peer `{b}`, but --peer says `{a}`; drop one"
        )),
        (Some(a), _) => Ok(a),
        (None, Some(b)) => Ok(b),
        (None, None) => Ok(peers::DEFAULT_PEER),
    }
}

/// The scenario named `name`, for a command that runs scenarios only: a
/// graded test's name is told where it runs, an unknown one what is close.
pub fn scenario(name: &str) -> Result<&'static scenarios::Scenario, String> {
    if let Some(s) = scenarios::find(name) {
        return s.runs_on(&peers::current_name()).map(|()| s);
    }
    if let Ok(t) = tests::targets::find(name) {
        return Err(format!(
            "`{}` is a graded test, not a scenario: `lab run {}` runs it over seeds; `lab list` shows the scenarios",
            t.name, t.name
        ));
    }
    let hint = tests::targets::did_you_mean(scenarios::SCENARIOS.iter().map(|s| s.name), name);
    Err(format!(
        "no scenario named `{name}`{hint}; `lab list` shows them"
    ))
}

/// The target named `name`, refused if it does not run on the current peer
/// (a test-only scenario): for the commands that run a target by name.
pub fn target(name: &str) -> Result<tests::targets::Target, String> {
    let target = tests::targets::find(name)?;
    runs_on(target.name, &peers::current_name())?;
    Ok(target)
}

/// Refuses `peer` for the target named `name` if it is a test-only
/// scenario: each of its runs would fail at once, a line in the corpus each.
/// Any other name passes: a graded test runs on every peer, and a name that
/// is neither is refused where the target is looked up.
pub fn runs_on(name: &str, peer: &str) -> Result<(), String> {
    scenarios::find(name).map_or(Ok(()), |s| s.runs_on(peer))
}

/// The scenario named `name`, which a schedule is for: graded tests take none.
pub fn schedule_scenario(name: &str) -> Result<&'static scenarios::Scenario, String> {
    scenarios::find(name)
        .ok_or_else(|| format!("{name} is a graded test; only scenarios take a schedule"))
}

/// The scenario named `name`, for a command that works on its schedule
/// (shrink, a guided campaign): one whose faults are its own is refused.
pub fn scheduled_scenario(name: &str) -> Result<&'static scenarios::Scenario, String> {
    let s = scenario(name)?;
    s.takes_schedules().map(|()| s)
}

/// Reads a schedule file and checks that `scenario` can run it as written.
pub fn load_schedule(path: &Path, scenario: &scenarios::Scenario) -> Result<Schedule, String> {
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| Schedule::from_json(&t))
        .and_then(|s| scenario.check_schedule(&s).map(|()| s))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `target` on `seed` with `peer`, under `schedule` if there is one,
/// a panic turned into a failure.
pub fn run_seed(
    target: &Target,
    seed: u64,
    schedule: Option<Schedule>,
    peer: &'static str,
) -> Result<RunReport, Failure> {
    peers::with_peer(peer, || {
        run_caught(target.name, seed, || match schedule {
            Some(s) => scenarios::with_schedule(s, || target.run(seed)),
            None => target.run(seed),
        })
    })
}
