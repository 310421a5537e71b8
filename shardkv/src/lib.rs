//! shardkv: the reference sharded key/value server (6.824 lab 5B) on any Raft,
//! as a sans-IO state machine ([`ShardServer`], a [`peer::ShardStateMachine`]).
//!
//! Each replica group serves the shards the controller's configuration gives
//! it. A group moves through configurations one at a time, in order, each
//! change an entry of its own log, so every replica switches at the same point
//! of the operations. A shard the group gains is pulled from its old owner
//! (its keys with their duplicate table); the old owner keeps a frozen copy
//! until the new owner, once it has installed the shard, tells it to delete
//! it. A group answers `WrongGroup` for a shard it does not serve, and serves
//! the shards it has while others are still on their way.

mod machine;
mod server;

pub use server::{ShardServer, ShardServerConfig};
