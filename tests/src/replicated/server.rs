//! A replicated service's server as a simulated node: the generic Raft peer
//! driver ([`PeerNode`]) with a [`StateMachine`] of protocol `P` as its
//! [`Service`].

use crate::raft_suite::node::{AppliedDigest, ApplyEnv, PeerNode, Service};
use labrpc::{DuplicateMethod, Method, ReplyToken, Router, RpcError, reply, respond};
use labsim::MS;
use peer::{ApplyMsg, Peer, Protocol, Reply, Request, RequestId, StateMachine};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// The clerk-to-server RPC of protocol `P`: one operation.
pub struct Command<P>(PhantomData<P>);
impl<P: Protocol> Method for Command<P> {
    const NAME: &'static str = P::METHOD;
    type Args = Request<P::Op>;
    type Reply = Reply<P::Value>;
}

/// A server of protocol `P` next to its peer, as a labsim node.
pub type ServiceNode<P> = PeerNode<ReplicatedService<P>>;

/// A server of protocol `P` as the service of a [`PeerNode`]. Its snapshots
/// wrap the server's own with the oracle's digest of the commands they cover,
/// so the Raft oracle keeps checking state-machine safety across snapshots.
pub struct ReplicatedService<P: Protocol> {
    server: Box<dyn StateMachine<P>>,
    tokens: BTreeMap<RequestId, ReplyToken>,
    next_request: RequestId,
    /// Commands applied, and their digest chain (for the oracle).
    oracle: AppliedDigest,
}

impl<P: Protocol> ReplicatedService<P> {
    /// A service around `server`.
    pub fn new(server: Box<dyn StateMachine<P>>) -> ReplicatedService<P> {
        ReplicatedService {
            server,
            tokens: BTreeMap::new(),
            next_request: 0,
            oracle: AppliedDigest::default(),
        }
    }

    fn flush(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        for (id, r) in self.server.take_replies() {
            if let Some(token) = self.tokens.remove(&id) {
                reply::<Command<P>>(ctx, token, &r);
            }
        }
    }
}

fn request<P: Protocol>(
    node: &mut ServiceNode<P>,
    ctx: &mut labrpc::Ctx<'_>,
    args: Request<P::Op>,
    token: ReplyToken,
) {
    if node.peer().is_none() {
        respond(ctx, token, Err(RpcError::ServerCrashed));
        return;
    }
    let now_ms = ctx.now_ns() / MS;
    node.with_service_and_peer(ctx, |svc, peer, ctx| {
        let id = svc.next_request;
        svc.next_request += 1;
        svc.tokens.insert(id, token);
        svc.server.request(peer, now_ms, id, args);
        svc.flush(ctx);
    });
}

/// The server's snapshot, then the oracle's digest (8 bytes, little-endian).
fn wrap(mut kv: Vec<u8>, digest: u64) -> Vec<u8> {
    kv.extend_from_slice(&digest.to_le_bytes());
    kv
}

fn unwrap(mut data: Vec<u8>) -> Result<(Vec<u8>, u64), String> {
    let Some(at) = data.len().checked_sub(8) else {
        return Err(format!("{} bytes is too short", data.len()));
    };
    let digest = u64::from_le_bytes(data[at..].try_into().expect("8 bytes"));
    data.truncate(at);
    Ok((data, digest))
}

impl<P: Protocol> Service for ReplicatedService<P> {
    fn routes(router: Router<ServiceNode<P>>) -> Result<Router<ServiceNode<P>>, DuplicateMethod> {
        router.route::<Command<P>>(|node: &mut ServiceNode<P>, ctx, _from, args, token| {
            request(node, ctx, args, token)
        })
    }

    fn apply(&mut self, env: &mut ApplyEnv<'_, '_>, apply: ApplyMsg) -> Result<(), String> {
        match apply {
            ApplyMsg::Command {
                index,
                term,
                command,
            } => {
                self.oracle.command(index, &command);
                self.server.apply(ApplyMsg::Command {
                    index,
                    term,
                    command,
                })
            }
            ApplyMsg::Snapshot { index, term, data } => {
                let (kv, digest) =
                    unwrap(data).map_err(|e| format!("undecodable snapshot at {index}: {e}"))?;
                self.oracle.snapshot(env, index, digest);
                self.server.apply(ApplyMsg::Snapshot {
                    index,
                    term,
                    data: kv,
                })
            }
        }
    }

    fn after_applies(&mut self, env: &mut ApplyEnv<'_, '_>) -> Result<(), String> {
        let size = env.raft_state_bytes();
        let snapshot_index = env.peer.status().snapshot_index;
        if let Some((index, kv)) = self.server.maybe_snapshot(size, snapshot_index) {
            if index != self.oracle.applied {
                return Err(format!(
                    "{} server applied {index} but the driver {}",
                    P::METHOD,
                    self.oracle.applied
                ));
            }
            env.peer
                .snapshot(index, wrap(kv, self.oracle.digest))
                .map_err(|e| format!("snapshot at {index}: {e}"))?;
        }
        self.flush(env.ctx);
        Ok(())
    }

    fn read_states(&mut self, ctx: &mut labrpc::Ctx<'_>, states: &[peer::ReadState]) {
        self.server.read_states(states);
        self.flush(ctx);
    }

    fn after_inputs(&mut self, ctx: &mut labrpc::Ctx<'_>, peer: &dyn Peer) {
        self.server.poll(peer, ctx.now_ns() / MS);
        self.flush(ctx);
    }
}
