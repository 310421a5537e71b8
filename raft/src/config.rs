//! Static configuration of one peer.

use crate::{PeerId, RaftError};
use peer::{Backtracking, MAX_PEERS, PeerSet};

/// How one peer behaves. Build with [`Config::new`] and adjust fields as needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This peer's id, in `0..peers`.
    pub id: PeerId,
    /// Number of peers in the cluster: every server that may ever take part
    /// (ids `0..peers`, at most `peer::MAX_PEERS`).
    pub peers: usize,
    /// The voters the cluster starts with (the same on every peer): the
    /// configuration in effect until the log holds another. Peers outside
    /// it wait, without campaigning, until a leader adds them.
    pub voters: PeerSet,
    /// Election timeouts are drawn uniformly from
    /// `election_timeout_min_ms..=election_timeout_max_ms`, afresh on every reset.
    pub election_timeout_min_ms: u64,
    /// See `election_timeout_min_ms`.
    pub election_timeout_max_ms: u64,
    /// A leader sends AppendEntries to every follower at least this often.
    pub heartbeat_interval_ms: u64,
    /// Most entries carried by one AppendEntries.
    pub max_entries_per_append: usize,
    /// Seed of the peer's private PRNG (mixed with `id`, so equal seeds still give
    /// different timeouts on different peers).
    pub rng_seed: u64,
    /// Run a PreVote round before each election (Raft thesis, section 9.6): a
    /// peer that cannot win (its log is behind a majority's) never bumps the
    /// term, so it cannot keep disrupting the peer that can.
    pub pre_vote: bool,
    /// CheckQuorum (Raft thesis, section 6.2): a leader that has not heard
    /// from a majority within the minimum election timeout steps down, so a
    /// leader cut off from the majority stops serving; and a follower that
    /// heard from its leader within that time refuses a vote of a higher
    /// term without taking the term (the leader is alive, the candidate
    /// disruptive: the one thing PreVote cannot stop, a candidate whose term
    /// is already higher).
    pub check_quorum: bool,
    /// Lease reads (thesis 6.4.1), with `check_quorum` only: a leader whose
    /// heartbeat round sent at t was answered by a majority serves reads
    /// without another round until t plus its lease (the minimum election
    /// timeout, shrunk for `max_clock_drift_ppm`), since until then no
    /// follower that answered will help elect anyone else.
    pub lease_reads: bool,
    /// The clock drift lease reads assume at most (parts per million, of any
    /// clock against real time). Faster followers or a slower leader than
    /// this break the lease, and lease reads may then be stale.
    pub max_clock_drift_ppm: u64,
    /// Where nextIndex goes after a follower refuses for a conflicting term.
    pub backtracking: Backtracking,
    /// A deliberate bug, for testing the testers (checkers, the shrinker).
    #[cfg(feature = "injected-bugs")]
    pub injected_bug: Option<InjectedBug>,
    /// The peer's own assertions (commit index within the log, no conflict at a
    /// committed index, ...), and the Raft invariants it checks of what it
    /// restores at a restart (see `validate_restored`). Off, a mutant is left
    /// to the lab's oracle and checker alone, as a student's Raft without such
    /// assertions would be.
    #[cfg(feature = "injected-bugs")]
    pub internal_assertions: bool,
}

