//! The key/value service's protocol (6.824 lab 4): string keys, Get, Put,
//! Append and Delete.

use serde::{Deserialize, Serialize};

use crate::service::{Protocol, Reply, Request};

/// The name on the wire of the one clerk-to-server RPC: a [`KvArgs`] in, a
/// [`KvReply`] out.
pub const KV_COMMAND: &str = "KVServer.Command";

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

/// The KV service's protocol: [`Op`]s in, the value a Get read out (`""` for
/// the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kv;

impl Protocol for Kv {
    const METHOD: &'static str = KV_COMMAND;
    type Op = Op;
    type Value = String;
    fn is_read(op: &Op) -> bool {
        !op.is_write()
    }
}

/// A KV client request, and the command a server puts in the Raft log for it.
pub type KvArgs = Request<Op>;

/// A KV server's answer.
pub type KvReply = Reply<String>;
