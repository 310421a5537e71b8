//! Running one scenario or graded test over many seeds, on several threads
//! (one simulation per thread, each single-threaded), with a progress bar
//! and a summary. `lab explore`, `lab run` and `lab grade` are built on it.

use indicatif::{ProgressBar, ProgressStyle};
use peer::coverage::MARKS;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tests::failure::{Failure, FailureKind, run_caught};
use tests::raft_suite::RunReport;
use tests::seeds::Seeds;

/// A run of one seed.
pub type RunFn = dyn Fn(u64) -> Result<RunReport, Failure> + Sync;

/// What a campaign found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Seeds that ran.
    pub runs: u64,
    /// Failures, in seed order.
    pub failures: Vec<Failure>,
    /// Virtual time simulated, in all.
    pub virtual_ns: u128,
    /// Events processed, in all.
    pub events: u128,
    /// Commands agreed, or client operations completed (KV), in all.
    pub commands: u128,
    /// Coverage: how many runs reached each mark (`peer::coverage`).
    pub reached: BTreeMap<&'static str, u64>,
    /// Wall time taken.
    pub wall: Duration,
    /// What stopped the campaign before its last seed, if anything did.
    pub stopped: Option<Stop>,
    /// Count the marks never reached instead of naming them: a graded test
    /// aims at one thing, and the list would be most of the catalogue.
    pub count_unreached: bool,
}

/// What stops a campaign starting seeds before its last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Its time budget was spent.
    Budget,
    /// A signal asked it to stop (`interrupt`).
    Signal(i32),
    /// It met as many failures as `--max-failures` allows.
    Failures(usize),
}

impl Summary {
    /// Notes what stopped the campaign (the first reason stands).
    pub(crate) fn record_stop(&mut self, stop: Stop) {
        self.stopped.get_or_insert(stop);
    }

