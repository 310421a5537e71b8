//! `lab mutants`: the mutant catalogue against the lab. Each mutant (a
//! classic Raft or KV bug in a test-only variant of the reference, its own
//! assertions off) runs the graded suites and the default scenarios; the
//! table says whether and how fast each is caught, by what, and how small its
//! fault schedule shrinks.

use crate::campaign::Progress;
use crate::campaign::parallel;
use crate::common::{default_jobs, fail, parse_seed_list};
use crate::guided::{Guide, GuidedOptions, run_guided};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tests::failure::{Failure, run_caught};
use tests::mutants::{MUTANTS, Mutant};
use tests::peers;
use tests::scenarios::{self, Scenario};
use tests::seeds::Seeds;
use tests::shrink::{Method, shrink};
use tests::targets::{self, Target};

/// What `lab mutants` is asked.
#[derive(clap::Args)]
pub struct Options {
    /// Scenario seeds to try, in order, until the first failure.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seed_list, default_value = "0..100")]
    seeds: Seeds,
    /// Threads.
    #[arg(long, default_value_t = default_jobs(), value_parser = crate::common::parse_jobs)]
    jobs: usize,
    /// Only this mutant (see --list).
    #[arg(long)]
    only: Option<String>,
    /// List the mutants and stop.
    #[arg(long)]
    pub list: bool,
    /// Keep the reference's own assertions on (by default they are off, as a
    /// student's Raft has none: the lab's checks must catch every mutant).
    #[arg(long)]
    assertions: bool,
    /// The seed of the graded tests.
    #[arg(long, default_value_t = 1)]
    graded_seed: u64,
    /// Most runs spent shrinking each mutant's first failing schedule.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_shrink_runs: u64,
    /// Also hunt with `lab explore --guided` on the default scenario, and
    /// compare it with uniform seeds.
    #[arg(long)]
    guided: bool,
    /// With --guided: every guided hunt starts from this pool, saved by
    /// `lab explore --guided --save-pool`, instead of kv-nemesis's shipped
    /// pool (`none`: from nothing). The shipped pool's proven genomes were
    /// chosen by what they caught of this catalogue, so its column flatters
    /// the guide; scripts/guided-vs-uniform.sh measures each mutant from
    /// genomes chosen without it.
    #[arg(long, requires = "guided", value_name = "FILE")]
    pool: Option<PathBuf>,
    /// Split the seeds into this many blocks and hunt in each (a mean over
    /// trials instead of one draw of luck); columns then give seeds run per
    /// mutant caught, over all trials.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    trials: u64,
}

/// The first failure a scenario met over the seeds, in each trial.
#[derive(Default)]
struct Hunt {
    /// Seeds run, over all trials.
    seeds_run: u64,
    /// Trials that met a failure.
    caught: u64,
    trials: u64,
    /// The first trial's first failure.
    first: Option<(u64, Failure)>,
    /// Every trial's first failing seed.
    failing_seeds: Vec<u64>,
    wall: Duration,
}

impl Hunt {
    /// Seeds run per failure met (the whole hunt when nothing failed).
    fn seeds_per_catch(&self) -> Option<f64> {
        (self.caught > 0).then(|| self.seeds_run as f64 / self.caught as f64)
    }

    /// Adds a trial.
    fn add(&mut self, seeds_run: u64, first: Option<(u64, Failure)>, wall: Duration) {
        self.seeds_run += seeds_run;
        self.trials += 1;
        self.caught += u64::from(first.is_some());
        self.failing_seeds
            .extend(first.as_ref().map(|(seed, _)| *seed));
        self.wall += wall;
        if self.first.is_none() {
            self.first = first;
        }
    }
}

/// One mutant's measurements.
struct Row {
    graded_failed: usize,
    graded_total: usize,
    kv: Hunt,
    raft: Hunt,
    guided: Option<Hunt>,
    shrunk: Option<(usize, usize)>,
}

/// The mutants `--only` names: all of them without it.
fn chosen(only: Option<&str>) -> Result<Vec<&'static Mutant>, String> {
    let chosen: Vec<&Mutant> = (MUTANTS.iter())
        .filter(|m| only.is_none_or(|n| n == m.name))
        .collect();
    match (chosen.is_empty(), only) {
        (true, Some(name)) => Err(format!(
            "no mutant named `{name}`; `lab mutants --list` names them"
        )),
        _ => Ok(chosen),
    }
}

