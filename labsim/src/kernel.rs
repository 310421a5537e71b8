//! The kernel: the virtual clock, the event queue, the random streams, the
//! trace and what the simulator knows of each node slot. Network models get
//! a `&mut Kernel` to schedule deliveries; nodes reach it through their `Ctx`.

use crate::network::Network;
use crate::node::{NodeId, TimerId};
use crate::rng::{SimRng, Stream, Streams};
use crate::sim::Sim;
use crate::storage::SyncId;
use crate::trace::{Detail, Trace};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// A node slot's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Running.
    Up,
    /// Stopped: events for it wait until it resumes.
    Paused,
    /// Crashed: its volatile state is gone until it restarts.
    Crashed,
}

/// A scheduled callback on the whole simulation (a nemesis action, say).
pub(crate) type SimCall<N> = Box<dyn FnOnce(&mut Sim<N>)>;

pub(crate) enum EventKind<N: Network> {
    Timer {
        node: NodeId,
        incarnation: u64,
        timer: TimerId,
        tag: u64,
        /// Which arming this event is: a drift change re-times a timer by
        /// queueing a new event, and the old one no longer matches.
        armed_seq: u64,
    },
    Deliver {
        from: NodeId,
        to: NodeId,
        incarnation: u64,
        msg: N::Msg,
    },
    Sync {
        node: NodeId,
        incarnation: u64,
        sync: SyncId,
    },
    Call {
        label: &'static str,
        f: SimCall<N>,
    },
}

pub(crate) struct Scheduled<N: Network> {
    pub(crate) at_ns: u64,
    pub(crate) seq: u64,
    pub(crate) kind: EventKind<N>,
}

impl<N: Network> PartialEq for Scheduled<N> {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ns, self.seq) == (other.at_ns, other.seq)
    }
}
impl<N: Network> Eq for Scheduled<N> {}
impl<N: Network> PartialOrd for Scheduled<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<N: Network> Ord for Scheduled<N> {
    /// Reversed, so that the max-heap pops the earliest (time, then sequence).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ns, other.seq).cmp(&(self.at_ns, self.seq))
    }
}

/// A node's clock: virtual time, running fast or slow by `rate_ppm` since
/// the anchor.
#[derive(Clone, Copy, Debug, Default)]
struct Clock {
    anchor_global_ns: u64,
    anchor_local_ns: u64,
    rate_ppm: i64,
}

impl Clock {
    fn local(&self, global_ns: u64) -> u64 {
        let elapsed = i128::from(global_ns - self.anchor_global_ns);
        let scaled = elapsed * i128::from(1_000_000 + self.rate_ppm) / 1_000_000;
        self.anchor_local_ns + scaled as u64
    }

    fn global_delay_ns(self, local_delay_ns: u64) -> u64 {
        let d = i128::from(local_delay_ns) * 1_000_000;
        let rate = i128::from(1_000_000 + self.rate_ppm);
        ((d + rate - 1) / rate) as u64
    }
}

/// A timer waiting to fire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Armed {
    /// When, on the node's clock.
    local_at_ns: u64,
    tag: u64,
    /// The queued event that fires it.
    armed_seq: u64,
}

pub(crate) struct Meta<N: Network> {
    pub(crate) status: Status,
    pub(crate) incarnation: u64,
    clock: Clock,
    pub(crate) sync_latency_ns: u64,
    /// Timers set and not yet fired or cancelled.
    pub(crate) armed: BTreeMap<TimerId, Armed>,
    pub(crate) deferred: Vec<Scheduled<N>>,
}

/// The simulator's core, shared by the network model and the nodes.
pub struct Kernel<N: Network> {
    pub(crate) now_ns: u64,
    seq: u64,
    pub(crate) queue: BinaryHeap<Scheduled<N>>,
    streams: Streams,
    pub(crate) trace: Trace,
    pub(crate) meta: Vec<Meta<N>>,
    seed: u64,
}

impl<N: Network> Kernel<N> {
    pub(crate) fn new(seed: u64) -> Kernel<N> {
        Kernel {
            now_ns: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            streams: Streams::new(seed),
            trace: Trace::new(),
            meta: Vec::new(),
            seed,
        }
    }

    /// Virtual time now.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A fresh id, unique within the run (for call ids and the like).
    pub fn unique_id(&mut self) -> u64 {
        let id = self.seq;
        self.seq += 1;
        id
    }

    /// A random stream of this run.
    pub fn rng(&mut self, stream: Stream) -> &mut SimRng {
        self.streams.get(stream)
    }

    /// How many node slots exist.
    pub fn node_count(&self) -> usize {
        self.meta.len()
    }

    /// A node's status.
    pub fn status(&self, node: NodeId) -> Status {
        self.meta[node].status
    }

    /// How many times `node` has crashed: a reply stamped with an older
    /// incarnation comes from a node that no longer exists.
    pub fn incarnation(&self, node: NodeId) -> u64 {
        self.meta[node].incarnation
    }

    /// Records an event in the trace.
    pub fn record(&mut self, node: Option<NodeId>, kind: &'static str, detail: &dyn Detail) {
        self.trace.record(self.now_ns, node, kind, detail);
    }

