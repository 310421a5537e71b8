//! The nemesis: a fault schedule as a plain value (a list of timed faults)
//! that can be printed, saved, loaded, edited and shrunk, generated from a
//! seed's nemesis stream with swarm testing (each seed also draws which
//! fault kinds are on and how often they strike), and applied to a
//! simulation as scheduled events.

use crate::aims::Aim;
use labrpc::Sim;
use labsim::{CrashMode, MS, NodeId, SimRng};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One fault: what, when, for how long (virtual milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When it starts.
    pub at_ms: u64,
    /// How long it lasts; it is undone at `at_ms + duration_ms`.
    pub duration_ms: u64,
    /// What it is.
    pub kind: FaultKind,
}

/// The faults the nemesis knows. Node numbers index the scenario's servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "fault", rename_all = "kebab-case")]
pub enum FaultKind {
    /// Cut one node off from the others.
    Isolate {
        /// The node.
        node: usize,
    },
    /// Split into a majority and a minority (servers rotated by `rotate` first).
    MajorityMinority {
        /// Rotation of the server list.
        rotate: usize,
    },
    /// Two halves joined only through one node.
    Bridge {
        /// Rotation of the server list.
        rotate: usize,
    },
    /// Every node sees a majority, no two the same one.
    MajoritiesRing {
        /// Rotation of the server list.
        rotate: usize,
    },
    /// Messages from `from` to `to` are lost; the other way still works.
    OneWay {
        /// Senders cut off.
        from: Vec<usize>,
        /// Receivers cut off.
        to: Vec<usize>,
    },
    /// Crash a node, restart it at the end.
    Crash {
        /// The node.
        node: usize,
        /// Lose writes it had not synced (a machine crash) or keep them (a process crash).
        lose_unsynced: bool,
        /// With `lose_unsynced`: power lost mid-write, so a prefix of the
        /// unsynced writes survives, maybe ending inside an append.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        torn: bool,
    },
    /// Pause a node (a long GC, a stopped VM).
    Pause {
        /// The node.
        node: usize,
    },
    /// 6.824's unreliable network.
    Unreliable,
    /// 6.824's long reordering of replies.
    LongReordering,
    /// Duplicate requests.
    Duplicate {
        /// Rate, per million requests.
        per_million: u32,
    },
    /// Hold requests and deliver them seconds later; their callers see them lost.
    LateRequests {
        /// Rate, per million requests.
        per_million: u32,
    },
    /// Deliver requests, then again seconds later.
    ReplayRequests {
        /// Rate, per million requests.
        per_million: u32,
    },
    /// A node's clock runs fast (> 0) or slow (< 0).
    ClockDrift {
        /// The node.
        node: usize,
        /// Parts per million.
        ppm: i64,
    },
    /// A node's disk syncs slowly.
    SlowDisk {
        /// The node.
        node: usize,
        /// Sync latency.
        latency_ms: u64,
    },
    /// A membership change through the leader (servers added, removed or
    /// replaced; a change of more than one voter is joint consensus),
    /// asked again until the leader takes it or the fault ends. It is not
    /// undone at the end; the heal gives every server its vote back.
    Reconfigure {
        /// The voters after the change.
        voters: Vec<usize>,
        /// The non-voting members after the change.
        learners: Vec<usize>,
    },
    /// The leader hands its leadership to `to` (thesis 3.10).
    TransferLeader {
        /// The server that is to lead.
        to: usize,
    },
    /// Replica group `group` joins the shard controller's configuration
    /// (sharded scenarios; the scenario, which has the controller's clerk,
    /// applies it; a refusal, the group being in already, is part of the run).
    ShardJoin {
        /// The group, by its index.
        group: usize,
    },
    /// Replica group `group` leaves the configuration.
    ShardLeave {
        /// The group, by its index.
        group: usize,
    },
    /// Shard `shard` is moved to group `group`.
    ShardMove {
        /// The shard.
        shard: usize,
        /// The group, by its index.
        group: usize,
    },
}

impl FaultKind {
    /// A change of the shard assignment (the sharded scenario applies these).
    pub fn is_shard_change(&self) -> bool {
        matches!(
            self,
            FaultKind::ShardJoin { .. }
                | FaultKind::ShardLeave { .. }
                | FaultKind::ShardMove { .. }
        )
    }

    /// The target of a [`FaultKind::Reconfigure`].
    fn membership(voters: &[usize], learners: &[usize]) -> peer::Membership {
        peer::Membership {
            voters: voters.iter().copied().collect(),
            learners: learners.iter().copied().collect(),
            ..peer::Membership::default()
        }
    }
}

/// A whole fault schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The swarm options it was drawn with (informational).
    #[serde(default)]
    pub swarm: Vec<String>,
    /// The faults, by start time.
    pub faults: Vec<Fault>,
    /// How many clients run against the faults, and for how long; shrinking
    /// lowers these too. Absent from a file: the scenario's defaults.
    #[serde(default, skip_serializing_if = "WorkloadSize::is_default")]
    pub workload: WorkloadSize,
    /// The configuration the peers run with, drawn per seed (swarm), so that
    /// no single configuration hides a bug. Absent: the scenario's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
    /// Faults aimed at protocol moments, armed through the fault span.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aims: Vec<crate::aims::Aim>,
    /// The peer the schedule was found on (`lab --peer`), so a replay runs the
    /// same code. Absent: the peer the command line names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

/// A configuration of the peers and their service, drawn per seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// PreVote before elections.
    pub pre_vote: bool,
    /// Most entries one AppendEntries carries.
    pub max_entries_per_append: usize,
    /// A leader's heartbeat interval.
    pub heartbeat_interval_ms: u64,
    /// The shortest election timeout.
    pub election_timeout_min_ms: u64,
    /// The longest election timeout.
    pub election_timeout_max_ms: u64,
    /// raft-nemesis: the service snapshots every this many commands.
    pub snapshot_interval: u64,
    /// kv-nemesis: 6.824's maxraftstate (bytes of Raft state before a snapshot).
    pub maxraftstate_bytes: u64,
    /// How long every sync of every server's disk takes (0: at once, 6.824's
    /// Persister). Non-zero on most seeds, so that a crash has unsynced
    /// writes to lose.
    #[serde(default)]
    pub sync_latency_ms: u64,
    /// A node whose clock runs fast for the whole run, liveness phase
    /// included: a clock's rate belongs to its machine, it is not a fault that
    /// heals. A Raft's liveness must not rest on equal clocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_clock: Option<FastClock>,
    /// CheckQuorum (`None` in schedules written before it was a switch: the
    /// peer's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_quorum: Option<bool>,
    /// kv-nemesis: Gets by ReadIndex rather than through the log (absent in
    /// older schedules: through the log).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_index: bool,
    /// Reads served from the leader's lease (with CheckQuorum and ReadIndex).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease_reads: bool,
    /// No clock drifts by more than this (parts per million): the
    /// environment lease reads assume. The nemesis clamps every clock to it.
    /// Absent: clocks drift as the faults say (the `kv-lease-beyond-bound`
    /// hazard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drift_ppm: Option<i64>,
    /// Where a leader backs up nextIndex after a conflict (absent in older
    /// schedules: the peer's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtracking: Option<peer::Backtracking>,
}

