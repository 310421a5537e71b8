//! The sharded KV clerk's link, inside a client node: [`ShardClerk`]'s calls
//! made over labrpc, to the controller's servers or to a group's server found
//! by its name, with backoff delays and call timeouts. The KV suite's
//! [`crate::kv_suite::clerk::ClerkNode`] runs it, recording the history.

use crate::replicated::clerk::{OpLink, Settled, refuse};
use crate::replicated::server::Command;
use labrpc::{CallId, Incoming, call, incoming};
use labsim::{MS, NodeId, TimerId};
use peer::{Ctrl, Kv, Op, ShardCall, ShardClerk, ShardKv, ShardProgress};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Every server's name and node id (6.824's `make_end`).
pub type Directory = Rc<BTreeMap<String, NodeId>>;

/// A call in flight: its clerk's number, and whether it went to the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InFlight {
    call_no: u64,
    to_ctrler: bool,
}

/// Timer tags: a delayed call waits under this tag, timeouts under the other.
const TAG_SEND: u64 = 1;
const TAG_TIMEOUT: u64 = 2;
/// A call without an answer this long is a failed one.
const CALL_TIMEOUT_MS: u64 = 2000;

/// One sharded clerk and its calls in flight.
pub struct ShardLink {
    clerk: ShardClerk,
    ctrlers: Vec<NodeId>,
    directory: Directory,
    calls: BTreeMap<CallId, InFlight>,
    delayed: Option<(TimerId, ShardCall)>,
    timeout: Option<(TimerId, InFlight)>,
}

impl ShardLink {
    /// A clerk (its id in the service is `client_id`) of the controller at
    /// node ids `ctrlers`, finding group servers in `directory`.
    pub fn new(client_id: u64, ctrlers: Vec<NodeId>, directory: Directory) -> ShardLink {
        ShardLink {
            clerk: ShardClerk::new(client_id, ctrlers.len()),
            ctrlers,
            directory,
            calls: BTreeMap::new(),
            delayed: None,
            timeout: None,
        }
    }

    fn attempt(&mut self, ctx: &mut labrpc::Ctx<'_>, c: ShardCall) {
        if let Some((t, _)) = self.timeout.take() {
            ctx.cancel_timer(t);
        }
        self.calls.clear();
        let delay_ms = match &c {
            ShardCall::Ctrl(call) => call.delay_ms,
            ShardCall::Group { .. } => 0,
        };
        if delay_ms > 0 {
            let timer = ctx.set_timer(delay_ms * MS, TAG_SEND);
            self.delayed = Some((timer, c));
            return;
        }
        self.send(ctx, c);
    }

    fn send(&mut self, ctx: &mut labrpc::Ctx<'_>, c: ShardCall) {
        let (id, in_flight) = match c {
            ShardCall::Ctrl(c) => {
                let to = self.ctrlers[c.server];
                let id = call::<Command<Ctrl>>(ctx, to, &c.args).expect("servers exist");
                let in_flight = InFlight {
                    call_no: c.call_no,
                    to_ctrler: true,
                };
                (id, in_flight)
            }
            ShardCall::Group {
                call_no,
                server,
                args,
            } => {
                let to = *self
                    .directory
                    .get(&server)
                    .expect("every group server is named");
                let id = call::<Command<ShardKv>>(ctx, to, &args).expect("servers exist");
                (
                    id,
                    InFlight {
                        call_no,
                        to_ctrler: false,
                    },
                )
            }
        };
        self.calls.insert(id, in_flight);
        let timer = ctx.set_timer(CALL_TIMEOUT_MS * MS, TAG_TIMEOUT);
        self.timeout = Some((timer, in_flight));
    }

    fn progress(&mut self, ctx: &mut labrpc::Ctx<'_>, p: ShardProgress) -> Option<Settled<Kv>> {
        match p {
            ShardProgress::Stale => None,
            ShardProgress::Retry(c) => {
                self.attempt(ctx, c);
                None
            }
            ShardProgress::Done(value) => {
                if let Some((t, _)) = self.timeout.take() {
                    ctx.cancel_timer(t);
                }
                self.calls.clear();
                Some(Settled::Done(value))
            }
        }
    }

    fn failed(&mut self, ctx: &mut labrpc::Ctx<'_>, f: InFlight) -> Option<Settled<Kv>> {
        let p = match f.to_ctrler {
            true => self.clerk.on_ctrl_reply(f.call_no, None),
            false => self.clerk.on_group_reply(f.call_no, None),
        };
        self.progress(ctx, p)
    }
}

impl OpLink for ShardLink {
    fn begin(&mut self, ctx: &mut labrpc::Ctx<'_>, op: Op) {
        let first = self.clerk.begin(op);
        self.attempt(ctx, first);
    }

    fn on_message(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        from: NodeId,
        packet: labrpc::Packet,
    ) -> Option<Settled<Kv>> {
        match incoming(ctx, from, packet) {
            Incoming::Request(r) => refuse(ctx, r),
            Incoming::Completion(c) => {
                let f = self.calls.remove(&c.call)?;
                let p = match f.to_ctrler {
                    true => self
                        .clerk
                        .on_ctrl_reply(f.call_no, c.decode::<Command<Ctrl>>().ok()),
                    false => {
                        let reply = c.decode::<Command<ShardKv>>().ok();
                        self.clerk.on_group_reply(f.call_no, reply)
                    }
                };
                self.progress(ctx, p)
            }
        }
    }

    fn on_timer(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        timer: TimerId,
        _tag: u64,
    ) -> Option<Settled<Kv>> {
        if let Some((_, c)) = self.delayed.take_if(|(t, _)| *t == timer) {
            self.send(ctx, c);
            return None;
        }
        let (_, f) = self.timeout.take_if(|(t, _)| *t == timer)?;
        self.calls.clear();
        self.failed(ctx, f)
    }
}
