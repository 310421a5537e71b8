//! The simulation: node slots around a kernel and a network, and the loop
//! that advances virtual time from event to event.

use crate::hash::TraceHasher;
use crate::kernel::{EventKind, Kernel, Scheduled, Status};
use crate::network::Network;
use crate::node::{Ctx, Factory, Node, NodeId};
use crate::rng::Stream;
use crate::storage::Storage;
use crate::time::{SEC, fmt_ns};
use crate::trace::{Detail, Fields, Trace};
use rand::RngExt;
use std::any::Any;
use std::fmt;

mod holds;

/// What a crash keeps of the writes a node had not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// All of them (the process died; the OS's page cache survived).
    Process,
    /// None of them (the machine lost power).
    Machine,
    /// A prefix of them, maybe ending inside an append (power lost mid-write).
    Torn,
}

thread_local! {
    static LAST_EVENT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// The virtual time and index of the last event this thread's simulation
/// processed: what a panic report can say about where a run died.
pub fn last_event_hint() -> (u64, u64) {
    LAST_EVENT.with(|c| c.get())
}

/// An invariant the layer above checks after every event.
pub type Invariant<N> = Box<dyn FnMut(&Sim<N>) -> Result<(), String>>;

/// An invariant failed: the run stopped at this event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name.
    pub invariant: String,
    /// What it said.
    pub message: String,
    /// Index of the event after which it failed.
    pub event: u64,
    /// Virtual time of that event.
    pub at_ns: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` violated after event #{} at t={}: {}",
            self.invariant,
            self.event,
            fmt_ns(self.at_ns),
            self.message
        )
    }
}

/// Misuse of the simulator, or a stopped run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// An invariant failed; the run is over.
    Violation(Violation),
    /// `run_until` was given a deadline before now.
    DeadlineInPast {
        /// The deadline given.
        deadline_ns: u64,
        /// Virtual time now.
        now_ns: u64,
    },
    /// No node has this id.
    UnknownNode(NodeId),
    /// The node is not in a state that allows this.
    BadState {
        /// The node.
        node: NodeId,
        /// What was asked.
        action: &'static str,
        /// The state it is in.
        status: Status,
    },
    /// An argument out of range.
    Invalid(String),
    /// The run processed as many events as its budget allows (a message
    /// storm, or a peer that never lets virtual time move on).
    EventBudget(u64),
    /// The run processed as many events within one virtual second as its
    /// rate budget allows (a message storm, caught early).
    EventRateBudget {
        /// The budget, in events per node per virtual second.
        per_node: u64,
        /// How many nodes the run had.
        nodes: usize,
        /// The start of the virtual second that reached it.
        at_ns: u64,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Violation(v) => write!(f, "{v}"),
            SimError::DeadlineInPast {
                deadline_ns,
                now_ns,
            } => write!(
                f,
                "deadline t={} is in the past (now t={})",
                fmt_ns(*deadline_ns),
                fmt_ns(*now_ns)
            ),
            SimError::UnknownNode(n) => write!(f, "there is no node {n}"),
            SimError::BadState {
                node,
                action,
                status,
            } => {
                write!(f, "cannot {action} node {node}: it is {status:?}")
            }
            SimError::Invalid(why) => write!(f, "{why}"),
            SimError::EventBudget(n) => write!(
                f,
                "the run reached its budget of {n} events (a message storm, or a peer that keeps virtual time from moving on)"
            ),
            SimError::EventRateBudget {
                per_node,
                nodes,
                at_ns,
            } => write!(
                f,
                "the run reached its budget of {} events in one virtual second ({per_node} per node, {nodes} nodes) in the second from t={} (a message storm)",
                per_node.saturating_mul(*nodes as u64),
                fmt_ns(*at_ns)
            ),
        }
    }
}

impl std::error::Error for SimError {}

struct Slot<N: Network> {
    name: String,
    node: Option<Box<dyn Node<N>>>,
    factory: Factory<N>,
    storage: Storage,
    /// Faults holding the node crashed or paused (see [`Sim::hold_crashed`]).
    holds: holds::Holds,
}

/// One deterministic run: a pure function of the scenario that drives it and
/// its seed.
pub struct Sim<N: Network> {
    kernel: Kernel<N>,
    net: N,
    slots: Vec<Slot<N>>,
    invariants: Vec<(String, Invariant<N>)>,
    violation: Option<Violation>,
    /// Most events a run may process (`None`: no limit).
    event_budget: Option<u64>,
    /// Most events per node a run may process within one virtual second.
    rate_budget: Option<RateBudget>,
}

/// Events counted in the current virtual second, against a budget per node.
#[derive(Clone, Copy, Debug)]
struct RateBudget {
    per_node: u64,
    /// The end of the virtual second being counted (a multiple of `SEC`).
    second_end_ns: u64,
    /// Events processed within it.
    events: u64,
}

struct DeliverDetail<'a, M> {
    from: NodeId,
    msg: &'a M,
}

impl<M: Detail> Detail for DeliverDetail<'_, M> {
    fn digest(&self, h: &mut TraceHasher) {
        h.u64(self.from as u64);
        self.msg.digest(h);
    }
    fn describe(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "from {}: ", self.from);
        self.msg.describe(out);
    }
    fn fields(&self, out: &mut Fields<'_>) {
        out.add("from", self.from);
        self.msg.fields(out);
    }
}

impl<N: Network> Sim<N> {
    /// A simulation at t=0 with no nodes.
    pub fn new(seed: u64, net: N) -> Sim<N> {
        Sim {
            kernel: Kernel::new(seed),
            net,
            slots: Vec::new(),
            invariants: Vec::new(),
            violation: None,
            event_budget: None,
            rate_budget: None,
        }
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.kernel.seed()
    }

    /// Virtual time now.
    pub fn now_ns(&self) -> u64 {
        self.kernel.now_ns
    }

    /// The trace hash so far (the run's fingerprint once it ends).
    pub fn trace_hash(&self) -> u64 {
        self.kernel.trace.hash()
    }

    /// Events recorded so far.
    pub fn events(&self) -> u64 {
        self.kernel.trace.events()
    }

    /// The trace, to stream or check it.
    pub fn trace_mut(&mut self) -> &mut Trace {
        &mut self.kernel.trace
    }

    /// The kernel (clock, random streams, trace).
    pub fn kernel(&mut self) -> &mut Kernel<N> {
        &mut self.kernel
    }

    /// The network model.
    pub fn net(&self) -> &N {
        &self.net
    }

    /// Changes the network model with access to the kernel (to schedule
    /// notices or draw from its stream). Invariants run afterwards.
    pub fn with_net<R>(&mut self, f: impl FnOnce(&mut N, &mut Kernel<N>) -> R) -> R {
        let r = f(&mut self.net, &mut self.kernel);
        self.check_invariants();
        r
    }

    /// The first violation, if an invariant failed.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Number of node slots.
    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// A node's name, as given to `add_node`.
    pub fn node_name(&self, node: NodeId) -> &str {
        &self.slots[node].name
    }

    /// A node's status.
    pub fn status(&self, node: NodeId) -> Result<Status, SimError> {
        self.check_node(node)?;
        Ok(self.kernel.status(node))
    }

    /// True if the node is up (not crashed, not paused).
    pub fn is_up(&self, node: NodeId) -> bool {
        node < self.slots.len() && self.kernel.status(node) == Status::Up
    }

    fn check_node(&self, node: NodeId) -> Result<(), SimError> {
        if node < self.slots.len() {
            Ok(())
        } else {
            Err(SimError::UnknownNode(node))
        }
    }

    /// Adds a node built by `factory` from its (empty) storage, and starts it.
    /// The same factory rebuilds it after every crash.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        mut factory: impl FnMut(NodeId, &Storage) -> Box<dyn Node<N>> + 'static,
    ) -> NodeId {
        let id = self.kernel.add_meta();
        let storage = Storage::default();
        let node = factory(id, &storage);
        let name = name.into();
        self.kernel.record(Some(id), "add", &name.as_str());
        self.slots.push(Slot {
            name,
            node: Some(node),
            factory: Box::new(factory),
            storage,
            holds: holds::Holds::default(),
        });
        self.dispatch(id, |node, ctx| node.on_start(ctx));
        self.check_invariants();
        id
    }

    /// How long a sync of this node's storage takes now.
    pub fn sync_latency_ns(&self, node: NodeId) -> Result<u64, SimError> {
        self.check_node(node)?;
        Ok(self.kernel.meta[node].sync_latency_ns)
    }

    /// Sets how long a sync of this node's storage takes (0: at once).
    pub fn set_sync_latency(&mut self, node: NodeId, latency_ns: u64) -> Result<(), SimError> {
        self.check_node(node)?;
        self.kernel.meta[node].sync_latency_ns = latency_ns;
        Ok(())
    }

    /// Makes the node's clock run fast (`rate_ppm` > 0) or slow (< 0), in
    /// parts per million, from now on.
    pub fn set_clock_drift(&mut self, node: NodeId, rate_ppm: i64) -> Result<(), SimError> {
        self.check_node(node)?;
        if rate_ppm <= -1_000_000 || rate_ppm > 10_000_000 {
            return Err(SimError::Invalid(format!(
                "clock drift {rate_ppm} ppm is out of range (-999999..=10000000)"
            )));
        }
        self.kernel.set_drift(node, rate_ppm);
        self.kernel.record(Some(node), "drift", &(rate_ppm as u64));
        Ok(())
    }

    /// Crashes a node: its volatile state, unsynced writes, timers and the
    /// messages in flight to it are gone.
    pub fn crash(&mut self, node: NodeId) -> Result<(), SimError> {
        self.crash_with(node, CrashMode::Machine)
    }

    /// Crashes a node's process only: writes it had not synced survive (the
    /// OS's page cache kept them), all else is as `crash`.
    pub fn crash_keep_unsynced(&mut self, node: NodeId) -> Result<(), SimError> {
        self.crash_with(node, CrashMode::Process)
    }

    /// Crashes a node's machine in the middle of writing: of the writes it
    /// had not synced, a prefix survives (drawn from the run's "disk"
    /// stream), possibly ending inside an append.
    pub fn crash_torn(&mut self, node: NodeId) -> Result<(), SimError> {
        self.crash_with(node, CrashMode::Torn)
    }

    /// Flips one byte of a node's synced data, chosen from the run's "disk"
    /// stream. Returns the file and offset (`None`: the disk holds no data).
    pub fn corrupt_disk(&mut self, node: NodeId) -> Result<Option<(String, usize)>, SimError> {
        self.check_node(node)?;
        let at = self.kernel.rng(Stream::Named("disk")).random::<u64>();
        let hit = self.slots[node].storage.corrupt(at);
        if let Some((file, offset)) = &hit {
            let what = format!("{file} byte {offset}");
            self.kernel.record(Some(node), "corrupt", &what);
        }
        Ok(hit)
    }

    fn crash_with(&mut self, node: NodeId, mode: CrashMode) -> Result<(), SimError> {
        self.check_node(node)?;
        let status = self.kernel.status(node);
        if status == Status::Crashed {
            return Err(SimError::BadState {
                node,
                action: "crash",
                status,
            });
        }
        let meta = &mut self.kernel.meta[node];
        meta.status = Status::Crashed;
        meta.incarnation += 1;
        meta.armed.clear();
        meta.deferred.clear();
        self.slots[node].node = None;
        let storage = &mut self.slots[node].storage;
        let kind = match mode {
            CrashMode::Process => {
                storage.crash(true);
                "crash-process"
            }
            CrashMode::Machine => {
                storage.crash(false);
                "crash"
            }
            CrashMode::Torn => {
                let rng = self.kernel.rng(Stream::Named("disk"));
                let keep = rng.random_range(0..=storage.in_flight());
                let bytes = storage
                    .in_flight_append_len(keep)
                    .map_or(0, |len| rng.random_range(0..=len));
                storage.crash_torn(keep, bytes);
                "crash-torn"
            }
        };
        self.kernel.record(Some(node), kind, &());
        self.net.on_crash(&mut self.kernel, node);
        self.check_invariants();
        Ok(())
    }

    /// Rebuilds a crashed node from its durable storage alone, and starts it.
    pub fn restart(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        let status = self.kernel.status(node);
        if status != Status::Crashed {
            return Err(SimError::BadState {
                node,
                action: "restart",
                status,
            });
        }
        let slot = &mut self.slots[node];
        let rebuilt = (slot.factory)(node, &slot.storage);
        slot.node = Some(rebuilt);
        self.kernel.meta[node].status = Status::Up;
        self.kernel.record(Some(node), "restart", &());
        self.net.on_restart(&mut self.kernel, node);
        self.dispatch(node, |n, ctx| n.on_start(ctx));
        self.check_invariants();
        Ok(())
    }

    /// Stops a node: its timers and messages wait until it resumes.
    pub fn pause(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        let status = self.kernel.status(node);
        if status != Status::Up {
            return Err(SimError::BadState {
                node,
                action: "pause",
                status,
            });
        }
        self.kernel.meta[node].status = Status::Paused;
        self.kernel.record(Some(node), "pause", &());
        Ok(())
    }

    /// Resumes a paused node; what waited for it is due now, in order.
    pub fn resume(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        let status = self.kernel.status(node);
        if status != Status::Paused {
            return Err(SimError::BadState {
                node,
                action: "resume",
                status,
            });
        }
        self.kernel.meta[node].status = Status::Up;
        self.kernel.record(Some(node), "resume", &());
        self.kernel.requeue_deferred(node);
        Ok(())
    }

    /// A node's disk (what it would read now).
    pub fn storage(&self, node: NodeId) -> &Storage {
        &self.slots[node].storage
    }

    /// The node as its concrete type, if it is up or paused and is a `T`.
    pub fn node<T: Node<N>>(&self, node: NodeId) -> Option<&T> {
        let boxed = self.slots.get(node)?.node.as_deref()?;
        let any: &dyn Any = boxed;
        any.downcast_ref::<T>()
    }

    /// Runs `f` on the node as its concrete type, with its context, as an
    /// input from outside (a test driver starting a command, say). `None` if
    /// the node is not up or not a `T`. Invariants run afterwards.
    pub fn with_node<T: Node<N>, R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut T, &mut Ctx<'_, N>) -> R,
    ) -> Option<R> {
        if node >= self.slots.len() || self.kernel.status(node) != Status::Up {
            return None;
        }
        let is_t = {
            let any: &dyn Any = self.slots[node].node.as_deref()?;
            any.is::<T>()
        };
        if !is_t {
            return None;
        }
        let r = self.dispatch(node, |boxed, ctx| {
            let any: &mut dyn Any = boxed;
            f(any.downcast_mut::<T>().expect("type checked above"), ctx)
        });
        self.check_invariants();
        Some(r)
    }

    /// Runs `f(sim)` at virtual time `at_ns` (a nemesis action, a workload step).
    pub fn schedule(
        &mut self,
        at_ns: u64,
        label: &'static str,
        f: impl FnOnce(&mut Sim<N>) + 'static,
    ) -> Result<(), SimError> {
        if at_ns < self.kernel.now_ns {
            return Err(SimError::DeadlineInPast {
                deadline_ns: at_ns,
                now_ns: self.kernel.now_ns,
            });
        }
        self.kernel.schedule_call(at_ns, label, Box::new(f));
        Ok(())
    }

    /// Registers a check that runs after every event; when it fails the run
    /// stops with a `Violation` naming it and the event.
    pub fn add_invariant(
        &mut self,
        name: impl Into<String>,
        check: impl FnMut(&Sim<N>) -> Result<(), String> + 'static,
    ) {
        self.invariants.push((name.into(), Box::new(check)));
    }

    fn check_invariants(&mut self) {
        if self.invariants.is_empty() || self.violation.is_some() {
            return;
        }
        let mut invariants = std::mem::take(&mut self.invariants);
        for (name, check) in invariants.iter_mut() {
            if let Err(message) = check(self) {
                self.violation = Some(Violation {
                    invariant: name.clone(),
                    message,
                    event: self.kernel.trace.events().saturating_sub(1),
                    at_ns: self.kernel.now_ns,
                });
                break;
            }
        }
        self.invariants = invariants;
    }

    fn dispatch<R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut dyn Node<N>, &mut Ctx<'_, N>) -> R,
    ) -> R {
        let slot = &mut self.slots[id];
        let mut node = slot.node.take().expect("dispatch to a node that is not up");
        let mut ctx = Ctx {
            kernel: &mut self.kernel,
            net: &mut self.net,
            storage: &mut slot.storage,
            id,
        };
        let r = f(node.as_mut(), &mut ctx);
        slot.node = Some(node);
        r
    }

    /// Processes the next event, if any. False when the queue is empty.
    pub fn step(&mut self) -> Result<bool, SimError> {
        if let Some(v) = &self.violation {
            return Err(SimError::Violation(v.clone()));
        }
        if let Some(budget) = self.event_budget
            && self.kernel.trace.events() >= budget
        {
            return Err(SimError::EventBudget(budget));
        }
        self.check_rate_budget()?;
        let Some(ev) = self.kernel.queue.pop() else {
            return Ok(false);
        };
        debug_assert!(ev.at_ns >= self.kernel.now_ns, "time went backwards");
        self.kernel.now_ns = ev.at_ns;
        LAST_EVENT.with(|c| c.set((ev.at_ns, self.kernel.trace.events())));
        self.process(ev);
        self.check_invariants();
        match &self.violation {
            Some(v) => Err(SimError::Violation(v.clone())),
            None => Ok(true),
        }
    }

    fn defer_if_paused(&mut self, node: NodeId, ev: Scheduled<N>) -> Option<Scheduled<N>> {
        if self.kernel.meta[node].status == Status::Paused {
            self.kernel.meta[node].deferred.push(ev);
            None
        } else {
            Some(ev)
        }
    }

    fn process(&mut self, ev: Scheduled<N>) {
        match &ev.kind {
            EventKind::Timer { .. } => self.process_timer(ev),
            EventKind::Deliver { .. } => self.process_deliver(ev),
            EventKind::Sync { .. } => self.process_sync(ev),
            EventKind::Call { .. } => {
                let EventKind::Call { label, f } = ev.kind else {
                    unreachable!()
                };
                self.kernel.record(None, "call", &label);
                f(self);
            }
        }
    }

    /// A timer fires, unless it was cancelled or set before a crash.
    fn process_timer(&mut self, ev: Scheduled<N>) {
        let EventKind::Timer {
            node,
            incarnation,
            timer,
            armed_seq,
            ..
        } = ev.kind
        else {
            unreachable!()
        };
        if incarnation != self.kernel.meta[node].incarnation
            || !self.kernel.is_armed(node, timer, armed_seq)
        {
            return;
        }
        let Some(ev) = self.defer_if_paused(node, ev) else {
            return;
        };
        let EventKind::Timer { timer, tag, .. } = ev.kind else {
            unreachable!()
        };
        self.kernel.meta[node].armed.remove(&timer);
        self.kernel.record(Some(node), "timer", &tag);
        self.dispatch(node, |n, ctx| n.on_timer(ctx, timer, tag));
    }

    /// A message arrives, unless its receiver crashed since it was sent.
    fn process_deliver(&mut self, ev: Scheduled<N>) {
        let EventKind::Deliver {
            to, incarnation, ..
        } = ev.kind
        else {
            unreachable!()
        };
        if incarnation != self.kernel.meta[to].incarnation
            || self.kernel.meta[to].status == Status::Crashed
        {
            let EventKind::Deliver { from, msg, .. } = ev.kind else {
                unreachable!()
            };
            self.kernel
                .record(Some(to), "lost", &DeliverDetail { from, msg: &msg });
            return;
        }
        let Some(ev) = self.defer_if_paused(to, ev) else {
            return;
        };
        let EventKind::Deliver { from, msg, .. } = ev.kind else {
            unreachable!()
        };
        let Some(msg) = self.net.arrive(&mut self.kernel, from, to, msg) else {
            return;
        };
        self.kernel
            .record(Some(to), "deliver", &DeliverDetail { from, msg: &msg });
        self.dispatch(to, |n, ctx| n.on_message(ctx, from, msg));
    }

    /// A sync completes, unless its node crashed before it did.
    fn process_sync(&mut self, ev: Scheduled<N>) {
        let EventKind::Sync {
            node, incarnation, ..
        } = ev.kind
        else {
            unreachable!()
        };
        if incarnation != self.kernel.meta[node].incarnation {
            return;
        }
        let Some(ev) = self.defer_if_paused(node, ev) else {
            return;
        };
        let EventKind::Sync { sync, .. } = ev.kind else {
            unreachable!()
        };
        self.slots[node].storage.complete_sync(sync);
        self.kernel.record(Some(node), "sync", &sync);
        self.dispatch(node, |n, ctx| n.on_sync(ctx, sync));
    }

    /// Runs events until `done(self)` holds (true) or virtual time reaches
    /// `deadline_ns` (false; the clock then reads `deadline_ns`). Time jumps
    /// from event to event, never tick by tick.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&Sim<N>) -> bool,
        deadline_ns: u64,
    ) -> Result<bool, SimError> {
        if let Some(v) = &self.violation {
            return Err(SimError::Violation(v.clone()));
        }
        if deadline_ns < self.kernel.now_ns {
            return Err(SimError::DeadlineInPast {
                deadline_ns,
                now_ns: self.kernel.now_ns,
            });
        }
        loop {
            if done(self) {
                return Ok(true);
            }
            match self.kernel.queue.peek() {
                Some(ev) if ev.at_ns <= deadline_ns => {
                    self.step()?;
                }
                _ => {
                    self.kernel.now_ns = deadline_ns;
                    return Ok(done(self));
                }
            }
        }
    }

    /// Stops the run with [`SimError::EventRateBudget`] once it has processed
    /// `per_node` events per node within one virtual second: a storm is
    /// caught within the second it reaches that rate, where the whole-run
    /// [`Sim::set_event_budget`] takes the storm's millions of events. Like
    /// it, the same on every machine.
    pub fn set_event_rate_budget(&mut self, per_node: u64) {
        self.rate_budget = Some(RateBudget {
            per_node,
            second_end_ns: 0,
            events: 0,
        });
    }

    /// Counts the event about to be processed in its virtual second; an error
    /// if that second has had its budget already.
    fn check_rate_budget(&mut self) -> Result<(), SimError> {
        let Some(rate) = &mut self.rate_budget else {
            return Ok(());
        };
        let Some(next_ns) = self.kernel.queue.peek().map(|e| e.at_ns) else {
            return Ok(());
        };
        // Time never goes back, so a later second starts at the first event
        // past this one's end (a division only then, not at every event).
        if next_ns >= rate.second_end_ns {
            rate.second_end_ns = (next_ns / SEC + 1) * SEC;
            rate.events = 0;
        }
        let nodes = self.kernel.node_count();
        if rate.events >= rate.per_node.saturating_mul(nodes as u64) {
            return Err(SimError::EventRateBudget {
                per_node: rate.per_node,
                nodes,
                at_ns: rate.second_end_ns - SEC,
            });
        }
        rate.events += 1;
        Ok(())
    }

    /// Stops the run with [`SimError::EventBudget`] once it has processed
    /// `events` events: a bound on a run's cost that is the same on every
    /// machine (unlike a wall-clock limit).
    pub fn set_event_budget(&mut self, events: u64) {
        self.event_budget = Some(events);
    }

    /// Runs every event due in the next `duration_ns`, and sets the clock to
    /// the end of that span.
    pub fn run_for(&mut self, duration_ns: u64) -> Result<(), SimError> {
        let deadline = self.kernel.now_ns.saturating_add(duration_ns);
        self.run_until(|_| false, deadline).map(|_| ())
    }

    /// Events waiting in the queue (including stale ones not yet discarded).
    pub fn queued(&self) -> usize {
        self.kernel.queue.len()
    }
}
