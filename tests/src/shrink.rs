//! Shrinking a failing run: its fault schedule (drop faults, shorten them,
//! make them milder) and its workload (fewer clients, fewer operations),
//! keeping every step that still fails the same way.
//!
//! Two methods, so their results can be compared on real bugs:
//! - [`Method::Ddmin`]: Zeller's delta debugging over the list of faults
//!   (drop halves, then quarters, ...), then each remaining fault dropped on
//!   a few other seeds ([`RESEEDS`]), then each fault halved in length and
//!   severity, then the workload lowered by binary search.
//! - [`Method::Proptest`]: proptest's own shrinking. The schedule becomes a
//!   proptest value tree (one `keep` flag, length and severity per fault,
//!   plus clients and operations) that starts at the failing schedule, and
//!   the tree's `simplify`/`complicate` loop runs exactly as proptest's test
//!   runner drives it: one element at a time, numbers by binary search.
//!
//! Runs are memoised by seed and schedule, so a candidate that comes up twice (a
//! proptest tree shrinking the length of a fault it already dropped) costs
//! nothing.

use crate::failure::{Failure, FailureKind};
use crate::nemesis::{FaultKind, Schedule};
use crate::scenarios::Scenario;
use proptest::num::u64::BinarySearch;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::collections::BTreeMap;
use std::str::FromStr;

/// How to shrink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Delta debugging over the faults, then halving lengths and rates.
    Ddmin,
    /// proptest's value-tree shrinking.
    Proptest,
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Method, String> {
        match s {
            "ddmin" => Ok(Method::Ddmin),
            "proptest" => Ok(Method::Proptest),
            other => Err(format!("no shrink method `{other}` (ddmin, proptest)")),
        }
    }
}

/// What "the same failure" means: the same kind, and the same message up to
/// its first number (`two leaders in term 7` matches `two leaders in term 9`).
/// A panic's location (`panicked at FILE:LINE:COL: `) is left out: its line
/// number would end the head at the file's name, and any panic in that file
/// would match.
fn signature(f: &Failure) -> (FailureKind, String) {
    let what = match f.what.strip_prefix("panicked at ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, message)| message),
        None => &f.what,
    };
    let head: String = what.chars().take_while(|c| !c.is_ascii_digit()).collect();
    (f.kind, head)
}

/// The outcome of a shrink.
#[derive(Debug)]
pub struct Shrunk {
    /// The schedule it started from.
    pub original: Schedule,
    /// The smallest schedule found that still fails the same way.
    pub shrunk: Schedule,
    /// The seed it fails on: the seed shrinking started from, unless a fault
    /// could only be dropped on another seed (see [`RESEEDS`]).
    pub seed: u64,
    /// The failure the shrunk schedule produces.
    pub failure: Failure,
    /// Runs made (memoised repeats not counted).
    pub runs: usize,
}

struct Runner<'a> {
    scenario: &'a Scenario,
    seed: u64,
    target: (FailureKind, String),
    runs: usize,
    max_runs: usize,
    seen: BTreeMap<(u64, String), Option<Failure>>,
}

impl Runner<'_> {
    /// Runs a candidate on the current seed; Some(failure) if it fails the
    /// same way.
    fn fails(&mut self, candidate: &Schedule) -> Option<Failure> {
        let (scenario, seed) = (self.scenario, self.seed);
        let key = (seed, candidate.to_json());
        if let Some(known) = self.seen.get(&key) {
            return known.clone();
        }
        if self.runs >= self.max_runs {
            return None;
        }
        self.runs += 1;
        let outcome = match crate::failure::run_caught(scenario.name, seed, || {
            scenario.run_with(seed, candidate)
        }) {
            Err(f) if signature(&f) == self.target => Some(f),
            _ => None,
        };
        self.seen.insert(key, outcome.clone());
        outcome
    }
}

/// Shrinks `schedule` for `scenario` on `seed` with `method`, making at most
/// `max_runs` runs.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    schedule: Schedule,
    max_runs: usize,
    method: Method,
) -> Result<Shrunk, String> {
    let first = match crate::failure::run_caught(scenario.name, seed, || {
        scenario.run_with(seed, &schedule)
    }) {
        Ok(_) => {
            return Err(format!(
                "{} seed={seed} passes with this schedule: nothing to shrink",
                scenario.name
            ));
        }
        Err(f) => f,
    };
    let mut runner = Runner {
        scenario,
        seed,
        target: signature(&first),
        runs: 1,
        max_runs,
        seen: BTreeMap::new(),
    };
    runner
        .seen
        .insert((seed, schedule.to_json()), Some(first.clone()));
    let mut best = Best {
        schedule: schedule.clone(),
        failure: first,
    };
    match method {
        Method::Ddmin => ddmin(&mut runner, &mut best),
        Method::Proptest => by_proptest(&mut runner, &mut best),
    }
    Ok(Shrunk {
        original: schedule,
        shrunk: best.schedule,
        seed: runner.seed,
        failure: best.failure,
        runs: runner.runs,
    })
}

