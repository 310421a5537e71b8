//! `lab explore --guided`: exploration guided by coverage marks (in the
//! spirit of AFL's corpus and of Mallory's feedback-guided nemesis). A run's
//! features are the marks it reached, each with its count in a power-of-two
//! bucket. A run that reached a feature few earlier runs reached keeps its
//! genome (swarm options, configuration, aimed faults) in a pool; half the
//! new runs breed from a pool genome, picked by how rare its features are now,
//! mutated a little, with fresh fault times from their own seed. A pool may
//! also hold proven genomes, ones that caught bugs of the mutant catalogue:
//! three runs in four then run one of them as it is (kv-nemesis ships such a
//! pool, `lab/pools/`, the default of `--guided`). What a guide
//! learned can be saved, and a later campaign start from it (`--save-pool`,
//! `--pool`: a fuzzer's corpus).
//!
//! The guide learns between generations of a fixed size, from the runs in
//! seed order, so a guided campaign is a pure function of its seeds and
//! options, whatever `--jobs` says.

use crate::campaign::{PlainLines, Progress, Summary, parallel, progress_bar, stop_now};
use labsim::{SimRng, Stream};
use peer::coverage;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tests::failure::{Failure, run_caught};
use tests::nemesis::{Genome, Schedule};
use tests::raft_suite::RunReport;
use tests::scenarios::{self, Scenario};
use tests::seeds::Seeds;

/// Runs proposed at once; the guide learns after each generation.
const GENERATION: u64 = 16;
/// Out of a million runs, how many run their seed's own schedule (keeps
/// finding what the pool does not yet hold). Half: on the hardest mutants of
/// the catalogue, a guide that started from nothing and bred three runs in
/// four was slower than one that breeds one in two.
const FRESH_PER_MILLION: u32 = 500_000;
/// The same for a guide that starts from a saved pool: one in eight. A pool
/// learned over thousands of runs already holds most of what fresh runs would
/// find, and a fuzzer that starts from its corpus spends its time mutating it.
/// On three pools, the failures per 1000 seeds of commit-old-term-by-counting
/// and stale-replies-counted rose about twofold, and none of six others fell
/// by more than a twentieth.
const POOLED_FRESH_PER_MILLION: u32 = 125_000;
/// Out of a million runs of a guide whose pool holds proven genomes, how
/// many run one of them as it is (with fault times from their own seed).
/// Exploitation: a genome that catches bugs loses its edge when mutated (one
/// that caught 11 of the catalogue's mutants on at least 9 seeds in 10 fell
/// to 1.8 times fewer seeds than uniform once bred as the pool breeds), and
/// three in four beat one in two (2.23 against 1.90 times fewer seeds than
/// uniform, cross-validated as scripts/guided-vs-uniform.sh measures).
const PROVEN_PER_MILLION: u32 = 750_000;
/// Most genomes kept.
const POOL: usize = 64;
/// Most proven genomes a pool file may hold.
const MAX_PROVEN: usize = 64;
/// A feature reached by at most this share of earlier runs is rare (in
/// thousandths).
const RARE_PER_MILLE: u64 = 20;

/// The pools lab ships, by scenario: what `--guided` starts from unless
/// `--pool` says otherwise (`lab/pools/README.md` says how each was made).
const SHIPPED: &[(&str, &str)] = &[("kv-nemesis", include_str!("../pools/kv-nemesis.json"))];

/// Most runs a pool file may say it learned from (far beyond any campaign).
const MAX_POOL_RUNS: u64 = 1 << 48;

