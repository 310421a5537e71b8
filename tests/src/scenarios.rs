//! Exploration scenarios: a cluster, a workload and a generated fault
//! schedule, then a liveness phase in which every fault heals and the
//! cluster must elect a leader, commit and converge.

use crate::Test;
use crate::failure::{Failure, FailureKind};
use crate::nemesis::{self, Schedule};
use crate::peers::PeerChoice;
use crate::raft_suite::clients::spawn_churn_limited;
use crate::raft_suite::{Cluster, ClusterOptions, RunReport, cmd};
use labsim::{MS, SEC, Stream};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A scenario `lab explore` can run over many seeds.
pub struct Scenario {
    /// Its name.
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// The run itself, under a schedule (its name and seed come in the [`Test`]).
    pub body: fn(&Test, &Schedule) -> Result<RunReport, Failure>,
    /// The schedule a seed generates.
    pub schedule: fn(u64) -> Schedule,
    /// Servers in its cluster (a schedule may name nodes below it).
    pub servers: usize,
    /// What faults it runs, and so which schedules it takes.
    pub faults: Faults,
    /// It breaks the reference on purpose (a test of the lab itself), so it
    /// runs on the reference only.
    pub test_only: bool,
}

/// The faults a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    /// A schedule drawn from its seed, or one given in its place (a file,
    /// a shrunk or bred one).
    Scheduled,
    /// The same, with shard changes among the faults (the sharded service).
    ScheduledWithShards,
    /// Its own, built into the run: it takes no schedule.
    BuiltIn,
}

impl Scenario {
    /// Refuses, with the reason, a peer this scenario does not run on: a
    /// test-only one runs on the reference alone.
    pub fn runs_on(&self, peer: &str) -> Result<(), String> {
        match self.test_only && peer != crate::peers::REFERENCE {
            true => Err(format!(
                "{} breaks the reference on purpose; it does not run on peer {peer}",
                self.name
            )),
            false => Ok(()),
        }
    }

    /// Refuses, with the reason, a scenario whose faults are its own: it
    /// takes no schedule to run, print, shrink or breed.
    pub fn takes_schedules(&self) -> Result<(), String> {
        match self.faults {
            Faults::BuiltIn => Err(format!(
                "{} runs faults of its own and takes no schedule: explore and replay run it by its seed",
                self.name
            )),
            _ => Ok(()),
        }
    }

    /// Checks that this scenario can run `schedule` as written: it takes
    /// schedules, every node and shard the schedule names exists, and no
    /// fault would be left out (a shard change where there are no shards).
    pub fn check_schedule(&self, schedule: &Schedule) -> Result<(), String> {
        self.takes_schedules()?;
        schedule.validate(self.servers)?;
        let shard_change = schedule
            .faults
            .iter()
            .position(|f| f.kind.is_shard_change());
        match shard_change {
            Some(i) if self.faults != Faults::ScheduledWithShards => Err(format!(
                "fault #{i} changes shards, but {} has no shards (shardkv-nemesis does)",
                self.name
            )),
            _ => Ok(()),
        }
    }

    /// Runs it on `seed` under the seed's own schedule (or the one
    /// [`with_schedule`] set).
    pub fn run(&self, seed: u64) -> Result<RunReport, Failure> {
        let schedule = OVERRIDE
            .with(|o| o.borrow().clone())
            .unwrap_or_else(|| (self.schedule)(seed));
        self.run_with(seed, &schedule)
    }

    /// Runs it on `seed` under `schedule` (replay, shrink).
    pub fn run_with(&self, seed: u64, schedule: &Schedule) -> Result<RunReport, Failure> {
        let t = Test {
            name: self.name,
            seed,
        };
        (self.body)(&t, schedule)
    }
}

