//! The key/value service's wire protocol, and the contract of a KV server on any peer.

use serde::{Deserialize, Serialize};

use crate::{ApplyMsg, Index, Peer};

/// The name on the wire of the one clerk-to-server RPC: a [`KvArgs`] in, a
/// [`KvReply`] out.
pub const KV_COMMAND: &str = "KVServer.Command";

/// A clerk's identity, unique among the service's clients.
pub type ClientId = u64;
/// A clerk's operation number: 1, 2, 3, ... A retry keeps its number.
pub type Seq = u64;
/// The driver's name for one request waiting for its answer (an RPC it must answer
/// later). Unique among the requests a server has not yet answered.
pub type RequestId = u64;

/// One client operation on string keys. A missing key reads as `""`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Read the key's value.
    Get { key: String },
    /// Replace the key's value.
    Put { key: String, value: String },
    /// Append to the key's value (to `""` if missing).
    Append { key: String, value: String },
    /// Remove the key.
    Delete { key: String },
}

impl Op {
    /// The key the operation is about.
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } | Op::Delete { key } => {
                key
            }
        }
    }

    /// True for operations that change the state (all but Get).
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Get { .. })
    }
}

/// A client request, and the command a server puts in the Raft log for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvArgs {
    /// Who asks.
    pub client_id: ClientId,
    /// The client's operation number; a retry carries the same one.
    pub seq: Seq,
    /// What is asked.
    pub op: Op,
}

impl KvArgs {
    /// The bytes of the Raft log entry for this request.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("bincode cannot fail on in-memory values")
    }

    /// Decodes a Raft log entry; `None` if it is not a KV command.
    pub fn decode(bytes: &[u8]) -> Option<KvArgs> {
        match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
            Ok((args, used)) if used == bytes.len() => Some(args),
            _ => None,
        }
    }
}

/// A server's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvReply {
    /// The operation took effect (exactly once). `value` is what a Get read, `""`
    /// for other operations.
    Ok { value: String },
    /// This server is not the leader (or stopped being it before the operation
    /// committed); `leader_hint` is the leader it last heard from, if any. The
    /// operation may still take effect: retry it with the same sequence number.
    WrongLeader { leader_hint: Option<usize> },
    /// The operation did not commit in time; it may still take effect: retry it.
    Timeout,
    /// The server cannot do this operation as configured (a Get in a read
    /// mode its peer does not support); nothing was applied, and asking
    /// again, here or elsewhere, will not help.
    Refused { why: String },
}

/// A linearizable KV server next to one peer (6.824 lab 4): the replicated state
/// machine, duplicate detection, and the requests waiting for their operations.
///
/// ```text
/// on request:     server.request(peer, now_ms, id, args)   then drive the peer's Ready
/// on apply:       server.apply(apply_msg)
/// after applies:  if let Some((i, data)) = server.maybe_snapshot(peer.raft_state_bytes(disk),
///                     peer.status().snapshot_index) { peer.snapshot(i, data) }
/// after inputs:   server.poll(peer, now_ms)
/// then send every (id, reply) of server.take_replies()
/// ```
pub trait KvStateMachine {
    /// A client request arrived; its answer comes out of `take_replies` under `id`,
    /// now or once its operation is applied.
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: KvArgs);

    /// One committed entry or installed snapshot, in the order the peer gives them.
    /// An error means the log or snapshot holds something this server did not write.
    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String>;

    /// The snapshot to take now, if the persisted Raft state (`raft_state_bytes`) has
    /// reached the server's limit and it has applied past `snapshot_index`.
    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)>;

    /// Answers requests that can no longer be answered by their entries (the peer
    /// lost its leadership or term) and those past their timeout.
    fn poll(&mut self, peer: &dyn Peer, now_ms: u64);

    /// The answers ready to send, each to the request it names.
    fn take_replies(&mut self) -> Vec<(RequestId, KvReply)>;

    /// Reads the peer confirmed (`Peer::read_index`), after the applies of
    /// the same Ready. A server that never asks gets none.
    fn read_states(&mut self, _states: &[crate::ReadState]) {}
}
