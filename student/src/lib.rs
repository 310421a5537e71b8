//! Your Raft, your key/value server and your sharded key/value service, as raftlab
//! grades them (MIT 6.824 labs 3, 4 and 5).
//!
//! Fill in [`Raft`] (parts 3A to 3E), [`KvServer`] (parts 4A and 4B),
//! [`CtrlServer`] (part 5A) and [`ShardServer`] (part 5B). All four are
//! sans-IO state machines: the lab calls them with inputs (time passing, a message, a
//! command) and carries out what they hand back (state to persist, messages to send,
//! entries to apply), all in virtual time on a simulated network that loses, delays,
//! reorders and duplicates messages and crashes peers. Nothing here may read a clock,
//! sleep, start a thread or use any randomness but the seed you are given: a run must be
//! a pure function of its seed, so every failure replays bit for bit.
//!
//! Grade one part: `cargo run --release -p lab -- grade --peer student --part 3A`.
//! See this crate's README.md for the whole walk-through.

mod ctrler;
mod kv;
mod raft;
mod shardkv;

pub use ctrler::CtrlServer;
pub use kv::KvServer;
pub use raft::Raft;
pub use shardkv::ShardServer;

/// The lab makes your peers through this (the `student` entry of its registry).
pub fn factory() -> peer::PeerFactory {
    std::rc::Rc::new(|config, disk, now_ms| {
        let raft = Raft::new(config, disk, now_ms)?;
        Ok(Box::new(raft) as Box<dyn peer::Peer>)
    })
}