/// A feature: a mark, and the power-of-two bucket of its count (1, 2-3, 4-7 ...).
type Feature = (&'static str, u32);

/// One run the guide proposes.
pub struct Proposal {
    /// Its seed (the simulation's randomness and its fault times).
    pub seed: u64,
    /// What it runs under.
    pub schedule: Schedule,
    /// The genome its schedule came from.
    genome: Genome,
    /// False when the schedule is the seed's own (`lab replay --seed` alone
    /// replays it).
    pub bred: bool,
}

/// A genome kept for reaching rare features.
#[derive(Clone)]
struct Parent {
    genome: Genome,
    features: Vec<Feature>,
}

/// What the guide knows: the features runs reached, and the pool.
#[derive(Clone)]
pub struct Guide {
    /// A seed's own schedule.
    own: fn(u64) -> Schedule,
    rng: SimRng,
    runs: u64,
    hits: BTreeMap<Feature, u64>,
    pool: Vec<Parent>,
    /// Out of a million runs, how many run their seed's own schedule.
    fresh_per_million: u32,
    /// Genomes that caught bugs (a pool file's `proven`): each run picks one
    /// to run as it is with odds PROVEN_PER_MILLION, before the pool's turn.
    proven: Vec<Genome>,
    /// Runs bred from the pool so far.
    pub bred: u64,
}

impl Guide {
    /// A guide whose choices come from `seed`, for a scenario whose seeds
    /// draw their `own` schedules from the nemesis.
    pub fn new(seed: u64, own: fn(u64) -> Schedule) -> Guide {
        Guide {
            own,
            rng: labsim::derive_stream(seed, Stream::Named("guide")),
            runs: 0,
            hits: BTreeMap::new(),
            pool: Vec::new(),
            fresh_per_million: FRESH_PER_MILLION,
            proven: Vec::new(),
            bred: 0,
        }
    }

    /// The same knowledge, its further choices drawn from `seed`: a campaign
    /// that starts from what an earlier one learned.
    pub fn reseeded(self, seed: u64) -> Guide {
        Guide {
            rng: labsim::derive_stream(seed, Stream::Named("guide")),
            bred: 0,
            ..self
        }
    }

    /// The schedule `seed` runs: a proven genome's, its own, or one bred
    /// from the pool.
    pub fn propose(&mut self, seed: u64) -> Proposal {
        if !self.proven.is_empty() && self.rng.random_range(0..1_000_000) < PROVEN_PER_MILLION {
            let genome = self.proven[self.rng.random_range(0..self.proven.len())].clone();
            self.bred += 1;
            return Proposal {
                seed,
                schedule: scenarios::breed(seed, &genome),
                genome,
                bred: true,
            };
        }
        let fresh = self.rng.random_range(0..1_000_000) < self.fresh_per_million;
        if self.pool.is_empty() || fresh {
            return Proposal {
                seed,
                schedule: (self.own)(seed),
                genome: scenarios::genome(seed),
                bred: false,
            };
        }
        let parent = self.pick();
        let genome = self.pool[parent].genome.mutate(&mut self.rng);
        self.bred += 1;
        Proposal {
            seed,
            schedule: scenarios::breed(seed, &genome),
            genome,
            bred: true,
        }
    }

    /// Learns from a run that passed: counts its features, and keeps its
    /// genome if one of them is rare.
    pub fn learn(&mut self, proposal: &Proposal, report: &RunReport) {
        let features: Vec<Feature> = report
            .marks
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| (*name, n.ilog2()))
            .collect();
        let rare_below = (self.runs * RARE_PER_MILLE / 1000).max(1);
        let rare = features
            .iter()
            .any(|f| self.hits.get(f).copied().unwrap_or(0) < rare_below);
        self.runs += 1;
        for f in &features {
            *self.hits.entry(*f).or_default() += 1;
        }
        if rare {
            self.pool.push(Parent {
                genome: proposal.genome.clone(),
                features,
            });
            if self.pool.len() > POOL {
                let weakest = self.weakest();
                self.pool.remove(weakest);
            }
        }
    }

    /// How rare a parent's features are now: the sum of 1/runs reaching each.
    fn score(&self, p: &Parent) -> f64 {
        p.features
            .iter()
            .map(|f| 1.0 / self.hits.get(f).copied().unwrap_or(1).max(1) as f64)
            .sum()
    }

    /// A parent, with odds in proportion to its score.
    fn pick(&mut self) -> usize {
        let scores: Vec<f64> = self.pool.iter().map(|p| self.score(p)).collect();
        let total: f64 = scores.iter().sum();
        let mut at = self.rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
        for (i, s) in scores.iter().enumerate() {
            if at < *s {
                return i;
            }
            at -= s;
        }
        scores.len() - 1
    }

    /// The parent with the lowest score (the oldest of equals).
    fn weakest(&self) -> usize {
        let mut weakest = 0;
        for (i, p) in self.pool.iter().enumerate() {
            if self.score(p) < self.score(&self.pool[weakest]) {
                weakest = i;
            }
        }
        weakest
    }

    /// Genomes in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }
}

