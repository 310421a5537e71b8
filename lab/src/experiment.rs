//! `lab experiment election-downtime`: Figure 16 of the Raft paper, as a
//! table of percentiles per election timeout range and a page of CDFs.
//! Each trial is one seed (`tests::downtime`); a range's trials are seeds
//! 0, 1, 2 ... so the whole experiment is a pure function of its options.

use crate::campaign::{on_terminal, parallel, progress_bar};
use crate::common::fail;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tests::downtime::{self, Setup, Trial};
use tests::failure::Failure;

mod page;

/// The paper's ranges, top graph then bottom graph.
pub const PAPER_RANGES: &str =
    "150-150,150-151,150-155,150-175,150-200,150-300,12-24,25-50,50-100,100-200";

/// Most trials a range takes: each keeps its downtime for the CDFs, and a
/// million already draws them smooth.
const MAX_TRIALS: u64 = 1_000_000;

/// Options of `lab experiment election-downtime`.
#[derive(clap::Args, Debug)]
pub struct DowntimeArgs {
    /// Election timeout ranges in ms, `MIN-MAX`, comma separated.
    #[arg(long, default_value = PAPER_RANGES, value_parser = parse_ranges)]
    ranges: Ranges,
    /// Trials per range. A range without randomness (`150-150`) gets a
    /// tenth of them, as in the paper: its trials run long.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=MAX_TRIALS))]
    trials: u64,
    /// Broadcast time in ms: one-way message latency is a third of it, a
    /// disk write the last third (the paper: about 15 ms).
    #[arg(long, default_value_t = 15)]
    broadcast_ms: u64,
    /// Servers, 5 to 9 (the paper: 5; it says 9 gave similar results). Two
    /// are held behind, so the others must be a majority.
    #[arg(long, default_value_t = 5)]
    peers: usize,
    /// PreVote on: what it costs in downtime (the paper's Raft has none).
    #[arg(long)]
    prevote: bool,
    /// A trial still without a leader this long after the crash counts as
    /// "over the limit" (virtual time).
    #[arg(long, default_value = "60s", value_parser = crate::common::parse_time)]
    limit: u64,
    /// Threads.
    #[arg(long, default_value_t = crate::common::default_jobs(), value_parser = crate::common::parse_jobs)]
    jobs: usize,
    /// The page with both graphs.
    #[arg(long, default_value = "lab-out/election-downtime.html")]
    html: PathBuf,
    /// Run trial N alone (trial N is seed N) of the one range in --ranges,
    /// and say what it measured or how it failed: the command each failed
    /// trial prints to replay it.
    #[arg(long, value_name = "N")]
    trial: Option<u64>,
}

/// Election timeout ranges, in ms.
#[derive(Clone, Debug)]
pub struct Ranges(Vec<(u64, u64)>);