    /// The signal that stopped the campaign, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.stopped {
            Some(Stop::Signal(signal)) => Some(signal),
            _ => None,
        }
    }

    /// Counts a seed's outcome.
    pub(crate) fn record(&mut self, outcome: &Result<RunReport, Failure>) {
        self.runs += 1;
        match outcome {
            Ok(report) => self.add(report),
            Err(f) => self.failures.push(f.clone()),
        }
    }

    fn add(&mut self, report: &RunReport) {
        self.virtual_ns += u128::from(report.virtual_ns);
        self.events += u128::from(report.events);
        self.commands += u128::from(report.commands);
        for (name, count) in &report.marks {
            *self.reached.entry(name).or_default() += u64::from(*count > 0);
        }
    }

    /// Failures by kind.
    pub fn by_kind(&self) -> BTreeMap<FailureKind, usize> {
        let mut m = BTreeMap::new();
        for f in &self.failures {
            *m.entry(f.kind).or_default() += 1;
        }
        m
    }

    /// The marks the runs that passed reached, with how many runs reached
    /// each, then the marks no run reached (a hint of what the campaign never
    /// tried: a peer sets only the marks it knows).
    fn print_marks(&self, out: &mut impl Write) -> std::io::Result<()> {
        // Marks are counted over the runs that passed: with none, nothing to say.
        if self.runs == self.failures.len() as u64 {
            return Ok(());
        }
        writeln!(out, "marks reached (runs that passed):")?;
        for (name, origin) in MARKS {
            if let Some(n) = self.reached.get(name).filter(|n| **n > 0) {
                writeln!(out, "  {name:<46} {n:>8}  ({origin:?})")?;
            }
        }
        let never: Vec<&str> = MARKS
            .iter()
            .filter(|(name, _)| !self.reached.contains_key(name))
            .map(|(name, _)| *name)
            .collect();
        match never.len() {
            0 => {}
            n if self.count_unreached => {
                writeln!(out, "marks never reached: {n} of {}", MARKS.len())?
            }
            _ => writeln!(out, "marks never reached: {}", never.join("; "))?,
        }
        Ok(())
    }

    /// Why fewer seeds ran than were given, if they did: ` (...)`.
    pub fn why_short(&self) -> String {
        match self.stopped {
            Some(Stop::Signal(signal)) => {
                format!(" (stopped by {})", crate::interrupt::name(signal))
            }
            Some(Stop::Budget) => " (time budget reached)".into(),
            Some(Stop::Failures(n)) => format!(" (--max-failures {n} reached)"),
            None => String::new(),
        }
    }

    /// Why no seed ran, when none did.
    pub fn why_none(&self) -> &'static str {
        match self.stopped {
            Some(Stop::Budget) => "the time budget was spent before the first seed",
            Some(_) => "stopped before the first seed",
            None => "the seeds given (or this shard of them) hold none",
        }
    }

    /// The campaign's exit status: 1 if any seed failed, else 128 plus the
    /// signal if one stopped it (`interrupt`), else 2 if no seed ran (an empty
    /// shard, a budget spent at once: not a pass), else 0.
    pub fn exit_status(&self) -> ExitCode {
        match (self.failures.is_empty(), self.signal()) {
            (false, _) => ExitCode::from(1),
            (true, Some(signal)) => ExitCode::from(crate::interrupt::status(signal)),
            (true, None) if self.runs == 0 => ExitCode::from(2),
            (true, None) => ExitCode::SUCCESS,
        }
    }

    /// Prints the summary; its last line is `N passed, M failed`.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let secs = self.wall.as_secs_f64().max(1e-9);
        writeln!(out, "--- summary")?;
        writeln!(out, "seeds run:        {}{}", self.runs, self.why_short())?;
        // Rates of nothing would read as a slow machine.
        if self.runs == 0 {
            writeln!(out, "no seed ran: {}", self.why_none())?;
            return writeln!(out, "0 passed, 0 failed");
        }
        writeln!(
            out,
            "wall time:        {:.2} s ({:.1} seeds/s)",
            secs,
            self.runs as f64 / secs
        )?;
        self.print_rates(out, secs)?;
        if !self.failures.is_empty() {
            let kinds: Vec<String> = self
                .by_kind()
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            writeln!(out, "failures by kind: {}", kinds.join(", "))?;
            writeln!(out, "failing seeds:    {}", self.failing_seeds())?;
        }
        self.print_marks(out)?;
        let failed = self.failures.len() as u64;
        writeln!(out, "{} passed, {} failed", self.runs - failed, failed)
    }

    /// The failing seeds in order, the first [`LISTED_SEEDS`] of them: where a
    /// CI job's log says what to replay (the failure lines above scroll by).
    fn failing_seeds(&self) -> String {
        let listed: Vec<String> = (self.failures.iter().take(LISTED_SEEDS))
            .map(|f| f.seed.to_string())
            .collect();
        match self.failures.len().saturating_sub(LISTED_SEEDS) {
            0 => listed.join(" "),
            more => format!("{} and {more} more", listed.join(" ")),
        }
    }

    /// Virtual time, events and commands, which only runs that passed report.
    fn print_rates(&self, out: &mut impl Write, secs: f64) -> std::io::Result<()> {
        let passed = self.runs - self.failures.len() as u64;
        if passed == 0 {
            return writeln!(
                out,
                "virtual time, events and commands are counted over the runs that passed: none did"
            );
        }
        writeln!(
            out,
            "virtual time:     {:.1} s ({:.0}x faster than real time)",
            self.virtual_ns as f64 / 1e9,
            self.virtual_ns as f64 / 1e9 / secs
        )?;
        writeln!(
            out,
            "events:           {} ({:.2} M/s)",
            self.events,
            self.events as f64 / secs / 1e6
        )?;
        writeln!(
            out,
            "commands:         {} ({:.0} per seed that passed)",
            self.commands,
            self.commands as f64 / passed as f64
        )
    }
}