/// What a guide learned, as a file holds it (`lab explore --guided
/// --save-pool`, then `--pool`): a fuzzer's corpus, so that a campaign
/// starts where an earlier one stopped.
#[derive(Serialize, Deserialize)]
struct PoolFile {
    /// The scenario the runs were of.
    scenario: String,
    /// Runs learned from.
    runs: u64,
    /// Runs that reached each feature: (mark, count bucket, runs).
    hits: Vec<(String, u32, u64)>,
    /// The genomes kept, with the features they reached.
    pool: Vec<(Genome, Vec<(String, u32)>)>,
    /// Genomes that caught bugs, run as they are part of the time.
    #[serde(default)]
    proven: Vec<Genome>,
}

impl Guide {
    /// What this guide learned, for a file.
    fn to_file(&self, scenario: &str) -> PoolFile {
        let feature = |(mark, bucket): &Feature| (mark.to_string(), *bucket);
        PoolFile {
            scenario: scenario.to_string(),
            runs: self.runs,
            hits: (self.hits.iter())
                .map(|(f, n)| (f.0.to_string(), f.1, *n))
                .collect(),
            pool: (self.pool.iter())
                .map(|p| (p.genome.clone(), p.features.iter().map(feature).collect()))
                .collect(),
            proven: self.proven.clone(),
        }
    }

    /// The guide a campaign on `scenario` starts from: the pool file at
    /// `pool` (`--pool FILE`), none (`--pool none`: from nothing), or by
    /// default the pool lab ships for the scenario, if it has one.
    pub fn starting(pool: Option<&Path>, scenario: &Scenario) -> Result<Option<Guide>, String> {
        match pool {
            Some(path) if path == Path::new("none") => Ok(None),
            Some(path) => Guide::read(path, scenario).map(Some),
            None => Guide::shipped(scenario),
        }
    }

    /// The pool lab ships for `scenario` (`lab/pools/`), if any.
    fn shipped(scenario: &Scenario) -> Result<Option<Guide>, String> {
        let Some((_, json)) = SHIPPED.iter().find(|(name, _)| *name == scenario.name) else {
            return Ok(None);
        };
        let file = serde_json::from_str(json).map_err(|e| format!("the shipped pool: {e}"))?;
        Guide::from_file(file, scenario.name, scenario.schedule).map(Some)
    }

    /// Saves what this guide learned to `path` (`--save-pool`).
    pub fn save(&self, path: &Path, scenario: &Scenario) -> Result<(), String> {
        let json = serde_json::to_string(&self.to_file(scenario.name)).expect("plain data");
        crate::common::write_file(path, json + "\n").map_err(|e| format!("the pool: {e}"))
    }

