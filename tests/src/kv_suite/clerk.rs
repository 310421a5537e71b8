//! A KV client as a simulated node: the `kvraft` clerk driven by labrpc calls
//! and timers, recording every operation it completes (call and return times,
//! input and output) in the run's history. It runs one operation at a time,
//! given by the test or by a [`Workload`] (6.824's client goroutines, in
//! virtual time).

use crate::replicated::clerk::{ClerkLink, OpLink, Settled};
use labsim::{Node, NodeId, SimRng, TimerId};
use linearizability::{KvInput, KvOutput, NEVER, Operation};
use peer::{Kv, Op};
use rand::RngExt;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A history of client operations, as the linearizability checker takes it.
/// Its timestamps are [`HistoryClock`] stamps, not raw virtual times.
pub type KvHistory = Vec<Operation<KvInput, KvOutput>>;

/// Timestamps for a history from the simulator's total order of events.
///
/// Virtual time alone is not enough: a closed-loop clerk starts its next
/// operation in the very event that returns the previous one, so the return
/// and the next call share an instant, and the checker reads equal timestamps
/// as concurrent (Porcupine's rule). That would let a Get that misses the
/// client's own Put, returned at the same instant, be ordered before it.
/// A stamp is the virtual time in ns times [`STAMPS_PER_NS`] plus the number
/// of stamps already taken at that instant: events are handled one at a time,
/// so the stamps follow the order in which calls and returns happened, and
/// still read as virtual time (divide by [`STAMPS_PER_NS`]).
#[derive(Clone, Default)]
pub struct HistoryClock(Rc<Cell<(u64, u64)>>);

/// Stamps available within one virtual nanosecond.
pub const STAMPS_PER_NS: u64 = 1000;

impl HistoryClock {
    /// The stamp of a call or return happening now (virtual time `now_ns`).
    pub fn stamp(&self, now_ns: u64) -> u64 {
        let (last_ns, taken) = self.0.get();
        assert!(now_ns >= last_ns, "virtual time went back");
        let within = if now_ns == last_ns { taken } else { 0 };
        // At most two stamps per clerk per instant (a return and the next
        // call), and a run has far fewer than 500 clerks.
        assert!(
            within < STAMPS_PER_NS,
            "too many history events at one instant"
        );
        self.0.set((now_ns, within + 1));
        now_ns
            .checked_mul(STAMPS_PER_NS)
            .and_then(|s| s.checked_add(within))
            .expect("virtual time fits a stamp")
    }
}

/// Keys of the [`Mixed`] workload.
pub const MIXED_KEYS: usize = 10;

/// Half Gets, a quarter Puts, a quarter Appends on [`MIXED_KEYS`] keys, back
/// to back, each written value unique (`"CLIENT.N "`): the workload a real
/// cluster runs (`lab real-nemesis`), and the simulator beside it.
#[derive(Clone, Debug)]
pub struct Mixed {
    /// The client's number, in the values it writes.
    pub client: usize,
    /// Operations so far.
    pub n: u64,
}

impl Workload for Mixed {
    fn next(&mut self, rng: &mut SimRng, _last: Option<(&Op, &str)>) -> Option<Op> {
        self.n += 1;
        let key = format!("k{}", rng.random_range(0..MIXED_KEYS));
        let value = format!("{}.{} ", self.client, self.n);
        Some(match rng.random_range(0..4) {
            0 | 1 => Op::Get { key },
            2 => Op::Put { key, value },
            _ => Op::Append { key, value },
        })
    }
}

/// What a client does next: 6.824's client loop as a state machine.
pub trait Workload: 'static {
    /// The next operation, given the previous one and what it returned (`None`
    /// before the first). `None`: the client stops.
    fn next(&mut self, rng: &mut SimRng, last: Option<(&Op, &str)>) -> Option<Op>;

    /// How long the client waits before starting the operation `next` just
    /// gave (a rate-limited client, as Jepsen's generators stagger theirs).
    /// The default, 0, is 6.824's closed loop.
    fn think_ns(&mut self, _rng: &mut SimRng) -> u64 {
        0
    }
}