/// `f` over `items` on up to `jobs` threads, each taking the next item as it
/// frees up (runs differ a lot in length); the results in the items' order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    done.lock().expect("no panics while locked")[i] = Some(r);
                }
            });
        }
    });
    done.into_inner()
        .expect("no panics while locked")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Silences the panic message of a run (campaigns report those as failure
/// lines of their own); any other panic (in the checker of a history, the
/// picture, the shrinker) is a bug of the tool: it says so, and the process
/// exits non-zero.
///
/// A reader that closes our standard output early (`lab list | head`) is not
/// a bug: Rust ignores SIGPIPE, so the next print panics with a broken pipe;
/// the process then ends quietly with the status of a Unix filter killed by
/// SIGPIPE (141), never a success: what was left undone (the corpus's
/// other lines) is not vouched for. Nor is an output that cannot be written
/// (a full disk): that is said in one line, exit 2.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        if message.contains("failed printing to stdout") {
            if message.contains("Broken pipe") {
                std::process::exit(crate::interrupt::status(libc::SIGPIPE).into());
            }
            let reason = message.split("failed printing to stdout: ").nth(1);
            eprintln!(
                "lab: cannot write to standard output: {}",
                reason.unwrap_or("?")
            );
            std::process::exit(2);
        }
        tests::failure::note_panic(info);
        if !tests::failure::in_run() {
            eprintln!("lab: internal error, please report it: {info}");
        }
    }));
}

/// Wall time after which a run is said to seem stuck: seeds take
/// milliseconds to seconds, and a storm is cut off within a virtual second.
const HANG_WARNING: Duration = Duration::from_secs(60);

/// Starts a thread that warns, once per run, of a run that has gone on for
/// [`HANG_WARNING`] of wall time: a handler of the peer that never returns
/// (an endless loop) cannot be stopped from outside its thread, but the user
/// can be told which run it is and how to look at it alone. It only prints:
/// no verdict depends on the wall clock. A run is timed from the first poll
/// that sees it (so at most one poll late).
pub fn watch_for_hangs() {
    std::thread::spawn(|| {
        // Run number -> when first seen, and whether it was warned of.
        let mut seen: std::collections::HashMap<u64, (Instant, bool)> = Default::default();
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let now = Instant::now();
            let runs = tests::failure::in_flight();
            seen.retain(|run, _| runs.iter().any(|r| r.run == *run));
            for run in runs {
                let (since, warned) = seen.entry(run.run).or_insert((now, false));
                if let Some(w) = hang_warning(&run, now - *since).filter(|_| !*warned) {
                    *warned = true;
                    eprintln!("{w}");
                }
            }
        }
    });
}

/// What to say of `run` after `elapsed` of wall time, if it seems stuck.
fn hang_warning(run: &tests::failure::InFlight, elapsed: Duration) -> Option<String> {
    (elapsed >= HANG_WARNING).then(|| {
        format!(
            "lab: {} seed={} has run for {} s of wall time, where a seed takes milliseconds to seconds: a handler of the peer may never return (an endless loop?), or its history's check is long. Nothing is judged by wall time. To look at it alone (under the seed's own schedule; a run under another one replays with that schedule's --schedule): {}",
            run.test,
            run.seed,
            elapsed.as_secs(),
            tests::failure::replay_command(&run.test, run.seed, &run.peer)
        )
    })
}

/// How to run a campaign.
pub struct CampaignOptions {
    /// The target's name: on the progress bar, and on the failure of a run
    /// that panics (its replay command names it).
    pub label: String,
    /// Seeds to run, in order.
    pub seeds: Seeds,
    /// Threads.
    pub jobs: usize,
    /// Stop starting new seeds after this much wall time.
    pub time_budget: Option<Duration>,
    /// Stop starting new seeds once this many failed.
    pub max_failures: Option<usize>,
    /// How progress shows.
    pub progress: Progress,
    /// Called with each failure as it happens (print it, append to a corpus).
    pub on_failure: Box<dyn Fn(&Failure) + Sync>,
}

/// What stops a campaign with seeds still to start, if anything does now:
/// a signal first, then its failures, then its time budget (`spent`).
pub(crate) fn stop_now(
    summary: &Summary,
    max_failures: Option<usize>,
    spent: impl FnOnce() -> bool,
) -> Option<Stop> {
    if let Some(signal) = crate::interrupt::received() {
        return Some(Stop::Signal(signal));
    }
    if let Some(max) = max_failures.filter(|&max| summary.failures.len() >= max) {
        return Some(Stop::Failures(max));
    }
    spent().then_some(Stop::Budget)
}