/// The smallest failing schedule so far.
struct Best {
    schedule: Schedule,
    failure: Failure,
}

impl Best {
    /// Keeps `candidate` if it fails the same way.
    fn try_keep(&mut self, runner: &mut Runner<'_>, candidate: Schedule) -> bool {
        match runner.fails(&candidate) {
            Some(f) => {
                self.schedule = candidate;
                self.failure = f;
                true
            }
            None => false,
        }
    }
}

/// A fault's severity, the number that makes it milder when lowered, with
/// the mildest value worth trying (read and written as u64).
fn get_severity(kind: &FaultKind) -> Option<(u64, u64)> {
    match kind {
        FaultKind::Duplicate { per_million } => Some((u64::from(*per_million), 1000)),
        FaultKind::ClockDrift { ppm, .. } => Some((ppm.unsigned_abs(), 1000)),
        FaultKind::SlowDisk { latency_ms, .. } => Some((*latency_ms, 1)),
        _ => None,
    }
}

fn set_severity(kind: &mut FaultKind, value: u64) {
    match kind {
        FaultKind::Duplicate { per_million } => {
            *per_million = u32::try_from(value).unwrap_or(u32::MAX);
        }
        FaultKind::ClockDrift { ppm, .. } => {
            let magnitude = i64::try_from(value).unwrap_or(i64::MAX);
            *ppm = if *ppm < 0 { -magnitude } else { magnitude };
        }
        FaultKind::SlowDisk { latency_ms, .. } => *latency_ms = value,
        _ => {}
    }
}

/// The shortest fault worth trying, in ms.
const MIN_DURATION_MS: u64 = 20;
/// Operations per client a workload cap starts from when lowering it: more
/// than any client of a 20 s scenario completes.
const OPS_CAP_START: u64 = 1 << 16;

fn ddmin(runner: &mut Runner<'_>, best: &mut Best) {
    drop_fault_chunks(runner, best);
    // Aimed faults, one at a time (a schedule has at most a few).
    let mut i = 0;
    while i < best.schedule.aims.len() {
        let mut candidate = best.schedule.clone();
        candidate.aims.remove(i);
        if !best.try_keep(runner, candidate) {
            i += 1;
        }
    }
    drop_on_other_seeds(runner, best);
    soften_faults(runner, best);
    // Fewer clients, then fewer operations each: the smallest that still
    // fails, by binary search (failing need not be monotone; any failing
    // value found is kept).
    let clients = clients_start(&best.schedule);
    lowest_failing(runner, best, 0, clients, |s, v| {
        s.workload.clients = Some(v as usize)
    });
    let ops = ops_start(&best.schedule);
    lowest_failing(runner, best, 1, ops, |s, v| {
        s.workload.max_ops_per_client = Some(v)
    });
}