/// Every scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "raft-nemesis",
        about: "5 Raft peers, 5 clients, 20 s of generated faults (swarm), then a liveness phase",
        body: raft_nemesis,
        schedule: raft_nemesis_schedule,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: false,
    },
    Scenario {
        name: "kv-nemesis",
        about: "5 KV servers on Raft, 5 clients, 20 s of generated faults, liveness, linearizability",
        body: kv_nemesis,
        schedule: raft_nemesis_schedule,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: false,
    },
    Scenario {
        name: "kv-lease",
        about: "kv-nemesis with Gets from the leader's lease (CheckQuorum on), every clock within the drift the lease assumes",
        body: kv_lease,
        schedule: lease_within_bound,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: false,
    },
    Scenario {
        name: "kv-lease-beyond-bound",
        about: "kv-lease with clocks drifting 5 times past what the lease assumes: stale reads (fails on purpose)",
        body: kv_lease,
        schedule: lease_beyond_bound,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: false,
    },
    Scenario {
        name: "partial-partition",
        about: "5 Raft peers, PreVote, CheckQuorum or both on: one follower cut from the leader alone, one reaching only the leader; the leader must stay",
        body: crate::partial_partition::remedied,
        schedule: no_faults,
        servers: SERVERS,
        faults: Faults::BuiltIn,
        test_only: false,
    },
    Scenario {
        name: "partial-partition-unremedied",
        about: "partial-partition with PreVote and CheckQuorum off: the cut-off follower deposes the leader (fails on purpose)",
        body: crate::partial_partition::unremedied,
        schedule: no_faults,
        servers: SERVERS,
        faults: Faults::BuiltIn,
        test_only: false,
    },
    #[cfg(feature = "reference")]
    Scenario {
        name: "raft-nemesis-buggy-votes",
        about: "test-only: raft-nemesis with a bug (votes granted without the up-to-date check)",
        body: buggy_votes,
        schedule: raft_nemesis_schedule,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: true,
    },
    #[cfg(feature = "reference")]
    Scenario {
        name: "raft-nemesis-unseeded-peer",
        about: "test-only: raft-nemesis on a peer seeded from outside the run (check-determinism must flag it)",
        body: unseeded_peer,
        schedule: raft_nemesis_schedule,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: true,
    },
    #[cfg(feature = "reference")]
    Scenario {
        name: "kv-nemesis-stale-reads",
        about: "test-only: kv-nemesis with a bug (a leader answers Gets from its own state)",
        body: stale_reads,
        schedule: raft_nemesis_schedule,
        servers: SERVERS,
        faults: Faults::Scheduled,
        test_only: true,
    },
    Scenario {
        name: "shardkv-nemesis",
        about: "a shard controller and 3 replica groups of 3, 5 clients on every shard, 20 s of generated faults and shard moves, liveness, linearizability",
        body: crate::shardkv_nemesis::run,
        schedule: crate::shardkv_nemesis::schedule,
        servers: crate::shardkv_nemesis::SERVERS,
        faults: Faults::ScheduledWithShards,
        test_only: false,
    },
];

/// The schedule of a scenario whose faults are its own: none generated.
fn no_faults(_seed: u64) -> Schedule {
    Schedule::default()
}

/// The scenario `lab explore` runs when none is named.
pub const DEFAULT_SCENARIO: &str = "kv-nemesis";

/// Finds a scenario by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Servers in every single-group scenario's cluster.
pub const SERVERS: usize = 5;
pub(crate) const FAULT_SPAN_MS: u64 = 20_000;
const LIVENESS_LIMIT_NS: u64 = 15 * SEC;
/// kv-nemesis clients wait 0 to twice this between operations: each sees
/// about 15 operations per virtual second (Jepsen staggers its clients the
/// same way), which keeps the default scenario at 1,000x real time.
const THINK_MEAN_MS: u64 = 50;

thread_local! {
    /// The schedule to use instead of the generated one (replay, shrink).
    static OVERRIDE: RefCell<Option<Schedule>> = const { RefCell::new(None) };
}

/// The genome a seed's schedule is drawn from (`lab explore --guided`).
pub fn genome(seed: u64) -> nemesis::Genome {
    let mut rng = labsim::derive_stream(seed, Stream::Nemesis);
    nemesis::genome(&mut rng, SERVERS, FAULT_SPAN_MS)
}