/// `lab mutants --list [--only NAME]`: the catalogue, or one mutant of it.
pub fn list(o: &Options) -> ExitCode {
    if MUTANTS.is_empty() {
        println!("This build has no mutants (they are variants of the reference solution).");
        return ExitCode::SUCCESS;
    }
    let chosen = match chosen(o.only.as_deref()) {
        Ok(chosen) => chosen,
        Err(e) => return fail(e),
    };
    println!(
        "Mutants (lab --peer mutant:NAME, or mutant:NAME+assertions to keep the reference's assertions)"
    );
    for m in chosen {
        println!("  {:<30} {}", m.name, m.about);
        if let Some(why) = m.equivalent {
            println!("  {:<30} equivalent: {why}", "");
        }
    }
    ExitCode::SUCCESS
}

pub fn mutants(o: Options) -> ExitCode {
    if MUTANTS.is_empty() {
        return fail(
            "this build has no mutants: they are variants of the reference solution, which it does not carry",
        );
    }
    let chosen = match chosen(o.only.as_deref()) {
        Ok(chosen) => chosen,
        Err(e) => return fail(e),
    };
    if o.seeds.len() < o.trials {
        return fail(format!(
            "{} trials need at least as many seeds; --seeds gives {}",
            o.trials,
            o.seeds.len()
        ));
    }
    let learned = match Guide::starting(o.pool.as_deref(), scenario("kv-nemesis")) {
        Ok(guide) => guide,
        Err(e) => return fail(e),
    };
    print_header(&o);
    let rows: Vec<(&Mutant, Row)> = chosen
        .into_iter()
        .map(|m| {
            let row = measure(m, &o, learned.as_ref());
            print_row(m, &row);
            (m, row)
        })
        .collect();
    print_summary(&rows)
}

fn measure(m: &Mutant, o: &Options, learned: Option<&Guide>) -> Row {
    let peer = m.peer_name(o.assertions);
    let (graded_failed, graded_total) = graded(peer, o);
    let kv = hunt(scenario("kv-nemesis"), peer, o);
    let raft = hunt(scenario("raft-nemesis"), peer, o);
    let guided = o
        .guided
        .then(|| hunt_guided(scenario("kv-nemesis"), peer, o, learned));
    let failing = [(&kv, "kv-nemesis"), (&raft, "raft-nemesis")]
        .into_iter()
        .flat_map(|(h, name)| {
            h.failing_seeds
                .iter()
                .map(move |seed| (scenario(name), *seed))
        });
    let shrunk = smallest_shrunk(failing, peer, o.max_shrink_runs as usize);
    Row {
        graded_failed,
        graded_total,
        kv,
        raft,
        guided,
        shrunk,
    }
}

fn scenario(name: &str) -> &'static Scenario {
    scenarios::find(name).expect("the default scenarios exist")
}

/// Runs every graded test once on `peer`: (failed, total).
fn graded(peer: &'static str, o: &Options) -> (usize, usize) {
    let tests: Vec<Target> = targets::all()
        .into_iter()
        .filter(|t| t.group != "scenario")
        .collect();
    let failed = parallel(&tests, o.jobs, |t| {
        let seed = o.graded_seed;
        peers::with_peer(peer, || run_caught(t.name, seed, || t.run(seed))).is_err()
    });
    (failed.iter().filter(|f| **f).count(), tests.len())
}

/// Trial `t` of `trials`: its block of the seeds.
/// The last block also takes the seeds a division leaves over.
fn block(seeds: &Seeds, t: u64, trials: u64) -> Seeds {
    let per = seeds.len() / trials;
    let count = if t + 1 == trials {
        seeds.len() - t * per
    } else {
        per
    };
    match seeds {
        Seeds::Range { first, step, .. } => Seeds::Range {
            first: first + t * per * step,
            count,
            step: *step,
        },
        Seeds::List(list) => Seeds::List(list[(t * per) as usize..][..count as usize].to_vec()),
    }
}

