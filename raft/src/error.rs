//! Errors returned to the driver.

use std::fmt;

use crate::{Index, PeerId};

/// Why an input was refused. The peer's state is unchanged when an error is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftError {
    /// The service asked to snapshot past what is committed.
    SnapshotBeyondCommit { index: Index, commit_index: Index },
    /// The service asked to snapshot past what it has been given to apply.
    SnapshotBeyondApplied { index: Index, last_applied: Index },
    /// Restored (on-disk) state is inconsistent or undecodable.
    CorruptState(String),
    /// A message came from a peer id outside `0..peers`.
    UnknownPeer(PeerId),
    /// A message is malformed (e.g. sender and claimed candidate/leader differ).
    InvalidMessage(String),
    /// The configuration is unusable.
    InvalidConfig(String),
    /// Only a leader can do that (a leadership transfer).
    NotLeader,
    /// A membership change while an earlier one is not yet committed (or a
    /// joint configuration not yet left): one change at a time.
    ChangeInProgress { index: Index },
    /// A new leader first commits an entry of its term (the one at `index`,
    /// which it appended) before it takes a membership change.
    TermEntryPending { index: Index },
    /// A membership change that would leave no voter.
    NoVoters,
    /// That peer is not a voter of the configuration in effect (a transfer
    /// to a learner or a removed server).
    NotAVoter(PeerId),
    /// A membership change the reference refuses (why is said).
    InvalidMembership(String),
}

impl fmt::Display for RaftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaftError::SnapshotBeyondCommit {
                index,
                commit_index,
            } => write!(
                f,
                "snapshot at index {index} is beyond commit_index {commit_index}"
            ),
            RaftError::SnapshotBeyondApplied {
                index,
                last_applied,
            } => write!(
                f,
                "snapshot at index {index} is beyond last_applied {last_applied}"
            ),
            RaftError::CorruptState(why) => write!(f, "corrupt raft state: {why}"),
            RaftError::UnknownPeer(id) => write!(f, "unknown peer {id}"),
            RaftError::InvalidMessage(why) => write!(f, "invalid message: {why}"),
            RaftError::InvalidConfig(why) => write!(f, "invalid config: {why}"),
            RaftError::NotLeader => write!(f, "not the leader"),
            RaftError::ChangeInProgress { index } => write!(
                f,
                "a membership change (the entry at index {index}) is still under way: one change at a time"
            ),
            RaftError::TermEntryPending { index } => write!(
                f,
                "a new leader first commits an entry of its term (index {index}): try again once it has"
            ),
            RaftError::NoVoters => write!(f, "the change would leave no voters"),
            RaftError::NotAVoter(id) => {
                write!(f, "peer {id} is not a voter of the configuration in effect")
            }
            RaftError::InvalidMembership(why) => write!(f, "invalid membership change: {why}"),
        }
    }
}

impl std::error::Error for RaftError {}