/// A schedule of `genome` with the fault times `seed` draws: what a seed runs
/// when guided exploration picked its genome.
pub fn breed(seed: u64, genome: &nemesis::Genome) -> Schedule {
    let mut rng = labsim::derive_stream(seed, Stream::Nemesis);
    genome.breed(&mut rng, SERVERS, FAULT_SPAN_MS)
}

fn raft_nemesis_schedule(seed: u64) -> Schedule {
    // The same derivation the run uses: the nemesis stream of this seed.
    let mut rng = labsim::derive_stream(seed, Stream::Nemesis);
    nemesis::generate(&mut rng, SERVERS, FAULT_SPAN_MS)
}

use crate::nemesis::LEASE_DRIFT_BOUND_PPM;

/// kv-nemesis's schedule with lease reads, its clocks drifting by at most
/// `limit_ppm` each (a fast clock of the tuning, and every drift fault).
fn lease_schedule(seed: u64, limit_ppm: i64) -> Schedule {
    let mut s = raft_nemesis_schedule(seed);
    let t = s.tuning.as_mut().expect("the swarm draws a tuning");
    t.read_index = true;
    t.lease_reads = true;
    // The drifts are the scenario's own, within the bound or beyond it.
    t.max_drift_ppm = None;
    t.check_quorum = Some(true);
    // Election timeouts past the KV server's 1 s request timeout, so that
    // a client whose write timed out at a cut-off leader can write through
    // its successor while another still reads from the old one's lease.
    let spread = t.election_timeout_max_ms - t.election_timeout_min_ms;
    t.election_timeout_min_ms = t.election_timeout_min_ms.max(1_200);
    t.election_timeout_max_ms = t.election_timeout_min_ms + spread;
    if let Some(fast) = t.fast_clock.as_mut() {
        fast.ppm = fast.ppm.signum() * limit_ppm;
    }
    for f in &mut s.faults {
        if let nemesis::FaultKind::ClockDrift { ppm, .. } = &mut f.kind {
            *ppm = ppm.signum() * limit_ppm;
        }
    }
    // The hazard's shape: half the clocks fast and half slow all run long,
    // and a leader that just committed (so holds a lease) cut off from the
    // other servers while its clients still reach it.
    for node in 0..SERVERS {
        let sign = if node % 2 == 0 { 1 } else { -1 };
        s.faults.push(nemesis::Fault {
            at_ms: 0,
            duration_ms: FAULT_SPAN_MS,
            kind: nemesis::FaultKind::ClockDrift {
                node,
                ppm: sign * limit_ppm,
            },
        });
    }
    s.aims.push(crate::aims::Aim {
        moment: crate::aims::Moment::Committed,
        action: crate::aims::Action::Partition { ms: 2_500 },
        other: false,
        per_million: 20_000,
    });
    s
}

/// Within the bound: a fast clock or a drift fault may overlap two others
/// and stay within it.
fn lease_within_bound(seed: u64) -> Schedule {
    lease_schedule(seed, LEASE_DRIFT_BOUND_PPM / 4)
}

/// Five times the bound: leases outlive the followers' promises.
fn lease_beyond_bound(seed: u64) -> Schedule {
    lease_schedule(seed, LEASE_DRIFT_BOUND_PPM * 5)
}

fn raft_nemesis(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    run_raft_nemesis(t, schedule, None)
}

/// Test-only scenarios break the reference on purpose: they take no other
/// peer. (`lab` refuses one before its first run; this is for a run started
/// any other way, or a corpus line.)
#[cfg(feature = "reference")]
fn reference_only(t: &Test) -> Result<(), Failure> {
    let peer = crate::peers::current_name();
    let refused = find(t.name).map(|s| s.runs_on(&peer));
    match refused {
        Some(Err(what)) => Err(Failure::new(t.name, t.seed, 0, FailureKind::Check, what)),
        _ => Ok(()),
    }
}