    /// The guide an earlier campaign saved to `path` (`--pool`), for `scenario`.
    pub fn read(path: &Path, scenario: &Scenario) -> Result<Guide, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the pool {}: {e}", path.display()))?;
        let file = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a pool lab saved: {e}", path.display()))?;
        Guide::from_file(file, scenario.name, scenario.schedule)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A guide that knows what `file` holds, for `scenario`. Marks this build
    /// does not know are forgotten (a file written by an older lab).
    fn from_file(
        file: PoolFile,
        scenario: &str,
        own: fn(u64) -> Schedule,
    ) -> Result<Guide, String> {
        if file.scenario != scenario {
            return Err(format!(
                "the pool was learned on {}, not {scenario}",
                file.scenario
            ));
        }
        // Counts a campaign could have reached: a hand-edited file cannot
        // make the guide's arithmetic overflow.
        if file.runs > MAX_POOL_RUNS || file.hits.iter().any(|(_, _, n)| *n > file.runs) {
            return Err(format!(
                "its counts are out of range (runs at most {MAX_POOL_RUNS}, each mark's at most runs)"
            ));
        }
        if file.proven.len() > MAX_PROVEN {
            return Err(format!("it holds more than {MAX_PROVEN} proven genomes"));
        }
        let known = |mark: &str| coverage::MARKS.iter().map(|(m, _)| *m).find(|m| *m == mark);
        let mut guide = Guide::new(0, own);
        guide.fresh_per_million = POOLED_FRESH_PER_MILLION;
        guide.runs = file.runs;
        guide.proven = file.proven;
        for (mark, bucket, n) in file.hits {
            if let Some(mark) = known(&mark) {
                guide.hits.insert((mark, bucket), n);
            }
        }
        for (genome, features) in file.pool.into_iter().take(POOL) {
            let features = (features.into_iter())
                .filter_map(|(mark, bucket)| Some((known(&mark)?, bucket)))
                .collect();
            guide.pool.push(Parent { genome, features });
        }
        Ok(guide)
    }
}

/// One run under a proposed schedule.
pub type GuidedRunFn<'a> = dyn Fn(u64, &Schedule) -> Result<RunReport, Failure> + Sync + 'a;

/// How to run a guided campaign.
pub struct GuidedOptions {
    /// The scenario's name: failures carry it (a run that panics too, so
    /// its replay command names a scenario); the progress bar adds
    /// "(guided)".
    pub name: String,
    /// A seed's own schedule (the scenario's).
    pub own: fn(u64) -> Schedule,
    /// Seeds, in order; the first one also seeds the guide.
    pub seeds: Seeds,
    /// Threads.
    pub jobs: usize,
    /// Stop proposing generations after this much wall time.
    pub time_budget: Option<Duration>,
    /// Stop proposing generations once this many runs failed.
    pub max_failures: Option<usize>,
    /// How progress shows.
    pub progress: Progress,
    /// Stop at the first failure (`lab mutants`).
    pub stop_at_failure: bool,
    /// Start from what this guide learned (read from a pool file); `None`:
    /// from nothing.
    pub learned: Option<Guide>,
}

/// What a guided campaign did.
pub struct Guided {
    /// The campaign's figures.
    pub summary: Summary,
    /// Each failure, with the schedule it ran under and whether that was bred.
    pub failures: Vec<(Failure, Proposal)>,
    /// What the guide knows at the end (and how many runs it bred).
    pub guide: Guide,
}

/// Runs a guided campaign: generation after generation, the runs of each on
/// `jobs` threads, the guide learning from them in seed order. Each failure
/// goes to `on_failure` as its generation ends.
pub fn run_guided(
    run: &GuidedRunFn<'_>,
    mut o: GuidedOptions,
    on_failure: &mut dyn FnMut(&Failure, &Proposal),
) -> Guided {
    let start = Instant::now();
    let first_seed = o.seeds.first().unwrap_or(0);
    let mut guide = match o.learned.take() {
        Some(learned) => learned.reseeded(first_seed),
        None => Guide::new(first_seed, o.own),
    };
    let label = format!("{} (guided)", o.name);
    let bar = progress_bar(&label, o.seeds.len(), o.progress == Progress::Bar);
    let plain = PlainLines::new(&label, o.seeds.len());
    let mut summary = Summary::default();
    let mut failures = Vec::new();
    let mut next = 0;
    while next < o.seeds.len() {
        let spent = || o.time_budget.is_some_and(|b| start.elapsed() >= b);
        if let Some(stop) = stop_now(&summary, o.max_failures, spent) {
            summary.record_stop(stop);
            break;
        }
        let end = (next + GENERATION).min(o.seeds.len());
        let proposals: Vec<Proposal> = (next..end)
            .filter_map(|i| o.seeds.get(i))
            .map(|seed| guide.propose(seed))
            .collect();
        let outcomes = run_generation(run, &o, &proposals);
        for (p, outcome) in proposals.into_iter().zip(outcomes) {
            summary.record(&outcome);
            match outcome {
                Ok(report) => guide.learn(&p, &report),
                Err(f) => {
                    on_failure(&f, &p);
                    failures.push((f, p));
                }
            }
        }
        next = end;
        if o.progress == Progress::Lines {
            plain.seeds_done(next, failures.len());
        }
        bar.set_position(next);
        bar.set_message(format!(
            "{} failed, {} bred, pool {}",
            failures.len(),
            guide.bred,
            guide.pool_len()
        ));
        if o.stop_at_failure && !failures.is_empty() {
            break;
        }
    }
    bar.finish_and_clear();
    summary.wall = start.elapsed();
    Guided {
        summary,
        failures,
        guide,
    }
}

