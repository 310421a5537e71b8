//! peer: the contract between a Raft peer under test and the lab that drives it.
//!
//! Every Raft the lab can test (the reference, a student's, tikv's raft-rs) is a
//! [`Peer`]: a sans-IO state machine that takes inputs and hands back a [`Ready`]. A
//! key/value server on top of any peer is a [`StateMachine`], and the lab's [`Clerk`]
//! talks to it over the KV protocol ([`KvArgs`], [`KvReply`]). The lab's harness,
//! its safety oracle, its graded suites, its nemesis and its picture drive and observe
//! peers through these traits alone, so every check that holds for one peer holds
//! for all of them.
//!
//! # Driving a peer
//! ```text
//! create:   let peer = factory(PeerConfig { id, peers, rng_seed, .. }, &disk, now_ms)?;
//!           // restores whatever it finds on `disk` (nothing for a fresh peer)
//! loop:     one input: tick(now) once now >= next_deadline_ms(), step(now, from, msg),
//!           start(now, cmd) (6.824 Start), snapshot(index, data) (6.824 Snapshot);
//!           while peer.has_ready() { let rd = peer.ready(&mut disk);
//!               if rd.must_sync { sync the disk }   send rd.messages;   apply rd.applies; }
//! ```
//! Messages and ticks wait until that is done, so everything a peer wrote in earlier
//! Readies is durable whenever it steps; `start` and `snapshot` (the service's calls)
//! may come at any time. After a request, the driver takes a Ready at once: the reply
//! is in it.
//!
//! # Randomness
//! A peer draws randomness only from [`PeerConfig::rng_seed`] (a stream of the run's
//! seed). A peer that reads any other randomness (the thread's RNG, the clock) makes a
//! run depend on more than (scenario, peer, seed); `lab check-determinism` finds it.
//!
//! # Two styles of message
//! 6.824-style peers talk in request/reply RPCs ([`Kind::Request`], answered by exactly
//! one [`Kind::Reply`] in the Ready that follows the request); etcd and raft-rs style
//! peers send [`Kind::OneWay`] messages (an append and its response are two messages).
//! Both cross the same simulated network, as bytes, with the same faults.

mod clerk;
pub mod coverage;
mod disk;
mod kv;
mod membership;
mod ready;
pub mod record;
mod rng;
mod service;
mod shard;
mod shard_clerk;
mod shardkv;

pub use clerk::{Call, Clerk, ClerkConfig, Progress};
pub use disk::{Disk, MemDisk};
pub use kv::{KV_COMMAND, Kv, KvArgs, KvReply, Op};
pub use membership::{MAX_PEERS, Membership, PeerSet};
pub use ready::{ApplyMsg, Entry, EntryKind, Kind, ReadState, Ready, Wire};
pub use rng::SplitMix64;
pub use service::{ClientId, Protocol, Reply, Request, RequestId, Seq, StateMachine};
pub use shard::{
    CTRL_COMMAND, ConfigNum, Ctrl, CtrlArgs, CtrlError, CtrlOp, CtrlOutcome, CtrlReply, Gid,
    NSHARDS, ShardConfig, key2shard,
};
pub use shard_clerk::{REQUERY_DELAY_MS, ShardCall, ShardClerk, ShardProgress};
pub use shardkv::{
    Answer, CallArgs, CallReply, CallTo, GroupArgs, GroupReply, OutCall, SHARDKV_COMMAND,
    SHARDKV_GROUP, ShardData, ShardKv, ShardKvArgs, ShardKvReply, ShardKvValue, ShardStateMachine,
    ShardStatus,
};

/// The smallest number of peers that is a majority of `peers`: the one
/// definition the reference's quorum arithmetic and the harness's checks share.
pub fn majority(peers: usize) -> usize {
    peers / 2 + 1
}

use std::fmt;

/// A peer's identity: peers of a cluster are numbered `0..peers`.
pub type PeerId = usize;
/// A Raft term.
pub type Term = u64;
/// A log index. Real entries start at 1; index 0 is the empty log's sentinel, with term 0.
pub type Index = u64;