/// Converts a kvraft operation to the checker's input.
pub fn to_input(op: &Op) -> KvInput {
    match op.clone() {
        Op::Get { key } => KvInput::Get { key },
        Op::Put { key, value } => KvInput::Put { key, value },
        Op::Append { key, value } => KvInput::Append { key, value },
        Op::Delete { key } => KvInput::Delete { key },
    }
}

/// One clerk as a labsim node.
pub struct ClerkNode<L: OpLink = ClerkLink<Kv>> {
    /// The clerk's number in the history.
    client: usize,
    link: L,
    history: Rc<RefCell<KvHistory>>,
    clock: HistoryClock,
    /// The operation in progress and its call stamp.
    current: Option<(Op, u64)>,
    workload: Option<Box<dyn Workload>>,
    /// The next operation, waiting for the workload's think time to pass.
    thinking: Option<(TimerId, Op)>,
    /// The result of the last operation completed.
    pub last_result: Option<String>,
    /// Operations completed.
    pub completed: u64,
    /// Why a server refused an operation for good, if one did (the client
    /// stopped there; the operation took no effect).
    pub refused: Option<String>,
}

/// Think timers are told apart by their id; the tag only has to be unique.
const TAG_THINK: u64 = u64::MAX;

impl ClerkNode {
    /// A clerk numbered `client` (its id in the service is `client_id`) of the
    /// servers at node ids `servers`, recording into `history` with stamps
    /// from `clock` (one clock for every clerk of the history).
    pub fn new(
        client: usize,
        client_id: u64,
        servers: Vec<NodeId>,
        history: Rc<RefCell<KvHistory>>,
        clock: HistoryClock,
    ) -> ClerkNode {
        ClerkNode::with_link(client, ClerkLink::new(client_id, servers), history, clock)
    }
}

impl<L: OpLink> ClerkNode<L> {
    /// A clerk numbered `client` that runs its operations through `link`,
    /// recording into `history` with stamps from `clock`.
    pub fn with_link(
        client: usize,
        link: L,
        history: Rc<RefCell<KvHistory>>,
        clock: HistoryClock,
    ) -> ClerkNode<L> {
        ClerkNode {
            client,
            link,
            history,
            clock,
            current: None,
            workload: None,
            thinking: None,
            last_result: None,
            completed: 0,
            refused: None,
        }
    }

    /// True while an operation is in progress.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// True when neither an operation nor a workload is running (a workload
    /// between operations is still running).
    pub fn idle(&self) -> bool {
        self.current.is_none() && self.workload.is_none()
    }

    /// The operation in progress and its call stamp, if any.
    pub fn in_progress(&self) -> Option<(&Op, u64)> {
        self.current.as_ref().map(|(op, at)| (op, *at))
    }

    /// The clerk's number in the history.
    pub fn client(&self) -> usize {
        self.client
    }

    /// Starts `op` (the clerk must be free).
    pub fn invoke(&mut self, ctx: &mut labrpc::Ctx<'_>, op: Op) {
        assert!(self.current.is_none(), "clerk {} is busy", self.client);
        self.current = Some((op.clone(), self.clock.stamp(ctx.now_ns())));
        self.link.begin(ctx, op);
    }

    /// Runs `workload` until it stops.
    pub fn run(&mut self, ctx: &mut labrpc::Ctx<'_>, mut workload: Box<dyn Workload>) {
        assert!(self.idle(), "clerk {} is busy", self.client);
        if let Some(op) = workload.next(ctx.rng(), None) {
            self.workload = Some(workload);
            self.invoke(ctx, op);
        }
    }