#[cfg(feature = "reference")]
fn buggy_votes(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    reference_only(t)?;
    let bug = PeerChoice::buggy_reference(raft::InjectedBug::VoteWithoutLogCheck);
    run_raft_nemesis(t, schedule, Some(bug))
}

#[cfg(feature = "reference")]
fn unseeded_peer(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    reference_only(t)?;
    run_raft_nemesis(t, schedule, Some(PeerChoice::unseeded_reference()))
}

fn run_raft_nemesis(
    t: &Test,
    schedule: &Schedule,
    peer: Option<PeerChoice>,
) -> Result<RunReport, Failure> {
    let mut options = ClusterOptions {
        snapshot: true,
        time_limit_ns: None,
        ..ClusterOptions::new(SERVERS)
    };
    if let Some(peer) = peer {
        options.peer = peer;
    }
    if let Some(tuning) = &schedule.tuning {
        options.tuning = tuning.raft();
        options.snapshot_interval = tuning.snapshot_interval;
    }
    let mut cfg = Cluster::new(t, options);
    let servers: Vec<usize> = (0..SERVERS).collect();
    if let Err(e) = nemesis::apply(&mut cfg.sim, schedule, &servers) {
        return cfg.check(format!("bad schedule: {e}"));
    }
    // Clients are not nodes here: an aimed partition keeps none.
    let aimed = crate::aims::arm(&schedule.aims, &servers, None);
    let stop = Rc::new(Cell::new(false));
    let max_ops = schedule.workload.max_ops_per_client;
    let clients: Vec<_> = (0..schedule.workload.clients() as u64)
        .map(|me| spawn_churn_limited(&mut cfg, me, stop.clone(), max_ops))
        .collect();
    let fault_end_ns = schedule.end_ms().max(FAULT_SPAN_MS) * MS;
    let until_end_ns = fault_end_ns.saturating_sub(cfg.sim.now_ns());
    cfg.sleep(until_end_ns)?;

    // Liveness: every fault heals; the cluster must elect a leader, commit,
    // and bring every replica to the same log within the limit.
    drop(aimed);
    nemesis::heal_all(&mut cfg.sim, &servers, nemesis::Base::of(schedule));
    for i in 0..SERVERS {
        cfg.connect(i);
    }
    stop.set(true);
    raft_liveness(&mut cfg)?;
    let ended = |_: &labrpc::Sim| clients.iter().all(|c| c.borrow().done);
    cfg.run_until(ended, 2 * SEC)?;
    let seen: usize = clients.iter().map(|c| c.borrow().values.len()).sum();
    cfg.count_commands(seen as u64);
    cfg.end()
}

/// Liveness after the heal: a new command committed on every server, so
/// every replica converged, within [`LIVENESS_LIMIT_NS`].
fn raft_liveness(cfg: &mut Cluster) -> Result<(), Failure> {
    let command = cmd(cfg.rand(1 << 40));
    let agreed = cfg.agree_within(&command, SERVERS, true, LIVENESS_LIMIT_NS)?;
    let Some(index) = agreed else {
        return Err(cfg.failure(
            FailureKind::Liveness,
            format!(
                "liveness: no command committed on all {SERVERS} servers within {} s after every fault healed",
                LIVENESS_LIMIT_NS / SEC
            ),
        ));
    };
    // Applied in order everywhere (the oracle checks the order).
    for i in 0..SERVERS {
        if cfg.applied_at(i, index).is_none() {
            return cfg.check(format!("replica {i} did not converge to index {index}"));
        }
    }
    Ok(())
}

/// Runs `f` with `schedule` replacing the generated one in scenarios.
pub fn with_schedule<R>(schedule: Schedule, f: impl FnOnce() -> R) -> R {
    /// Clears the override however `f` ends (a peer's panic included).
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            OVERRIDE.with(|o| *o.borrow_mut() = None);
        }
    }
    OVERRIDE.with(|o| *o.borrow_mut() = Some(schedule));
    let _clear = Clear;
    f()
}

