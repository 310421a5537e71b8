//! What crosses the wire between clerks and servers, and what goes into the Raft log.

use serde::{Deserialize, Serialize};

/// A clerk's identity, unique among the service's clients.
pub type ClientId = u64;
/// A clerk's operation number: 1, 2, 3, ... A retry keeps its number.
pub type Seq = u64;

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
}
