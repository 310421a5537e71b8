//! Faults aimed at protocol moments (FoundationDB's BUGGIFY, in spirit): the
//! driver reports when a peer reaches a named point (a vote granted, a new
//! candidate, a new leader, a commit, a snapshot), and an armed aim strikes
//! right there: crash the voter just after its vote, partition a leader just
//! after it commits, restart another node in the middle of an election, drop
//! a new leader's first AppendEntries.
//! Random faults almost never land on such instants; these bugs live there.
//!
//! Aims are part of a fault schedule (drawn per seed by the swarm, printed,
//! replayed), armed for the fault span of one run on one thread, and draw
//! from their own random stream, so they shift no other draw.

use labsim::{MS, NodeId, SimRng, Status, Stream};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// A point of the protocol the driver can see a peer reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Moment {
    /// The peer granted a vote (a peer that reports the `vote granted` mark).
    VoteGranted,
    /// The peer became a candidate.
    BecameCandidate,
    /// The peer became leader.
    BecameLeader,
    /// The peer, as leader, advanced its commit index.
    Committed,
    /// The peer wrote a snapshot.
    SnapshotTaken,
}

/// What an aim does when its moment comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "do", rename_all = "kebab-case")]
pub enum Action {
    /// Crash the node at once and restart it `down_ms` later.
    Crash {
        /// Lose the writes it had not synced.
        lose_unsynced: bool,
        /// Time down.
        down_ms: u64,
    },
    /// Cut the node off from everyone for `ms`.
    Isolate {
        /// Time cut off.
        ms: u64,
    },
    /// Cut the node off for `ms` from every other node but one client (the
    /// scenario's first; a scenario with no client nodes keeps none): a
    /// leader that still answers one client while the others move on to its
    /// successor. The cut is severed over any partition in force and mended
    /// after, so it neither undoes nor is undone by the swarm's partitions.
    Partition {
        /// Time cut off.
        ms: u64,
    },
    /// Drop the next `count` requests the node sends, before it sends them:
    /// at a new leader, its first AppendEntries of the term (its first round
    /// goes out in the very event that makes it leader, so this one acts at
    /// once, where the others act right after).
    DropRequests {
        /// How many.
        count: u32,
    },
}

/// One aimed fault: at `moment`, with probability `per_million`, `action`
/// strikes the node that reached it, or another node (`other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aim {
    /// When.
    pub moment: Moment,
    /// What.
    pub action: Action,
    /// Strike another node (the next one, in server order) rather than this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
    /// How often, per million times the moment comes.
    pub per_million: u32,
}

impl Aim {
    /// Draws an aim of the swarm.
    pub fn draw(rng: &mut SimRng) -> Aim {
        let crash = |rng: &mut SimRng| Action::Crash {
            lose_unsynced: rng.random_bool(0.5),
            // Half restart at once, within the election the moment belongs
            // to (a voter that forgot its vote can then grant another).
            down_ms: match rng.random_bool(0.5) {
                true => rng.random_range(0..3),
                false => rng.random_range(20..800),
            },
        };
        let (moment, action, other) = match rng.random_range(0..8) {
            0 => (Moment::VoteGranted, crash(rng), false),
            1 => (Moment::BecameLeader, crash(rng), false),
            2 => (
                Moment::Committed,
                Action::Isolate {
                    ms: rng.random_range(50..1500),
                },
                false,
            ),
            3 => (Moment::BecameCandidate, crash(rng), true),
            4 => (Moment::SnapshotTaken, crash(rng), false),
            5 => (
                Moment::BecameLeader,
                Action::DropRequests {
                    count: rng.random_range(1..=MAX_DROPPED_REQUESTS),
                },
                false,
            ),
            6 => (
                Moment::Committed,
                Action::Partition {
                    ms: rng.random_range(50..1500),
                },
                false,
            ),
            _ => (
                Moment::BecameLeader,
                Action::Isolate {
                    ms: rng.random_range(50..1500),
                },
                false,
            ),
        };
        Aim {
            moment,
            action,
            other,
            per_million: rng.random_range(50_000..500_000),
        }
    }

    /// Bounds a schedule file must respect.
    pub fn validate(&self) -> Result<(), String> {
        let (ms, count) = match self.action {
            Action::Crash { down_ms, .. } => (down_ms, 0),
            Action::Isolate { ms } | Action::Partition { ms } => (ms, 0),
            Action::DropRequests { count } => (0, count),
        };
        if ms > crate::nemesis::MAX_SCHEDULE_MS
            || self.per_million > 1_000_000
            || count > MAX_DROPPED_REQUESTS
        {
            // Named as the schedule file names it (`became-leader`).
            let moment = serde_json::to_value(self.moment).unwrap_or_default();
            return Err(format!(
                "aim {}: at most {} ms, {MAX_DROPPED_REQUESTS} requests dropped \
                 and 1000000 per million",
                moment.as_str().unwrap_or("?"),
                crate::nemesis::MAX_SCHEDULE_MS
            ));
        }
        Ok(())
    }
}

/// The most requests one aim drops (a round of a 5-node cluster's leader,
/// twice over).
pub const MAX_DROPPED_REQUESTS: u32 = 8;

/// The aims armed on this thread's run, the servers they may strike, and
/// the client a partition keeps.
struct Armed {
    aims: Vec<Aim>,
    servers: Vec<NodeId>,
    kept: Option<NodeId>,
}

thread_local! {
    static ARMED: RefCell<Option<Armed>> = const { RefCell::new(None) };
}

/// Disarms the aims when dropped (the heal, the end of the run, a panic).
pub struct Disarm(());

