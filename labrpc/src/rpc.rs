//! Typed calls on top of packets: methods, the client side (call, decode a
//! completion) and the server side (a router of handlers, deferred replies).

use crate::net::Net;
use crate::packet::{CallId, Packet, RpcError};
use labsim::{Ctx, NodeId};
use serde::{Serialize, de::DeserializeOwned};
use std::fmt;
use std::rc::Rc;

/// A remote method: its name and its argument and reply types.
pub trait Method: 'static {
    /// The name on the wire, e.g. `"Raft.AppendEntries"`.
    const NAME: &'static str;
    /// Arguments.
    type Args: Serialize + DeserializeOwned;
    /// Reply.
    type Reply: Serialize + DeserializeOwned;
}

/// Encodes a value as bincode bytes.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Most messages fit in 64 bytes; starting there saves the 8, 16, 32
    // reallocations of growing from empty (a few percent of a simulation).
    let mut bytes = Vec::with_capacity(64);
    bincode::serde::encode_into_std_write(value, &mut bytes, bincode::config::standard())
        .expect("bincode cannot fail on in-memory values");
    bytes
}

/// Decodes bincode bytes, rejecting trailing garbage.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RpcError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| RpcError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(RpcError::Decode(format!(
            "{} trailing bytes",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Calls `M` on `server` with `args`. The call ends later, exactly once,
/// with a [`Completion`] delivered to this node.
pub fn call<M: Method>(
    ctx: &mut Ctx<'_, Net>,
    server: NodeId,
    args: &M::Args,
) -> Result<CallId, RpcError> {
    if server >= ctx.node_count() {
        return Err(RpcError::UnknownServer(server));
    }
    let call = ctx.unique_id();
    ctx.send(
        server,
        Packet::Request {
            call,
            method: M::NAME,
            args: encode(args),
        },
    );
    Ok(call)
}

/// 6.824's client end: the way from one node to one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientEnd {
    /// The server it reaches.
    pub server: NodeId,
}

impl ClientEnd {
    /// Calls `M` through this end.
    pub fn call<M: Method>(
        &self,
        ctx: &mut Ctx<'_, Net>,
        args: &M::Args,
    ) -> Result<CallId, RpcError> {
        call::<M>(ctx, self.server, args)
    }
}

/// A request that arrived, with what it takes to answer it.
#[derive(Debug)]
pub struct Request {
    /// Who called.
    pub from: NodeId,
    /// The method's name.
    pub method: &'static str,
    /// Encoded arguments.
    pub args: Vec<u8>,
    /// Answer with this, now or later.
    pub token: ReplyToken,
}

/// The right to answer one request, once. Keep it to answer later (a KV
/// server waiting for Raft to commit); drop it and the caller's call fails
/// when the server crashes or is cut off.
#[derive(Debug)]
pub struct ReplyToken {
    caller: NodeId,
    call: CallId,
    server_incarnation: u64,
}

impl ReplyToken {
    /// The caller.
    pub fn caller(&self) -> NodeId {
        self.caller
    }
}

/// Answers a request with `M`'s reply.
pub fn reply<M: Method>(ctx: &mut Ctx<'_, Net>, token: ReplyToken, value: &M::Reply) {
    respond(ctx, token, Ok(encode(value)));
}

/// Answers a request with raw bytes, or a failure.
pub fn respond(ctx: &mut Ctx<'_, Net>, token: ReplyToken, outcome: Result<Vec<u8>, RpcError>) {
    let packet = Packet::Reply {
        call: token.call,
        server_incarnation: token.server_incarnation,
        outcome,
    };
    ctx.send(token.caller, packet);
}

/// How a call ended, as its caller sees it.
#[derive(Debug)]
pub struct Completion {
    /// The call.
    pub call: CallId,
    /// The server called.
    pub server: NodeId,
    /// The encoded reply, or why there is none.
    pub outcome: Result<Vec<u8>, RpcError>,
}

impl Completion {
    /// Decodes the reply as `M`'s.
    pub fn decode<M: Method>(&self) -> Result<M::Reply, RpcError> {
        match &self.outcome {
            Ok(bytes) => decode::<M::Reply>(bytes),
            Err(e) => Err(e.clone()),
        }
    }
}

