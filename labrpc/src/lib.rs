//! labrpc: the simulated network of raftlab, with 6.824's labrpc semantics.
//!
//! Nodes call methods on other nodes ([`call`], [`Method`]); arguments and
//! replies cross as bincode bytes. The [`Net`] model decides each message's
//! fate from the run's network stream: reliable or unreliable, long delays,
//! long reordering, duplication, per-link [`Latency`], partitions of any
//! shape, one-way or both. Every call ends exactly once at its caller, with
//! a reply or an [`RpcError`], never hangs: a lost request or reply, a
//! disconnected endpoint and a crashed server all end in failure.
//!
//! A server answers with the [`ReplyToken`] its [`Request`] carries, at once
//! or later; a [`Router`] maps method names to typed handlers.

mod latency;
mod net;
mod packet;
mod rpc;
pub mod shapes;

pub use latency::Latency;
pub use net::{Net, NetConfig, NetError};
pub use packet::{CallId, Packet, RpcError};
pub use rpc::{
    ClientEnd, Completion, DuplicateMethod, Incoming, Method, ReplyToken, Request, Router, call,
    decode, encode, incoming, reply, respond,
};

/// A simulation whose nodes talk over labrpc.
pub type Sim = labsim::Sim<Net>;
/// A labrpc node's context.
pub type Ctx<'a> = labsim::Ctx<'a, Net>;
