//! `lab`: raftlab's command-line tool. Explore scenarios over many seeds
//! under generated faults, run and grade the 6.824 suites, replay a seed
//! with its full trace, check determinism, and check histories for
//! linearizability. Run `lab help` or `lab COMMAND --help`.
//!
//! This file holds the command line's definition and sends each command to
//! its own module; what the commands share is in `common`.

mod campaign;
mod check_determinism;
mod check_history;
mod common;
mod corpus;
mod experiment;
mod explore;
mod grade;
mod guided;
mod interrupt;
mod list;
mod mutants;
mod picture;
mod real;
mod replay;
mod run;
mod schedule;
mod shrink;

use clap::{Parser, Subcommand};
use common::{
    default_jobs, fail, parse_jobs, parse_max_failures, parse_peer, parse_seed_list, parse_shard,
    parse_time, parse_wall,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tests::seeds::Seeds;
use tests::{peers, scenarios};

/// The experiments `lab experiment` runs.
#[derive(Subcommand)]
enum Experiment {
    /// Figure 16 of the Raft paper: 5 servers, a broadcast time of 15 ms,
    /// the leader crashed at a random point of its heartbeat interval just
    /// after a heartbeat round, two survivors with logs too short to win;
    /// downtime from the crash until every survivor has heard the new
    /// leader. Per range: min, p10, p25, p50, p75, p90, p99, max and mean
    /// in ms, and the trials over the limit. A pure function of its options.
    #[command(
        after_help = "Examples:\n  lab experiment election-downtime                       the paper's ranges, 1000 trials each\n  lab experiment election-downtime --ranges 150-300 --prevote --trials 10000\n  lab experiment election-downtime --ranges 150-300 --trial 17        trial 17 alone (a failed trial prints this)"
    )]
    ElectionDowntime(experiment::DowntimeArgs),
}

