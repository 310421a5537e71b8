//! A replicated service's server as a simulated node: the generic Raft peer
//! driver ([`PeerNode`]) with a [`StateMachine`] of protocol `P` as its
//! [`Service`].

use crate::raft_suite::node::{AppliedDigest, ApplyEnv, PeerNode, Service};
use labrpc::{DuplicateMethod, Method, ReplyToken, Router, reply};
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
    node.serve_request(ctx, token, |svc, peer, ctx, token| {
        let id = svc.next_request;
        svc.next_request += 1;
        svc.tokens.insert(id, token);
        svc.server.request(peer, ctx.now_ns() / MS, id, args);
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
        apply_digested(&mut self.oracle, env, apply, |msg| self.server.apply(msg))
    }

    fn after_applies(&mut self, env: &mut ApplyEnv<'_, '_>) -> Result<(), String> {
        let server = &mut self.server;
        snapshot_digested(&self.oracle, env, P::METHOD, |size, at| {
            server.maybe_snapshot(size, at)
        })?;
        self.flush(env.ctx);
        Ok(())
    }

    fn read_states(&mut self, ctx: &mut labrpc::Ctx<'_>, states: &[peer::ReadState]) {
        self.server.read_states(states);
        self.flush(ctx);
    }

    fn after_inputs(&mut self, ctx: &mut labrpc::Ctx<'_>, peer: &mut dyn Peer) {
        self.server.poll(&*peer, ctx.now_ns() / MS);
        self.flush(ctx);
    }
}

/// Hands `apply` to a server (`server_apply`), keeping the oracle's digest of
/// the commands applied: a command goes into it; a snapshot carries it after
/// the server's own bytes, and the oracle checks it.
pub(crate) fn apply_digested(
    oracle: &mut AppliedDigest,
    env: &mut ApplyEnv<'_, '_>,
    apply: ApplyMsg,
    server_apply: impl FnOnce(ApplyMsg) -> Result<(), String>,
) -> Result<(), String> {
    match apply {
        ApplyMsg::Command {
            index,
            term,
            command,
        } => {
            oracle.command(index, &command);
            server_apply(ApplyMsg::Command {
                index,
                term,
                command,
            })
        }
        ApplyMsg::Snapshot { index, term, data } => {
            let (data, digest) =
                unwrap(data).map_err(|e| format!("undecodable snapshot at {index}: {e}"))?;
            oracle.snapshot(env, index, digest);
            server_apply(ApplyMsg::Snapshot { index, term, data })
        }
    }
}

/// Takes the snapshot a server asks for (`maybe`, given the persisted Raft
/// state's size and the peer's snapshot index), with the oracle's digest after
/// its bytes. `what` names the server in errors.
pub(crate) fn snapshot_digested(
    oracle: &AppliedDigest,
    env: &mut ApplyEnv<'_, '_>,
    what: &str,
    maybe: impl FnOnce(u64, peer::Index) -> Option<(peer::Index, Vec<u8>)>,
) -> Result<(), String> {
    let size = env.raft_state_bytes();
    let snapshot_index = env.peer.status().snapshot_index;
    if let Some((index, data)) = maybe(size, snapshot_index) {
        if index != oracle.applied {
            return Err(format!(
                "{what} server applied {index} but the driver {}",
                oracle.applied
            ));
        }
        env.peer
            .snapshot(index, wrap(data, oracle.digest))
            .map_err(|e| format!("snapshot at {index}: {e}"))?;
    }
    Ok(())
}