/// `hunt_block` in each block of the seeds: (seeds run, the first failure).
fn in_trials(o: &Options, hunt_block: impl Fn(&Seeds) -> (u64, Option<(u64, Failure)>)) -> Hunt {
    let mut h = Hunt::default();
    for t in 0..o.trials {
        let start = Instant::now();
        let (seeds_run, first) = hunt_block(&block(&o.seeds, t, o.trials));
        h.add(seeds_run, first, start.elapsed());
    }
    h
}

/// A hunt in each block of the seeds.
fn hunt(s: &'static Scenario, peer: &'static str, o: &Options) -> Hunt {
    in_trials(o, |seeds| hunt_in(s, peer, o, seeds))
}

/// A guided campaign in each block of the seeds, each until its first failure.
fn hunt_guided(
    s: &'static Scenario,
    peer: &'static str,
    o: &Options,
    learned: Option<&Guide>,
) -> Hunt {
    in_trials(o, |seeds| {
        let guided = run_guided(
            &|seed, schedule| peers::with_peer(peer, || s.run_with(seed, schedule)),
            GuidedOptions {
                name: s.name.to_string(),
                own: s.schedule,
                seeds: seeds.clone(),
                jobs: o.jobs,
                time_budget: None,
                max_failures: None,
                progress: Progress::Quiet,
                stop_at_failure: true,
                learned: learned.cloned(),
            },
            &mut |_, _| {},
        );
        let first = guided.failures.into_iter().next().map(|(f, _)| (f.seed, f));
        let seeds_run = match &first {
            Some((seed, _)) => seeds
                .iter()
                .position(|s| s == *seed)
                .map_or(0, |i| i as u64 + 1),
            None => seeds.len(),
        };
        (seeds_run, first)
    })
}

/// The scenario over the seeds in order, `jobs` at a time, until one fails:
/// (seeds run, the failure).
fn hunt_in(
    s: &'static Scenario,
    peer: &'static str,
    o: &Options,
    seeds: &Seeds,
) -> (u64, Option<(u64, Failure)>) {
    let mut next = 0;
    while next < seeds.len() {
        let end = (next + o.jobs.max(1) as u64).min(seeds.len());
        let chunk: Vec<u64> = (next..end).filter_map(|i| seeds.get(i)).collect();
        let outcomes = parallel(&chunk, o.jobs, |&seed| {
            peers::with_peer(peer, || run_caught(s.name, seed, || s.run(seed))).err()
        });
        let failed = chunk
            .iter()
            .zip(outcomes)
            .enumerate()
            .find_map(|(k, (seed, f))| f.map(|f| (next + k as u64 + 1, (*seed, f))));
        if let Some((seeds_run, first)) = failed {
            return (seeds_run, Some(first));
        }
        next = end;
    }
    (seeds.len(), None)
}

