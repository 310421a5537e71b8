//! A sharded KV server as a simulated node: the generic Raft peer driver
//! ([`PeerNode`]) with a [`ShardStateMachine`] as its service, answering
//! clients and other groups, and making the calls the server asks for (to
//! the controller, to other groups' servers, found by name).

use super::clerk::Directory;
use crate::raft_suite::node::{AppliedDigest, ApplyEnv, PeerNode, Service};
use crate::replicated::server::{Command, apply_digested, snapshot_digested};
use labrpc::{CallId, DuplicateMethod, Method, ReplyToken, Router, call, reply};
use labsim::{MS, NodeId};
use peer::{
    Answer, ApplyMsg, CallArgs, CallReply, CallTo, Ctrl, GroupArgs, GroupReply, Peer, RequestId,
    SHARDKV_GROUP, ShardKv, ShardKvArgs, ShardStateMachine,
};
use std::collections::BTreeMap;

/// The group-to-group RPC.
pub struct GroupCommand;
impl Method for GroupCommand {
    const NAME: &'static str = SHARDKV_GROUP;
    type Args = GroupArgs;
    type Reply = GroupReply;
}

/// A sharded KV server and its peer, as a labsim node.
pub type ShardKvNode = PeerNode<ShardKvService>;

/// Where a group server's calls go.
#[derive(Clone)]
pub struct Reach {
    /// The controller's servers.
    pub ctrlers: Vec<NodeId>,
    /// Every group server, by name.
    pub directory: Directory,
}

/// A [`ShardStateMachine`] as the service of a [`PeerNode`].
pub struct ShardKvService {
    server: Box<dyn ShardStateMachine>,
    reach: Reach,
    /// Requests waiting for their answers: the token, and whether a client's
    /// (an answer of the other kind, or to no request, stops the node).
    tokens: BTreeMap<RequestId, (ReplyToken, bool)>,
    /// Why the server broke the contract, if it did (the run stops with it).
    broken: Option<String>,
    next_request: RequestId,
    /// Calls in flight: the server's number for each, and whether to the controller.
    calls: BTreeMap<CallId, (u64, bool)>,
    /// Calls that could not be made (a name nobody has): failed, told next time.
    failed: Vec<u64>,
    oracle: AppliedDigest,
    /// The server's status last written to the trace.
    traced: Option<peer::ShardStatus>,
}

impl ShardKvService {
    /// A service around `server`, whose calls go where `reach` says.
    pub fn new(server: Box<dyn ShardStateMachine>, reach: Reach) -> ShardKvService {
        ShardKvService {
            server,
            reach,
            tokens: BTreeMap::new(),
            next_request: 0,
            calls: BTreeMap::new(),
            failed: Vec::new(),
            oracle: AppliedDigest::default(),
            traced: None,
            broken: None,
        }
    }

    fn break_contract(&mut self, what: String) {
        self.broken
            .get_or_insert(format!("sharded KV server {what}"));
    }