/// How a campaign shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A bar (a terminal).
    Bar,
    /// Plain lines (a log).
    Lines,
    /// None (a hunt of `lab mutants`, which prints its own table).
    Quiet,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise.
    pub fn for_stderr() -> Progress {
        match on_terminal() {
            true => Progress::Bar,
            false => Progress::Lines,
        }
    }
}

/// True when stderr is a terminal.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Runs `run` on every seed, `jobs` at a time.
pub fn run_campaign(run: &RunFn, options: CampaignOptions) -> Summary {
    let campaign = Campaign {
        run,
        start: Instant::now(),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        summary: Mutex::new(Summary::default()),
        bar: progress_bar(
            &options.label,
            options.seeds.len(),
            options.progress == Progress::Bar,
        ),
        plain: PlainLines::new(&options.label, options.seeds.len()),
        options,
    };
    std::thread::scope(|scope| {
        // No more threads than seeds: the rest would start and find nothing.
        let seeds = campaign.options.seeds.len().max(1);
        for _ in 0..(campaign.options.jobs as u64).clamp(1, seeds) {
            scope.spawn(|| campaign.work());
        }
    });
    campaign.bar.finish_and_clear();
    let mut s = campaign
        .summary
        .into_inner()
        .expect("no panics while locked");
    s.failures.sort_by_key(|f| f.seed);
    s.wall = campaign.start.elapsed();
    s
}

/// A bar on a terminal; a hidden one otherwise (plain lines instead).
pub(crate) fn progress_bar(label: &str, seeds: u64, progress: bool) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(seeds);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} seeds {msg} ({elapsed}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// A campaign under way, shared by its threads.
struct Campaign<'a> {
    run: &'a RunFn,
    options: CampaignOptions,
    start: Instant,
    /// The index of the next seed to start (taken under the summary's lock).
    next: AtomicU64,
    /// Set when something stops the campaign (a [`Stop`]): start no more seeds.
    stop: AtomicBool,
    summary: Mutex<Summary>,
    bar: ProgressBar,
    /// Without a bar: plain lines.
    plain: PlainLines,
}

/// Failing seeds a summary lists.
const LISTED_SEEDS: usize = 20;

/// Wall time between plain progress lines, at most.
const PLAIN_EVERY_MS: u64 = 30_000;

/// Progress as plain lines, where no terminal shows a bar (a CI log): one
/// each twentieth of the seeds, and one at least every [`PLAIN_EVERY_MS`] of
/// wall time, so that a huge range's log is never silent for long.
pub(crate) struct PlainLines {
    label: String,
    total: u64,
    /// A line every this many seeds...
    every: u64,
    start: Instant,
    /// ...since the last line: (seeds done, ms since the start).
    last: Mutex<(u64, u64)>,
}

impl PlainLines {
    pub(crate) fn new(label: &str, total: u64) -> PlainLines {
        PlainLines {
            label: label.to_string(),
            total,
            every: (total / 20).max(1),
            start: Instant::now(),
            last: Mutex::new((0, 0)),
        }
    }

    /// `done` seeds ran, `failed` of them failed: a line, if one is due.
    pub(crate) fn seeds_done(&self, done: u64, failed: usize) {
        let now_ms = self.start.elapsed().as_millis() as u64;
        let mut last = self.last.lock().expect("no panics while locked");
        let crossed = done / self.every > last.0 / self.every;
        if !(crossed || done == self.total || now_ms >= last.1 + PLAIN_EVERY_MS) {
            return;
        }
        *last = (done, now_ms);
        let per_s = done as f64 / (now_ms as f64 / 1e3).max(1e-3);
        eprintln!(
            "{}: {done}/{} seeds, {failed} failed, {per_s:.1} seeds/s",
            self.label, self.total
        );
    }
}

