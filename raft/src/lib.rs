//! The reference Raft peer as a pure sans-IO state machine.
//!
//! A [`Raft`] takes inputs ([`Raft::tick`], [`Raft::step`], [`Raft::start`],
//! [`Raft::snapshot`]) and returns everything it wants done as a [`Ready`]: state to
//! persist, messages to send and committed entries to apply, in that order. It does no
//! I/O, reads no clock and starts no thread, so the same peer runs under the
//! deterministic simulator and, later, over a real network.
//!
//! Names follow Figure 2 of the Raft paper (term, voted_for, commit_index, last_applied,
//! next_index, match_index). [`storage`] owns the on-disk format.
//!
//! # Driving a peer
//! ```text
//! fresh:    let raft = Raft::new(config, None, now_ms)?;
//! restart:  let (store, restored) = LogStore::restore(&disk)?;   // None on an empty disk
//!           let raft = Raft::new(config, restored, now_ms)?;    // first Ready re-delivers the snapshot
//! loop:     feed one input: tick(now) when now >= next_deadline_ms(), step(now, from, msg),
//!           start(now, cmd), snapshot(index, data);
//!           while raft.has_ready() { let rd = raft.ready();
//!               store.persist(&mut disk, &rd); sync;  send rd.messages;  apply rd.applies; }
//! ```
//! Every request stepped in produces exactly one reply to its sender in the next Ready, so
//! an RPC layer can answer the call with it. A `step` that returns `Err` changed nothing
//! and produced no reply (the RPC should fail).

mod config;
mod error;
mod interface;
mod log;
mod message;
mod progress;
mod raft;
mod ready;
mod state;
pub mod storage;

pub use config::Config;
#[cfg(feature = "injected-bugs")]
pub use config::InjectedBug;
pub use error::RaftError;
#[cfg(feature = "injected-bugs")]
pub use interface::buggy_factory;
pub use interface::{
    APPEND_ENTRIES, INSTALL_SNAPSHOT, REQUEST_VOTE, ReferencePeer, TIMEOUT_NOW, factory, from_wire,
    to_wire,
};
pub use message::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotArgs, InstallSnapshotReply, Message,
    RequestVoteArgs, RequestVoteReply, TimeoutNowArgs,
};
pub use peer::{
    ApplyMsg, Backtracking, Entry, EntryKind, Index, Membership, PeerId, PeerSet, Term,
};
pub use raft::{Raft, Role};
pub use ready::Ready;
pub use state::{HardState, Restored, Snapshot};