/// What a packet delivered to a node means to it.
#[derive(Debug)]
pub enum Incoming {
    /// Someone calls this node.
    Request(Request),
    /// A call this node made has ended.
    Completion(Completion),
}

/// Sorts a delivered packet into a request or a completion. `ctx` gives the
/// node's incarnation, which every reply token carries.
pub fn incoming(ctx: &Ctx<'_, Net>, from: NodeId, packet: Packet) -> Incoming {
    match packet {
        Packet::Request { call, method, args } => Incoming::Request(Request {
            from,
            method,
            args,
            token: ReplyToken {
                caller: from,
                call,
                server_incarnation: ctx.incarnation(),
            },
        }),
        Packet::Reply { call, outcome, .. } => Incoming::Completion(Completion {
            call,
            server: from,
            outcome,
        }),
    }
}

type Handler<S> = Box<
    dyn Fn(
        &mut S,
        &mut Ctx<'_, Net>,
        NodeId,
        &[u8],
        ReplyToken,
    ) -> Result<(), (RpcError, ReplyToken)>,
>;

/// Registration of a method twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateMethod(pub &'static str);

impl fmt::Display for DuplicateMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "method `{}` is registered twice", self.0)
    }
}

impl std::error::Error for DuplicateMethod {}

/// A server's methods: typed handlers over the server's state `S`.
pub struct Router<S> {
    routes: Vec<(&'static str, Handler<S>)>,
}

impl<S: 'static> Default for Router<S> {
    fn default() -> Self {
        Router { routes: Vec::new() }
    }
}

impl<S: 'static> Router<S> {
    /// An empty router.
    pub fn new() -> Router<S> {
        Router::default()
    }

    /// Registers `handler` for `M`. It gets the decoded arguments and the
    /// token to answer with (via [`reply`]), now or later.
    pub fn route<M: Method>(
        mut self,
        handler: impl Fn(&mut S, &mut Ctx<'_, Net>, NodeId, M::Args, ReplyToken) + 'static,
    ) -> Result<Router<S>, DuplicateMethod> {
        if self.routes.iter().any(|(name, _)| *name == M::NAME) {
            return Err(DuplicateMethod(M::NAME));
        }
        let h: Handler<S> =
            Box::new(
                move |state, ctx, from, bytes, token| match decode::<M::Args>(bytes) {
                    Ok(args) => {
                        handler(state, ctx, from, args, token);
                        Ok(())
                    }
                    Err(e) => Err((e, token)),
                },
            );
        self.routes.push((M::NAME, h));
        self.routes.sort_by_key(|(name, _)| *name);
        Ok(self)
    }

    /// True if `method` has a handler here.
    pub fn handles(&self, method: &str) -> bool {
        self.routes
            .binary_search_by_key(&method, |(name, _)| *name)
            .is_ok()
    }

    /// Freezes the router so a node can keep it and hand it to `dispatch`.
    pub fn build(self) -> Rc<Router<S>> {
        Rc::new(self)
    }

    /// What a server node does with a delivered packet: a request runs its
    /// handler; a completion of the node's own call is handed back. `router` is
    /// the node's own (cloned out of it, so the handler can borrow the node).
    pub fn serve(
        router: Rc<Router<S>>,
        state: &mut S,
        ctx: &mut Ctx<'_, Net>,
        from: NodeId,
        packet: Packet,
    ) -> Option<Completion> {
        match incoming(ctx, from, packet) {
            Incoming::Request(r) => {
                router.dispatch(state, ctx, r);
                None
            }
            Incoming::Completion(c) => Some(c),
        }
    }

    /// Runs the handler for `request`; a request for an unknown method or
    /// with undecodable arguments fails at the caller.
    pub fn dispatch(&self, state: &mut S, ctx: &mut Ctx<'_, Net>, request: Request) {
        match self
            .routes
            .binary_search_by_key(&request.method, |(name, _)| *name)
        {
            Ok(i) => {
                if let Err((e, token)) =
                    (self.routes[i].1)(state, ctx, request.from, &request.args, request.token)
                {
                    respond(ctx, token, Err(e));
                }
            }
            Err(_) => respond(
                ctx,
                request.token,
                Err(RpcError::UnknownMethod(request.method.to_owned())),
            ),
        }
    }
}
