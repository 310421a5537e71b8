//! shardkv-nemesis: the sharded KV service (a controller group and three
//! replica groups) under kv-nemesis's faults over all twelve servers (each
//! membership change and transfer in one group), plus
//! changes of the shard assignment (Join, Leave, Move) drawn from the seed as
//! faults of their own; clients on keys of every shard; every group watched
//! by its own oracle, every history checked for linearizability; then a
//! liveness phase: every fault healed, every group joined again, every
//! pending operation done and, on every shard, new ones.

use crate::Test;
use crate::ctrler_suite::clerk::CtrlClerkNode;
use crate::failure::{Failure, FailureKind};
use crate::kv_suite::Ck;
use crate::kv_suite::clerk::{ClerkNode, Workload};
use crate::nemesis::{self, FaultKind, Schedule};
use crate::raft_suite::RunReport;
use crate::scenarios::{FAULT_SPAN_MS, KvChaos};
use crate::shardkv_suite::ShardKvConfig;
use crate::shardkv_suite::clerk::ShardLink;
use crate::shardkv_suite::config::{NCTRLERS, NGROUPS};
use labsim::{MS, SEC, SimRng, Stream};
use peer::{CtrlOp, NSHARDS, Op};
use std::cell::Cell;
use std::rc::Rc;

/// Servers of each replica group.
pub const GROUP_SERVERS: usize = 3;
/// Every server of the scenario: the controller's, then the groups'.
pub const SERVERS: usize = NCTRLERS + NGROUPS * GROUP_SERVERS;
/// After the heal, everything must be served again and new operations done
/// within this (groups catch up on the configurations they missed, one at a time).
const LIVENESS_LIMIT_NS: u64 = 30 * SEC;

/// The schedule of a seed: kv-nemesis's faults over every server (a
/// membership change or a transfer acts on the Raft group of the first
/// server it names), and shard changes with swarm options of their own.
pub fn schedule(seed: u64) -> Schedule {
    let mut rng = labsim::derive_stream(seed, Stream::Nemesis);
    let mut s = nemesis::generate(&mut rng, SERVERS, FAULT_SPAN_MS);
    let (info, changes) = nemesis::draw_shard_changes(&mut rng, FAULT_SPAN_MS);
    s.swarm.push(info);
    s.faults.extend(changes);
    s.faults.sort_by_key(|f| f.at_ms);
    s
}

/// The Raft groups among the servers: the controller's, then each replica group's.
pub fn groups() -> Vec<Vec<usize>> {
    let controller = (0..NCTRLERS).collect();
    let replicas = (0..NGROUPS).map(|g| {
        let base = NCTRLERS + g * GROUP_SERVERS;
        (base..base + GROUP_SERVERS).collect()
    });
    std::iter::once(controller).chain(replicas).collect()
}

/// The controller operation a shard-change fault asks for.
fn shard_op(cfg: &ShardKvConfig, kind: &FaultKind) -> Option<CtrlOp> {
    match *kind {
        FaultKind::ShardJoin { group } => Some(cfg.join_op(&[group])),
        FaultKind::ShardLeave { group } => Some(CtrlOp::Leave {
            gids: vec![cfg.gid(group)],
        }),
        FaultKind::ShardMove { shard, group } => Some(CtrlOp::Move {
            shard,
            gid: cfg.gid(group),
        }),
        _ => None,
    }
}

