//! A KV client as a simulated node: the `kvraft` clerk driven by labrpc calls
//! and timers, recording every operation it completes (call and return times,
//! input and output) in the run's history. It runs one operation at a time,
//! given by the test or by a [`Workload`] (6.824's client goroutines, in
//! virtual time).

use super::server::KvCommand;
use labrpc::{CallId, Incoming, call, incoming};
use labsim::{MS, Node, NodeId, SimRng, TimerId};
use linearizability::{KvInput, KvOutput, NEVER, Operation};
use peer::{Call, Clerk, ClerkConfig, KvReply, Op, Progress};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A history of client operations, as the linearizability checker takes it.
pub type KvHistory = Vec<Operation<KvInput, KvOutput>>;

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
pub struct ClerkNode {
    /// The clerk's number in the history.
    client: usize,
    clerk: Clerk,
    /// Node id of each server (`servers[i]` is server `i`).
    servers: Vec<NodeId>,
    history: Rc<RefCell<KvHistory>>,
    /// The operation in progress and its call time.
    current: Option<(Op, u64)>,
    /// labrpc calls of the current attempt.
    calls: BTreeMap<CallId, u64>,
    /// An attempt waiting for its backoff delay.
    delayed: Option<Call>,
    timeout: Option<TimerId>,
    workload: Option<Box<dyn Workload>>,
    /// The next operation, waiting for the workload's think time to pass.
    thinking: Option<(TimerId, Op)>,
    /// The result of the last operation completed.
    pub last_result: Option<String>,
    /// Operations completed.
    pub completed: u64,
}

const TAG_TIMEOUT: u64 = 0;
const TAG_SEND: u64 = 1;
/// Think timers are told apart by their id; the tag only has to be unique.
const TAG_THINK: u64 = u64::MAX;

impl ClerkNode {
    /// A clerk numbered `client` (its id in the service is `client_id`) of the
    /// servers at node ids `servers`, recording into `history`.
    pub fn new(
        client: usize,
        client_id: u64,
        servers: Vec<NodeId>,
        history: Rc<RefCell<KvHistory>>,
    ) -> ClerkNode {
        ClerkNode {
            client,
            clerk: Clerk::new(client_id, ClerkConfig::new(servers.len())),
            servers,
            history,
            current: None,
            calls: BTreeMap::new(),
            delayed: None,
            timeout: None,
            workload: None,
            thinking: None,
            last_result: None,
            completed: 0,
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

    /// The operation in progress and its call time, if any.
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
        self.current = Some((op.clone(), ctx.now_ns()));
        let first = self.clerk.begin(op);
        self.attempt(ctx, first);
    }

    /// Runs `workload` until it stops.
    pub fn run(&mut self, ctx: &mut labrpc::Ctx<'_>, mut workload: Box<dyn Workload>) {
        assert!(self.idle(), "clerk {} is busy", self.client);
        if let Some(op) = workload.next(ctx.rng(), None) {
            self.workload = Some(workload);
            self.invoke(ctx, op);
        }
    }

    fn attempt(&mut self, ctx: &mut labrpc::Ctx<'_>, c: Call) {
        if let Some(t) = self.timeout.take() {
            ctx.cancel_timer(t);
        }
        self.calls.clear();
        if c.delay_ms > 0 {
            let (no, delay_ns) = (c.call_no, c.delay_ms * MS);
            self.delayed = Some(c);
            ctx.set_timer(delay_ns, (no << 1) | TAG_SEND);
            return;
        }
        self.send(ctx, c);
    }

    fn send(&mut self, ctx: &mut labrpc::Ctx<'_>, c: Call) {
        let server = self.servers[c.server];
        let id = call::<KvCommand>(ctx, server, &c.args).expect("servers exist");
        self.calls.insert(id, c.call_no);
        let timeout_ns = self.clerk.config().call_timeout_ms * MS;
        self.timeout = Some(ctx.set_timer(timeout_ns, (c.call_no << 1) | TAG_TIMEOUT));
    }

    fn outcome(&mut self, ctx: &mut labrpc::Ctx<'_>, call_no: u64, reply: Option<KvReply>) {
        match self.clerk.on_reply(call_no, reply) {
            Progress::Stale => {}
            Progress::Retry(c) => self.attempt(ctx, c),
            Progress::Done(value) => {
                if let Some(t) = self.timeout.take() {
                    ctx.cancel_timer(t);
                }
                self.calls.clear();
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
                    return_ns: ctx.now_ns(),
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

impl Node<labrpc::Net> for ClerkNode {
    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: labrpc::Packet) {
        match incoming(ctx, from, packet) {
            Incoming::Request(r) => {
                labrpc::respond(
                    ctx,
                    r.token,
                    Err(labrpc::RpcError::UnknownMethod(r.method.to_owned())),
                );
            }
            Incoming::Completion(c) => {
                let Some(call_no) = self.calls.remove(&c.call) else {
                    return;
                };
                let reply = c.decode::<KvCommand>().ok();
                self.outcome(ctx, call_no, reply);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut labrpc::Ctx<'_>, timer: TimerId, tag: u64) {
        if let Some((_, op)) = self.thinking.take_if(|(t, _)| *t == timer) {
            self.invoke(ctx, op);
            return;
        }
        let call_no = tag >> 1;
        if tag & 1 == TAG_SEND {
            if let Some(c) = self.delayed.take_if(|c| c.call_no == call_no) {
                self.send(ctx, c);
            }
        } else if self.timeout == Some(timer) {
            self.timeout = None;
            self.calls.clear();
            self.outcome(ctx, call_no, None);
        }
    }
}
