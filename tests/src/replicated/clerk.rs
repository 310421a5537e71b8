//! A clerk's link to a replicated service, inside a simulated client node: the
//! protocol's [`Clerk`] driven by labrpc calls and timers (send, back off,
//! time out, retry) until its operation settles. The node on top decides what
//! to run and what to record.

use super::server::Command;
use labrpc::{CallId, Incoming, call, incoming};
use labsim::{MS, NodeId, TimerId};
use peer::{Call, Clerk, ClerkConfig, Kv, Op, Progress, Protocol, Reply};
use std::collections::BTreeMap;

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled<P: Protocol> {
    /// It took effect and returned this.
    Done(P::Value),
    /// A server refused it for good (it took no effect), for this reason.
    Refused(String),
}

/// Timer tags of the link: the call number, shifted, and one of these. A node
/// with timers of its own tells them apart by their ids first.
const TAG_TIMEOUT: u64 = 0;
const TAG_SEND: u64 = 1;

/// One clerk of protocol `P` and its calls in flight.
pub struct ClerkLink<P: Protocol> {
    clerk: Clerk<P>,
    /// Node id of each server (`servers[i]` is server `i`).
    servers: Vec<NodeId>,
    /// labrpc calls of the current attempt.
    calls: BTreeMap<CallId, u64>,
    /// An attempt waiting for its backoff delay.
    delayed: Option<Call<P>>,
    timeout: Option<TimerId>,
}

impl<P: Protocol> ClerkLink<P> {
    /// A clerk (its id in the service is `client_id`) of the servers at node
    /// ids `servers`.
    pub fn new(client_id: u64, servers: Vec<NodeId>) -> ClerkLink<P> {
        ClerkLink {
            clerk: Clerk::new(client_id, ClerkConfig::new(servers.len())),
            servers,
            calls: BTreeMap::new(),
            delayed: None,
            timeout: None,
        }
    }

    /// Starts `op`; it settles in a later [`ClerkLink::on_message`] or
    /// [`ClerkLink::on_timer`]. The clerk must be free.
    pub fn begin(&mut self, ctx: &mut labrpc::Ctx<'_>, op: P::Op) {
        let first = self.clerk.begin(op);
        self.attempt(ctx, first);
    }

    fn attempt(&mut self, ctx: &mut labrpc::Ctx<'_>, c: Call<P>) {
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

    fn send(&mut self, ctx: &mut labrpc::Ctx<'_>, c: Call<P>) {
        let server = self.servers[c.server];
        let id = call::<Command<P>>(ctx, server, &c.args).expect("servers exist");
        self.calls.insert(id, c.call_no);
        let timeout_ns = self.clerk.config().call_timeout_ms * MS;
        self.timeout = Some(ctx.set_timer(timeout_ns, (c.call_no << 1) | TAG_TIMEOUT));
    }

    fn outcome(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        call_no: u64,
        reply: Option<Reply<P::Value>>,
    ) -> Option<Settled<P>> {
        let settled = match self.clerk.on_reply(call_no, reply) {
            Progress::Stale => return None,
            Progress::Retry(c) => {
                self.attempt(ctx, c);
                return None;
            }
            Progress::Refused(why) => Settled::Refused(why),
            Progress::Done(value) => Settled::Done(value),
        };
        if let Some(t) = self.timeout.take() {
            ctx.cancel_timer(t);
        }
        self.calls.clear();
        Some(settled)
    }

    /// A packet for the client node: a reply settles the operation or retries it.
    pub fn on_message(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        from: NodeId,
        packet: labrpc::Packet,
    ) -> Option<Settled<P>> {
        match incoming(ctx, from, packet) {
            Incoming::Request(r) => refuse(ctx, r),
            Incoming::Completion(c) => {
                let call_no = self.calls.remove(&c.call)?;
                let reply = c.decode::<Command<P>>().ok();
                self.outcome(ctx, call_no, reply)
            }
        }
    }

    /// One of the link's timers: a backoff over, or a call timed out.
    pub fn on_timer(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        timer: TimerId,
        tag: u64,
    ) -> Option<Settled<P>> {
        let call_no = tag >> 1;
        if tag & 1 == TAG_SEND {
            if let Some(c) = self.delayed.take_if(|c| c.call_no == call_no) {
                self.send(ctx, c);
            }
            None
        } else if self.timeout == Some(timer) {
            self.timeout = None;
            self.calls.clear();
            self.outcome(ctx, call_no, None)
        } else {
            None
        }
    }
}

/// A client node serves no method: a request to it is refused.
pub(crate) fn refuse<T>(ctx: &mut labrpc::Ctx<'_>, r: labrpc::Request) -> Option<T> {
    let error = labrpc::RpcError::UnknownMethod(r.method.to_owned());
    labrpc::respond(ctx, r.token, Err(error));
    None
}

/// How a client node runs its KV operations, one at a time: a clerk and the
/// calls it makes, to one group ([`ClerkLink`]) or to the group of each key's
/// shard (the sharded clerk's link).
pub trait OpLink: 'static {
    /// Starts `op`; it settles in a later `on_message` or `on_timer`.
    fn begin(&mut self, ctx: &mut labrpc::Ctx<'_>, op: Op);
    /// A packet for the client node.
    fn on_message(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        from: NodeId,
        packet: labrpc::Packet,
    ) -> Option<Settled<Kv>>;
    /// One of the link's timers.
    fn on_timer(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        timer: TimerId,
        tag: u64,
    ) -> Option<Settled<Kv>>;
}

impl OpLink for ClerkLink<Kv> {
    fn begin(&mut self, ctx: &mut labrpc::Ctx<'_>, op: Op) {
        ClerkLink::begin(self, ctx, op)
    }
    fn on_message(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        from: NodeId,
        packet: labrpc::Packet,
    ) -> Option<Settled<Kv>> {
        ClerkLink::on_message(self, ctx, from, packet)
    }
    fn on_timer(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        timer: TimerId,
        tag: u64,
    ) -> Option<Settled<Kv>> {
        ClerkLink::on_timer(self, ctx, timer, tag)
    }
}
