//! What goes in and out of a peer: messages as bytes, log entries, applies, the Ready.

use serde::{Deserialize, Serialize};

use crate::{Index, PeerId, Term};

/// One log entry, as the oracle observes it (and as the reference Raft stores it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: Index,
    /// What `command` holds: the service's bytes, or a configuration.
    pub kind: EntryKind,
    #[serde(with = "serde_bytes")]
    pub command: Vec<u8>,
}

impl Entry {
    /// A service command (empty: a leader's no-op).
    pub fn command(term: Term, index: Index, command: Vec<u8>) -> Entry {
        let kind = EntryKind::Command;
        Entry {
            term,
            index,
            kind,
            command,
        }
    }
}

/// What a log entry carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// A command for the service (or an empty no-op of the peer's own).
    #[default]
    Command,
    /// A configuration ([`crate::Membership::encode`]) the peer itself
    /// interprets; the service is handed an empty command at its index.
    Membership,
}

/// Something for the service to apply, strictly in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyMsg {
    /// A committed command. A peer that commits entries of its own (a new leader's
    /// no-op, a configuration change) hands them over with an empty `command`, so the
    /// service sees every index once; services skip empty commands.
    Command {
        index: Index,
        term: Term,
        command: Vec<u8>,
    },
    /// Replace the service state with this snapshot (covers everything through `index`).
    Snapshot {
        index: Index,
        term: Term,
        data: Vec<u8>,
    },
}

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An RPC request: the callee's next Ready answers it with exactly one `Reply`, or
    /// the call fails (lost, cut off, crashed) and the caller hears nothing.
    Request,
    /// The answer to a request.
    Reply,
    /// A message that expects no answer (etcd and raft-rs style).
    OneWay,
}

/// A message between peers: its kind, the method it belongs to (the RPC's name on the
/// wire, e.g. `Raft.AppendEntries`) and its bytes, which the peer alone encodes and
/// decodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    pub kind: Kind,
    pub method: &'static str,
    pub bytes: Vec<u8>,
}

/// Everything the driver must do after an input, in this order:
/// 1. if `must_sync`, sync the disk (the peer already wrote to it in `ready`);
/// 2. send `messages`;
/// 3. hand `applies` to the service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// The peer wrote state that must be durable before anything below happens.
    pub must_sync: bool,
    /// For observers: the log entries this Ready wrote. If `entries[0].index` is at or
    /// below the last index written before, the log was first cut from there.
    pub entries: Vec<Entry>,
    /// For observers: the (index, term) of a snapshot this Ready wrote.
    pub snapshot: Option<(Index, Term)>,
    /// Messages to send, as (destination, message).
    pub messages: Vec<(PeerId, Wire)>,
    /// Committed entries and installed snapshots for the service, in order.
    pub applies: Vec<ApplyMsg>,
    /// Reads asked with `Peer::read_index` that the leader confirmed: each may
    /// be served once the service has applied through its index (handed over
    /// after `applies`).
    pub read_states: Vec<ReadState>,
}

/// A confirmed read (ReadIndex, Raft thesis 6.4): when the read with this
/// `ctx` was asked, this peer was the leader and its commit index was at
/// least `index`; a service that has applied through `index` may answer it
/// from its own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub ctx: u64,
    pub index: Index,
}