/// The outcomes of a generation's runs, in order. A hunt that stops at the
/// first failure runs them `jobs` at a time and stops after the first batch
/// with a failure: the runs after it could not come first in seed order, and
/// a run of a buggy peer can be slow.
fn run_generation(
    run: &GuidedRunFn<'_>,
    o: &GuidedOptions,
    proposals: &[Proposal],
) -> Vec<Result<RunReport, Failure>> {
    let one = |p: &Proposal| run_caught(&o.name, p.seed, || run(p.seed, &p.schedule));
    if !o.stop_at_failure {
        return parallel(proposals, o.jobs, one);
    }
    let mut outcomes = Vec::with_capacity(proposals.len());
    for batch in proposals.chunks(o.jobs.max(1)) {
        outcomes.extend(parallel(batch, o.jobs, one));
        if outcomes.iter().any(|r| r.is_err()) {
            break;
        }
    }
    outcomes
}

#[cfg(all(test, feature = "reference"))]
mod guided_tests {
    use super::*;
    use std::sync::Mutex;

    /// Every run of a guided campaign: (seed, bred, schedule, trace hash).
    fn campaign(jobs: usize) -> (Vec<(u64, String, u64)>, u64) {
        let scenario = scenarios::find("raft-nemesis").expect("a scenario");
        let seen = Mutex::new(Vec::new());
        let run = |seed: u64, schedule: &Schedule| {
            // Per thread: other tests of this binary select other peers.
            let report =
                tests::peers::with_peer("reference", || scenario.run_with(seed, schedule))?;
            seen.lock()
                .unwrap()
                .push((seed, schedule.to_json(), report.trace_hash));
            Ok(report)
        };
        let guided = run_guided(
            &run,
            GuidedOptions {
                name: "raft-nemesis".into(),
                own: scenario.schedule,
                seeds: Seeds::parse("100..164").unwrap(),
                jobs,
                time_budget: None,
                max_failures: None,
                progress: Progress::Quiet,
                stop_at_failure: false,
                learned: None,
            },
            &mut |_, _| {},
        );
        assert!(guided.failures.is_empty(), "the reference passes");
        let mut runs = seen.into_inner().unwrap();
        runs.sort();
        (runs, guided.guide.bred)
    }

    #[test]
    fn a_guided_campaign_depends_on_its_seeds_not_on_its_threads() {
        let (one, bred_one) = campaign(1);
        let (two, bred_two) = campaign(2);
        assert_eq!(one.len(), 64);
        assert_eq!(
            one, two,
            "the same runs, schedules and traces with 1 and 2 threads"
        );
        assert_eq!(bred_one, bred_two);
        let scenario = scenarios::find("raft-nemesis").unwrap();
        let bred: Vec<&(u64, String, u64)> = one
            .iter()
            .filter(|(seed, s, _)| *s != (scenario.schedule)(*seed).to_json())
            .collect();
        assert_eq!(
            bred.len() as u64,
            bred_one,
            "bred runs leave their seed's own schedule"
        );
        assert!(
            bred_one >= 12,
            "after the first generation, about half the runs breed: {bred_one}"
        );
    }