/// The drift lease reads assume (the reference's `max_clock_drift_ppm`).
pub const LEASE_DRIFT_BOUND_PPM: i64 = 100_000;

/// A node's clock running fast (its timers fire early).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FastClock {
    /// The node.
    pub node: usize,
    /// How fast, in parts per million (100000: a second passes in 0.91 s).
    pub ppm: i64,
}

impl Tuning {
    /// Draws a configuration: every knob away from its default on some seeds.
    pub fn draw(rng: &mut SimRng) -> Tuning {
        const BATCHES: [usize; 6] = [1, 2, 3, 8, 64, 256];
        let heartbeat_interval_ms = rng.random_range(30..=150);
        let election_timeout_min_ms = 3 * heartbeat_interval_ms + rng.random_range(0..=300);
        Tuning {
            pre_vote: rng.random_bool(0.5),
            max_entries_per_append: BATCHES[rng.random_range(0..BATCHES.len())],
            heartbeat_interval_ms,
            election_timeout_min_ms,
            election_timeout_max_ms: election_timeout_min_ms + rng.random_range(50..=400),
            snapshot_interval: [1, 3, 10, 50][rng.random_range(0..4)],
            maxraftstate_bytes: [300, 1000, 2000, 8000][rng.random_range(0..4)],
            sync_latency_ms: [0, 1, 2, 5, 10][rng.random_range(0..5)],
            fast_clock: rng.random_bool(0.3).then(|| FastClock {
                node: rng.random_range(0..crate::scenarios::SERVERS),
                ppm: rng.random_range(100_000..400_000),
            }),
            check_quorum: Some(rng.random_bool(0.5)),
            read_index: rng.random_bool(0.5),
            lease_reads: false,
            max_drift_ppm: None,
            backtracking: None,
        }
        .with_lease_reads(rng)
        .with_backtracking(rng)
    }

    /// Lease reads on half the seeds that have both CheckQuorum and
    /// ReadIndex, with every clock held within the bound leases assume.
    fn with_lease_reads(self, rng: &mut SimRng) -> Tuning {
        let eligible = self.check_quorum == Some(true) && self.read_index;
        match eligible && rng.random_bool(0.5) {
            true => Tuning {
                lease_reads: true,
                max_drift_ppm: Some(LEASE_DRIFT_BOUND_PPM),
                ..self
            },
            false => self,
        }
    }

    /// The Raft paper's backtracking on half the seeds: its leader resends
    /// entries a follower holds, which the 6.824 guide's does not.
    fn with_backtracking(self, rng: &mut SimRng) -> Tuning {
        let backtracking = match rng.random_bool(0.5) {
            true => peer::Backtracking::FollowerTerm,
            false => peer::Backtracking::LeaderTerm,
        };
        Tuning {
            backtracking: Some(backtracking),
            ..self
        }
    }

    /// Values a run can use: timeouts that let a leader keep its followers,
    /// and nothing of simulated days.
    fn validate(&self) -> Result<(), String> {
        let (hb, min, max) = (
            self.heartbeat_interval_ms,
            self.election_timeout_min_ms,
            self.election_timeout_max_ms,
        );
        if self.sync_latency_ms > MAX_SYNC_LATENCY_MS {
            return Err(format!(
                "tuning: sync latency {} ms is above {MAX_SYNC_LATENCY_MS} ms",
                self.sync_latency_ms
            ));
        }
        if hb == 0 || hb >= min || min > max || max > 60_000 {
            return Err(format!(
                "tuning: want 0 < heartbeat ({hb} ms) < election timeout min ({min} ms) <= max ({max} ms) <= 60000 ms"
            ));
        }
        if !(1..=100_000).contains(&self.max_entries_per_append)
            || !(1..=1_000_000).contains(&self.snapshot_interval)
            || !(1..=1 << 30).contains(&self.maxraftstate_bytes)
        {
            return Err(
                "tuning: batch size, snapshot interval or maxraftstate out of range".into(),
            );
        }
        Ok(())
    }

    /// The Raft part, for the harness.
    pub fn raft(&self) -> crate::raft_suite::node::RaftTuning {
        crate::raft_suite::node::RaftTuning {
            election_timeout_min_ms: self.election_timeout_min_ms,
            election_timeout_max_ms: self.election_timeout_max_ms,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            pre_vote: Some(self.pre_vote),
            max_entries_per_append: Some(self.max_entries_per_append),
            check_quorum: self.check_quorum,
            lease_reads: Some(self.lease_reads),
            backtracking: self.backtracking,
            voters: None,
        }
    }
}

/// The size of a scenario's client workload; `None` is the scenario's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSize {
    /// Clients started (default [`DEFAULT_CLIENTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<usize>,
    /// Operations each client starts before it stops (default: until the
    /// liveness phase begins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ops_per_client: Option<u64>,
}

/// A schedule's faults end within this much virtual time: a fault of
/// simulated days is a typo, and the sums of times must not overflow.
pub const MAX_SCHEDULE_MS: u64 = 3_600_000;

/// The slowest sync a schedule may ask for.
pub const MAX_SYNC_LATENCY_MS: u64 = 60_000;

/// The most operations a schedule may give each client.
pub const MAX_OPS_PER_CLIENT: u64 = 1_000_000;

/// Clients a scenario starts when its schedule does not say.
pub const DEFAULT_CLIENTS: usize = 5;

/// The most clients a schedule may ask for.
pub const MAX_CLIENTS: usize = 64;

impl WorkloadSize {
    fn is_default(&self) -> bool {
        *self == WorkloadSize::default()
    }

    /// The number of clients to start.
    pub fn clients(&self) -> usize {
        self.clients.unwrap_or(DEFAULT_CLIENTS)
    }
}

impl Schedule {
    /// When the last fault is undone.
    pub fn end_ms(&self) -> u64 {
        self.faults
            .iter()
            .map(|f| f.at_ms + f.duration_ms)
            .max()
            .unwrap_or(0)
    }

    /// Milliseconds of faults, summed over every fault (overlaps count twice).
    pub fn fault_ms(&self) -> u64 {
        self.faults.iter().map(|f| f.duration_ms).sum()
    }

    /// Parses a schedule saved as JSON.
    pub fn from_json(text: &str) -> Result<Schedule, String> {
        serde_json::from_str(text).map_err(|e| format!("not a fault schedule: {e}"))
    }

