//! What crosses the wire: requests and replies, with their arguments and
//! results as bincode bytes, so sizes are real and peers share no memory.

use labsim::{Detail, Fields, NodeId, TraceHasher};
use std::fmt::{self, Write};

/// Identifies one call, unique within a run.
pub type CallId = u64;

/// Why a call ended without a reply. 6.824's labrpc says only `ok == false`;
/// the reason is kept for traces and tests, and callers should treat every
/// variant alike: the request may or may not have been executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcError {
    /// The link was down (a disconnected or partitioned endpoint) or the
    /// server is crashed: no reply ever came.
    Unreachable,
    /// The unreliable network lost the request or the reply.
    Dropped,
    /// The server crashed or restarted while the call was in progress.
    ServerCrashed,
    /// The server has no handler for this method.
    UnknownMethod(String),
    /// The arguments or the reply did not decode as the method's types.
    Decode(String),
    /// The server's handler refused the request (it returned an error).
    Refused(String),
    /// The called node does not exist.
    UnknownServer(NodeId),
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Unreachable => write!(f, "server unreachable"),
            RpcError::Dropped => write!(f, "lost by the network"),
            RpcError::ServerCrashed => write!(f, "server crashed during the call"),
            RpcError::UnknownMethod(m) => write!(f, "server has no method `{m}`"),
            RpcError::Decode(why) => write!(f, "could not decode: {why}"),
            RpcError::Refused(why) => write!(f, "refused by the server: {why}"),
            RpcError::UnknownServer(n) => write!(f, "there is no node {n} to call"),
        }
    }
}

impl std::error::Error for RpcError {}

/// A message on the simulated network.
#[derive(Clone, Debug)]
pub enum Packet {
    /// A call's request.
    Request {
        /// The call.
        call: CallId,
        /// The method's name.
        method: &'static str,
        /// Encoded arguments.
        args: Vec<u8>,
    },
    /// A call's outcome.
    Reply {
        /// The call.
        call: CallId,
        /// The server's incarnation when the request arrived: a reply from a
        /// server that has since crashed is never delivered.
        server_incarnation: u64,
        /// Encoded reply, or why there is none.
        outcome: Result<Vec<u8>, RpcError>,
    },
}

impl Packet {
    /// Payload size in bytes (what the byte counters count).
    pub fn len(&self) -> usize {
        match self {
            Packet::Request { args, .. } => args.len(),
            Packet::Reply {
                outcome: Ok(bytes), ..
            } => bytes.len(),
            Packet::Reply { .. } => 0,
        }
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The call this packet belongs to.
    pub fn call(&self) -> CallId {
        match self {
            Packet::Request { call, .. } | Packet::Reply { call, .. } => *call,
        }
    }
}

impl Detail for Packet {
    fn digest(&self, h: &mut TraceHasher) {
        match self {
            Packet::Request { call, method, args } => {
                h.u64(1);
                h.u64(*call);
                h.bytes(method.as_bytes());
                h.bytes(args);
            }
            Packet::Reply {
                call,
                server_incarnation,
                outcome,
            } => {
                h.u64(2);
                h.u64(*call);
                h.u64(*server_incarnation);
                match outcome {
                    Ok(bytes) => h.bytes(bytes),
                    Err(e) => {
                        h.u64(3);
                        let _ = write!(h, "{e}");
                    }
                }
            }
        }
    }

    fn describe(&self, out: &mut String) {
        let _ = match self {
            Packet::Request { call, method, args } => {
                write!(out, "request #{call} {method} ({} bytes)", args.len())
            }
            Packet::Reply {
                call,
                outcome: Ok(bytes),
                ..
            } => {
                write!(out, "reply #{call} ok ({} bytes)", bytes.len())
            }
            Packet::Reply {
                call,
                outcome: Err(e),
                ..
            } => write!(out, "reply #{call} failed: {e}"),
        };
    }

    /// `call`, `reply` (true or false), then `method` and `bytes` for a
    /// request, `bytes` for a reply, `error` for a failed one.
    fn fields(&self, out: &mut Fields<'_>) {
        let reply = matches!(self, Packet::Reply { .. });
        out.add("call", self.call()).add("reply", reply);
        match self {
            Packet::Request { method, args, .. } => {
                out.add("method", *method).add("bytes", args.len());
            }
            Packet::Reply {
                outcome: Ok(bytes), ..
            } => {
                out.add("bytes", bytes.len());
            }
            Packet::Reply {
                outcome: Err(e), ..
            } => {
                out.add("error", e.to_string().as_str());
            }
        }
    }
}
