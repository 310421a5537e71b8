//! What a failed graded run looks like to a user: one line they can paste.

use crate::seeds::Seeds;
use labsim::{SimError, fmt_ns};
use std::fmt;

/// A graded test failed on a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The test, e.g. `raft::figure8_unreliable`.
    pub test: String,
    /// The peer under test (a name of the registry in `peers`).
    pub peer: String,
    /// The seed.
    pub seed: u64,
    /// Virtual time of the failure.
    pub at_ns: u64,
    /// What broke.
    pub what: String,
    /// The kind of failure, for summaries: `safety`, `liveness`, `check`.
    pub kind: FailureKind,
}

/// Broad classes of failure, for campaign summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// An invariant broke (two leaders, diverging logs, ...).
    Safety,
    /// Something did not happen in time (no leader, no agreement).
    Liveness,
    /// A test's own check failed (too many RPCs, state too large, ...).
    Check,
    /// The history was not linearizable.
    Linearizability,
    /// The linearizability check ran out of its search-step budget or its
    /// memory: no verdict. Both are counted, not measured, so it replays the
    /// same everywhere.
    Unknown,
    /// The code under test (or the harness) panicked.
    Panic,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Safety => "safety",
            FailureKind::Liveness => "liveness",
            FailureKind::Check => "check",
            FailureKind::Linearizability => "linearizability",
            FailureKind::Unknown => "unknown",
            FailureKind::Panic => "panic",
        })
    }
}

impl Failure {
    /// The command that replays this failure (on the same peer, with the
    /// budgets this process was given: they are inputs of the run).
    pub fn replay_command(&self) -> String {
        replay_command(&self.test, self.seed, &self.peer)
    }

    /// The failure line, and the command that replays it under the schedule
    /// saved at `schedule` (when the run's schedule is not its seed's own).
    pub fn with_schedule(&self, schedule: &std::path::Path) -> String {
        let line = self.to_string();
        let head = line.lines().next().unwrap_or_default();
        format!(
            "{head}\nreplay: {} --schedule {}",
            self.replay_command(),
            schedule.display()
        )
    }

    /// A failure of `test` on `seed` with the peer this thread runs.
    pub fn new(test: &str, seed: u64, at_ns: u64, kind: FailureKind, what: String) -> Failure {
        Failure {
            test: test.to_owned(),
            peer: crate::peers::current_name(),
            seed,
            at_ns,
            what,
            kind,
        }
    }

    /// Wraps a simulator error (an invariant violation) as a failure.
    pub fn from_sim(test: &str, seed: u64, at_ns: u64, e: SimError) -> Failure {
        let (kind, at_ns, what) = match e {
            SimError::Violation(v) => (
                FailureKind::Safety,
                v.at_ns,
                format!("{} (event #{})", v.message, v.event),
            ),
            SimError::EventRateBudget { .. } => (
                FailureKind::Check,
                at_ns,
                format!(
                    "{e}; a healthy peer this chatty can raise the budget with {}=EVENTS (per node per virtual second)",
                    crate::budgets::EVENT_RATE.var
                ),
            ),
            other => (FailureKind::Check, at_ns, other.to_string()),
        };
        Failure::new(test, seed, at_ns, kind, what)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "FAILED {}{} seed={} at t={}: {}",
            self.test,
            crate::peers::label(&self.peer),
            self.seed,
            fmt_ns(self.at_ns),
            self.what
        )?;
        write!(f, "replay: {}", self.replay_command())
    }
}