impl Campaign<'_> {
    /// One thread's share: seeds until none is left or the campaign stops.
    fn work(&self) {
        while let Some(seed) = self.claim() {
            let outcome = run_caught(&self.options.label, seed, || (self.run)(seed));
            let (done, failed, virtual_s) = self.record(&outcome);
            self.show(done, failed, virtual_s);
        }
    }

    /// The next seed to run; none once every seed is taken, or once the
    /// campaign stops: something stops it now (a signal, its failures, its
    /// time budget: see [`Stop`]) while seeds are still to start. Taken under
    /// the summary's lock, so that a stop is recorded only when it left a
    /// seed unstarted.
    fn claim(&self) -> Option<u64> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let mut s = self.summary.lock().expect("no panics while locked");
        let i = self.next.load(Ordering::Relaxed);
        let seed = self.options.seeds.get(i)?;
        let stop = stop_now(&s, self.options.max_failures, || {
            (self.options.time_budget).is_some_and(|b| self.start.elapsed() >= b)
        });
        if let Some(stop) = stop {
            s.record_stop(stop);
            self.stop.store(true, Ordering::Relaxed);
            return None;
        }
        self.next.store(i + 1, Ordering::Relaxed);
        Some(seed)
    }

    /// Adds a seed's outcome to the summary: (seeds done, failed, virtual s).
    fn record(&self, outcome: &Result<RunReport, Failure>) -> (u64, usize, f64) {
        let mut s = self.summary.lock().expect("no panics while locked");
        if let Err(f) = outcome {
            (self.options.on_failure)(f);
        }
        s.record(outcome);
        (s.runs, s.failures.len(), s.virtual_ns as f64 / 1e9)
    }

    /// Moves the bar, or prints a plain line if one is due.
    fn show(&self, done: u64, failed: usize, virtual_s: f64) {
        match self.options.progress {
            Progress::Bar => {}
            Progress::Lines => return self.plain.seeds_done(done, failed),
            Progress::Quiet => return,
        }
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_position(done);
        self.bar.set_message(format!(
            "{failed} failed, {:.1} seeds/s, {:.0}x real time",
            done as f64 / secs,
            virtual_s / secs
        ));
    }
}

#[cfg(test)]
mod campaign_tests {
    use super::*;

    fn passing(seed: u64) -> RunReport {
        RunReport {
            trace_hash: seed,
            events: 1,
            virtual_ns: 1,
            rpcs: 0,
            commands: 0,
            marks: Default::default(),
        }
    }

    #[test]
    fn a_peer_that_panics_is_a_failure_line_and_the_campaign_goes_on() {
        tests::peers::select("student").expect("a registered peer");
        quiet_panics();
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let run = |seed: u64| {
            if seed == 2 {
                panic!("assertion failed inside the peer");
            }
            Ok(passing(seed))
        };
        let summary = run_campaign(
            &run,
            CampaignOptions {
                label: "raft::initial_election".into(),
                seeds: Seeds::List(vec![1, 2, 3]),
                jobs: 2,
                time_budget: None,
                max_failures: None,
                progress: Progress::Quiet,
                on_failure: Box::new(move |f: &Failure| seen.lock().unwrap().push(f.to_string())),
            },
        );
        assert_eq!(summary.runs, 3, "every seed ran");
        assert_eq!(summary.failures.len(), 1);
        let line = &lines.lock().unwrap()[0];
        assert!(
            line.starts_with("FAILED raft::initial_election peer=student seed=2 at t="),
            "{line}"
        );
        // Where it panicked, from the panic hook: this file.
        assert!(
            line.contains("panicked at lab/src/campaign.rs:")
                && line.contains(": assertion failed inside the peer (event #"),
            "{line}"
        );
        assert!(
            line.ends_with("replay raft::initial_election --seed 2 --peer student"),
            "{line}"
        );
    }
}

#[cfg(test)]
mod hang_tests {
    use super::{HANG_WARNING, hang_warning};
    use std::time::Duration;
    use tests::failure::InFlight;

    #[test]
    fn a_run_past_the_warning_is_named_with_its_replay() {
        let run = InFlight {
            test: "raft::initial_election".into(),
            seed: 3,
            peer: "student".into(),
            run: 0,
        };
        assert_eq!(
            hang_warning(&run, HANG_WARNING - Duration::from_secs(1)),
            None
        );
        let w = hang_warning(&run, HANG_WARNING).expect("a warning");
        assert!(
            w.starts_with("lab: raft::initial_election seed=3 has run for 60 s"),
            "{w}"
        );
        assert!(
            w.ends_with("replay raft::initial_election --seed 3 --peer student"),
            "{w}"
        );
    }
}