    /// The schedule as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("schedules serialize")
    }

    /// Checks node numbers against the number of servers, and the workload.
    pub fn validate(&self, servers: usize) -> Result<(), String> {
        if let Some(c) = self.workload.clients
            && c > MAX_CLIENTS
        {
            return Err(format!(
                "workload: {c} clients, but a schedule may ask for at most {MAX_CLIENTS}"
            ));
        }
        if let Some(ops) = self.workload.max_ops_per_client
            && ops > MAX_OPS_PER_CLIENT
        {
            return Err(format!(
                "workload: {ops} operations per client, but a schedule may ask for at most {MAX_OPS_PER_CLIENT}"
            ));
        }
        if let Some(t) = &self.tuning {
            t.validate()?;
            if let Some(FastClock { node, ppm }) = t.fast_clock
                && (node >= servers || !(0..=500_000).contains(&ppm))
            {
                return Err(format!(
                    "tuning: fast clock on node {node} by {ppm} ppm: want a node below {servers} and 0..=500000 ppm"
                ));
            }
        }
        for aim in &self.aims {
            aim.validate()?;
        }
        for (i, f) in self.faults.iter().enumerate() {
            f.validate_bounds()
                .map_err(|e| format!("fault #{i}: {e}"))?;
            f.validate_names(servers)
                .map_err(|e| format!("fault #{i} {e}"))?;
        }
        Ok(())
    }
}

impl Fault {
    /// Times, lengths, latencies and rates within their bounds.
    fn validate_bounds(&self) -> Result<(), String> {
        let end_ms = self.at_ms.checked_add(self.duration_ms);
        if end_ms.is_none_or(|end| end > MAX_SCHEDULE_MS) {
            return Err(format!(
                "it ends after {MAX_SCHEDULE_MS} ms (at_ms {} + duration_ms {}); a schedule spans at most one virtual hour",
                self.at_ms, self.duration_ms
            ));
        }
        match self.kind {
            FaultKind::SlowDisk { latency_ms, .. } if latency_ms > MAX_SYNC_LATENCY_MS => Err(
                format!("sync latency {latency_ms} ms is above {MAX_SYNC_LATENCY_MS} ms"),
            ),
            FaultKind::Duplicate { per_million }
            | FaultKind::LateRequests { per_million }
            | FaultKind::ReplayRequests { per_million }
                if per_million > 1_000_000 =>
            {
                Err(format!("rate {per_million} per million is above 1000000"))
            }
            FaultKind::ClockDrift { ppm, .. } if !(-500_000..=500_000).contains(&ppm) => {
                Err(format!("clock drift {ppm} ppm is outside -500000..=500000"))
            }
            _ => Ok(()),
        }
    }