/// Random Gets, Puts and Appends on a few keys until told to stop.
pub(crate) struct KvChaos {
    /// Keys "0" up to this, drawn uniformly.
    pub(crate) keys: u32,
    /// The client's number.
    pub(crate) me: usize,
    /// Operations so far.
    pub(crate) n: u64,
    /// Stop after this many.
    pub(crate) max_ops: Option<u64>,
    /// Stop when set.
    pub(crate) stop: Rc<Cell<bool>>,
    /// Gets only: a client that stays with the leader it knows for as long
    /// as that leader answers (no write of its own times out there).
    pub(crate) reads_only: bool,
}

impl crate::kv_suite::clerk::Workload for KvChaos {
    fn next(
        &mut self,
        rng: &mut labsim::SimRng,
        _last: Option<(&peer::Op, &str)>,
    ) -> Option<peer::Op> {
        use rand::RngExt;
        if self.stop.get() || Some(self.n) == self.max_ops {
            return None;
        }
        self.n += 1;
        let key = rng.random_range(0..self.keys).to_string();
        let value = format!("x {} {} y", self.me, self.n);
        Some(match rng.random_range(0..10) {
            _ if self.reads_only => peer::Op::Get { key },
            0..=3 => peer::Op::Get { key },
            4..=5 => peer::Op::Put { key, value },
            _ => peer::Op::Append { key, value },
        })
    }

    fn think_ns(&mut self, rng: &mut labsim::SimRng) -> u64 {
        use rand::RngExt;
        rng.random_range(0..=2 * THINK_MEAN_MS) * MS
    }
}

/// What each client does after the heal: a Put and a Get of a key of its
/// own. A cluster stuck without a leader cannot complete them.
struct AfterHeal {
    me: usize,
    step: u8,
}

impl crate::kv_suite::clerk::Workload for AfterHeal {
    fn next(
        &mut self,
        _rng: &mut labsim::SimRng,
        _last: Option<(&peer::Op, &str)>,
    ) -> Option<peer::Op> {
        let key = format!("after-heal-{}", self.me);
        self.step += 1;
        match self.step {
            1 => Some(peer::Op::Put {
                key,
                value: format!("x {} y", self.me),
            }),
            2 => Some(peer::Op::Get { key }),
            _ => None,
        }
    }
}

/// The liveness phase of kv-nemesis: pending operations finish, then every
/// client (or one new client, if the workload has none) completes new
/// operations, all within [`LIVENESS_LIMIT_NS`] of the heal.
fn kv_liveness(
    cfg: &mut crate::kv_suite::KvConfig,
    clerks: &[crate::kv_suite::Ck],
    servers: &[usize],
) -> Result<(), Failure> {
    let deadline_ns = cfg.sim.now_ns() + LIVENESS_LIMIT_NS;
    let limit_s = LIVENESS_LIMIT_NS / SEC;
    let all_idle = |cks: Vec<crate::kv_suite::Ck>| {
        move |s: &labrpc::Sim| {
            cks.iter().all(|c| {
                s.node::<crate::kv_suite::clerk::ClerkNode>(c.0)
                    .is_none_or(|n| n.idle())
            })
        }
    };
    if !cfg.run_until(all_idle(clerks.to_vec()), LIVENESS_LIMIT_NS)? {
        return Err(cfg.failure(
            FailureKind::Liveness,
            format!(
                "liveness: client operations still pending {limit_s} s after every fault healed"
            ),
        ));
    }
    let mut probes = clerks.to_vec();
    if probes.is_empty() {
        probes.push(cfg.make_client(servers));
    }
    for (me, &ck) in probes.iter().enumerate() {
        cfg.start_workload(ck, Box::new(AfterHeal { me, step: 0 }));
    }
    let left_ns = deadline_ns.saturating_sub(cfg.sim.now_ns());
    if !cfg.run_until(all_idle(probes), left_ns)? {
        return Err(cfg.failure(
            FailureKind::Liveness,
            format!("liveness: operations submitted after the heal did not complete within {limit_s} s of it"),
        ));
    }
    Ok(())
}