/// What every peer is told when it is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// This peer's id, in `0..peers`.
    pub id: PeerId,
    /// Number of peers in the cluster.
    pub peers: usize,
    /// The seed of the peer's one source of randomness. It differs between the peers
    /// of a run and between incarnations of one peer.
    pub rng_seed: u64,
    /// Election timeouts should fall in this range (6.824: a new leader within 5 s).
    pub election_timeout_min_ms: u64,
    /// See `election_timeout_min_ms`.
    pub election_timeout_max_ms: u64,
    /// A leader should send heartbeats at least this often (6.824: at most 10 a second).
    pub heartbeat_interval_ms: u64,
    /// A hint: run PreVote before elections (`Some(true)`), or not. `None`: the
    /// peer's own default. The lab varies it per seed so that no single
    /// configuration hides a bug; a peer without PreVote ignores it.
    pub pre_vote: Option<bool>,
    /// A hint: carry at most this many entries in one AppendEntries. `None`:
    /// the peer's own default. Small batches bring out bugs in followers that
    /// see a log one piece at a time; a peer may ignore it.
    pub max_entries_per_append: Option<usize>,
    /// A hint: CheckQuorum on (`Some(true)`: a leader that has not heard from
    /// a majority within an election timeout steps down) or off. `None`: the
    /// peer's own default; a peer without CheckQuorum ignores it.
    pub check_quorum: Option<bool>,
    /// A hint: serve `read_index` from the leader's lease when it holds one
    /// (thesis 6.4.1: no round of heartbeats, but safe only while clocks
    /// drift within the bound the peer assumes). `None`: the peer's default.
    pub lease_reads: Option<bool>,
    /// A hint: where a leader moves nextIndex after a follower refuses an
    /// AppendEntries for a conflicting term. `None`: the peer's own way; a
    /// peer with one way only ignores it.
    pub backtracking: Option<Backtracking>,
    /// The voters the cluster starts with; `None`: all `peers`. The others
    /// start outside the configuration and join when a leader adds them
    /// ([`Peer::change_membership`]). Every peer of a run is told the same.
    pub voters: Option<PeerSet>,
}

impl PeerConfig {
    /// Peer `id` of `peers`, with 6.824's timing: elections in 300..=600 ms,
    /// heartbeats every 100 ms.
    pub fn new(id: PeerId, peers: usize, rng_seed: u64) -> PeerConfig {
        PeerConfig {
            id,
            peers,
            rng_seed,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            heartbeat_interval_ms: 100,
            pre_vote: None,
            max_entries_per_append: None,
            check_quorum: None,
            lease_reads: None,
            backtracking: None,
            voters: None,
        }
    }
}

/// Where a leader moves a follower's nextIndex after the follower refused an
/// AppendEntries because its entry at prevLogIndex has another term (the
/// conflicting term). Both are correct; they differ in what the follower
/// sees next, so the lab draws one per seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backtracking {
    /// Past the leader's last entry of the conflicting term, or to the
    /// follower's first entry of it if the leader has none (the 6.824
    /// students' guide): nextIndex lands on the first entry that differs.
    LeaderTerm,
    /// To the follower's first entry of the conflicting term (the Raft
    /// paper, section 5.3): simpler, and it may resend entries the follower
    /// holds, so the follower sees AppendEntries whose entries all match and
    /// end before its own log does.
    FollowerTerm,
}

impl Backtracking {
    /// Both ways.
    pub const ALL: [Backtracking; 2] = [Backtracking::LeaderTerm, Backtracking::FollowerTerm];

    /// Its name in files and transcripts (serde's, kebab-case).
    pub fn name(self) -> &'static str {
        match self {
            Backtracking::LeaderTerm => "leader-term",
            Backtracking::FollowerTerm => "follower-term",
        }
    }
}

/// A peer's role. A peer with more roles (a PreVote candidate, a learner) reports the
/// nearest of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// What the oracle and the picture observe of a peer at any moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub role: Role,
    pub term: Term,
    /// The candidate this peer voted for in `term`, if any (Figure 2's
    /// votedFor; PreVotes are not votes). The oracle checks that a vote
    /// survives a restart once a message left after it: a peer that reports
    /// `None` always is never caught forgetting one.
    pub voted_for: Option<PeerId>,
    /// The leader this peer believes in, if any.
    pub leader: Option<PeerId>,
    pub commit_index: Index,
    /// Index of the last log entry (the snapshot's index when the log is empty).
    pub last_index: Index,
    /// Index of the last entry covered by the peer's snapshot (0 without one).
    pub snapshot_index: Index,
    /// The configuration this peer follows now, for a peer with membership
    /// changes; `None`: every peer of the cluster votes, always.
    pub membership: Option<Membership>,
}

impl Status {
    /// 6.824's `GetState`: (term, is leader).
    pub fn get_state(&self) -> (Term, bool) {
        (self.term, self.role == Role::Leader)
    }
}

/// Why a peer refused an input or could not start. A refused input changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerError(pub String);

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeerError {}

impl PeerError {
    /// The refusal of an optional input the peer does not have (the default
    /// of [`Peer::read_index`], [`Peer::transfer_leadership`] and
    /// [`Peer::change_membership`]): asking again will not help.
    pub fn unsupported(feature: &str) -> PeerError {
        PeerError(format!("this peer has no {feature}"))
    }