    fn settled(&mut self, ctx: &mut labrpc::Ctx<'_>, settled: Settled<Kv>) {
        match settled {
            Settled::Refused(why) => {
                self.current = None;
                self.workload = None;
                self.refused = Some(why);
            }
            Settled::Done(value) => {
                let (op, call_ns) = self.current.take().expect("an operation was running");
                let output = match op {
                    Op::Get { .. } => KvOutput::Value(value.clone()),
                    _ => KvOutput::Done,
                };
                self.history.borrow_mut().push(Operation {
                    client_id: self.client,
                    input: to_input(&op),
                    call_ns,
                    output,
                    return_ns: self.clock.stamp(ctx.now_ns()),
                });
                self.completed += 1;
                let next = match self.workload.as_mut() {
                    Some(w) => w.next(ctx.rng(), Some((&op, &value))),
                    None => None,
                };
                self.last_result = Some(value);
                let think_ns = match (next.is_some(), self.workload.as_mut()) {
                    (true, Some(w)) => w.think_ns(ctx.rng()),
                    _ => 0,
                };
                match next {
                    Some(op) if think_ns > 0 => {
                        let timer = ctx.set_timer(think_ns, TAG_THINK);
                        self.thinking = Some((timer, op));
                    }
                    Some(op) => self.invoke(ctx, op),
                    None => self.workload = None,
                }
            }
        }
    }

    /// The operation in progress as a history entry that never returned.
    pub fn pending_operation(&self) -> Option<Operation<KvInput, KvOutput>> {
        self.current.as_ref().map(|(op, call_ns)| Operation {
            client_id: self.client,
            input: to_input(op),
            call_ns: *call_ns,
            output: KvOutput::Unknown,
            return_ns: NEVER,
        })
    }
}

impl<L: OpLink> Node<labrpc::Net> for ClerkNode<L> {
    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: labrpc::Packet) {
        if let Some(settled) = self.link.on_message(ctx, from, packet) {
            self.settled(ctx, settled);
        }
    }

    fn on_timer(&mut self, ctx: &mut labrpc::Ctx<'_>, timer: TimerId, tag: u64) {
        if let Some((_, op)) = self.thinking.take_if(|(t, _)| *t == timer) {
            self.invoke(ctx, op);
            return;
        }
        if let Some(settled) = self.link.on_timer(ctx, timer, tag) {
            self.settled(ctx, settled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linearizability::{CheckOptions, KvModel, check};

    /// Client 0 puts `k=1`, and in the event that returns the Put calls a
    /// Get, which comes back empty: it missed its own write.
    fn get_misses_own_put(stamp: impl Fn(u64) -> u64) -> KvHistory {
        let put_call = stamp(1_000);
        let put_return = stamp(5_000);
        let get_call = stamp(5_000);
        let get_return = stamp(6_000);
        let op = |input, call_ns, output, return_ns| Operation {
            client_id: 0,
            input,
            call_ns,
            output,
            return_ns,
        };
        let (key, value) = ("k".to_string(), "1".to_string());
        vec![
            op(
                KvInput::Put {
                    key: key.clone(),
                    value,
                },
                put_call,
                KvOutput::Done,
                put_return,
            ),
            op(
                KvInput::Get { key },
                get_call,
                KvOutput::Value(String::new()),
                get_return,
            ),
        ]
    }

    #[test]
    fn a_get_that_misses_its_own_put_at_the_same_instant_is_caught() {
        let clock = HistoryClock::default();
        let stamped = get_misses_own_put(|ns| clock.stamp(ns));
        let verdict = check(&KvModel, &stamped, &CheckOptions::default());
        assert!(!verdict.is_linearizable(), "{verdict:?}");
        // Raw virtual times make the Put and the Get concurrent: the hole.
        let raw = get_misses_own_put(|ns| ns);
        assert!(check(&KvModel, &raw, &CheckOptions::default()).is_linearizable());
    }

    #[test]
    fn stamps_follow_the_order_of_events_and_read_as_virtual_time() {
        let clock = HistoryClock::default();
        let stamps: Vec<u64> = [7, 7, 7, 9].iter().map(|&ns| clock.stamp(ns)).collect();
        assert_eq!(stamps, vec![7_000, 7_001, 7_002, 9_000]);
        assert_eq!(stamps[3] / STAMPS_PER_NS, 9);
    }
}