fn kv_nemesis(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    run_kv_nemesis(t, schedule, None, 0)
}

/// kv-nemesis whose first client only reads.
fn kv_lease(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    run_kv_nemesis(t, schedule, None, 1)
}

#[cfg(feature = "reference")]
fn stale_reads(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    reference_only(t)?;
    let peer = PeerChoice::stale_reads_reference();
    run_kv_nemesis(t, schedule, Some(peer), 0)
}

fn run_kv_nemesis(
    t: &Test,
    schedule: &Schedule,
    peer: Option<PeerChoice>,
    readers: usize,
) -> Result<RunReport, Failure> {
    use crate::kv_suite::{KvConfig, KvOptions};
    let mut options = KvOptions {
        maxraftstate: Some(2000),
        ..KvOptions::new(SERVERS)
    };
    if let Some(peer) = peer {
        options.peer = peer;
    }
    if let Some(tuning) = &schedule.tuning {
        options.tuning = tuning.raft();
        options.maxraftstate = Some(tuning.maxraftstate_bytes);
        // The swarm reads by ReadIndex only on a peer that has it (a KV
        // server refuses Gets in a read mode its peer lacks).
        options.read_index = tuning.read_index && options.peer.has_read_index();
    }
    let mut cfg = KvConfig::new(t, options);
    let servers = cfg.all();
    if let Err(e) = nemesis::apply(&mut cfg.sim, schedule, &servers) {
        return cfg.check_fail(format!("bad schedule: {e}"));
    }
    let stop = Rc::new(Cell::new(false));
    let clients = schedule.workload.clients();
    let clerks: Vec<_> = (0..clients).map(|_| cfg.make_client(&servers)).collect();
    let aimed = crate::aims::arm(&schedule.aims, &servers, clerks.first().map(|ck| ck.0));
    for (me, &ck) in clerks.iter().enumerate() {
        cfg.start_workload(
            ck,
            Box::new(KvChaos {
                keys: 5,
                me,
                n: 0,
                max_ops: schedule.workload.max_ops_per_client,
                stop: stop.clone(),
                reads_only: me < readers,
            }),
        );
    }
    let fault_end_ns = schedule.end_ms().max(FAULT_SPAN_MS) * MS;
    let until_end_ns = fault_end_ns.saturating_sub(cfg.sim.now_ns());
    cfg.sleep(until_end_ns)?;

    // Liveness: every fault heals; every pending operation must finish, and
    // then every client's new operations, all within the limit.
    drop(aimed);
    nemesis::heal_all(&mut cfg.sim, &servers, nemesis::Base::of(schedule));
    cfg.connect_all();
    stop.set(true);
    kv_liveness(&mut cfg, &clerks, &servers)?;
    cfg.end()
}

#[cfg(test)]
mod tests {
    use super::find;
    use crate::nemesis::{Fault, FaultKind, Schedule};

    #[test]
    fn a_scenario_refuses_a_schedule_it_would_not_run_as_written() {
        let shard_join = Schedule {
            faults: vec![Fault {
                at_ms: 0,
                duration_ms: 1,
                kind: FaultKind::ShardJoin { group: 1 },
            }],
            ..Schedule::default()
        };
        let check = |name: &str, s: &Schedule| find(name).unwrap().check_schedule(s);
        assert_eq!(check("shardkv-nemesis", &shard_join), Ok(()));
        let err = check("kv-nemesis", &shard_join).unwrap_err();
        assert!(err.contains("fault #0 changes shards"), "{err}");
        assert_eq!(check("kv-nemesis", &Schedule::default()), Ok(()));
        // Its faults are its own: a schedule given to it was ignored.
        let err = check("partial-partition", &Schedule::default()).unwrap_err();
        assert!(err.contains("takes no schedule"), "{err}");
    }
}