    /// True for a [`PeerError::unsupported`] refusal.
    pub fn is_unsupported(&self) -> bool {
        self.0.starts_with("this peer has no ")
    }
}

/// One Raft peer under test, as a sans-IO state machine. See the crate documentation
/// for how a driver runs it.
pub trait Peer {
    /// The peer's methods on the wire and how each travels ([`Kind::Request`] or
    /// [`Kind::OneWay`]): the driver hands a peer only messages of these methods.
    fn methods(&self) -> &'static [(&'static str, Kind)];

    /// Time passes. Called at least once `now_ms >= next_deadline_ms()`; it may be
    /// called earlier.
    fn tick(&mut self, now_ms: u64);

    /// The latest time at which [`Peer::tick`] must next be called.
    fn next_deadline_ms(&self) -> u64;

    /// A message arrived from peer `from`. For a [`Kind::Request`], the next Ready must
    /// hold exactly one [`Kind::Reply`] to `from`; for a [`Kind::Reply`], `msg.method`
    /// is the method of the request it answers. An `Err` changed nothing and, for a
    /// request, fails the call.
    fn step(&mut self, now_ms: u64, from: PeerId, msg: Wire) -> Result<(), PeerError>;

    /// 6.824's `Start`: as leader, append `command` and return (index, term, true);
    /// otherwise (the index it would get, term, false). Never blocks.
    fn start(&mut self, now_ms: u64, command: Vec<u8>) -> (Index, Term, bool);

    /// ReadIndex (Raft thesis, section 6.4): as leader, confirm leadership with
    /// a round of heartbeats and, once an entry of its term is committed,
    /// hand back a [`ReadState`] with `ctx` in a later Ready. An error (not
    /// the leader, no such feature) changes nothing; a read of a leader that
    /// steps down first is never confirmed.
    fn read_index(&mut self, _now_ms: u64, _ctx: u64) -> Result<(), PeerError> {
        Err(PeerError::unsupported("ReadIndex"))
    }

    /// Leadership transfer (Raft thesis, section 3.10): as leader, bring `to`
    /// up to date and have it start an election at once; stop accepting
    /// commands meanwhile, and give up after an election timeout. An error
    /// (not the leader, an unknown peer, no such feature) changes nothing.
    fn transfer_leadership(&mut self, _now_ms: u64, _to: PeerId) -> Result<(), PeerError> {
        Err(PeerError::unsupported("leadership transfer"))
    }

    /// Membership change (Raft thesis, chapter 4): as leader, move the cluster
    /// to `target` (its `outgoing` empty) and return the index of the
    /// configuration entry that starts it. A change of one voter at most is
    /// one entry; a larger one passes through joint consensus. An error (not
    /// the leader, a change still under way, no voters left, an unknown
    /// peer, no such feature) changes nothing.
    fn change_membership(&mut self, _now_ms: u64, _target: Membership) -> Result<Index, PeerError> {
        Err(PeerError::unsupported("membership changes"))
    }

    /// 6.824's `Snapshot`: the service has a snapshot covering every entry through
    /// `index` (an index it has applied); the peer may drop that prefix of its log.
    fn snapshot(&mut self, index: Index, data: Vec<u8>) -> Result<(), PeerError>;

    /// True when [`Peer::ready`] has something to do.
    fn has_ready(&self) -> bool;

    /// Writes what must be durable to `disk`, in the peer's own format, and returns
    /// the rest of what the driver must do, in order (see [`Ready`]).
    fn ready(&mut self, disk: &mut dyn Disk) -> Ready;

    /// Role, term, leader and indices, now.
    fn status(&self) -> Status;

    /// The term of the entry at `index`, if the peer still holds it (or it is the
    /// snapshot's last entry).
    fn term_at(&self, index: Index) -> Option<Term>;

    /// Bytes of Raft state (log and metadata, not the snapshot) on `disk`: 6.824's
    /// `persister.RaftStateSize()`, which decides when a KV server snapshots.
    fn raft_state_bytes(&self, disk: &dyn Disk) -> u64;

    /// Bytes of the snapshot on `disk` (6.824's `persister.SnapshotSize()`).
    fn snapshot_bytes(&self, disk: &dyn Disk) -> u64;

    /// A one-line description of a message, for readers of the trace.
    fn describe(&self, msg: &Wire) -> String {
        format!("{} ({} bytes)", msg.method, msg.bytes.len())
    }
}

/// Makes a peer: fresh when `disk` is empty, else restored from `disk` alone.
pub type PeerFactory =
    std::rc::Rc<dyn Fn(PeerConfig, &dyn Disk, u64) -> Result<Box<dyn Peer>, PeerError>>;