impl Failure {
    /// The first line alone: `FAILED test [peer=NAME] seed=N at t=T: what`.
    pub fn headline(&self) -> String {
        self.to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

impl std::error::Error for Failure {}

thread_local! {
    /// True while this thread runs a seed under [`run_caught`].
    static IN_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread runs a seed under [`run_caught`], whose panics
/// become failure lines; a panic elsewhere is a bug of the tool to report.
pub fn in_run() -> bool {
    IN_RUN.with(|r| r.get())
}

/// The command that replays `test` on `seed` with `peer`, under the seed's
/// own schedule and the budgets this process runs with.
pub fn replay_command(test: &str, seed: u64, peer: &str) -> String {
    lab_command(&format!("replay {test} --seed {seed}"), peer)
}

/// The command a user runs to do `args` again with `peer`: every command
/// lab prints is written here, so each carries the budgets this process
/// runs with (a run that needed them fails differently without them).
pub fn lab_command(args: &str, peer: &str) -> String {
    format!(
        "{}cargo run --release -p lab -- {args}{}",
        crate::budgets::raised(),
        crate::peers::flag(peer)
    )
}

/// A run under way: its target, seed and peer, and a number no other run of
/// this process has. No clock: a watchdog outside the simulated crates times
/// the runs it sees (`lab`'s, to say a run seems never to end).
#[derive(Clone, Debug)]
pub struct InFlight {
    pub test: String,
    pub seed: u64,
    pub peer: String,
    pub run: u64,
}

/// The number of the next run to start.
static NEXT_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The runs under way, with the thread each runs on.
static IN_FLIGHT: std::sync::Mutex<Vec<(std::thread::ThreadId, InFlight)>> =
    std::sync::Mutex::new(Vec::new());

/// The runs under way now, on every thread.
pub fn in_flight() -> Vec<InFlight> {
    let runs = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    runs.iter().map(|(_, r)| r.clone()).collect()
}

/// Adds (`Some`) or removes (`None`) this thread's run.
fn set_in_flight(run: Option<InFlight>) {
    let me = std::thread::current().id();
    let mut runs = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    runs.retain(|(thread, _)| *thread != me);
    runs.extend(run.map(|r| (me, r)));
}

thread_local! {
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// For a panic hook: notes where a run on this thread panicked (file, line
/// and column), for its failure line; a panic outside a run is left alone.
pub fn note_panic(info: &std::panic::PanicHookInfo<'_>) {
    if in_run() {
        let at = info.location().map(|l| l.to_string());
        PANIC_AT.with(|p| *p.borrow_mut() = at);
    }
}

/// Runs one seed, turning a panic (an assertion inside a peer, say) into a
/// failure that says when and where the run died.
pub fn run_caught<R>(
    name: &str,
    seed: u64,
    run: impl FnOnce() -> Result<R, Failure>,
) -> Result<R, Failure> {
    let outer = IN_RUN.with(|r| r.replace(true));
    if !outer {
        set_in_flight(Some(InFlight {
            test: name.to_owned(),
            seed,
            peer: crate::peers::current_name(),
            run: NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }));
    }
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    if !outer {
        set_in_flight(None);
    }
    IN_RUN.with(|r| r.set(outer));
    caught.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into());
        let (at_ns, event) = labsim::last_event_hint();
        let at = PANIC_AT
            .with(|p| p.take())
            .map_or(String::new(), |l| format!(" at {l}"));
        let what = format!("panicked{at}: {what} (event #{event})");
        Err(Failure::new(name, seed, at_ns, FailureKind::Panic, what))
    })
}

/// The seeds a suite runs: `RAFTLAB_SEEDS` (e.g. `1..200`, `7`, `1,5,9`)
/// when set, else `default`.
pub fn seeds(default: &[u64]) -> Seeds {
    match std::env::var("RAFTLAB_SEEDS") {
        Ok(text) => Seeds::parse(&text).unwrap_or_else(|e| panic!("RAFTLAB_SEEDS: {e}")),
        Err(_) => Seeds::List(default.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_in_flight_while_it_runs_and_only_then() {
        let mine = |test: &str| {
            let me = in_flight();
            me.iter().any(|r| r.test == test && r.seed == 7)
        };
        let seen = run_caught("in-flight-test", 7, || Ok(mine("in-flight-test")));
        assert_eq!(seen, Ok(true));
        assert!(!mine("in-flight-test"));
        let _: Result<(), Failure> = run_caught("in-flight-panic", 7, || panic!("boom"));
        assert!(!mine("in-flight-panic"), "gone after a panic too");
    }

    #[test]
    fn in_run_is_true_only_inside_a_caught_run_even_after_a_panic() {
        assert!(!in_run());
        let inside: Result<(), Failure> = run_caught("t", 1, || {
            assert!(in_run());
            panic!("a peer's assertion");
        });
        assert!(inside.unwrap_err().what.contains("a peer's assertion"));
        assert!(!in_run(), "a panic must not leave the flag set");
    }

    #[test]
    fn failure_line_names_test_seed_time_and_replay() {
        let mut f = Failure {
            test: "raft::figure8_unreliable".into(),
            peer: "reference".into(),
            seed: 1234567,
            at_ns: 13_402_000_000,
            what: "two leaders in term 7 (peers 1, 3)".into(),
            kind: FailureKind::Safety,
        };
        assert_eq!(
            f.to_string(),
            "FAILED raft::figure8_unreliable seed=1234567 at t=13.402s: two leaders in term 7 (peers 1, 3)\n\
             replay: cargo run --release -p lab -- replay raft::figure8_unreliable --seed 1234567"
        );
        f.peer = "raft-rs".into();
        assert_eq!(
            f.to_string(),
            "FAILED raft::figure8_unreliable peer=raft-rs seed=1234567 at t=13.402s: two leaders in term 7 (peers 1, 3)\n\
             replay: cargo run --release -p lab -- replay raft::figure8_unreliable --seed 1234567 --peer raft-rs"
        );
    }
}
