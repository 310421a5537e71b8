//! A KV server as a simulated node: the generic Raft peer driver
//! ([`PeerNode`]) with the `kvraft` server as its [`Service`].

use crate::raft_suite::node::{AppliedDigest, ApplyEnv, PeerNode, Service};
use labrpc::{DuplicateMethod, Method, ReplyToken, Router, RpcError, reply, respond};
use labsim::MS;
use peer::{ApplyMsg, KvArgs, KvReply, Peer, RequestId, StateMachine};
use std::collections::BTreeMap;

/// The clerk-to-server RPC: one operation.
pub struct KvCommand;
impl Method for KvCommand {
    const NAME: &'static str = peer::KV_COMMAND;
    type Args = KvArgs;
    type Reply = KvReply;
}

/// A KV server peer as a labsim node.
pub type KvNode = PeerNode<KvService>;

/// The `kvraft` server as the service of a [`PeerNode`]. Its snapshots wrap
/// the server's own with the oracle's digest of the commands they cover, so
/// the Raft oracle keeps checking state-machine safety across snapshots.
pub struct KvService {
    server: Box<dyn StateMachine>,
    tokens: BTreeMap<RequestId, ReplyToken>,
    next_request: RequestId,
    /// Commands applied, and their digest chain (for the oracle).
    oracle: AppliedDigest,
}

impl KvService {
    /// A service around `server` (the peer's KV server).
    pub fn new(server: Box<dyn StateMachine>) -> KvService {
        KvService {
            server,
            tokens: BTreeMap::new(),
            next_request: 0,
            oracle: AppliedDigest::default(),
        }
    }

    fn flush(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        for (id, r) in self.server.take_replies() {
            if let Some(token) = self.tokens.remove(&id) {
                reply::<KvCommand>(ctx, token, &r);
            }
        }
    }
}

fn request(node: &mut KvNode, ctx: &mut labrpc::Ctx<'_>, args: KvArgs, token: ReplyToken) {
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

/// The KV server's snapshot, then the oracle's digest (8 bytes, little-endian).
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

impl Service for KvService {
    fn routes(router: Router<KvNode>) -> Result<Router<KvNode>, DuplicateMethod> {
        router.route::<KvCommand>(|node: &mut KvNode, ctx, _from, args, token| {
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
                    "KV server applied {index} but the driver {}",
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