    /// True if the trace streams out: annotations are worth building.
    pub fn is_streaming(&self) -> bool {
        self.trace.is_streaming()
    }

    /// Writes an annotation (see [`Trace::annotate`]): never hashed.
    pub fn annotate(&mut self, node: Option<NodeId>, kind: &'static str, detail: &dyn Detail) {
        self.trace.annotate(self.now_ns, node, kind, detail);
    }

    fn push(&mut self, at_ns: u64, kind: EventKind<N>) -> u64 {
        debug_assert!(at_ns >= self.now_ns, "scheduling into the past");
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Scheduled { at_ns, seq, kind });
        seq
    }

    /// Schedules `msg` to arrive at `to` at `at_ns`. It is discarded if `to`
    /// crashes before then.
    pub fn deliver_at(&mut self, at_ns: u64, from: NodeId, to: NodeId, msg: N::Msg) {
        assert!(
            to < self.meta.len(),
            "delivery to node {to}, which does not exist"
        );
        let incarnation = match self.meta[to].status {
            // Nobody is there: the message can never be received.
            Status::Crashed => u64::MAX,
            _ => self.meta[to].incarnation,
        };
        self.push(
            at_ns.max(self.now_ns),
            EventKind::Deliver {
                from,
                to,
                incarnation,
                msg,
            },
        );
    }

    pub(crate) fn schedule_call(&mut self, at_ns: u64, label: &'static str, f: SimCall<N>) {
        self.push(at_ns, EventKind::Call { label, f });
    }

    pub(crate) fn local_now_ns(&self, node: NodeId) -> u64 {
        self.meta[node].clock.local(self.now_ns)
    }

    pub(crate) fn set_timer(&mut self, node: NodeId, local_delay_ns: u64, tag: u64) -> TimerId {
        let local_at_ns = self.local_now_ns(node).saturating_add(local_delay_ns);
        let timer = self.seq;
        self.arm(node, timer, tag, local_at_ns);
        timer
    }

    /// Queues `timer` to fire when `node`'s clock reads `local_at_ns`, at the
    /// clock's current rate.
    fn arm(&mut self, node: NodeId, timer: TimerId, tag: u64, local_at_ns: u64) {
        let local_delay_ns = local_at_ns.saturating_sub(self.local_now_ns(node));
        let delay_ns = self.meta[node].clock.global_delay_ns(local_delay_ns);
        let incarnation = self.meta[node].incarnation;
        let armed_seq = self.seq;
        self.push(
            self.now_ns + delay_ns,
            EventKind::Timer {
                node,
                incarnation,
                timer,
                tag,
                armed_seq,
            },
        );
        let armed = Armed {
            local_at_ns,
            tag,
            armed_seq,
        };
        self.meta[node].armed.insert(timer, armed);
    }

    /// True if a timer event is the live arming of its timer.
    pub(crate) fn is_armed(&self, node: NodeId, timer: TimerId, armed_seq: u64) -> bool {
        self.meta[node]
            .armed
            .get(&timer)
            .is_some_and(|a| a.armed_seq == armed_seq)
    }

    pub(crate) fn cancel_timer(&mut self, node: NodeId, timer: TimerId) -> bool {
        self.meta[node].armed.remove(&timer).is_some()
    }

    pub(crate) fn sync_latency_ns(&self, node: NodeId) -> u64 {
        self.meta[node].sync_latency_ns
    }

    pub(crate) fn schedule_sync(&mut self, node: NodeId, delay_ns: u64, sync: SyncId) {
        let incarnation = self.meta[node].incarnation;
        self.push(
            self.now_ns + delay_ns,
            EventKind::Sync {
                node,
                incarnation,
                sync,
            },
        );
    }

    pub(crate) fn add_meta(&mut self) -> NodeId {
        self.meta.push(Meta {
            status: Status::Up,
            incarnation: 0,
            clock: Clock {
                anchor_global_ns: self.now_ns,
                anchor_local_ns: self.now_ns,
                rate_ppm: 0,
            },
            sync_latency_ns: 0,
            armed: BTreeMap::new(),
            deferred: Vec::new(),
        });
        self.meta.len() - 1
    }

    /// Changes the rate of `node`'s clock from now on, and re-times its armed
    /// timers: each still fires when the node's clock reads what it was set
    /// for, which now comes sooner or later in virtual time.
    pub(crate) fn set_drift(&mut self, node: NodeId, rate_ppm: i64) {
        let now = self.now_ns;
        let clock = &mut self.meta[node].clock;
        let local = clock.local(now);
        *clock = Clock {
            anchor_global_ns: now,
            anchor_local_ns: local,
            rate_ppm,
        };
        let armed = std::mem::take(&mut self.meta[node].armed);
        for (timer, a) in armed {
            self.arm(node, timer, a.tag, a.local_at_ns);
        }
    }

    /// Puts deferred events back in the queue, due now, in their order.
    pub(crate) fn requeue_deferred(&mut self, node: NodeId) {
        let deferred = std::mem::take(&mut self.meta[node].deferred);
        for ev in deferred {
            self.push(self.now_ns, ev.kind);
        }
    }
}
