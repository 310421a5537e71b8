//! The RPCs of Figure 2 (plus InstallSnapshot), as values that cross a network as bincode.

use serde::{Deserialize, Serialize};

use crate::{Entry, Index, PeerId, Term};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestVoteArgs {
    pub term: Term,
    pub candidate_id: PeerId,
    pub last_log_index: Index,
    pub last_log_term: Term,
    /// A PreVote (Raft thesis, section 9.6): "would you vote for me in `term`?"
    /// Granting it changes nothing on the voter: no term, no vote, no timer.
    pub pre_vote: bool,
    /// The candidate campaigns because the leader told it to (TimeoutNow, a
    /// leadership transfer): a voter that hears that leader must not refuse
    /// it for being alive (CheckQuorum).
    pub leader_transfer: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestVoteReply {
    /// The voter's term, or for a granted PreVote the term it was asked about.
    pub term: Term,
    pub vote_granted: bool,
    /// Answers a PreVote.
    pub pre_vote: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendEntriesArgs {
    pub term: Term,
    pub leader_id: PeerId,
    pub prev_log_index: Index,
    pub prev_log_term: Term,
    pub entries: Vec<Entry>,
    pub leader_commit: Index,
    /// The leader's latest ReadIndex round when it sent this; the reply echoes
    /// it, and a majority of echoes at or past a read's round confirms that
    /// the sender was still leader after the read was asked.
    pub read_round: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendEntriesReply {
    pub term: Term,
    pub success: bool,
    /// On success: `prev_log_index + entries.len()`, the last index known to match the
    /// leader. On failure: the `prev_log_index` that was rejected, so the leader can tell
    /// a stale rejection from a current one.
    pub match_index: Index,
    /// Fast backtracking hint on failure: first index of `conflict_term` in the
    /// follower's log, or its `last_index + 1` when its log is too short.
    pub conflict_index: Index,
    /// Fast backtracking hint on failure: the follower's term at `prev_log_index`, or
    /// `None` when its log is too short.
    pub conflict_term: Option<Term>,
    /// Echoes the request's `read_round`.
    pub read_round: u64,
}

/// The whole snapshot travels in one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallSnapshotArgs {
    pub term: Term,
    pub leader_id: PeerId,
    pub last_included_index: Index,
    pub last_included_term: Term,
    /// The configuration in effect at `last_included_index`.
    pub membership: peer::Membership,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallSnapshotReply {
    pub term: Term,
    /// Echoes the request's `last_included_index`: the follower now holds at least that
    /// prefix (installed, or already committed).
    pub last_included_index: Index,
}

/// A leadership transfer's last step (Raft thesis, section 3.10): the leader,
/// having brought the target up to date, tells it to start an election now.
/// One-way: no reply; the target's campaign is the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutNowArgs {
    pub term: Term,
    pub leader_id: PeerId,
}

/// Any message between peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    RequestVote(RequestVoteArgs),
    RequestVoteReply(RequestVoteReply),
    AppendEntries(AppendEntriesArgs),
    AppendEntriesReply(AppendEntriesReply),
    InstallSnapshot(InstallSnapshotArgs),
    InstallSnapshotReply(InstallSnapshotReply),
    TimeoutNow(TimeoutNowArgs),
}

impl Message {
    /// True for RPC requests, which always get exactly one reply.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Message::RequestVote(_) | Message::AppendEntries(_) | Message::InstallSnapshot(_)
        )
    }

    /// The sender's term.
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote(m) => m.term,
            Message::RequestVoteReply(m) => m.term,
            Message::AppendEntries(m) => m.term,
            Message::AppendEntriesReply(m) => m.term,
            Message::InstallSnapshot(m) => m.term,
            Message::InstallSnapshotReply(m) => m.term,
            Message::TimeoutNow(m) => m.term,
        }
    }
}