    /// Writes the shards this replica serves to the trace when they change
    /// (the picture shows them on its lane).
    fn trace_status(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        if !ctx.is_streaming() {
            return;
        }
        let status = self.server.status();
        if status == self.traced {
            return;
        }
        if let Some(s) = &status {
            let list = |v: &[usize]| {
                v.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let (serving, pulling) = (list(&s.serving), list(&s.pulling));
            let num = s.config_num;
            ctx.annotate("shards", || match pulling.is_empty() {
                true => format!("config {num}: serves [{serving}]"),
                false => format!("config {num}: serves [{serving}], waiting for [{pulling}]"),
            });
        }
        self.traced = status;
    }

    /// Sends the answers ready and makes the calls asked for.
    fn flush(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        self.trace_status(ctx);
        for (id, answer) in self.server.take_answers() {
            let token = self.tokens.remove(&id);
            match (token, answer) {
                (Some((token, true)), Answer::Client(r)) => {
                    reply::<Command<ShardKv>>(ctx, token, &r)
                }
                (Some((token, false)), Answer::Group(r)) => reply::<GroupCommand>(ctx, token, &r),
                (Some(_), a) => self.break_contract(format!(
                    "answered request {id} with {a:?}, an answer of the other kind"
                )),
                (None, a) => self.break_contract(format!(
                    "answered request {id}, which waits for no answer: {a:?}"
                )),
            }
        }
        for c in self.server.take_calls() {
            let made = match (&c.to, c.args) {
                (CallTo::Ctrler(i), CallArgs::Ctrl(args)) => self
                    .reach
                    .ctrlers
                    .get(*i)
                    .and_then(|&to| call::<Command<Ctrl>>(ctx, to, &args).ok())
                    .map(|id| (id, true)),
                (CallTo::Server(name), CallArgs::Group(args)) => self
                    .reach
                    .directory
                    .get(name)
                    .and_then(|&to| call::<GroupCommand>(ctx, to, &args).ok())
                    .map(|id| (id, false)),
                _ => None,
            };
            match made {
                Some((id, to_ctrler)) => {
                    self.calls.insert(id, (c.call_no, to_ctrler));
                }
                // A call to nowhere (an unknown name) fails at once.
                None => self.failed.push(c.call_no),
            }
        }
    }
}

/// A client's or another group's request: to the server, then its answer
/// (now or when its entry applies).
fn request(
    node: &mut ShardKvNode,
    ctx: &mut labrpc::Ctx<'_>,
    token: ReplyToken,
    args: Result<ShardKvArgs, GroupArgs>,
) {
    let client = args.is_ok();
    node.serve_request(ctx, token, |svc, peer, ctx, token| {
        let now_ms = ctx.now_ns() / MS;
        let id = svc.next_request;
        svc.next_request += 1;
        svc.tokens.insert(id, (token, client));
        match args {
            Ok(args) => svc.server.request(peer, now_ms, id, args),
            Err(args) => svc.server.group_request(peer, now_ms, id, args),
        }
        svc.flush(ctx);
    });
}

impl Service for ShardKvService {
    fn routes(router: Router<ShardKvNode>) -> Result<Router<ShardKvNode>, DuplicateMethod> {
        router
            .route::<Command<ShardKv>>(|node: &mut ShardKvNode, ctx, _from, args, token| {
                request(node, ctx, token, Ok(args))
            })?
            .route::<GroupCommand>(|node: &mut ShardKvNode, ctx, _from, args, token| {
                request(node, ctx, token, Err(args))
            })
    }

    fn apply(&mut self, env: &mut ApplyEnv<'_, '_>, apply: ApplyMsg) -> Result<(), String> {
        apply_digested(&mut self.oracle, env, apply, |msg| self.server.apply(msg))
    }

    fn after_applies(&mut self, env: &mut ApplyEnv<'_, '_>) -> Result<(), String> {
        let server = &mut self.server;
        let what = peer::SHARDKV_COMMAND;
        snapshot_digested(&self.oracle, env, what, |size, at| {
            server.maybe_snapshot(size, at)
        })?;
        self.flush(env.ctx);
        Ok(())
    }

    fn after_inputs(&mut self, ctx: &mut labrpc::Ctx<'_>, peer: &mut dyn Peer) {
        let now_ms = ctx.now_ns() / MS;
        for call_no in std::mem::take(&mut self.failed) {
            self.server.call_reply(peer, now_ms, call_no, None);
        }
        self.server.poll(peer, now_ms);
        self.flush(ctx);
    }

    fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    fn awaits(&self, call: CallId) -> bool {
        self.calls.contains_key(&call)
    }

    fn completion(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        peer: &mut dyn Peer,
        completion: labrpc::Completion,
    ) {
        let Some((call_no, to_ctrler)) = self.calls.remove(&completion.call) else {
            return;
        };
        let reply = match to_ctrler {
            true => completion
                .decode::<Command<Ctrl>>()
                .ok()
                .map(CallReply::Ctrl),
            false => completion
                .decode::<GroupCommand>()
                .ok()
                .map(CallReply::Group),
        };
        self.server
            .call_reply(peer, ctx.now_ns() / MS, call_no, reply);
        self.flush(ctx);
    }
}
