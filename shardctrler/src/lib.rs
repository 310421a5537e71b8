//! shardctrler: the reference shard controller (6.824 lab 5A) on any Raft, as a
//! sans-IO state machine.
//!
//! The controller decides which replica group serves which of the
//! [`peer::NSHARDS`] shards. Its state is a chain of numbered configurations
//! ([`peer::ShardConfig`]): configuration 0 has no groups, and each Join, Leave or
//! Move that takes effect adds one. Query reads any of them. It is replicated like
//! the KV service: [`CtrlServer`] is kvraft's [`kvraft::Server`] with the
//! controller's [`CtrlMachine`], driven the same way, and the lab's
//! [`peer::Clerk`]`<`[`peer::Ctrl`]`>` talks to it.
//!
//! Rebalancing ([`rebalance`]) is a pure function of the previous assignment and
//! the groups, with no iteration order left to chance, so every replica computes
//! the same configuration; it moves as few shards as it can.

mod machine;
mod rebalance;

pub use machine::CtrlMachine;
pub use rebalance::rebalance;

/// A controller server: the generic replicated server with the controller's machine.
pub type CtrlServer = kvraft::Server<CtrlMachine>;