/// Shrinks the trials' first failures in turn, until one shrinks to at most
/// `GOOD_SHRINK` faults: the smallest (faults before, faults after) found.
fn smallest_shrunk(
    failing: impl Iterator<Item = (&'static Scenario, u64)>,
    peer: &'static str,
    max_runs: usize,
) -> Option<(usize, usize)> {
    const GOOD_SHRINK: usize = 3;
    let mut best: Option<(usize, usize)> = None;
    for (s, seed) in failing {
        if let Some(size) = shrunk_size(s, seed, peer, max_runs)
            && best.is_none_or(|b| size.1 < b.1)
        {
            best = Some(size);
        }
        if best.is_some_and(|b| b.1 <= GOOD_SHRINK) {
            break;
        }
    }
    best
}

/// The seed's schedule shrunk: (faults before, faults after), aimed faults
/// included.
fn shrunk_size(
    s: &Scenario,
    seed: u64,
    peer: &'static str,
    max_runs: usize,
) -> Option<(usize, usize)> {
    let schedule = (s.schedule)(seed);
    let size = |s: &tests::nemesis::Schedule| s.faults.len() + s.aims.len();
    let before = size(&schedule);
    let out = peers::with_peer(peer, || shrink(s, seed, schedule, max_runs, Method::Ddmin));
    out.ok().map(|sh| (before, size(&sh.shrunk)))
}

/// What caught a failure: the oracle (safety), the checker, the liveness
/// phase, a test's own check, or the peer's panic.
fn caught_by(f: &Failure) -> String {
    f.kind.to_string()
}

/// Seeds to the first failure (one trial) or seeds run per failure met
/// (several), what caught the first, wall seconds in all.
fn describe(h: &Hunt) -> String {
    let seeds = match (h.seeds_per_catch(), h.trials) {
        (None, _) => "-".to_string(),
        (Some(_), 1) => h.seeds_run.to_string(),
        (Some(per), _) => format!("{per:.1} ({}/{})", h.caught, h.trials),
    };
    let by = h
        .first
        .as_ref()
        .map_or("not caught".into(), |(_, f)| caught_by(f));
    format!("{seeds:>4} {by:<15} {:>6.1}", h.wall.as_secs_f64())
}

fn print_header(o: &Options) {
    println!(
        "Mutants against the lab: graded tests on seed {}, scenarios over seeds {}..{} until the first failure{}; the reference's assertions {}.",
        o.graded_seed,
        o.seeds.first().unwrap_or(0),
        o.seeds.first().unwrap_or(0) + o.seeds.len(),
        match o.trials {
            1 => String::new(),
            n => format!(" in each of {n} blocks (trials)"),
        },
        if o.assertions { "on" } else { "off" }
    );
    println!(
        "Columns per scenario: {}, what caught it, wall seconds. Shrunk faults: faults and aimed\nfaults of a failing schedule before and after shrinking (each trial's first failure in turn,\nuntil one shrinks to 3 or fewer).\n",
        match o.trials {
            1 => "seeds to the first failure",
            _ => "seeds run per failure met (trials that met one)",
        }
    );
    let (mutant, graded, kv, raft) = ("mutant", "graded", "kv-nemesis (default)", "raft-nemesis");
    let guided = if o.guided { "kv-nemesis --guided" } else { "" };
    println!("{mutant:<30} {graded:>8}  {kv:<28}  {raft:<28}  {guided:<28}  shrunk faults");
}

fn print_row(m: &Mutant, r: &Row) {
    let shrunk = r
        .shrunk
        .map_or("-".to_string(), |(a, b)| format!("{a} -> {b}"));
    let name = match m.equivalent {
        Some(_) => format!("{}*", m.name),
        None => m.name.to_string(),
    };
    println!(
        "{:<30} {:>3}/{:<4}  {:<28}  {:<28}  {:<28}  {shrunk}",
        name,
        r.graded_failed,
        r.graded_total,
        describe(&r.kv),
        describe(&r.raft),
        r.guided.as_ref().map_or(String::new(), describe),
    );
}

/// Guided against uniform seeds on the default scenario, over the mutants
/// both caught. "Fewer seeds in the median" reads two ways, and both are
/// printed: the median of the per-mutant ratios, and the ratio of the two
/// columns' medians.
#[derive(Debug, PartialEq)]
struct Comparison {
    /// Mutants both caught.
    mutants: usize,
    /// The median, least and greatest of uniform's seeds over guided's.
    ratio_median: f64,
    ratio_min: f64,
    ratio_max: f64,
    /// Each column's median seeds per failure met: (uniform, guided).
    column_medians: (f64, f64),
    /// Seeds to catch each mutant once, in all: (uniform, guided).
    totals: (f64, f64),
}

/// The comparison of (uniform, guided) seeds per failure met, one pair per
/// mutant both caught; None without any.
fn compare(both: &[(f64, f64)]) -> Option<Comparison> {
    let sorted = |f: fn(&(f64, f64)) -> f64| {
        let mut v: Vec<f64> = both.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let ratios = sorted(|(u, g)| u / g);
    Some(Comparison {
        mutants: both.len(),
        ratio_median: median(&ratios)?,
        ratio_min: ratios[0],
        ratio_max: ratios[ratios.len() - 1],
        column_medians: (median(&sorted(|p| p.0))?, median(&sorted(|p| p.1))?),
        totals: (
            both.iter().map(|p| p.0).sum(),
            both.iter().map(|p| p.1).sum(),
        ),
    })
}

fn print_comparison(rows: &[(&Mutant, Row)]) {
    // (uniform, guided) seeds per failure met, for each mutant both caught.
    let both: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|(_, r)| {
            let guided = r.guided.as_ref()?.seeds_per_catch()?;
            Some((r.kv.seeds_per_catch()?, guided))
        })
        .collect();
    let Some(c) = compare(&both) else {
        return;
    };
    let only_guided = rows
        .iter()
        .filter(|(_, r)| r.kv.caught == 0 && r.guided.as_ref().is_some_and(|g| g.caught > 0))
        .count();
    let only_uniform = rows
        .iter()
        .filter(|(_, r)| r.kv.caught > 0 && r.guided.as_ref().is_some_and(|g| g.caught == 0))
        .count();
    let ((u_median, g_median), (u_total, g_total)) = (c.column_medians, c.totals);
    println!(
        "guided against uniform (kv-nemesis), on the mutants both caught ({}): uniform needs {:.2}x the seeds of guided in the median of the per-mutant ratios (from {:.2}x to {:.2}x); the columns' medians are {u_median:.1} seeds uniform and {g_median:.1} guided ({:.2}x); {:.2}x to catch each once ({u_total:.1} seeds against {g_total:.1}); caught only guided: {only_guided}, only uniform: {only_uniform}",
        c.mutants,
        c.ratio_median,
        c.ratio_min,
        c.ratio_max,
        u_median / g_median,
        u_total / g_total,
    );
}

/// The median of sorted values: the middle one, or the mean of the two
/// middle ones.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn print_summary(rows: &[(&Mutant, Row)]) -> ExitCode {
    let caught = |r: &Row| r.kv.first.is_some() || r.raft.first.is_some() || r.graded_failed > 0;
    let caught_kv = rows.iter().filter(|(_, r)| r.kv.first.is_some()).count();
    let caught_any = rows.iter().filter(|(_, r)| caught(r)).count();
    let equivalent = rows
        .iter()
        .filter(|(m, r)| m.equivalent.is_some() && !caught(r))
        .count();
    let missed = rows.len() - caught_any - equivalent;
    // A catch of an equivalent mutant is a false alarm or a wrong claim.
    let wrongly_equivalent: Vec<&str> = rows
        .iter()
        .filter(|(m, r)| m.equivalent.is_some() && caught(r))
        .map(|(m, _)| m.name)
        .collect();
    for name in &wrongly_equivalent {
        println!(
            "{name} is said to be equivalent, yet the lab caught it: a false alarm, or a wrong claim"
        );
    }
    let mut kv_seeds: Vec<f64> = rows
        .iter()
        .filter_map(|(_, r)| r.kv.seeds_per_catch())
        .collect();
    kv_seeds.sort_by(f64::total_cmp);
    let median = median(&kv_seeds).map_or("-".into(), |m| format!("{m:.1}"));
    let max_shrunk = rows.iter().filter_map(|(_, r)| r.shrunk.map(|s| s.1)).max();
    println!(
        "\n{caught_kv}/{n} caught by the default scenario (kv-nemesis) alone, median {median} seeds to the first failure; {caught_any}/{n} caught by something; largest shrunk schedule: {} faults",
        max_shrunk.map_or("-".into(), |m| m.to_string()),
        n = rows.len() - equivalent
    );
    print_comparison(rows);
    if equivalent > 0 {
        println!(
            "{equivalent} equivalent, starred (never wrong, so left out of the score: `lab mutants --list` says why)"
        );
    }
    println!("{caught_any} caught, {missed} missed");
    if missed == 0 && wrongly_equivalent.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod mutants_tests {
    use super::{Comparison, compare, median};

    #[test]
    fn a_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 9.0]), Some(2.5));
    }

    #[test]
    fn guided_against_uniform_reads_both_medians() {
        assert_eq!(compare(&[]), None);
        // Ratios 1, 2 and 3; the columns' medians 4 and 2; 14 seeds against 6.
        let c = compare(&[(9.0, 3.0), (1.0, 1.0), (4.0, 2.0)]).unwrap();
        assert_eq!(
            c,
            Comparison {
                mutants: 3,
                ratio_median: 2.0,
                ratio_min: 1.0,
                ratio_max: 3.0,
                column_medians: (4.0, 2.0),
                totals: (14.0, 6.0),
            }
        );
        // The two medians part when the columns' middles are different mutants.
        let c = compare(&[(1.0, 1.0), (1.0, 1.0), (8.0, 8.0), (100.0, 2.0)]).unwrap();
        assert_eq!((c.ratio_median, c.column_medians), (1.0, (4.5, 1.5)));
    }
}
