//! `lab mutants`: the mutant catalogue against the lab. Each mutant (a
//! classic Raft or KV bug in a test-only variant of the reference, its own
//! assertions off) runs the graded suites and the default scenarios; the
//! table says whether and how fast each is caught, by what, and how small its
//! fault schedule shrinks.

use crate::common::{default_jobs, fail, parse_seed_list};
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
    #[arg(long, value_parser = parse_seed_list, default_value = "0..100")]
    seeds: Seeds,
    /// Threads.
    #[arg(long, default_value_t = default_jobs())]
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
    #[arg(long, default_value_t = 200)]
    max_shrink_runs: usize,
}

/// The first failure a scenario met over the seeds, if any.
struct Hunt {
    seeds_run: u64,
    first: Option<(u64, Failure)>,
    wall: Duration,
}

/// One mutant's measurements.
struct Row {
    graded_failed: usize,
    graded_total: usize,
    kv: Hunt,
    raft: Hunt,
    shrunk: Option<(usize, usize)>,
}

pub fn list() -> ExitCode {
    if MUTANTS.is_empty() {
        println!("This build has no mutants (they are variants of the reference solution).");
        return ExitCode::SUCCESS;
    }
    println!(
        "Mutants (lab --peer mutant:NAME, or mutant:NAME+assertions to keep the reference's assertions)"
    );
    for m in MUTANTS {
        println!("  {:<30} {}", m.name, m.about);
    }
    ExitCode::SUCCESS
}

pub fn mutants(o: Options) -> ExitCode {
    if MUTANTS.is_empty() {
        return fail(
            "this build has no mutants: they are variants of the reference solution, which it does not carry",
        );
    }
    let chosen: Vec<&Mutant> = MUTANTS
        .iter()
        .filter(|m| o.only.as_deref().is_none_or(|n| n == m.name))
        .collect();
    if chosen.is_empty() {
        return fail(format!(
            "no mutant named `{}`; `lab mutants --list` names them",
            o.only.unwrap_or_default()
        ));
    }
    print_header(&o);
    let rows: Vec<(&Mutant, Row)> = chosen
        .into_iter()
        .map(|m| {
            let row = measure(m, &o);
            print_row(m, &row);
            (m, row)
        })
        .collect();
    print_summary(&rows)
}

fn measure(m: &Mutant, o: &Options) -> Row {
    let peer = m.peer_name(o.assertions);
    let (graded_failed, graded_total) = graded(peer, o);
    let kv = hunt(scenario("kv-nemesis"), peer, o);
    let raft = hunt(scenario("raft-nemesis"), peer, o);
    let shrunk = [(&kv, "kv-nemesis"), (&raft, "raft-nemesis")]
        .into_iter()
        .find_map(|(h, name)| h.first.as_ref().map(|(seed, _)| (scenario(name), *seed)))
        .and_then(|(s, seed)| shrunk_size(s, seed, peer, o.max_shrink_runs));
    Row {
        graded_failed,
        graded_total,
        kv,
        raft,
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

/// The scenario over the seeds in order, `jobs` at a time, until one fails.
fn hunt(s: &'static Scenario, peer: &'static str, o: &Options) -> Hunt {
    let start = Instant::now();
    let mut next = 0;
    while next < o.seeds.len() {
        let end = (next + o.jobs.max(1) as u64).min(o.seeds.len());
        let chunk: Vec<u64> = (next..end).filter_map(|i| o.seeds.get(i)).collect();
        let outcomes = parallel(&chunk, o.jobs, |&seed| {
            peers::with_peer(peer, || run_caught(s.name, seed, || s.run(seed))).err()
        });
        let failed = chunk
            .iter()
            .zip(outcomes)
            .enumerate()
            .find_map(|(k, (seed, f))| f.map(|f| (next + k as u64 + 1, (*seed, f))));
        if let Some((seeds_run, first)) = failed {
            return Hunt {
                seeds_run,
                first: Some(first),
                wall: start.elapsed(),
            };
        }
        next = end;
    }
    Hunt {
        seeds_run: o.seeds.len(),
        first: None,
        wall: start.elapsed(),
    }
}

/// `f` over `items` on up to `jobs` threads, results in order.
fn parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let per = items.len().div_ceil(jobs.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("runs catch their panics"))
            .collect()
    })
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
    if f.what.starts_with("panicked") {
        "panic".into()
    } else {
        f.kind.to_string()
    }
}

fn describe(h: &Hunt) -> String {
    match &h.first {
        Some((_, f)) => format!(
            "{:>4} {:<15} {:>6.1}",
            h.seeds_run,
            caught_by(f),
            h.wall.as_secs_f64()
        ),
        None => format!(
            "{:>4} {:<15} {:>6.1}",
            "-",
            "not caught",
            h.wall.as_secs_f64()
        ),
    }
}

fn print_header(o: &Options) {
    println!(
        "Mutants against the lab: graded tests on seed {}, scenarios over seeds {}..{} until the first failure; the reference's assertions {}.",
        o.graded_seed,
        o.seeds.first().unwrap_or(0),
        o.seeds.first().unwrap_or(0) + o.seeds.len(),
        if o.assertions { "on" } else { "off" }
    );
    println!(
        "Columns per scenario: seeds to the first failure, what caught it, wall seconds to it.\n"
    );
    let (mutant, graded, kv, raft) = ("mutant", "graded", "kv-nemesis (default)", "raft-nemesis");
    println!("{mutant:<30} {graded:>8}  {kv:<28}  {raft:<28}  shrunk faults");
}

fn print_row(m: &Mutant, r: &Row) {
    let shrunk = r
        .shrunk
        .map_or("-".to_string(), |(a, b)| format!("{a} -> {b}"));
    println!(
        "{:<30} {:>3}/{:<4}  {:<28}  {:<28}  {shrunk}",
        m.name,
        r.graded_failed,
        r.graded_total,
        describe(&r.kv),
        describe(&r.raft)
    );
}

fn print_summary(rows: &[(&Mutant, Row)]) -> ExitCode {
    let caught_kv = rows.iter().filter(|(_, r)| r.kv.first.is_some()).count();
    let caught_any = rows
        .iter()
        .filter(|(_, r)| r.kv.first.is_some() || r.raft.first.is_some() || r.graded_failed > 0)
        .count();
    let mut kv_seeds: Vec<u64> = rows
        .iter()
        .filter(|(_, r)| r.kv.first.is_some())
        .map(|(_, r)| r.kv.seeds_run)
        .collect();
    kv_seeds.sort_unstable();
    let median = kv_seeds
        .get(kv_seeds.len() / 2)
        .map_or("-".into(), u64::to_string);
    let max_shrunk = rows.iter().filter_map(|(_, r)| r.shrunk.map(|s| s.1)).max();
    println!(
        "\n{caught_kv}/{n} caught by the default scenario (kv-nemesis) alone, median {median} seeds to the first failure; {caught_any}/{n} caught by something; largest shrunk schedule: {} faults",
        max_shrunk.map_or("-".into(), |m| m.to_string()),
        n = rows.len()
    );
    println!("{} caught, {} missed", caught_any, rows.len() - caught_any);
    if caught_any == rows.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