fn parse_ranges(text: &str) -> Result<Ranges, String> {
    let parse = |part: &str| -> Result<(u64, u64), String> {
        let (min, max) = part
            .split_once('-')
            .ok_or_else(|| format!("`{part}`: a range is MIN-MAX in ms, e.g. 150-300"))?;
        let ms = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{part}`: `{t}` is not a whole number of ms"))
        };
        Ok((ms(min)?, ms(max)?))
    };
    let ranges = text.split(',').map(parse).collect::<Result<Vec<_>, _>>()?;
    if ranges.is_empty() {
        return Err("no range".into());
    }
    Ok(Ranges(ranges))
}

/// One range's trials.
pub struct RangeResult {
    /// Election timeout range, ms.
    pub range: (u64, u64),
    /// Downtimes in ns, sorted; `u64::MAX` for a trial over the limit.
    pub downtimes_ns: Vec<u64>,
    /// Trials in which two survivors were too short to win at the crash.
    pub short_logs: u64,
    /// Trials that failed (a safety violation, a setup that did not elect).
    pub failures: Vec<Failure>,
}

/// Runs the experiment and prints its table.
pub fn election_downtime(args: DowntimeArgs) -> ExitCode {
    let setups: Vec<(Setup, u64)> = args
        .ranges
        .0
        .iter()
        .map(|&(min, max)| (setup(&args, min, max), trials_for(args.trials, min, max)))
        .collect();
    for (setup, _) in &setups {
        if let Err(e) = downtime::validate(setup) {
            return fail(format!(
                "range {}-{}: {e}",
                setup.election_min_ms, setup.election_max_ms
            ));
        }
    }
    if let Some(seed) = args.trial {
        return match &setups[..] {
            [(setup, _)] => one_trial(&args, setup, seed),
            _ => fail("--trial replays a trial of one range: name it, e.g. --ranges 150-300"),
        };
    }
    if let Err(e) = crate::common::can_write(&args.html) {
        return fail(e);
    }
    let started = Instant::now();
    let results = run_all(&setups, args.jobs);
    let wall_s = started.elapsed().as_secs_f64();
    print!("{}", table(&results, args.limit));
    let total: u64 = setups.iter().map(|(_, t)| t).sum();
    let prevote = if args.prevote { "on" } else { "off" };
    let setup = format!(
        "{} servers ({}), broadcast {} ms, PreVote {prevote}",
        args.peers,
        tests::peers::current_name(),
        args.broadcast_ms
    );
    println!(
        "{total} trials, {setup}, in {wall_s:.1} s ({} threads)",
        args.jobs
    );
    let title = format!("Election downtime: {setup}");
    if let Err(e) = page::write(&args.html, &title, &results) {
        return fail(format!("cannot write {}: {e}", args.html.display()));
    }
    println!("graphs: {}", args.html.display());
    print_failures(&args, &results)
}

/// The first failed trials, each with the command that replays it alone.
fn print_failures(args: &DowntimeArgs, results: &[RangeResult]) -> ExitCode {
    let failures: Vec<((u64, u64), &Failure)> = (results.iter())
        .flat_map(|r| r.failures.iter().map(|f| (r.range, f)))
        .collect();
    for (range, f) in failures.iter().take(5) {
        print_failure(args, *range, f);
    }
    if failures.len() > 5 {
        println!("... and {} more failed trials", failures.len() - 5);
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A failed trial's line, and the command that runs it alone.
fn print_failure(args: &DowntimeArgs, range: (u64, u64), f: &Failure) {
    println!("{}", f.headline());
    println!("replay: {}", replay_command(args, range, f.seed));
}

/// The command that runs trial `seed` of `range` alone, with every option
/// that shapes a trial (the peer's, and the budgets raised, too).
fn replay_command(args: &DowntimeArgs, (min, max): (u64, u64), seed: u64) -> String {
    let trial = format!(
        "experiment election-downtime --ranges {min}-{max} --broadcast-ms {} --peers {}{} \
         --limit {} --trial {seed}",
        args.broadcast_ms,
        args.peers,
        if args.prevote { " --prevote" } else { "" },
        labsim::fmt_ns(args.limit),
    );
    tests::failure::lab_command(&trial, &tests::peers::current_name())
}

/// `--trial N`: one trial, what it measured or its failure; exit 1 if it failed.
fn one_trial(args: &DowntimeArgs, setup: &Setup, seed: u64) -> ExitCode {
    let range = (setup.election_min_ms, setup.election_max_ms);
    let outcome = tests::failure::run_caught(downtime::NAME, seed, || downtime::trial(setup, seed));
    let trial = match outcome {
        Ok(trial) => trial,
        Err(f) => {
            print_failure(args, range, &f);
            return ExitCode::FAILURE;
        }
    };
    let name = format!("trial {seed} of {}-{} ms", range.0, range.1);
    match trial.downtime_ns {
        Some(ns) => println!(
            "{name}: every survivor heard the new leader {} after the crash",
            labsim::fmt_ns(ns)
        ),
        None => println!(
            "{name}: over the limit, no leader all survivors heard within {}",
            labsim::fmt_ns(args.limit)
        ),
    }
    if trial.short_logs {
        println!("two survivors' logs were short at the crash");
    }
    ExitCode::SUCCESS
}

fn setup(args: &DowntimeArgs, min: u64, max: u64) -> Setup {
    Setup {
        peers: args.peers,
        election_min_ms: min,
        election_max_ms: max,
        broadcast_ms: args.broadcast_ms,
        pre_vote: args.prevote,
        limit_ms: args.limit / labsim::MS,
    }
}

fn trials_for(trials: u64, min: u64, max: u64) -> u64 {
    if min == max {
        trials.div_ceil(10)
    } else {
        trials
    }
}

/// Every trial of every range on `jobs` threads, a bar over all of them.
fn run_all(setups: &[(Setup, u64)], jobs: usize) -> Vec<RangeResult> {
    let items: Vec<(usize, u64)> = setups
        .iter()
        .enumerate()
        .flat_map(|(i, (_, trials))| (0..*trials).map(move |seed| (i, seed)))
        .collect();
    let bar = progress_bar("election-downtime", items.len() as u64, on_terminal());
    let outcomes = parallel(&items, jobs, |&(i, seed)| {
        let outcome: Result<Trial, Failure> =
            tests::failure::run_caught(downtime::NAME, seed, || {
                downtime::trial(&setups[i].0, seed)
            });
        bar.inc(1);
        outcome
    });
    bar.finish_and_clear();
    let mut results: Vec<RangeResult> = setups
        .iter()
        .map(|(s, _)| RangeResult {
            range: (s.election_min_ms, s.election_max_ms),
            downtimes_ns: vec![],
            short_logs: 0,
            failures: vec![],
        })
        .collect();
    for (&(i, _), outcome) in items.iter().zip(outcomes) {
        let r = &mut results[i];
        match outcome {
            Ok(t) => {
                r.downtimes_ns.push(t.downtime_ns.unwrap_or(u64::MAX));
                r.short_logs += u64::from(t.short_logs);
            }
            Err(f) => r.failures.push(f),
        }
    }
    results
        .iter_mut()
        .for_each(|r| r.downtimes_ns.sort_unstable());
    results
}

/// The percentiles the table prints (nearest rank), with the min and max.
pub const PERCENTILES: [(&str, f64); 7] = [
    ("p10", 0.10),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p99", 0.99),
    ("max", 1.0),
];

/// The value at quantile `q` of sorted `values` (nearest rank).
pub fn quantile(values: &[u64], q: f64) -> u64 {
    assert!(!values.is_empty() && (0.0..=1.0).contains(&q));
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn ms(ns: u64, limit_ns: u64) -> String {
    if ns == u64::MAX {
        format!(">{}", limit_ns / labsim::MS)
    } else {
        format!("{:.0}", ns as f64 / labsim::MS as f64)
    }
}

fn table(results: &[RangeResult], limit_ns: u64) -> String {
    let mut out = format!("{:<9} {:>6} {:>6}", "range ms", "trials", "min");
    for (name, _) in PERCENTILES {
        let _ = write!(out, " {name:>6}");
    }
    let _ = writeln!(out, " {:>7}  {:>6}  short logs", "mean", "over");
    for r in results {
        let d = &r.downtimes_ns;
        let _ = write!(
            out,
            "{:<9} {:>6}",
            format!("{}-{}", r.range.0, r.range.1),
            d.len()
        );
        if d.is_empty() {
            let _ = writeln!(out, "  (no trial finished)");
            continue;
        }
        let _ = write!(out, " {:>6}", ms(d[0], limit_ns));
        for (_, q) in PERCENTILES {
            let _ = write!(out, " {:>6}", ms(quantile(d, q), limit_ns));
        }
        let over = d.iter().filter(|&&x| x == u64::MAX).count();
        let mean = mean_ms(d, limit_ns, over);
        let short = 100.0 * r.short_logs as f64 / d.len() as f64;
        let _ = writeln!(out, " {mean:>7}  {over:>6}  {short:.0}%");
    }
    out
}

/// The mean downtime in ms. Trials over the limit count as the limit, so
/// with any of them the mean is a lower bound, and says so (`>`).
fn mean_ms(downtimes_ns: &[u64], limit_ns: u64, over: usize) -> String {
    let sum_ns: f64 = downtimes_ns.iter().map(|&d| d.min(limit_ns) as f64).sum();
    let mean = sum_ns / downtimes_ns.len() as f64 / 1e6;
    match over {
        0 => format!("{mean:.1}"),
        _ => format!(">{mean:.0}"),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(quantile(&v, 0.0), 1);
        assert_eq!(quantile(&[7], 0.9), 7);
    }

    #[test]
    fn a_mean_with_trials_over_the_limit_is_a_lower_bound() {
        let ms = 1_000_000;
        assert_eq!(mean_ms(&[100 * ms, 200 * ms], 60_000 * ms, 0), "150.0");
        // One trial of four never ended: at least (3 x 100 + 60000) / 4.
        let d = [100 * ms, 100 * ms, 100 * ms, u64::MAX];
        assert_eq!(mean_ms(&d, 60_000 * ms, 1), ">15075");
    }

    #[test]
    fn ranges_parse_or_say_why_not() {
        assert_eq!(
            parse_ranges("150-300,12-24").unwrap().0,
            vec![(150, 300), (12, 24)]
        );
        assert!(parse_ranges("150").unwrap_err().contains("MIN-MAX"));
        assert!(parse_ranges("150-x").unwrap_err().contains("`x`"));
    }
}
