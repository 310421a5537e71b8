//! A replicated service's contract, for any [`Protocol`]: the request a clerk
//! sends, the reply a server gives, and the [`StateMachine`] a server next to
//! one peer implements. The KV service ([`crate::Kv`]) and the shard controller
//! ([`crate::Ctrl`]) are two protocols; servers, the clerk and the harness are
//! written once for both.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{ApplyMsg, Index, Peer};

/// A clerk's identity, unique among the service's clients.
pub type ClientId = u64;
/// A clerk's operation number: 1, 2, 3, ... A retry keeps its number.
pub type Seq = u64;
/// The driver's name for one request waiting for its answer (an RPC it must answer
/// later). Unique among the requests a server has not yet answered.
pub type RequestId = u64;

/// A replicated service's protocol: the one method on the wire, the operations a
/// client asks for and the value each returns.
pub trait Protocol: Clone + Debug + PartialEq + Eq + 'static {
    /// The name on the wire of the one clerk-to-server RPC: a [`Request`] in, a
    /// [`Reply`] out.
    const METHOD: &'static str;
    /// What a client asks for.
    type Op: Clone + Debug + PartialEq + Eq + Serialize + DeserializeOwned;
    /// What an operation returns.
    type Value: Clone + Debug + Default + PartialEq + Eq + Serialize + DeserializeOwned;
    /// True for operations that change nothing: they are not deduplicated (a
    /// retried read is executed again, which is linearizable: its caller still
    /// waits) and may be served without the log (ReadIndex).
    fn is_read(op: &Self::Op) -> bool;
}

/// A client request, and the command a server puts in the Raft log for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request<O> {
    /// Who asks.
    pub client_id: ClientId,
    /// The client's operation number; a retry carries the same one.
    pub seq: Seq,
    /// What is asked.
    pub op: O,
}

impl<O: Serialize + DeserializeOwned> Request<O> {
    /// The bytes of the Raft log entry for this request.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("bincode cannot fail on in-memory values")
    }

    /// Decodes a Raft log entry; `None` if it is not a command of this protocol.
    pub fn decode(bytes: &[u8]) -> Option<Request<O>> {
        match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
            Ok((args, used)) if used == bytes.len() => Some(args),
            _ => None,
        }
    }
}

/// A server's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply<V> {
    /// The operation took effect (exactly once). `value` is what it returned
    /// (for a KV write, `""`).
    Ok { value: V },
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

/// A linearizable service next to one peer (6.824 labs 4 and 5A): the replicated
/// state machine, duplicate detection, and the requests waiting for their
/// operations. `P` is its protocol, the KV service's unless said otherwise.
///
/// ```text
/// on request:     server.request(peer, now_ms, id, args)   then drive the peer's Ready
/// on apply:       server.apply(apply_msg)
/// after applies:  if let Some((i, data)) = server.maybe_snapshot(peer.raft_state_bytes(disk),
///                     peer.status().snapshot_index) { peer.snapshot(i, data) }
/// after inputs:   server.poll(peer, now_ms)
/// then send every (id, reply) of server.take_replies()
/// ```
pub trait StateMachine<P: Protocol = crate::Kv> {
    /// A client request arrived; its answer comes out of `take_replies` under `id`,
    /// now or once its operation is applied.
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: Request<P::Op>);

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
    fn take_replies(&mut self) -> Vec<(RequestId, Reply<P::Value>)>;

    /// Reads the peer confirmed (`Peer::read_index`), after the applies of
    /// the same Ready. A server that never asks gets none.
    fn read_states(&mut self, _states: &[crate::ReadState]) {}
}