/// Zeller's ddmin over the faults: drop halves, then quarters, ... until no
/// chunk, down to single faults, can go.
fn drop_fault_chunks(runner: &mut Runner<'_>, best: &mut Best) {
    let mut n = 2;
    while best.schedule.faults.len() >= 2 {
        let len = best.schedule.faults.len();
        let chunk = len.div_ceil(n);
        let mut reduced = false;
        for start in (0..len).step_by(chunk) {
            let mut candidate = best.schedule.clone();
            candidate.faults.drain(start..(start + chunk).min(len));
            if best.try_keep(runner, candidate) {
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= len {
                break;
            }
            n = (2 * n).min(len);
        }
    }
    if best.schedule.faults.len() == 1 {
        let mut candidate = best.schedule.clone();
        candidate.faults.clear();
        best.try_keep(runner, candidate);
    }
}

/// Each fault halved in length and severity while it still fails.
fn soften_faults(runner: &mut Runner<'_>, best: &mut Best) {
    for i in 0..best.schedule.faults.len() {
        loop {
            let mut candidate = best.schedule.clone();
            let fault = &mut candidate.faults[i];
            let milder = match get_severity(&fault.kind) {
                Some((v, floor)) if v > floor => {
                    set_severity(&mut fault.kind, v / 2);
                    true
                }
                _ => false,
            };
            let shorter = fault.duration_ms > MIN_DURATION_MS;
            if shorter {
                fault.duration_ms /= 2;
            }
            if !(shorter || milder) || !best.try_keep(runner, candidate) {
                break;
            }
        }
    }
}

/// Other seeds a fault is dropped on when it cannot be dropped on the
/// failing seed's own: the seed after it, and so on.
///
/// Why: once ddmin is done, no single fault can be dropped, yet often one
/// is there for luck, not for the bug. A run draws message delays and the
/// clients' operations from its seed, and a fault dropped shifts every later
/// draw, so the failure needs it only because it moved the dice (a 12 ms
/// partition kept by ddmin is the typical case). Dropped on another seed,
/// the rest still fails: a smaller schedule with its own seed, which the
/// replay command names, is the smaller reproduction.
pub const RESEEDS: u64 = 8;

/// Drops each fault and aimed fault in turn on the current seed or one of
/// its [`RESEEDS`] successors, switching seeds when that still fails the same
/// way, until none can be dropped on any of them.
fn drop_on_other_seeds(runner: &mut Runner<'_>, best: &mut Best) {
    let mut dropped = true;
    while dropped {
        dropped = false;
        let (faults, aims) = (best.schedule.faults.len(), best.schedule.aims.len());
        for i in 0..faults + aims {
            let mut candidate = best.schedule.clone();
            if i < faults {
                candidate.faults.remove(i);
            } else {
                candidate.aims.remove(i - faults);
            }
            if reseed_keep(runner, best, candidate) {
                dropped = true;
                break;
            }
        }
    }
}

/// Keeps `candidate` with the first seed it fails on the same way: the
/// current seed (after a switch, what it makes droppable), then its
/// successors.
fn reseed_keep(runner: &mut Runner<'_>, best: &mut Best, candidate: Schedule) -> bool {
    let from = runner.seed;
    for k in 0..=RESEEDS {
        runner.seed = from.wrapping_add(k);
        if best.try_keep(runner, candidate.clone()) {
            return true;
        }
    }
    runner.seed = from;
    false
}

/// Binary search for the lowest value in `lo..=hi` that still fails, `hi`
/// being the value the best schedule has (or stands for).
fn lowest_failing(
    runner: &mut Runner<'_>,
    best: &mut Best,
    mut lo: u64,
    mut hi: u64,
    set: impl Fn(&mut Schedule, u64),
) {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let mut candidate = best.schedule.clone();
        set(&mut candidate, mid);
        if best.try_keep(runner, candidate) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
}

/// A proptest strategy with no randomness: a number that starts at `start`
/// and shrinks toward `lo` by binary search (proptest's own integer tree).
#[derive(Clone, Copy, Debug)]
struct ShrinksFrom {
    lo: u64,
    start: u64,
}

impl Strategy for ShrinksFrom {
    type Tree = BinarySearch;
    type Value = u64;
    fn new_tree(&self, _: &mut TestRunner) -> NewTree<Self> {
        Ok(BinarySearch::new_above(self.lo.min(self.start), self.start))
    }
}

fn from(lo: u64, start: u64) -> ShrinksFrom {
    ShrinksFrom { lo, start }
}

fn by_proptest(runner: &mut Runner<'_>, best: &mut Best) {
    // Two value trees, one after the other, so a long schedule's budget is
    // not spent binary-searching the length of faults that will be dropped:
    // first a keep flag per fault (1 shrinks to 0: dropped), ...
    let original = best.schedule.clone();
    let keep: Vec<ShrinksFrom> = original.faults.iter().map(|_| from(0, 1)).collect();
    proptest_shrink(runner, best, keep, |keep: &Vec<u64>| {
        let mut s = original.clone();
        s.faults = original
            .faults
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k == 1)
            .map(|(f, _)| f.clone())
            .collect();
        s
    });
    // ... then each remaining fault's length and severity, and the workload.
    let kept = best.schedule.clone();
    let faults: Vec<(ShrinksFrom, ShrinksFrom)> = kept
        .faults
        .iter()
        .map(|f| {
            let (sev, floor) = get_severity(&f.kind).unwrap_or((0, 0));
            (from(MIN_DURATION_MS, f.duration_ms), from(floor, sev))
        })
        .collect();
    let (clients, ops) = (clients_start(&kept), ops_start(&kept));
    let strategy = (faults, from(0, clients), from(1, ops));
    proptest_shrink(runner, best, strategy, |genes| {
        let (faults, clients, ops) = genes;
        let mut s = kept.clone();
        for (f, &(duration_ms, sev)) in s.faults.iter_mut().zip(faults) {
            f.duration_ms = duration_ms;
            if get_severity(&f.kind).is_some() {
                set_severity(&mut f.kind, sev);
            }
        }
        if *clients != clients_start(&kept) {
            s.workload.clients = Some(*clients as usize);
        }
        if *ops != ops_start(&kept) {
            s.workload.max_ops_per_client = Some(*ops);
        }
        s
    });
}