/// Deliberate bugs a test can switch on to show that raftlab catches them: the
/// classic mistakes of Raft implementations (the mutant catalogue).
#[cfg(feature = "injected-bugs")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedBug {
    /// Grant votes without the up-to-date check of section 5.4.1.
    VoteWithoutLogCheck,
    /// votedFor is never written to disk: a restarted peer forgets its vote.
    VotedForNotPersisted,
    /// A term learned from another peer is not written to disk.
    TermNotPersisted,
    /// Readies never ask for a sync: replies leave before their state is durable.
    ReplyBeforePersist,
    /// A follower truncates its log after prevLogIndex even where the entries
    /// match (a stale AppendEntries cuts committed entries).
    TruncateMatchingSuffix,
    /// A follower sets commitIndex to min(leaderCommit, its last index) instead of
    /// the last new entry (Figure 2's rule 5 misread).
    CommitPastLastNewEntry,
    /// A leader takes matchIndex from its own last index, not from the reply.
    MatchIndexFromLeaderLog,
    /// Replies of an older term (votes, AppendEntries acks) still count.
    StaleRepliesCounted,
    /// A follower installs a snapshot older than what it has committed.
    StaleSnapshotInstalled,
    /// A leader commits an entry of an older term by counting replicas (Figure 8).
    CommitOldTermByCounting,
    /// A peer resets its election timer when it refuses a vote too.
    TimerResetOnRefusedVote,
    /// A follower appends without checking prevLogTerm.
    AppendWithoutPrevLogCheck,
    /// A follower accepts AppendEntries from a leader of an older term.
    AppendFromStaleLeader,
    /// A candidate campaigns in its current term instead of a new one.
    CampaignWithoutNewTerm,
    /// Half the votes (rounded down) win an election.
    QuorumOffByOne,
    /// ReadIndex confirms a read without a heartbeat round: a deposed leader
    /// that has not heard of its successor serves stale reads.
    ReadIndexWithoutRound,
}

impl Config {
    /// Defaults fit 6.824's limits: at most 10 heartbeats per second, and a new leader
    /// well within 5 seconds.
    pub fn new(id: PeerId, peers: usize, rng_seed: u64) -> Config {
        Config {
            id,
            peers,
            voters: PeerSet::first(peers.min(MAX_PEERS)),
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            heartbeat_interval_ms: 100,
            max_entries_per_append: 256,
            rng_seed,
            pre_vote: true,
            check_quorum: false,
            lease_reads: false,
            max_clock_drift_ppm: 100_000,
            backtracking: Backtracking::LeaderTerm,
            #[cfg(feature = "injected-bugs")]
            injected_bug: None,
            #[cfg(feature = "injected-bugs")]
            internal_assertions: true,
        }
    }

    /// Whether the peer checks its own Raft invariants: always, but in a
    /// mutant run that switched them off (`internal_assertions`).
    #[cfg(feature = "injected-bugs")]
    pub fn assertions_on(&self) -> bool {
        self.internal_assertions
    }

    /// Whether the peer checks its own Raft invariants: always.
    #[cfg(not(feature = "injected-bugs"))]
    pub fn assertions_on(&self) -> bool {
        true
    }

    pub(crate) fn validate(&self) -> Result<(), RaftError> {
        let bad = |why: String| Err(RaftError::InvalidConfig(why));
        if self.peers == 0 {
            return bad("peers must be at least 1".into());
        }
        if self.peers > MAX_PEERS {
            return bad(format!("{} peers: at most {MAX_PEERS}", self.peers));
        }
        if self.voters.is_empty() || !self.voters.minus(PeerSet::first(self.peers)).is_empty() {
            return bad(format!(
                "voters {} must be a non-empty subset of 0..{}",
                self.voters, self.peers
            ));
        }
        if self.id >= self.peers {
            return bad(format!("id {} is not in 0..{}", self.id, self.peers));
        }
        if self.election_timeout_min_ms == 0
            || self.election_timeout_min_ms > self.election_timeout_max_ms
        {
            return bad(format!(
                "election timeout range {}..={} ms is empty or starts at 0",
                self.election_timeout_min_ms, self.election_timeout_max_ms
            ));
        }
        // A heartbeat slower than the shortest election timeout makes followers depose a
        // healthy leader.
        if self.heartbeat_interval_ms == 0
            || self.heartbeat_interval_ms >= self.election_timeout_min_ms
        {
            return bad(format!(
                "heartbeat interval {} ms must be in 1..{} ms (the minimum election timeout)",
                self.heartbeat_interval_ms, self.election_timeout_min_ms
            ));
        }
        if self.max_clock_drift_ppm >= 1_000_000 {
            return bad(format!(
                "max_clock_drift_ppm {} leaves no lease (it must be below 1000000)",
                self.max_clock_drift_ppm
            ));
        }
        if self.max_entries_per_append == 0 {
            return bad("max_entries_per_append must be at least 1".into());
        }
        Ok(())
    }
}
