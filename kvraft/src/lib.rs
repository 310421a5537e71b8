//! kvraft: the reference linearizable key/value server on any Raft, as a sans-IO state
//! machine (the lab's clerk, which talks to it, is [`peer::Clerk`]), built on a
//! server written once for any replicated [`Machine`] ([`Server`]; the shard
//! controller is another machine on it).
//!
//! - [`KvServer`]: the replicated state machine next to one Raft peer, any
//!   [`peer::Peer`] (it is the lab's reference [`peer::StateMachine`]). It submits
//!   each client operation to the peer ([`peer::Peer::start`]), applies committed
//!   operations in log order with duplicate detection by (client id, sequence
//!   number), answers a waiting request as soon as its operation is applied, and
//!   snapshots its data and duplicate table when the persisted Raft state passes
//!   `maxraftstate` bytes. A server that is not leader, or that loses its
//!   leadership or term while a request waits, answers [`KvReply::WrongLeader`] at
//!   once; a request that waits longer than its timeout gets [`KvReply::Timeout`].
//!   Nothing waits forever.
//!
//! It does no I/O, reads a clock or starts a thread: the driver feeds inputs
//! (requests, committed entries, replies, the time) and carries outputs
//! (replies to send, calls to make). The same code runs under the deterministic
//! simulator and over a real network.
//!
//! ```text
//! server:  on request:   server.request(&mut peer, now_ms, id, args)   then drive the peer's Ready
//!          on apply:     server.apply(apply_msg)
//!          after applies: if let Some((i, data)) = server.maybe_snapshot(size, status.snapshot_index)
//!                         { peer.snapshot(i, data) }
//!          after inputs: server.poll(&peer, now_ms)
//!          then send every (id, reply) of server.take_replies()
//! ```

mod kv;
mod pending;
mod server;

pub use kv::{KvMachine, KvServer};
pub use pending::{Pending, Waiter, next_to_apply};
#[cfg(feature = "injected-bugs")]
pub use server::InjectedBug;
pub use server::{Machine, OpOf, ReadMode, RequestId, Server, ServerConfig, ValueOf};