    #[test]
    fn a_run_that_panics_fails_under_its_scenarios_name() {
        let scenario = scenarios::find("raft-nemesis").expect("a scenario");
        let run = |seed: u64, schedule: &Schedule| {
            if seed == 3 {
                panic!("a peer's own assertion");
            }
            tests::peers::with_peer("reference", || scenario.run_with(seed, schedule))
        };
        let mut lines = Vec::new();
        run_guided(
            &run,
            GuidedOptions {
                name: "raft-nemesis".into(),
                own: scenario.schedule,
                seeds: Seeds::parse("0..4").unwrap(),
                jobs: 1,
                time_budget: None,
                max_failures: None,
                progress: Progress::Quiet,
                stop_at_failure: false,
                learned: None,
            },
            &mut |f, _| lines.push(f.to_string()),
        );
        // (The line names whichever peer this thread's tests last chose;
        // the scenario's name is what a panic used to lose.)
        assert_eq!(lines.len(), 1, "{lines:?}");
        let replay = "replay: cargo run --release -p lab -- replay raft-nemesis --seed 3";
        assert!(
            // (With lab's panic hook, installed by another test of this
            // process or not, the line also says where: "panicked at ...:".)
            lines[0].contains("panicked")
                && lines[0].contains(": a peer's own assertion (event #")
                && lines[0].contains(replay)
                && !lines[0].contains("(guided)"),
            "{}",
            lines[0]
        );
    }