/// Schedules the shard changes of `schedule` (times relative to now), each
/// handed to the controller's clerk at its time; nobody waits for them.
fn schedule_shard_changes(cfg: &mut ShardKvConfig, schedule: &Schedule) -> Result<(), String> {
    let clerk = cfg.ctl_clerk();
    let now = cfg.sim.now_ns();
    for f in &schedule.faults {
        let Some(op) = shard_op(cfg, &f.kind) else {
            continue;
        };
        let at = now + f.at_ms * MS;
        cfg.sim
            .schedule(at, "nemesis", move |sim| {
                sim.with_node::<CtrlClerkNode, _>(clerk, |c, ctx| c.run(ctx, vec![op]));
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// After the heal: an Append and a Get on one key of every shard.
struct EveryShard {
    me: usize,
    step: usize,
}

impl Workload for EveryShard {
    fn next(&mut self, _rng: &mut SimRng, _last: Option<(&Op, &str)>) -> Option<Op> {
        let (shard, get) = (self.step / 2, self.step % 2 == 1);
        self.step += 1;
        if shard >= NSHARDS {
            return None;
        }
        // Keys "0".."9" are one per shard.
        let key = shard.to_string();
        Some(match get {
            true => Op::Get { key },
            false => Op::Append {
                key,
                value: format!("h {} y", self.me),
            },
        })
    }
}

/// Runs until every clerk of `cks` is idle, or fails with `what` after `limit_ns`.
fn all_idle(cfg: &mut ShardKvConfig, cks: &[Ck], limit_ns: u64, what: &str) -> Result<(), Failure> {
    let ids: Vec<Ck> = cks.to_vec();
    let idle = move |s: &labrpc::Sim| {
        ids.iter()
            .all(|c| s.node::<ClerkNode<ShardLink>>(c.0).is_none_or(|n| n.idle()))
    };
    match cfg.run_until(idle, limit_ns)? {
        true => Ok(()),
        false => Err(cfg.failure(FailureKind::Liveness, what)),
    }
}

/// The scenario's run under `schedule`.
pub fn run(t: &Test, schedule: &Schedule) -> Result<RunReport, Failure> {
    let tuning = schedule.tuning.map(|t| t.raft()).unwrap_or_default();
    let maxraftstate = Some(schedule.tuning.map_or(2000, |t| t.maxraftstate_bytes));
    let mut cfg = ShardKvConfig::with_tuning(t, GROUP_SERVERS, false, maxraftstate, tuning);
    cfg.joinm(&[0, 1, 2])?;
    // Fault times count from here, once every group has joined.
    let start_ns = cfg.sim.now_ns();
    let servers = cfg.servers();
    let applied = nemesis::apply_to_groups(&mut cfg.sim, schedule, &servers, &groups())
        .and_then(|()| schedule_shard_changes(&mut cfg, schedule));
    if let Err(e) = applied {
        return cfg.check_fail(format!("bad schedule: {e}"));
    }
    let stop = Rc::new(Cell::new(false));
    let ctl = cfg.ctl();
    let clerks: Vec<Ck> = (0..schedule.workload.clients())
        .map(|_| cfg.make_client(&ctl))
        .collect();
    let aimed = crate::aims::arm(&schedule.aims, &servers, clerks.first().map(|ck| ck.0));
    for (me, &ck) in clerks.iter().enumerate() {
        let chaos = KvChaos {
            keys: NSHARDS as u32,
            me,
            n: 0,
            max_ops: schedule.workload.max_ops_per_client,
            stop: stop.clone(),
            reads_only: false,
        };
        cfg.start_workload(ck, Box::new(chaos));
    }
    let fault_end_ns = start_ns + schedule.end_ms().max(FAULT_SPAN_MS) * MS;
    let until_end_ns = fault_end_ns.saturating_sub(cfg.sim.now_ns());
    cfg.sleep(until_end_ns)?;
    drop(aimed);
    liveness(&mut cfg, schedule, &servers, &clerks, &stop)?;
    cfg.end()
}

/// Every fault healed and every group joined again; then every pending
/// operation, and new ones on every shard, within the limit.
fn liveness(
    cfg: &mut ShardKvConfig,
    schedule: &Schedule,
    servers: &[usize],
    clerks: &[Ck],
    stop: &Rc<Cell<bool>>,
) -> Result<(), Failure> {
    let deadline_ns = cfg.sim.now_ns() + LIVENESS_LIMIT_NS;
    nemesis::heal_groups(
        &mut cfg.sim,
        servers,
        nemesis::Base::of(schedule),
        &groups(),
    );
    cfg.connect_everyone();
    stop.set(true);
    // No shard change after the heal: the scheduled ones not yet started are
    // dropped, the one under way finishes; then every group joins again.
    let changes = cfg.ctl_clerk();
    cfg.sim
        .with_node::<CtrlClerkNode, _>(changes, |c, _| c.clear())
        .expect("the clerk is up");
    crate::ctrler_suite::config::wait_clerks(cfg, &[changes])?;
    cfg.rejoin_all()?;
    let limit_s = LIVENESS_LIMIT_NS / SEC;
    let left = |cfg: &ShardKvConfig| deadline_ns.saturating_sub(cfg.sim.now_ns());
    let what =
        format!("liveness: client operations still pending {limit_s} s after every fault healed");
    all_idle(cfg, clerks, left(cfg), &what)?;
    let ctl = cfg.ctl();
    let mut probes = clerks.to_vec();
    if probes.is_empty() {
        probes.push(cfg.make_client(&ctl));
    }
    for (me, &ck) in probes.iter().enumerate() {
        cfg.start_workload(ck, Box::new(EveryShard { me, step: 0 }));
    }
    let what = format!(
        "liveness: operations on every shard submitted after the heal did not complete within {limit_s} s of it"
    );
    all_idle(cfg, &probes, left(cfg), &what)
}