/// proptest's shrink loop (as `TestRunner` runs it after a failure), with a
/// scenario run as the test: `strategy`'s tree starts at the best schedule,
/// and `build` turns the tree's value into a schedule.
fn proptest_shrink<S: Strategy>(
    runner: &mut Runner<'_>,
    best: &mut Best,
    strategy: S,
    build: impl Fn(&S::Value) -> Schedule,
) {
    let mut tree = strategy
        .new_tree(&mut TestRunner::deterministic())
        .expect("these strategies never reject");
    debug_assert_eq!(build(&tree.current()), best.schedule);
    if !tree.simplify() {
        return;
    }
    while runner.runs < runner.max_runs {
        let candidate = build(&tree.current());
        let more = if best.try_keep(runner, candidate) {
            tree.simplify()
        } else {
            tree.complicate()
        };
        if !more {
            break;
        }
    }
}

/// The clients a schedule runs, as the number shrinking starts from.
fn clients_start(s: &Schedule) -> u64 {
    s.workload.clients() as u64
}

/// The operations cap a schedule has, or one no client reaches.
fn ops_start(s: &Schedule) -> u64 {
    s.workload.max_ops_per_client.unwrap_or(OPS_CAP_START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Test;
    use crate::nemesis::Fault;
    use crate::raft_suite::RunReport;

    fn fault(kind: FaultKind) -> Fault {
        Fault {
            at_ms: 100,
            duration_ms: 1000,
            kind,
        }
    }

    fn has(schedule: &Schedule, kind: &FaultKind) -> bool {
        schedule.faults.iter().any(|f| &f.kind == kind)
    }

    /// A bug that needs a pause of node 0, and either long reordering or
    /// the luck of a seed divisible by 3: on seed 1 the reordering is only
    /// there for luck.
    fn lucky(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
        let pause = FaultKind::Pause { node: 0 };
        if has(schedule, &pause)
            && (has(schedule, &FaultKind::LongReordering) || t.seed.is_multiple_of(3))
        {
            let what = "two leaders in term 4".to_string();
            return Err(Failure::new(t.name, t.seed, 0, FailureKind::Safety, what));
        }
        Ok(RunReport {
            trace_hash: 0,
            events: 0,
            virtual_ns: 0,
            rpcs: 0,
            commands: 0,
            marks: BTreeMap::new(),
        })
    }

    const LUCKY: Scenario = Scenario {
        name: "lucky",
        about: "a bug that needs one fault, and a second one on two seeds of three",
        body: lucky,
        schedule: |_| Schedule::default(),
        servers: 5,
        faults: crate::scenarios::Faults::Scheduled,
        test_only: false,
    };

    fn three_faults() -> Schedule {
        Schedule {
            faults: vec![
                fault(FaultKind::Unreliable),
                fault(FaultKind::LongReordering),
                fault(FaultKind::Pause { node: 0 }),
            ],
            ..Schedule::default()
        }
    }

    #[test]
    fn a_fault_kept_for_luck_is_dropped_on_a_neighbouring_seed() {
        let shrunk = shrink(&LUCKY, 1, three_faults(), 100, Method::Ddmin).unwrap();
        assert_eq!(shrunk.seed, 3, "seed 2 passes without the reordering");
        assert_eq!(shrunk.failure.seed, 3);
        let kinds: Vec<&FaultKind> = shrunk.shrunk.faults.iter().map(|f| &f.kind).collect();
        assert_eq!(kinds, [&FaultKind::Pause { node: 0 }]);
    }

    #[test]
    fn a_seed_that_needs_no_luck_is_kept() {
        let shrunk = shrink(&LUCKY, 6, three_faults(), 100, Method::Ddmin).unwrap();
        assert_eq!(shrunk.seed, 6);
        assert_eq!(shrunk.shrunk.faults.len(), 1);
    }

    #[test]
    fn proptest_shrinking_keeps_the_seed() {
        let shrunk = shrink(&LUCKY, 1, three_faults(), 100, Method::Proptest).unwrap();
        assert_eq!(shrunk.seed, 1);
        assert_eq!(shrunk.shrunk.faults.len(), 2);
    }

    #[test]
    fn a_panic_is_the_same_failure_by_its_message_not_its_file() {
        let panic = |what: &str| Failure::new("t", 1, 0, FailureKind::Panic, what.into());
        let a = signature(&panic(
            "panicked at student/src/raft.rs:42:13: index out of bounds (event #9)",
        ));
        let b = signature(&panic(
            "panicked at student/src/raft.rs:90:5: index out of bounds (event #30)",
        ));
        let c = signature(&panic(
            "panicked at student/src/raft.rs:42:13: no leader (event #9)",
        ));
        assert_eq!(a, b, "the same panic at another line or event");
        assert_ne!(a, c, "another panic in the same file");
        assert_eq!(a.1, "index out of bounds (event #");
    }
}