/// A simulation allocates and frees small messages all the time; mimalloc's
/// per-thread free lists do that in about half the time glibc's malloc takes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "lab",
    version,
    about = "raftlab: deterministic simulation of Raft and KV peers in virtual time",
    long_about = "raftlab runs Raft and KV peers inside one process, on a simulated network and disks, \
driven by virtual time and a seeded random generator: a run is a pure function of (scenario, peer, seed). \
The Raft under test is any implementation of the peer interface (--peer; `lab list --peers`). \
Every failure prints the one command that replays it.",
    after_help = "Examples:\n  \
lab explore --seeds 0..2000 --jobs 2        explore the default scenario over 2000 seeds\n  \
lab explore --guided --seeds 0..2000        the same, guided toward rarely reached coverage marks\n  \
lab run raft::figure8_unreliable --seeds 1..1000\n  \
lab replay raft::figure8 --seed 7 --trace run.jsonl --node 2 --from 1s --to 3s\n  \
lab check-determinism raft-nemesis --seeds 0..100\n  \
lab grade --seeds 1..6\n  \
lab grade --peer student --part 3A          grade your own Raft's part 3A\n  \
lab grade --part 3E                         Raft's other half: CheckQuorum, PreVote, transfer, ReadIndex, membership\n  \
lab explore --peer raft-rs --seeds 0..1000  tikv's raft-rs under the nemesis"
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
    #[command(
        after_help = "Examples:\n  lab list                   every scenario and graded test\n  lab list --peers           every Raft --peer can name"
    )]
    List {
        /// List the peers instead: the Raft implementations `--peer` can name.
        #[arg(long)]
        peers: bool,
    },
    /// Run a scenario over many seeds under generated faults (the main job).
    #[command(
        after_help = "Examples:\n  lab explore --seeds 0..2000 --jobs 2                  kv-nemesis over 2000 seeds\n  lab explore raft-nemesis --seeds 0..100000 --shard 3/8   machine 3 (of 0..7) of a sharded campaign\n  lab explore --seeds 0..100000000 --time-budget 10m     as many seeds as 10 minutes take\n  lab explore --seeds 0..100000 --max-failures 20        stop once 20 seeds have failed\n  lab explore --guided --seeds 0..2000 --save-pool p.json   guided, keeping what it learned\n  lab --peer student explore --guided --pool p.json       your Raft, bred from that pool"
    )]
    Explore {
        /// The scenario (see `lab list`).
        #[arg(default_value = scenarios::DEFAULT_SCENARIO)]
        scenario: String,
        #[command(flatten)]
        many: ManySeeds,
        /// Append failing seeds to this corpus (JSON lines: scenario, seed, schedule, failure kind).
        #[arg(long, default_value = "lab-out/corpus.jsonl")]
        corpus: PathBuf,
        /// Guide the exploration by coverage marks: seeds run schedules bred
        /// from the swarm options, configuration and aimed faults of earlier
        /// seeds that reached rarely reached marks; from a pool with proven
        /// genomes (kv-nemesis ships one), three seeds in four run one of
        /// those as it is. Still a pure function of the seeds and options (not of
        /// --jobs); a failure's schedule is saved beside the corpus for replay.
        #[arg(long)]
        guided: bool,
        /// With --guided: start from the pool and counts an earlier guided
        /// campaign saved (--save-pool), as a fuzzer starts from its corpus,
        /// instead of the scenario's shipped pool (lab/pools/); `none`: from
        /// nothing.
        #[arg(long, requires = "guided", value_name = "FILE")]
        pool: Option<PathBuf>,
        /// With --guided: save what the guide learned (its pool of genomes and
        /// how often each mark was reached) to FILE at the end, for --pool.
        #[arg(long, requires = "guided", value_name = "FILE")]
        save_pool: Option<PathBuf>,
    },
    /// Run a graded test (or a scenario) over many seeds.
    #[command(
        after_help = "Examples:\n  lab run raft::figure8_unreliable --seeds 1..1000\n  lab run kv::basic --peer student --seeds 1..20"
    )]
    Run {
        /// The test, e.g. `raft::figure8` (see `lab list`).
        test: String,
        #[command(flatten)]
        many: ManySeeds,
    },
    /// Re-run one seed and print its outcome and trace hash; write its trace (--trace), draw it (--html).
    #[command(
        after_help = "Examples:\n  lab replay raft::figure8 --seed 7                        the outcome and trace hash\n  lab replay raft::figure8 --seed 7 --trace t.jsonl --node 2 --from 1s --to 3s\n  lab replay kv-nemesis --seed 3 --html run.html          the run as a picture\n  lab replay kv-nemesis --seed 3 --schedule s.json        under an edited schedule"
    )]
    Replay(ReplayArgs),
    /// Print the fault schedule a scenario's seed generates (JSON; edit it and pass it to replay).
    #[command(
        after_help = "Examples:\n  lab schedule kv-nemesis --seed 42 > s.json     then edit it, and:\n  lab replay kv-nemesis --seed 42 --schedule s.json"
    )]
    Schedule {
        /// The scenario.
        scenario: String,
        /// The seed.
        #[arg(long)]
        seed: u64,
    },
    /// Run each seed twice; any divergence names the first event that differs.
    #[command(
        after_help = "Examples:\n  lab check-determinism raft-nemesis --seeds 0..100\n  lab check-determinism raft::figure8 --peer student --seeds 1..20   your Raft's randomness"
    )]
    CheckDeterminism {
        /// The test or scenario.
        name: String,
        /// Seeds, e.g. 0..100.
        #[arg(long, allow_hyphen_values = true, value_parser = parse_seed_list, default_value = "0..10")]
        seeds: Seeds,
        /// Threads, one seed (two runs) each at a time.
        #[arg(long, default_value_t = default_jobs(), value_parser = parse_jobs)]
        jobs: usize,
        /// Take every N-th seed from offset I (I/N), so N machines split one check.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Stop starting seeds after this much wall time (e.g. 10m, 90s).
        #[arg(long, value_parser = parse_wall)]
        time_budget: Option<std::time::Duration>,
    },
    /// Measure the lab against its mutant catalogue: classic Raft and KV bugs,
    /// each a test-only variant of the reference. Per mutant: graded tests
    /// failed, seeds of each default scenario to the first failure and what
    /// caught it, and the shrunk schedule's size. Exit 1 if a mutant escapes.
    #[command(
        after_help = "Examples:\n  lab mutants --list                                   the catalogue\n  lab mutants --only stale-reads --seeds 0..100        how fast the lab catches one bug\n  lab mutants --trials 10 --seeds 0..2000 --guided --pool p.json   the whole table (about 9 minutes)"
    )]
    Mutants(mutants::Options),
    /// Reproduce a published experiment: `election-downtime` is Figure 16 of
    /// the Raft paper (time without a leader after the leader crashes, per
    /// election timeout range), as a table and a page of CDFs.
    #[command(subcommand)]
    Experiment(Experiment),
    /// Shrink a failing seed's fault schedule to the few faults that matter.
    #[command(
        after_help = "Examples:\n  lab shrink raft-nemesis-buggy-votes --seed 2                   delta debugging (the default)\n  lab shrink raft-nemesis-buggy-votes --seed 2 --method proptest\n  lab shrink kv-nemesis --seed 7 --schedule s.json --out small.json"
    )]
    Shrink(ShrinkArgs),
    /// Check a history file for linearizability. Exit 0: linearizable; 1: not
    /// (the HTML page shows why); 3: unknown within the step budget (or the
    /// search's 512 MiB of memory, shared by the keys); 2: the
    /// file is unreadable or holds no operation, or the page cannot be written.
    #[command(
        after_help = "Examples:\n  lab check-history linearizability/testdata/porcupine/kv/c10-bad.txt --html why.html\n  lab check-history etcd_000.log --model register\n\nFormats:\n  kv        Porcupine/Jepsen key-value text, one event a line:\n            {:process 0, :type :invoke, :f :put, :key \"3\", :value \"x 0 1 y\"} then its {:process 0, :type :ok, ...}\n  register  Jepsen etcd logs of a compare-and-set register (read, write, cas; :fail and :info returns):\n            INFO  jepsen.util - 2  :invoke  :cas  [3 0]"
    )]
    CheckHistory {
        /// The history file.
        file: PathBuf,
        /// The model (and file format): kv or register.
        #[arg(long, default_value = "kv")]
        model: String,
        /// Give up (verdict unknown, exit 3) after this many search steps on
        /// one key (partition): a budget that gives the same verdict on every
        /// machine, at any load, unlike a wall-clock limit. (A search also
        /// gives up when its tables fill 512 MiB, shared by the keys in
        /// proportion to their sizes: a bound on memory, counted the same
        /// way on every machine.)
        #[arg(long, default_value_t = 1 << 30)]
        max_steps: u64,
        /// Write the picture of the history (and of the violation) here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Replay every line of a corpus of past failures (a regression suite):
    /// each must pass now. Exit 1 if any still fails.
    #[command(
        after_help = "Examples:\n  lab corpus tests/corpus/regressions.jsonl            every past failure must pass now\n  lab corpus lab-out/corpus.jsonl --line 3             replay one line (its schedule and peer)"
    )]
    Corpus {
        /// The corpus (JSON lines with scenario, seed and, for scenarios, schedule).
        file: PathBuf,
        /// Replay only this line (from 1).
        #[arg(long)]
        line: Option<usize>,
    },
    /// Run one KV server node for real: TCP to its peers, its state in files
    /// (`lab cluster up` starts a local cluster of them).
    Serve(real::serve::ServeArgs),
    /// A client of a real cluster: get, put or append one key.
    Kv(real::kv::KvArgs),
    /// A local cluster of real nodes on 127.0.0.1: up, status, down.
    #[command(subcommand)]
    Cluster(real::cluster::ClusterCommand),
    /// Jepsen-style: a real local cluster under faults drawn from a seed
    /// (kill -9, SIGSTOP, partitions through TCP proxies), clients' history
    /// judged by the simulator's checker. Not reproducible bit for bit (it is
    /// real); the fault schedule is saved for `lab replay kv-nemesis --schedule`.
    RealNemesis(real::nemesis::Args),
    /// Every graded test over some seeds: a table by part, as a student hands in.
    #[command(
        after_help = "Examples:\n  lab grade                                   every part, seeds 1..4\n  lab grade --peer student --part 3A          your Raft's part 3A\n  lab grade --seeds 1..6 --part 5B"
    )]
    Grade {
        /// Seeds per test.
        #[arg(long, allow_hyphen_values = true, value_parser = parse_seed_list, default_value = "1..4")]
        seeds: Seeds,
        /// Only this part: 3A, 3B, 3C, 3D, 3E (Raft), 4A, 4B (KV), 5A (shard controller) or 5B (sharded KV).
        #[arg(long, value_parser = grade::parse_part)]
        part: Option<&'static str>,
        /// Threads.
        #[arg(long, default_value_t = default_jobs(), value_parser = parse_jobs)]
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
    /// Keep only events at or after this virtual time (e.g. 1.5s, 300ms; a
    /// bare number is milliseconds).
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
struct ShrinkArgs {
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
    /// Give up after this many runs (the first confirms the failure).
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_runs: u64,
    /// ddmin (delta debugging, then each fault dropped on one of the next 8
    /// seeds, then halving lengths, rates and the workload; the replay
    /// command names the seed it ends on) or proptest (proptest's value-tree
    /// shrinking, on the failing seed only).
    #[arg(long, default_value = "ddmin")]
    method: tests::shrink::Method,
}

#[derive(clap::Args)]
struct ManySeeds {
    /// Seeds: A..B (B excluded), A..=B, N, or a comma list.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seed_list, default_value = "0..1000")]
    seeds: Seeds,
    /// Threads, one simulation each.
    #[arg(long, default_value_t = default_jobs(), value_parser = parse_jobs)]
    jobs: usize,
    /// Take every N-th seed from offset I (I/N), so N machines split one campaign.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Stop starting new seeds after this much wall time (e.g. 10m, 90s, 1h30m).
    #[arg(long, value_parser = parse_wall)]
    time_budget: Option<Duration>,
    /// Stop starting new seeds once this many have failed; the seeds under
    /// way (a guided generation) still finish, so a few more may fail. A bound
    /// on a CI job's artifacts: a linearizability failure writes a page, and
    /// explore a corpus line.
    #[arg(long, value_parser = parse_max_failures, value_name = "N")]
    max_failures: Option<usize>,
}

/// What every command needs before it runs: the panic hook, the watchdog,
/// where outputs go, the peer, and the budgets checked.
fn start(peer: Option<&'static str>) -> Result<(), String> {
    campaign::quiet_panics();
    campaign::watch_for_hangs();
    // A violation's page goes beside lab's other outputs, where it is run.
    tests::artifacts::set_dir(PathBuf::from("lab-out"));
    peers::select(peer.unwrap_or(peers::DEFAULT_PEER))?;
    warn_of_peer_env(peer);
    tests::budgets::check_all()
}

/// `RAFTLAB_PEER` picks the peer of `cargo test`, not of `lab`: a CI job
/// that exports it for one and then runs the other would test another Raft
/// than it thinks, so lab says so.
fn warn_of_peer_env(peer: Option<&'static str>) {
    let Some(env) = std::env::var(peers::PEER_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    if peer.unwrap_or(peers::DEFAULT_PEER) != env {
        eprintln!(
            "lab: {}={env} is read by `cargo test`, not by lab: `lab --peer {env}` runs that Raft",
            peers::PEER_ENV
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // An explicit --peer binds every run; without one, a replayed schedule or
    // corpus line names its own, and everything else runs the default peer.
    let peer = cli.peer;
    if let Err(e) = start(peer) {
        return fail(e);
    }
    match cli.command {
        Command::List { peers } => list::list(peers),
        Command::Explore {
            scenario,
            many,
            corpus,
            guided: false,
            ..
        } => explore::explore(&scenario, many, &corpus),
        Command::Explore {
            scenario,
            many,
            corpus,
            guided: true,
            pool,
            save_pool,
        } => explore::explore_guided(
            &scenario,
            many,
            &corpus,
            explore::PoolFiles {
                from: pool,
                to: save_pool,
            },
        ),
        Command::Run { test, many } => run::run(&test, many),
        Command::Replay(args) => replay::replay(args, peer),
        Command::Schedule { scenario, seed } => schedule::schedule(&scenario, seed),
        Command::CheckDeterminism {
            name,
            seeds,
            jobs,
            shard,
            time_budget,
        } => check_determinism::check_determinism(
            &name,
            &common::shard(seeds, shard),
            jobs,
            time_budget,
        ),
        Command::Grade { seeds, part, jobs } => grade::grade(&seeds, part, jobs),
        Command::Shrink(args) => shrink::shrink(args, peer),
        Command::Experiment(Experiment::ElectionDowntime(args)) => {
            experiment::election_downtime(args)
        }
        Command::Mutants(o) if o.list => mutants::list(&o),
        Command::Mutants(o) => mutants::mutants(o),
        Command::Corpus { file, line } => corpus::corpus(&file, line, peer),
        Command::Serve(args) => real::serve::serve(args, peer.unwrap_or(peers::DEFAULT_PEER)),
        Command::Kv(args) => real::kv::kv(args),
        Command::Cluster(c) => real::cluster::cluster(c, peer.unwrap_or(peers::DEFAULT_PEER)),
        Command::RealNemesis(args) => {
            real::nemesis::real_nemesis(args, peer.unwrap_or(peers::DEFAULT_PEER))
        }
        Command::CheckHistory {
            file,
            model,
            max_steps,
            html,
        } => check_history::check_history(&file, &model, max_steps, html),
    }
}