    fn report(marks: &[(&'static str, u64)]) -> RunReport {
        RunReport {
            trace_hash: 0,
            events: 1,
            virtual_ns: 1,
            rpcs: 0,
            commands: 0,
            marks: marks.iter().copied().collect(),
        }
    }

    #[test]
    fn only_runs_that_reach_rare_features_join_the_pool() {
        use peer::coverage::{TORN_TAIL_DROPPED as RARE, VOTE_GRANTED as COMMON};
        let mut guide = Guide::new(1, scenarios::find("raft-nemesis").unwrap().schedule);
        for seed in 0..200 {
            let p = guide.propose(seed);
            guide.learn(&p, &report(&[(COMMON, 3)]));
        }
        assert_eq!(
            guide.pool_len(),
            1,
            "only the first run of a common feature is kept"
        );
        let p = guide.propose(200);
        guide.learn(&p, &report(&[(COMMON, 3), (RARE, 1)]));
        assert_eq!(guide.pool_len(), 2, "a rare feature is kept");
        let p = guide.propose(201);
        guide.learn(&p, &report(&[(COMMON, 40)]));
        assert_eq!(guide.pool_len(), 3, "a new count bucket is a new feature");
        let rare = guide.score(&guide.pool[1]);
        assert!(
            rare > guide.score(&guide.pool[0]) * 50.0,
            "rarity weighs the pick"
        );
    }

    #[test]
    fn a_pool_file_keeps_what_the_guide_learned() {
        use peer::coverage::{TORN_TAIL_DROPPED as RARE, VOTE_GRANTED as COMMON};
        let own = scenarios::find("kv-nemesis").unwrap().schedule;
        let mut guide = Guide::new(1, own);
        for seed in 0..50 {
            let p = guide.propose(seed);
            let marks: &[(&'static str, u64)] = match seed % 10 {
                0 => &[(COMMON, 3), (RARE, 1)],
                _ => &[(COMMON, 3)],
            };
            guide.learn(&p, &report(marks));
        }
        let json = serde_json::to_string(&guide.to_file("kv-nemesis")).unwrap();
        let mut file: serde_json::Value = serde_json::from_str(&json).unwrap();
        file["hits"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!(["a mark of a later lab", 0, 7]));
        let back = Guide::from_file(serde_json::from_value(file).unwrap(), "kv-nemesis", own)
            .expect("a pool for kv-nemesis");
        assert_eq!(back.runs, 50);
        assert_eq!(back.hits, guide.hits, "unknown marks are forgotten");
        assert_eq!(back.pool_len(), guide.pool_len());
        for (a, b) in back.pool.iter().zip(&guide.pool) {
            assert_eq!(a.features, b.features);
            assert_eq!(back.score(a), guide.score(b));
        }
        let file = serde_json::from_str(&json).unwrap();
        let err = Guide::from_file(file, "raft-nemesis", own).err().unwrap();
        assert!(err.contains("learned on kv-nemesis"), "{err}");
        // Counts no campaign reaches are refused, not wrapped around.
        let mut file: serde_json::Value = serde_json::from_str(&json).unwrap();
        file["runs"] = serde_json::json!(u64::MAX);
        let err = Guide::from_file(serde_json::from_value(file).unwrap(), "kv-nemesis", own);
        assert!(err.err().unwrap().contains("out of range"));
    }

    #[test]
    fn a_guide_from_a_pool_breeds_seven_runs_in_eight() {
        let own = scenarios::find("kv-nemesis").unwrap().schedule;
        let mut learning = Guide::new(1, own);
        for seed in 0..20 {
            let p = learning.propose(seed);
            let marks = [(peer::coverage::VOTE_GRANTED, seed + 1)];
            learning.learn(&p, &report(&marks));
        }
        let json = serde_json::to_string(&learning.to_file("kv-nemesis")).unwrap();
        let from_pool = Guide::from_file(serde_json::from_str(&json).unwrap(), "kv-nemesis", own);
        let bred = |mut guide: Guide| {
            (0..800).for_each(|seed| _ = guide.propose(seed));
            guide.bred
        };
        let (pooled, learning) = (bred(from_pool.unwrap().reseeded(2)), bred(learning));
        assert!((650..750).contains(&pooled), "{pooled} of 800 bred");
        assert!((350..450).contains(&learning), "{learning} of 800 bred");
    }

    #[test]
    fn a_guide_runs_its_proven_genomes_as_they_are_three_runs_in_four() {
        let scenario = scenarios::find("kv-nemesis").unwrap();
        let mut guide = Guide::starting(None, scenario)
            .expect("the shipped pool loads")
            .expect("kv-nemesis has one");
        assert!(!guide.proven.is_empty() && guide.pool_len() > 0);
        let proven: Vec<String> = guide.proven.iter().map(genome_json).collect();
        let runs = 800;
        let copies = (0..runs)
            .filter(|seed| {
                let p = guide.propose(*seed);
                let copy = proven.contains(&genome_json(&p.genome));
                assert!(
                    !copy || p.schedule.to_json() == scenarios::breed(*seed, &p.genome).to_json()
                );
                copy
            })
            .count();
        assert!(
            (550..650).contains(&copies),
            "{copies} of {runs} ran a proven genome"
        );
        // Of the others, one in eight is fresh, as from any saved pool.
        assert!(
            (750..795).contains(&guide.bred),
            "{} of {runs} bred",
            guide.bred
        );
    }

    #[test]
    fn the_shipped_pool_is_the_default_and_none_starts_from_nothing() {
        let kv = scenarios::find("kv-nemesis").unwrap();
        let none = Guide::starting(Some(Path::new("none")), kv).unwrap();
        assert!(none.is_none(), "--pool none: from nothing");
        let raft = scenarios::find("raft-nemesis").unwrap();
        assert!(
            Guide::starting(None, raft).unwrap().is_none(),
            "no shipped pool"
        );
        let shipped = Guide::starting(None, kv).unwrap().unwrap();
        let json = serde_json::to_string(&shipped.to_file("kv-nemesis")).unwrap();
        let back = Guide::from_file(
            serde_json::from_str(&json).unwrap(),
            "kv-nemesis",
            kv.schedule,
        );
        let back = back.expect("a saved pool loads again");
        let proven = |g: &Guide| g.proven.iter().map(genome_json).collect::<Vec<_>>();
        assert_eq!(
            proven(&back),
            proven(&shipped),
            "a saved pool keeps its proven genomes"
        );
        let mut file: serde_json::Value = serde_json::from_str(&json).unwrap();
        let many = vec![file["proven"][0].clone(); MAX_PROVEN + 1];
        file["proven"] = serde_json::json!(many);
        let err = Guide::from_file(
            serde_json::from_value(file).unwrap(),
            "kv-nemesis",
            kv.schedule,
        );
        assert!(err.err().unwrap().contains("more than 64 proven genomes"));
    }

    fn genome_json(g: &Genome) -> String {
        serde_json::to_string(g).unwrap()
    }
}