impl Drop for Disarm {
    fn drop(&mut self) {
        disarm();
    }
}

/// Arms `aims` on `servers` for this thread's run, until [`disarm`] or the
/// guard's drop; `kept` is the client node a [`Action::Partition`] leaves
/// its target (none where clients are not nodes).
#[must_use = "the aims stay armed only while the guard lives"]
pub fn arm(aims: &[Aim], servers: &[NodeId], kept: Option<NodeId>) -> Disarm {
    let armed = (!aims.is_empty()).then(|| Armed {
        aims: aims.to_vec(),
        servers: servers.to_vec(),
        kept,
    });
    ARMED.with(|a| *a.borrow_mut() = armed);
    Disarm(())
}

/// No aim strikes from now on (the heal).
pub fn disarm() {
    ARMED.with(|a| *a.borrow_mut() = None);
}

/// Server `node` reached `moment`: each armed aim of that moment strikes
/// with its probability (drawn from the run's "aims" stream).
pub fn reached(ctx: &mut labrpc::Ctx<'_>, node: NodeId, moment: Moment) {
    // Called at every such moment of every run: nothing is copied unless an
    // aim of this moment is armed.
    let (strikes, kept): (Vec<(Aim, NodeId)>, Option<NodeId>) = ARMED.with(|a| {
        let a = a.borrow();
        let Some(armed) = a.as_ref() else {
            return (vec![], None);
        };
        let Some(me) = armed.servers.iter().position(|&s| s == node) else {
            return (vec![], None);
        };
        let n = armed.servers.len();
        let strikes: Vec<(Aim, NodeId)> = armed
            .aims
            .iter()
            .filter(|aim| aim.moment == moment)
            .map(|aim| {
                (
                    *aim,
                    armed.servers[if aim.other { (me + 1) % n } else { me }],
                )
            })
            .collect();
        (strikes, armed.kept)
    });
    for (aim, target) in strikes {
        match aim.action {
            Action::DropRequests { count } => drop_requests(ctx, aim, moment, target, count),
            _ => strike(ctx, aim, moment, target, kept),
        }
    }
}

/// Rolls `aim` from the "aims" stream: true if it strikes this time.
fn rolls(k: &mut labsim::Kernel<labrpc::Net>, aim: Aim) -> bool {
    k.rng(Stream::Named("aims")).random_range(0..1_000_000) < aim.per_million
}

/// At once, with the aim's probability: `target`'s next `count` requests are
/// lost (the messages of the event being handled included).
fn drop_requests(ctx: &mut labrpc::Ctx<'_>, aim: Aim, moment: Moment, target: NodeId, count: u32) {
    ctx.tester_now(|net, k| {
        if !rolls(k, aim) {
            return;
        }
        k.record(
            Some(target),
            "aim",
            &format!("{moment:?}: {:?}", aim.action),
        );
        peer::coverage::mark(peer::coverage::AIM_STRUCK);
        net.drop_next_requests(target, count);
    });
}

/// Right after the current event: with the aim's probability (drawn from the
/// run's "aims" stream), its action on `target`.
fn strike(
    ctx: &mut labrpc::Ctx<'_>,
    aim: Aim,
    moment: Moment,
    target: NodeId,
    kept: Option<NodeId>,
) {
    ctx.schedule_call(0, "aim", move |sim| {
        if !rolls(sim.kernel(), aim) {
            return;
        }
        sim.kernel().record(
            Some(target),
            "aim",
            &format!("{moment:?}: {:?}", aim.action),
        );
        match aim.action {
            Action::Crash {
                lose_unsynced,
                down_ms,
            } => {
                if sim.status(target) != Ok(Status::Up) {
                    return;
                }
                peer::coverage::mark(peer::coverage::AIM_STRUCK);
                crate::nemesis::crash(sim, target, lose_unsynced, false);
                // A crash of the schedule that starts meanwhile holds the
                // node down past this one's end, as overlapping faults do.
                let at = sim.now_ns() + down_ms * MS;
                let restart = move |sim: &mut labrpc::Sim| {
                    sim.release_crashed(target).expect("servers exist");
                };
                sim.schedule(at, "aim", restart).expect("in the future");
            }
            Action::Isolate { ms } => {
                peer::coverage::mark(peer::coverage::AIM_STRUCK);
                // Held, so that another isolation of the node that overlaps
                // this one keeps it cut off past this one's end.
                sim.with_net(|net, k| net.hold_disconnected(k, target))
                    .expect("servers exist");
                let at = sim.now_ns() + ms * MS;
                let rejoin = move |sim: &mut labrpc::Sim| {
                    sim.with_net(|net, k| net.release_disconnected(k, target))
                        .expect("held at the strike");
                };
                sim.schedule(at, "aim", rejoin).expect("in the future");
            }
            Action::Partition { ms } => {
                peer::coverage::mark(peer::coverage::AIM_STRUCK);
                let others: Vec<NodeId> = (0..sim.node_count())
                    .filter(|&n| n != target && Some(n) != kept)
                    .collect();
                sim.with_net(|net, k| net.sever(k, target, &others))
                    .expect("nodes exist");
                let at = sim.now_ns() + ms * MS;
                let rejoin = move |sim: &mut labrpc::Sim| {
                    sim.with_net(|net, k| net.mend(k, target, &others))
                        .expect("severed at the strike");
                };
                sim.schedule(at, "aim", rejoin).expect("in the future");
            }
            Action::DropRequests { .. } => unreachable!("dropped at once, not after"),
        }
    });
}