    /// Nodes, groups and shards that exist in a scenario of `servers`.
    fn validate_names(&self, servers: usize) -> Result<(), String> {
        let nodes: Vec<usize> = match &self.kind {
            FaultKind::Isolate { node }
            | FaultKind::Crash { node, .. }
            | FaultKind::Pause { node }
            | FaultKind::ClockDrift { node, .. }
            | FaultKind::SlowDisk { node, .. } => vec![*node],
            FaultKind::OneWay { from, to } => from.iter().chain(to).copied().collect(),
            FaultKind::Reconfigure { voters, learners } => {
                voters.iter().chain(learners).copied().collect()
            }
            FaultKind::TransferLeader { to } => vec![*to],
            _ => vec![],
        };
        if let Some(n) = nodes.iter().find(|n| **n >= servers) {
            return Err(format!(
                "names node {n}, but the scenario has {servers} servers (0..{servers})"
            ));
        }
        let groups = crate::shardkv_suite::config::NGROUPS;
        if let FaultKind::ShardJoin { group }
        | FaultKind::ShardLeave { group }
        | FaultKind::ShardMove { group, .. } = self.kind
            && group >= groups
        {
            return Err(format!(
                "names group {group}, but a sharded scenario has {groups} (0..{groups})"
            ));
        }
        match &self.kind {
            FaultKind::ShardMove { shard, .. } if *shard >= peer::NSHARDS => Err(format!(
                "moves shard {shard}, but there are {} (0..{})",
                peer::NSHARDS,
                peer::NSHARDS
            )),
            FaultKind::Reconfigure { voters, .. } if voters.is_empty() => {
                Err("asks for a configuration without voters".into())
            }
            FaultKind::Reconfigure { voters, learners } => {
                match voters.iter().find(|v| learners.contains(v)) {
                    Some(n) => Err(format!("makes node {n} both a voter and a learner")),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// Which fault kinds a seed turns on, and how often faults strike.
#[derive(Clone, Debug)]
pub struct Swarm {
    kinds: Vec<&'static str>,
    mean_gap_ms: u64,
    max_duration_ms: u64,
}

const KINDS: [&str; 15] = [
    "partition",
    "one-way",
    "crash",
    "lose-unsynced",
    "pause",
    "unreliable",
    "long-reordering",
    "duplicate",
    "clock-drift",
    "slow-disk",
    "bridge-ring",
    "late-requests",
    "replayed-requests",
    "membership",
    "transfer",
];

impl Swarm {
    /// Draws the swarm options of a seed.
    pub fn draw(rng: &mut SimRng) -> Swarm {
        let mut kinds: Vec<&'static str> = KINDS
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        if kinds.is_empty() {
            kinds.push(KINDS[rng.random_range(0..KINDS.len())]);
        }
        Swarm {
            kinds,
            mean_gap_ms: rng.random_range(200..2000),
            max_duration_ms: rng.random_range(300..4000),
        }
    }

    fn on(&self, kind: &str) -> bool {
        self.kinds.contains(&kind)
    }
}

/// What a schedule is drawn from beyond its fault times: the swarm options,
/// the peers' configuration and the aimed faults. `lab explore --guided`
/// keeps the genomes of runs that reached rare coverage marks and breeds
/// new schedules from them (and saves them, `--save-pool`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "GenomeFile", try_from = "GenomeFile")]
pub struct Genome {
    swarm: Swarm,
    tuning: Tuning,
    aims: Vec<Aim>,
}

/// Generates a schedule of faults over `[0, span_ms)` for `servers` nodes.
pub fn generate(rng: &mut SimRng, servers: usize, span_ms: u64) -> Schedule {
    let (genome, faults) = draw(rng, servers, span_ms);
    genome.schedule(faults)
}

/// The genome `generate` draws from `rng`.
pub fn genome(rng: &mut SimRng, servers: usize, span_ms: u64) -> Genome {
    draw(rng, servers, span_ms).0
}

fn draw(rng: &mut SimRng, servers: usize, span_ms: u64) -> (Genome, Vec<Fault>) {
    let swarm = Swarm::draw(rng);
    let faults = draw_faults(rng, &swarm, servers, span_ms);
    // Drawn after the faults, so the faults of a seed are the same as before
    // the configuration was drawn at all.
    let tuning = Tuning::draw(rng);
    // Half the seeds aim faults at protocol moments too.
    let aims = match rng.random_bool(0.5) {
        true => (0..rng.random_range(1..=3))
            .map(|_| Aim::draw(rng))
            .collect(),
        false => vec![],
    };
    let genome = Genome {
        swarm,
        tuning,
        aims,
    };
    (genome, faults)
}

/// A genome as a file holds it: fault kinds by name.
#[derive(Serialize, Deserialize)]
struct GenomeFile {
    kinds: Vec<String>,
    mean_gap_ms: u64,
    max_duration_ms: u64,
    tuning: Tuning,
    #[serde(default)]
    aims: Vec<Aim>,
}

impl From<Genome> for GenomeFile {
    fn from(g: Genome) -> GenomeFile {
        GenomeFile {
            kinds: g.swarm.kinds.iter().map(|k| k.to_string()).collect(),
            mean_gap_ms: g.swarm.mean_gap_ms,
            max_duration_ms: g.swarm.max_duration_ms,
            tuning: g.tuning,
            aims: g.aims,
        }
    }
}

impl TryFrom<GenomeFile> for Genome {
    type Error = String;

    /// Known fault kinds, at least one; fault pace and configuration a run can use.
    fn try_from(f: GenomeFile) -> Result<Genome, String> {
        let kind = |name: &String| {
            KINDS
                .iter()
                .copied()
                .find(|k| k == name)
                .ok_or_else(|| format!("no fault kind `{name}` (known: {})", KINDS.join(", ")))
        };
        let kinds = f.kinds.iter().map(kind).collect::<Result<Vec<_>, _>>()?;
        if kinds.is_empty() || f.mean_gap_ms == 0 || f.max_duration_ms <= 50 {
            return Err(
                "a genome needs a fault kind, a mean gap above 0 and a longest fault above 50 ms"
                    .into(),
            );
        }
        if f.mean_gap_ms.max(f.max_duration_ms) > MAX_SCHEDULE_MS {
            return Err(format!("a genome's times are at most {MAX_SCHEDULE_MS} ms"));
        }
        f.tuning.validate()?;
        f.aims.iter().try_for_each(Aim::validate)?;
        let swarm = Swarm {
            kinds,
            mean_gap_ms: f.mean_gap_ms,
            max_duration_ms: f.max_duration_ms,
        };
        Ok(Genome {
            swarm,
            tuning: f.tuning,
            aims: f.aims,
        })
    }
}

impl Genome {
    /// A schedule of this genome, its fault times drawn from `rng`.
    pub fn breed(&self, rng: &mut SimRng, servers: usize, span_ms: u64) -> Schedule {
        self.schedule(draw_faults(rng, &self.swarm, servers, span_ms))
    }

    /// A small change to the genome: one fault kind switched, the pace of
    /// faults, the configuration or an aimed fault drawn again, or nothing
    /// (the child differs in its fault times only).
    pub fn mutate(&self, rng: &mut SimRng) -> Genome {
        let mut g = self.clone();
        match rng.random_range(0..6) {
            0 => {}
            1 => {
                let kind = KINDS[rng.random_range(0..KINDS.len())];
                match g.swarm.kinds.iter().position(|k| *k == kind) {
                    Some(i) if g.swarm.kinds.len() > 1 => _ = g.swarm.kinds.remove(i),
                    Some(_) => {}
                    None => g.swarm.kinds.push(kind),
                }
            }
            2 => {
                let fresh = Swarm::draw(rng);
                g.swarm.mean_gap_ms = fresh.mean_gap_ms;
                g.swarm.max_duration_ms = fresh.max_duration_ms;
            }
            3 => g.tuning = Tuning::draw(rng),
            4 if g.aims.len() < 3 => g.aims.push(Aim::draw(rng)),
            _ if !g.aims.is_empty() => {
                let i = rng.random_range(0..g.aims.len());
                g.aims[i] = Aim::draw(rng);
            }
            _ => g.aims.push(Aim::draw(rng)),
        }
        g
    }

    fn schedule(&self, faults: Vec<Fault>) -> Schedule {
        let swarm = &self.swarm;
        Schedule {
            swarm: vec![
                format!("kinds: {}", swarm.kinds.join(" ")),
                format!(
                    "mean gap {} ms, max duration {} ms",
                    swarm.mean_gap_ms, swarm.max_duration_ms
                ),
            ],
            faults,
            workload: WorkloadSize::default(),
            tuning: Some(self.tuning),
            aims: self.aims.clone(),
            peer: None,
        }
    }
}

/// Faults over `[0, span_ms)` of the swarm's kinds, at its pace.
fn draw_faults(rng: &mut SimRng, swarm: &Swarm, servers: usize, span_ms: u64) -> Vec<Fault> {
    let mut faults = vec![];
    let mut at_ms = rng.random_range(0..swarm.mean_gap_ms);
    while at_ms < span_ms {
        let duration_ms = rng.random_range(50..swarm.max_duration_ms);
        let kind = draw_fault(rng, swarm, servers);
        faults.push(Fault {
            at_ms,
            duration_ms,
            kind,
        });
        at_ms += rng.random_range(1..2 * swarm.mean_gap_ms);
    }
    faults
}

/// One fault of a kind the swarm turned on.
fn draw_fault(rng: &mut SimRng, swarm: &Swarm, servers: usize) -> FaultKind {
    let node = rng.random_range(0..servers);
    let rotate = rng.random_range(0..servers);
    match swarm.kinds[rng.random_range(0..swarm.kinds.len())] {
        "partition" => match rng.random_range(0..2) {
            0 => FaultKind::Isolate { node },
            _ => FaultKind::MajorityMinority { rotate },
        },
        "bridge-ring" => match rng.random_range(0..2) {
            0 => FaultKind::Bridge { rotate },
            _ => FaultKind::MajoritiesRing { rotate },
        },
        "one-way" => {
            let other = (node + 1 + rng.random_range(0..servers - 1)) % servers;
            FaultKind::OneWay {
                from: vec![node],
                to: vec![other],
            }
        }
        "crash" | "lose-unsynced" => {
            // Each crash decides what it loses.
            let lose_unsynced = swarm.on("lose-unsynced") && rng.random_bool(0.7);
            FaultKind::Crash {
                node,
                lose_unsynced,
                torn: lose_unsynced && rng.random_bool(0.5),
            }
        }
        "pause" => FaultKind::Pause { node },
        "unreliable" => FaultKind::Unreliable,
        "long-reordering" => FaultKind::LongReordering,
        "duplicate" => FaultKind::Duplicate {
            per_million: rng.random_range(10_000..300_000),
        },
        "clock-drift" => {
            let ppm = rng.random_range(-300_000..300_000);
            FaultKind::ClockDrift { node, ppm }
        }
        "late-requests" => FaultKind::LateRequests {
            per_million: rng.random_range(10_000..200_000),
        },
        "replayed-requests" => FaultKind::ReplayRequests {
            per_million: rng.random_range(10_000..200_000),
        },
        "slow-disk" => FaultKind::SlowDisk {
            node,
            latency_ms: rng.random_range(1..30),
        },
        "membership" => draw_reconfigure(rng, servers),
        "transfer" => FaultKind::TransferLeader { to: node },
        other => unreachable!("unknown fault kind {other}"),
    }
}

/// Changes of the shard assignment over `[0, span_ms)`, with swarm options of
/// their own (which of join, leave and move are on, and their pace); the
/// options, described, and the faults.
pub fn draw_shard_changes(rng: &mut SimRng, span_ms: u64) -> (String, Vec<Fault>) {
    const CHANGES: [&str; 3] = ["join", "leave", "move"];
    let mut on: Vec<&str> = CHANGES
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    if on.is_empty() {
        on.push(CHANGES[rng.random_range(0..CHANGES.len())]);
    }
    let mean_gap_ms = rng.random_range(300..3000);
    let groups = crate::shardkv_suite::config::NGROUPS;
    let mut faults = vec![];
    let mut at_ms = rng.random_range(0..mean_gap_ms);
    while at_ms < span_ms {
        let group = rng.random_range(0..groups);
        let kind = match on[rng.random_range(0..on.len())] {
            "join" => FaultKind::ShardJoin { group },
            "leave" => FaultKind::ShardLeave { group },
            _ => FaultKind::ShardMove {
                shard: rng.random_range(0..peer::NSHARDS),
                group,
            },
        };
        faults.push(Fault {
            at_ms,
            duration_ms: 1,
            kind,
        });
        at_ms += rng.random_range(1..2 * mean_gap_ms);
    }
    let info = format!("shard changes: {}, mean gap {mean_gap_ms} ms", on.join(" "));
    (info, faults)
}

/// A membership of `servers`: one voter to all of them (most often a
/// majority's worth or more), and some of the others as learners.
fn draw_reconfigure(rng: &mut SimRng, servers: usize) -> FaultKind {
    let count = match rng.random_bool(0.2) {
        true => rng.random_range(1..=servers),
        false => rng.random_range(servers.div_ceil(2)..=servers),
    };
    let mut order: Vec<usize> = (0..servers).collect();
    for i in (1..servers).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut voters = order[..count].to_vec();
    voters.sort_unstable();
    let mut learners: Vec<usize> = order[count..]
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    learners.sort_unstable();
    FaultKind::Reconfigure { voters, learners }
}

/// What the nemesis has done and must undo; shared by its scheduled events.
#[derive(Default)]
struct Undo {
    /// Disks and clocks when no fault is on.
    base: Base,
    /// The Raft groups among the servers (indices of them, each group's in
    /// the order of its peer ids): membership changes and transfers act on one.
    clusters: Vec<Vec<usize>>,
    /// The partition faults in force, by start: their cuts combine, and each
    /// holds until its own end.
    partitions: Vec<FaultKind>,
    unreliable: u32,
    reordering: u32,
    /// The rates of the duplicate, late-request and replay faults in force:
    /// the highest of each kind holds.
    duplicate: Vec<u32>,
    late: Vec<u32>,
    replayed: Vec<u32>,
    /// The slow-disk latencies in force, per server: the slowest holds.
    slow_disks: BTreeMap<usize, Vec<u64>>,
    /// Clock drifts on, per server: overlapping ones add up.
    drifts: BTreeMap<usize, Vec<i64>>,
}

impl Undo {
    /// The group of server `first` (an index of `servers`): its nodes, and a
    /// map from server indices to its peer ids (servers of other groups left out).
    #[allow(clippy::type_complexity)]
    fn cluster_of(
        &self,
        servers: &[NodeId],
        first: Option<usize>,
    ) -> Option<(Vec<NodeId>, impl Fn(&[usize]) -> Vec<usize> + use<>)> {
        let first = first?;
        let cluster = self.clusters.iter().find(|c| c.contains(&first))?.clone();
        let nodes = cluster.iter().map(|&i| servers[i]).collect();
        let local = move |xs: &[usize]| -> Vec<usize> {
            xs.iter()
                .filter_map(|x| cluster.iter().position(|c| c == x))
                .collect()
        };
        Some((nodes, local))
    }

    /// Sets `node`'s clock to its base rate plus every drift fault on it.
    fn set_drift(&self, sim: &mut Sim, servers: &[NodeId], node: usize) {
        let on: i64 = self.drifts.get(&node).map_or(0, |d| d.iter().sum());
        let bound = self.base.max_drift_ppm.unwrap_or(10_000_000);
        let ppm = (self.base.drift_ppm(node) + on).clamp(-bound.min(900_000), bound);
        sim.set_clock_drift(servers[node], ppm)
            .expect("a clamped drift");
    }

    /// Sets `node`'s disk to its base sync latency, or to the slowest
    /// slow-disk fault on it.
    fn set_sync_latency(&self, sim: &mut Sim, servers: &[NodeId], node: usize) {
        let slowest = self.slow_disks.get(&node).and_then(|l| l.iter().max());
        let latency_ns = slowest.copied().unwrap_or(self.base.sync_latency_ns);
        sim.set_sync_latency(servers[node], latency_ns)
            .expect("servers exist");
    }

    /// The rates in force of a duplicate, late-request or replay fault's kind.
    fn rates(&mut self, kind: &FaultKind) -> &mut Vec<u32> {
        match kind {
            FaultKind::Duplicate { .. } => &mut self.duplicate,
            FaultKind::LateRequests { .. } => &mut self.late,
            FaultKind::ReplayRequests { .. } => &mut self.replayed,
            _ => unreachable!("not a fault with a rate: {kind:?}"),
        }
    }

    /// Sets the network's duplicate, late-request and replay rates to the
    /// highest of each kind in force (0 with none).
    fn set_rates(&self, sim: &mut Sim) {
        let top = |on: &[u32]| on.iter().max().copied().unwrap_or(0);
        sim.with_net(|net, _| {
            let config = net.config_mut();
            config.duplicate_per_million = top(&self.duplicate);
            config.late_request_per_million = top(&self.late);
            config.replay_request_per_million = top(&self.replayed);
        });
    }
}

/// The links a partition fault leaves among `n` servers, by server index:
/// `links[a][b]` is true when `a` can send to `b`, from the shapes of
/// `labrpc::shapes`. The simulated nemesis cuts them (every partition in
/// force at once) and so do a real cluster's proxies (`lab real-nemesis`).
/// `None` for a fault that is not a partition.
pub fn links(kind: &FaultKind, n: usize) -> Option<Vec<Vec<bool>>> {
    let shaped = |rotate: usize, linked: &dyn Fn(usize, usize) -> bool| {
        let at = |server: usize| (server + n - rotate % n) % n;
        (0..n)
            .map(|a| (0..n).map(|b| a == b || linked(at(a), at(b))).collect())
            .collect()
    };
    let split = |rotate| match labrpc::shapes::split_majority(n) {
        Ok(linked) => shaped(rotate, &linked),
        Err(_) => vec![vec![true; n]; n],
    };
    Some(match kind {
        FaultKind::Isolate { node } => shaped(0, &|a, b| (a == *node) == (b == *node)),
        FaultKind::MajorityMinority { rotate } => split(*rotate),
        FaultKind::Bridge { rotate } => match labrpc::shapes::bridge(n) {
            Ok(linked) => shaped(*rotate, &linked),
            Err(_) => split(*rotate),
        },
        FaultKind::MajoritiesRing { rotate } => match labrpc::shapes::majorities_ring(n) {
            Ok(linked) => shaped(*rotate, &linked),
            Err(_) => split(*rotate),
        },
        FaultKind::OneWay { from, to } => {
            shaped(0, &|a, b| a == b || !(from.contains(&a) && to.contains(&b)))
        }
        _ => return None,
    })
}

fn record(sim: &mut Sim, what: String) {
    sim.kernel().record(None, "fault", &what);
}

fn start(sim: &mut Sim, undo: &RefCell<Undo>, servers: &[NodeId], kind: &FaultKind) {
    record(sim, format!("start {kind:?}"));
    let mut u = undo.borrow_mut();
    match kind {
        FaultKind::Isolate { .. }
        | FaultKind::MajorityMinority { .. }
        | FaultKind::Bridge { .. }
        | FaultKind::MajoritiesRing { .. }
        | FaultKind::OneWay { .. } => {
            u.partitions.push(kind.clone());
            cut(sim, servers, &u.partitions);
        }
        FaultKind::Crash {
            node,
            lose_unsynced,
            torn,
        } => {
            crash(sim, servers[*node], *lose_unsynced, *torn);
        }
        FaultKind::Pause { node } => {
            sim.hold_paused(servers[*node]).expect("servers exist");
        }
        FaultKind::Unreliable => {
            u.unreliable += 1;
            sim.with_net(|net, _| net.set_reliable(false));
        }
        FaultKind::LongReordering => {
            u.reordering += 1;
            sim.with_net(|net, _| net.set_long_reordering(true));
        }
        FaultKind::Duplicate { per_million }
        | FaultKind::LateRequests { per_million }
        | FaultKind::ReplayRequests { per_million } => {
            u.rates(kind).push(*per_million);
            u.set_rates(sim);
        }
        FaultKind::ClockDrift { node, ppm } => {
            u.drifts.entry(*node).or_default().push(*ppm);
            u.set_drift(sim, servers, *node);
        }
        FaultKind::SlowDisk { node, latency_ms } => {
            u.slow_disks.entry(*node).or_default().push(latency_ms * MS);
            u.set_sync_latency(sim, servers, *node);
        }
        FaultKind::Reconfigure { .. } | FaultKind::TransferLeader { .. } => {
            drop(u);
            change_membership(sim, undo, servers, kind);
        }
        // The sharded scenario applies these: it has the controller's clerk.
        FaultKind::ShardJoin { .. }
        | FaultKind::ShardLeave { .. }
        | FaultKind::ShardMove { .. } => {}
    }
}

/// Cuts the network as the partition faults in force say, together: a link
/// is up only if every one of them leaves it up. With none, heals.
fn cut(sim: &mut Sim, servers: &[NodeId], active: &[FaultKind]) {
    if active.is_empty() {
        return sim.with_net(|net, k| net.heal(k));
    }
    let n = servers.len();
    let mut up = vec![vec![true; n]; n];
    for kind in active {
        let shape = links(kind, n).expect("a partition fault");
        for (row, cut_row) in up.iter_mut().zip(shape) {
            row.iter_mut().zip(cut_row).for_each(|(l, c)| *l &= c);
        }
    }
    let label: Vec<String> = active.iter().map(|k| format!("{k:?}")).collect();
    sim.with_net(|net, k| net.set_links(k, servers, &up, &label.join(" + ")))
        .expect("servers exist");
}

/// Holds a node crashed until the fault ends: its process only, or its
/// machine (losing the writes not yet synced, or tearing them). A node
/// already down only stays down longer.
pub(crate) fn crash(sim: &mut Sim, node: NodeId, lose_unsynced: bool, torn: bool) {
    let mode = match (lose_unsynced, torn) {
        (true, true) => CrashMode::Torn,
        (true, false) => CrashMode::Machine,
        (false, _) => CrashMode::Process,
    };
    let crashed = sim.hold_crashed(node, mode).expect("servers exist");
    if crashed && lose_unsynced {
        peer::coverage::mark(peer::coverage::CRASH_LOST_UNSYNCED);
    }
}

/// Asks the cluster that `kind` names a server of for a membership change
/// or a leadership transfer (never undone).
fn change_membership(sim: &mut Sim, undo: &RefCell<Undo>, servers: &[NodeId], kind: &FaultKind) {
    let u = undo.borrow();
    match kind {
        FaultKind::Reconfigure { voters, learners } => {
            let Some((nodes, local)) = u.cluster_of(servers, voters.first().copied()) else {
                return;
            };
            let (voters, learners) = (local(voters), local(learners));
            drop(u);
            if voters.is_empty() {
                return;
            }
            let target = FaultKind::membership(&voters, &learners);
            let until_ns = sim.now_ns() + RECONFIGURE_RETRY_NS;
            crate::reconfigure::change(sim, nodes, target, until_ns);
        }
        FaultKind::TransferLeader { to } => {
            let Some((nodes, local)) = u.cluster_of(servers, Some(*to)) else {
                return;
            };
            let to = local(&[*to])[0];
            drop(u);
            crate::reconfigure::transfer(sim, &nodes, to);
        }
        _ => unreachable!("not a change of membership: {kind:?}"),
    }
}

/// How long the nemesis keeps asking for a membership change.
const RECONFIGURE_RETRY_NS: u64 = 2 * labsim::SEC;

fn end(sim: &mut Sim, undo: &RefCell<Undo>, servers: &[NodeId], kind: &FaultKind) {
    record(sim, format!("end {kind:?}"));
    let mut u = undo.borrow_mut();
    match kind {
        FaultKind::Isolate { .. }
        | FaultKind::MajorityMinority { .. }
        | FaultKind::Bridge { .. }
        | FaultKind::MajoritiesRing { .. }
        | FaultKind::OneWay { .. } => {
            if let Some(at) = u.partitions.iter().position(|p| p == kind) {
                u.partitions.remove(at);
            }
            cut(sim, servers, &u.partitions);
        }
        FaultKind::Crash { node, .. } => {
            sim.release_crashed(servers[*node]).expect("servers exist");
        }
        FaultKind::Pause { node } => {
            sim.release_paused(servers[*node]).expect("servers exist");
        }
        FaultKind::Unreliable => {
            if release(&mut u.unreliable) {
                sim.with_net(|net, _| net.set_reliable(true));
            }
        }
        FaultKind::LongReordering => {
            if release(&mut u.reordering) {
                sim.with_net(|net, _| net.set_long_reordering(false));
            }
        }
        FaultKind::Duplicate { per_million }
        | FaultKind::LateRequests { per_million }
        | FaultKind::ReplayRequests { per_million } => {
            remove_one(u.rates(kind), per_million);
            u.set_rates(sim);
        }
        FaultKind::ClockDrift { node, ppm } => {
            remove_one(u.drifts.entry(*node).or_default(), ppm);
            u.set_drift(sim, servers, *node);
        }
        FaultKind::SlowDisk { node, latency_ms } => {
            remove_one(u.slow_disks.entry(*node).or_default(), &(latency_ms * MS));
            u.set_sync_latency(sim, servers, *node);
        }
        // Changes of membership, leadership and shard assignment are not undone.
        FaultKind::Reconfigure { .. }
        | FaultKind::TransferLeader { .. }
        | FaultKind::ShardJoin { .. }
        | FaultKind::ShardLeave { .. }
        | FaultKind::ShardMove { .. } => {}
    }
}

/// One fault of a kind ends: true when it was the last one on.
fn release(count: &mut u32) -> bool {
    *count = count.saturating_sub(1);
    *count == 0
}

/// One fault of those in force, `value`, ends.
fn remove_one<T: PartialEq>(on: &mut Vec<T>, value: &T) {
    if let Some(i) = on.iter().position(|v| v == value) {
        on.remove(i);
    }
}

/// What the servers are like without faults: their disks' sync latency and
/// their clocks' rates. Faults return to it, and so does the heal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Base {
    sync_latency_ns: u64,
    fast_clock: Option<FastClock>,
    /// The tuning's bound on every clock's drift, if any.
    max_drift_ppm: Option<i64>,
    /// The schedule changes the membership: the heal makes every server a
    /// voter again.
    reconfigures: bool,
}

impl Base {
    /// The base of a schedule's tuning (6.824's defaults without one).
    pub fn of(schedule: &Schedule) -> Base {
        Base {
            sync_latency_ns: schedule.tuning.map_or(0, |t| t.sync_latency_ms * MS),
            fast_clock: schedule.tuning.and_then(|t| t.fast_clock),
            max_drift_ppm: schedule.tuning.and_then(|t| t.max_drift_ppm),
            reconfigures: schedule
                .faults
                .iter()
                .any(|f| matches!(f.kind, FaultKind::Reconfigure { .. })),
        }
    }

    fn drift_ppm(&self, node: usize) -> i64 {
        let ppm = self
            .fast_clock
            .filter(|f| f.node == node)
            .map_or(0, |f| f.ppm);
        let bound = self.max_drift_ppm.unwrap_or(i64::MAX);
        ppm.clamp(-bound, bound)
    }

    /// Sets every server to it.
    fn set(&self, sim: &mut Sim, servers: &[NodeId]) {
        for (i, &node) in servers.iter().enumerate() {
            sim.set_sync_latency(node, self.sync_latency_ns)
                .expect("servers exist");
            sim.set_clock_drift(node, self.drift_ppm(i))
                .expect("a validated drift");
        }
    }
}

/// Schedules every fault of `schedule` (times relative to now) on `servers`,
/// one Raft group.
pub fn apply(sim: &mut Sim, schedule: &Schedule, servers: &[NodeId]) -> Result<(), String> {
    apply_to_groups(sim, schedule, servers, &[(0..servers.len()).collect()])
}

/// Schedules every fault of `schedule` (times relative to now) on `servers`,
/// several Raft groups (`groups`: indices of `servers`, each group's in the
/// order of its peer ids): a membership change or a transfer acts on the
/// group of the first server it names.
pub fn apply_to_groups(
    sim: &mut Sim,
    schedule: &Schedule,
    servers: &[NodeId],
    groups: &[Vec<usize>],
) -> Result<(), String> {
    schedule.validate(servers.len())?;
    let base = Base::of(schedule);
    base.set(sim, servers);
    let undo = Rc::new(RefCell::new(Undo {
        base,
        clusters: groups.to_vec(),
        ..Undo::default()
    }));
    let now = sim.now_ns();
    for fault in &schedule.faults {
        let (u1, u2) = (undo.clone(), undo.clone());
        let (s1, s2) = (servers.to_vec(), servers.to_vec());
        let (k1, k2) = (fault.kind.clone(), fault.kind.clone());
        let at = now + fault.at_ms * MS;
        sim.schedule(at, "nemesis", move |sim| start(sim, &u1, &s1, &k1))
            .map_err(|e| e.to_string())?;
        sim.schedule(at + fault.duration_ms * MS, "nemesis", move |sim| {
            end(sim, &u2, &s2, &k2)
        })
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Ends every fault at once: heal, reliable, no reordering or duplicates,
/// clocks and disks back to their `base`, paused nodes resumed, crashed
/// nodes restarted. The liveness phase starts from here.
pub fn heal_all(sim: &mut Sim, servers: &[NodeId], base: Base) {
    heal_groups(sim, servers, base, &[(0..servers.len()).collect()]);
}

/// [`heal_all`] of several Raft groups (as [`apply_to_groups`]): each gets
/// every one of its servers back as a voter.
pub fn heal_groups(sim: &mut Sim, servers: &[NodeId], base: Base, groups: &[Vec<usize>]) {
    record(sim, "heal all".into());
    sim.with_net(|net, k| {
        net.heal(k);
        net.set_reliable(true);
        net.set_long_reordering(false);
        let config = net.config_mut();
        config.duplicate_per_million = 0;
        config.late_request_per_million = 0;
        config.replay_request_per_million = 0;
    });
    base.set(sim, servers);
    for &node in servers {
        sim.release_all(node).expect("servers exist");
    }
    if base.reconfigures {
        crate::reconfigure::supersede();
        let until_ns = sim.now_ns() + HEAL_RECONFIGURE_NS;
        for group in groups {
            let everyone = peer::Membership::of_voters(peer::PeerSet::first(group.len()));
            let nodes = group.iter().map(|&i| servers[i]).collect();
            crate::reconfigure::change(sim, nodes, everyone, until_ns);
        }
    }
}

/// How long the heal keeps asking for every server's vote back: the
/// liveness limit, within which the cluster must also have converged.
const HEAL_RECONFIGURE_NS: u64 = 15 * labsim::SEC;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_links_have_the_simulated_shapes() {
        let text = |links: Vec<Vec<bool>>| {
            let row = |r: Vec<bool>| r.iter().map(|&l| if l { '1' } else { '.' }).collect();
            links
                .into_iter()
                .map(row)
                .collect::<Vec<String>>()
                .join(" ")
        };
        let of = |kind| text(links(&kind, 5).expect("a partition"));
        assert_eq!(
            of(FaultKind::Isolate { node: 3 }),
            "111.1 111.1 111.1 ...1. 111.1"
        );
        // Servers 1, 2, 3 (positions 0, 1, 2 after a rotation by 1) are the majority.
        assert_eq!(
            of(FaultKind::MajorityMinority { rotate: 1 }),
            "1...1 .111. .111. .111. 1...1"
        );
        assert_eq!(
            of(FaultKind::Bridge { rotate: 0 }),
            "111.. 111.. 11111 ..111 ..111"
        );
        assert_eq!(
            of(FaultKind::MajoritiesRing { rotate: 0 }),
            "11..1 111.. .111. ..111 1..11"
        );
        let one_way = FaultKind::OneWay {
            from: vec![0],
            to: vec![1, 2],
        };
        assert_eq!(of(one_way), "1..11 11111 11111 11111 11111");
        assert_eq!(links(&FaultKind::Unreliable, 5), None);
        // Too few servers for a bridge: a majority split, as in the
        // simulator (of two servers, both are the majority).
        let bridge = FaultKind::Bridge { rotate: 0 };
        assert_eq!(text(links(&bridge, 3).unwrap()), "11. 111 .11");
        assert_eq!(text(links(&bridge, 2).unwrap()), "11 11");
    }

    #[test]
    fn seeds_draw_every_configuration_and_each_is_valid() {
        let tunings: Vec<Tuning> = (0..200)
            .map(|seed| {
                let mut rng = labsim::derive_stream(seed, labsim::Stream::Nemesis);
                generate(&mut rng, 5, 20_000).tuning.expect("drawn")
            })
            .collect();
        assert!(tunings.iter().all(|t| t.validate().is_ok()));
        assert!(tunings.iter().any(|t| t.pre_vote) && tunings.iter().any(|t| !t.pre_vote));
        for batch in [1, 256] {
            assert!(tunings.iter().any(|t| t.max_entries_per_append == batch));
        }
        for interval in [1, 50] {
            assert!(tunings.iter().any(|t| t.snapshot_interval == interval));
        }
        assert!(tunings.iter().any(|t| t.fast_clock.is_some()));
        assert!(tunings.iter().any(|t| t.fast_clock.is_none()));
        for way in peer::Backtracking::ALL {
            assert!(tunings.iter().any(|t| t.backtracking == Some(way)));
            assert_eq!(serde_json::to_value(way).unwrap(), way.name(), "one name");
        }
    }

    #[test]
    fn a_genome_survives_its_file_and_a_bad_one_is_refused() {
        let mut rng = labsim::derive_stream(7, labsim::Stream::Nemesis);
        let genome = genome(&mut rng, 5, 20_000);
        let json = serde_json::to_string(&genome).unwrap();
        let back: Genome = serde_json::from_str(&json).unwrap();
        let bred = |g: &Genome| {
            let mut rng = labsim::derive_stream(8, labsim::Stream::Nemesis);
            g.breed(&mut rng, 5, 20_000).to_json()
        };
        assert_eq!(bred(&back), bred(&genome), "the same schedules");
        let mut file: serde_json::Value = serde_json::from_str(&json).unwrap();
        file["kinds"] = serde_json::json!(["crash", "meteor"]);
        let err = serde_json::from_value::<Genome>(file.clone()).unwrap_err();
        assert!(err.to_string().contains("no fault kind `meteor`"), "{err}");
        file["kinds"] = serde_json::json!([]);
        assert!(serde_json::from_value::<Genome>(file.clone()).is_err());
        file["kinds"] = serde_json::json!(["crash"]);
        file["mean_gap_ms"] = serde_json::json!(0);
        assert!(serde_json::from_value::<Genome>(file).is_err());
    }

    #[test]
    fn a_misspelt_key_is_refused_not_dropped() {
        // A typo once dropped what it named: a whole tuning, or a torn crash
        // read as an untorn one, and the replay ran another schedule.
        let schedule = generate(
            &mut labsim::derive_stream(3, labsim::Stream::Nemesis),
            5,
            20_000,
        );
        let json = schedule.to_json();
        assert_eq!(Schedule::from_json(&json), Ok(schedule));
        for (from, to) in [
            ("\"tuning\"", "\"tunning\""),
            ("\"faults\"", "\"faults\":[],\"fautls\""),
            ("\"at_ms\"", "\"at\""),
        ] {
            assert!(json.contains(from), "{from} in {json}");
            let err = Schedule::from_json(&json.replacen(from, to, 1)).unwrap_err();
            assert!(err.contains("unknown field"), "{to}: {err}");
        }
        let torn = r#"{"faults":[{"at_ms":1,"duration_ms":2,"kind":{"fault":"crash","node":0,"lose_unsynced":true,"tron":true}}]}"#;
        let err = Schedule::from_json(torn).unwrap_err();
        assert!(err.contains("unknown field `tron`"), "{err}");
    }

    #[test]
    fn a_fast_clock_must_name_a_server_and_a_sane_rate() {
        let mut rng = labsim::derive_stream(1, labsim::Stream::Nemesis);
        let mut s = generate(&mut rng, 5, 20_000);
        let mut tuning = s.tuning.expect("drawn");
        for (node, ppm, ok) in [
            (4, 200_000, true),
            (5, 200_000, false),
            (0, -1, false),
            (0, 600_000, false),
        ] {
            tuning.fast_clock = Some(FastClock { node, ppm });
            s.tuning = Some(tuning);
            assert_eq!(s.validate(5).is_ok(), ok, "node {node}, {ppm} ppm");
        }
    }

    #[test]
    fn a_tuning_that_cannot_keep_a_leader_is_refused() {
        let mut rng = labsim::derive_stream(1, labsim::Stream::Nemesis);
        let mut schedule = generate(&mut rng, 5, 20_000);
        let t = schedule.tuning.as_mut().expect("drawn");
        t.heartbeat_interval_ms = t.election_timeout_min_ms;
        let e = schedule.validate(5).unwrap_err();
        assert!(e.contains("heartbeat"), "{e}");
    }
}
