//! One Raft peer: roles, terms, votes, replication, commitment and snapshots (Figure 2,
//! section 5.4.2 and section 7 of the Raft paper), with one step function per role.

use crate::log::RaftLog;
use crate::progress::ProgressTracker;
use crate::{
    AppendEntriesArgs, AppendEntriesReply, ApplyMsg, Config, Entry, HardState, Index,
    InstallSnapshotArgs, InstallSnapshotReply, Message, PeerId, RaftError, Ready, RequestVoteArgs,
    RequestVoteReply, Restored, Snapshot, Term, TimeoutNowArgs,
};
use peer::{Backtracking, EntryKind, Membership, PeerSet, ReadState, SplitMix64};

/// Lease reads: the unanswered heartbeat rounds remembered (a leader cut off
/// for longer forgets the oldest; they could only extend a lease long gone).
const MAX_ROUNDS_SENT: usize = 64;

/// A leadership transfer under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Transfer {
    /// The peer that is to lead.
    to: PeerId,
    /// Given up at this time if `to` has not won.
    deadline_ms: u64,
}
use peer::coverage::{self, mark};

/// True when the test-only mutant `$bug` is on (never without the
/// `injected-bugs` feature, where it compiles to `false`).
macro_rules! mutant {
    ($raft:expr, $bug:ident) => {{
        #[cfg(feature = "injected-bugs")]
        let on = $raft.config.injected_bug == Some(crate::InjectedBug::$bug);
        #[cfg(not(feature = "injected-bugs"))]
        let on = false;
        on
    }};
}

/// The peer's own assertion, which a mutant run can switch off (see
/// `Config::internal_assertions`).
macro_rules! internal_assert {
    ($raft:expr, $($arg:tt)+) => {{
        if $raft.config.assertions_on() {
            assert!($($arg)+);
        }
    }};
}

/// A peer's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// One Raft peer. See the crate documentation for how to drive it.
#[derive(Debug)]
pub struct Raft {
    config: Config,

    // Persistent state (Figure 2), plus the snapshot that stands in for the log prefix.
    current_term: Term,
    voted_for: Option<PeerId>,
    log: RaftLog,
    snapshot_data: Vec<u8>,

    // Volatile state.
    role: Role,
    commit_index: Index,
    last_applied: Index,
    leader_id: Option<PeerId>,
    /// Leader only: nextIndex and matchIndex per peer.
    progress: ProgressTracker,
    /// Candidate only: who granted us their vote this term.
    votes_granted: PeerSet,
    /// Follower running a PreVote round: the term it asks about, and who agreed.
    pre_vote_term: Option<Term>,
    pre_votes_granted: PeerSet,
    /// The configuration in effect: the latest in the log, committed or not
    /// (thesis 4.1), kept in step with every change to the log.
    membership: Membership,
    /// The index of the entry holding `membership` (the snapshot's, or 0,
    /// when no entry in the log does). Once commit_index reaches it, the
    /// change is done and another may start.
    membership_index: Index,
    /// The configuration in effect before `membership` (itself when the
    /// log no longer tells).
    previous_membership: Membership,
    /// When this peer last heard from a leader of its term (PreVote's stickiness:
    /// a follower that hears from a live leader does not help unseat it).
    heard_leader_ms: Option<u64>,
    /// The term and vote read from the disk at restart (only to mark the moment
    /// another candidate asks for a vote in that term).
    restored_vote: (Term, Option<PeerId>),

    election_deadline_ms: u64,
    heartbeat_deadline_ms: u64,
    /// Leader with CheckQuorum: when it next counts who answered.
    quorum_check_deadline_ms: u64,
    /// Leader only: a leadership transfer under way (to whom, and when it is
    /// given up). While it lasts the leader accepts no command.
    transfer: Option<Transfer>,
    /// Leader only: the latest ReadIndex round; every AppendEntries carries
    /// it and every reply echoes it.
    read_round: u64,
    /// Leader only: reads asked and not yet confirmed, as (ctx, round), in
    /// round order.
    pending_reads: Vec<(u64, u64)>,
    /// Follower: the round of the AppendEntries being answered.
    echo_read_round: u64,
    /// Reads confirmed, for the next Ready.
    read_states: Vec<ReadState>,
    /// Leader with lease reads: the heartbeat rounds not yet answered by a
    /// majority, as (round, sent at), oldest first.
    rounds_sent: std::collections::VecDeque<(u64, u64)>,
    /// Leader with lease reads: reads need no round before this time.
    lease_until_ms: u64,
    /// Leader: a leadership transfer was started this term. Its TimeoutNow
    /// lets the target win votes a lease counts on, so no lease read is
    /// served again in this term (etcd-io/raft#99).
    lease_revoked: bool,
    rng: SplitMix64,

    // Output not yet taken by `ready()`.
    hard_state_dirty: bool,
    /// Lowest index written or overwritten since the last Ready.
    unstable_from: Option<Index>,
    snapshot_dirty: bool,
    messages: Vec<(PeerId, Message)>,
    applies: Vec<ApplyMsg>,
}

impl Raft {
    /// A peer starting fresh (`restored == None`) or from what it persisted. A restarted
    /// peer starts from its snapshot (commit_index = last_applied = snapshot index), and
    /// its first Ready hands that snapshot to the service again.
    pub fn new(config: Config, restored: Option<Restored>, now_ms: u64) -> Result<Raft, RaftError> {
        config.validate()?;
        let restored = restored.unwrap_or_default();
        validate_restored(&config, &restored)?;
        let Restored {
            hard_state,
            snapshot,
            entries,
        } = restored;
        let hard_state = hard_state.unwrap_or_default();
        let initial = Membership::of_voters(config.voters);
        let (snapshot_index, snapshot_term, snapshot_membership, snapshot_data) = match snapshot {
            Some(s) => (
                s.last_included_index,
                s.last_included_term,
                s.membership,
                s.data,
            ),
            None => (0, 0, initial, Vec::new()),
        };
        let log = RaftLog::new(snapshot_index, snapshot_term, snapshot_membership, entries);
        let mut raft = Raft::at_rest(config, hard_state, log, snapshot_data);
        if snapshot_index > 0 {
            raft.applies.push(ApplyMsg::Snapshot {
                index: snapshot_index,
                term: snapshot_term,
                data: raft.snapshot_data.clone(),
            });
        }
        raft.refresh_membership();
        raft.reset_election_timer(now_ms);
        Ok(raft)
    }

    /// A follower that knows nothing beyond its persisted state: its log
    /// (and snapshot), term and vote; every volatile field at its start.
    fn at_rest(
        config: Config,
        hard_state: HardState,
        log: RaftLog,
        snapshot_data: Vec<u8>,
    ) -> Raft {
        let snapshot_index = log.snapshot_index();
        let initial = Membership::of_voters(config.voters);
        // Mix the id in so that peers given the same seed still draw different timeouts.
        let seed = config.rng_seed ^ (config.id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Raft {
            current_term: hard_state.current_term,
            voted_for: hard_state.voted_for,
            log,
            snapshot_data,
            role: Role::Follower,
            commit_index: snapshot_index,
            last_applied: snapshot_index,
            leader_id: None,
            progress: ProgressTracker::default(),
            votes_granted: PeerSet::EMPTY,
            pre_vote_term: None,
            pre_votes_granted: PeerSet::EMPTY,
            // Set from the log by refresh_membership below.
            membership: initial,
            membership_index: 0,
            previous_membership: initial,
            heard_leader_ms: None,
            restored_vote: (hard_state.current_term, hard_state.voted_for),
            election_deadline_ms: 0,
            heartbeat_deadline_ms: 0,
            quorum_check_deadline_ms: 0,
            transfer: None,
            read_round: 0,
            pending_reads: Vec::new(),
            echo_read_round: 0,
            read_states: Vec::new(),
            rounds_sent: Default::default(),
            lease_until_ms: 0,
            lease_revoked: false,
            rng: SplitMix64::new(seed),
            hard_state_dirty: false,
            unstable_from: None,
            snapshot_dirty: false,
            messages: Vec::new(),
            applies: Vec::new(),
            config,
        }
    }

    // ----- inputs -----

    /// Time passes: a follower or candidate whose election timer expired starts an
    /// election; a leader whose heartbeat is due sends AppendEntries to every follower.
    pub fn tick(&mut self, now_ms: u64) {
        match self.role {
            Role::Leader => self.tick_leader(now_ms),
            Role::Follower | Role::Candidate => {
                if now_ms >= self.election_deadline_ms && !self.may_campaign() {
                    // A learner, or a server outside the configuration,
                    // never campaigns (thesis 4.2.1): it waits for a leader.
                    mark(coverage::NON_VOTER_DID_NOT_CAMPAIGN);
                    self.reset_election_timer(now_ms);
                } else if now_ms >= self.election_deadline_ms {
                    if self.config.pre_vote {
                        self.pre_campaign(now_ms);
                    } else {
                        self.campaign(now_ms);
                    }
                }
            }
        }
    }

    /// A leader's time: CheckQuorum's count, then the heartbeat if due.
    fn tick_leader(&mut self, now_ms: u64) {
        self.step_down_when_removed(now_ms);
        if self.role != Role::Leader {
            return;
        }
        if self.transfer.is_some_and(|t| now_ms >= t.deadline_ms) {
            mark(coverage::TRANSFER_ABORTED);
            self.transfer = None;
        }
        if self.config.check_quorum && now_ms >= self.quorum_check_deadline_ms {
            if !self
                .progress
                .check_quorum_active(self.config.id, &self.membership)
            {
                mark(coverage::CHECK_QUORUM_STEPPED_DOWN);
                self.become_follower(now_ms, self.current_term, None);
                return;
            }
            self.quorum_check_deadline_ms = now_ms + self.config.election_timeout_min_ms;
        }
        if now_ms >= self.heartbeat_deadline_ms {
            self.broadcast_heartbeat(now_ms);
        }
    }

    /// The latest time at which [`Raft::tick`] must next be called.
    pub fn next_deadline_ms(&self) -> u64 {
        match self.role {
            Role::Leader => {
                let mut at = self.heartbeat_deadline_ms;
                if self.config.check_quorum {
                    at = at.min(self.quorum_check_deadline_ms);
                }
                self.transfer.map_or(at, |t| at.min(t.deadline_ms))
            }
            Role::Follower | Role::Candidate => self.election_deadline_ms,
        }
    }

    /// A message arrived from peer `from`. Every request produces exactly one reply to
    /// `from` in the next Ready; replies produce none.
    pub fn step(&mut self, now_ms: u64, from: PeerId, msg: Message) -> Result<(), RaftError> {
        self.validate_message(from, &msg)?;
        // PreVotes live outside the term rules: asking or agreeing changes no term.
        match &msg {
            Message::RequestVote(args) if args.pre_vote => {
                self.handle_pre_vote(now_ms, from, args);
                self.check_invariants();
                return Ok(());
            }
            Message::RequestVoteReply(reply) if reply.pre_vote && reply.vote_granted => {
                self.handle_pre_vote_grant(now_ms, from, reply.term);
                self.check_invariants();
                return Ok(());
            }
            _ => {}
        }
        if let Message::RequestVote(args) = &msg
            && args.term > self.current_term
            && self.config.check_quorum
            && !args.leader_transfer
            && self.leader_alive(now_ms)
        {
            // CheckQuorum's other half: the leader we hear is alive, so this
            // candidate (cut off from it, or restarted with a higher term)
            // must not depose it. Its term is not taken either.
            mark(coverage::VOTE_REFUSED_LEADER_ALIVE);
            self.send(
                from,
                Message::RequestVoteReply(RequestVoteReply {
                    term: self.current_term,
                    vote_granted: false,
                    pre_vote: false,
                }),
            );
            self.check_invariants();
            return Ok(());
        }
        if let Message::AppendEntries(a) = &msg {
            self.echo_read_round = a.read_round;
        }
        // Figure 2, all servers: a higher term makes us a follower of that term.
        if msg.term() > self.current_term {
            let leader = match &msg {
                Message::AppendEntries(_) | Message::InstallSnapshot(_) => Some(from),
                _ => None,
            };
            self.become_follower(now_ms, msg.term(), leader);
        }
        match self.role {
            Role::Follower => self.step_follower(now_ms, from, msg),
            Role::Candidate => self.step_candidate(now_ms, from, msg),
            Role::Leader => self.step_leader(now_ms, from, msg),
        }
        self.step_down_when_removed(now_ms);
        self.check_invariants();
        Ok(())
    }

    /// 6.824's Start: as leader, append `command` and return (index, term, true); else
    /// (index it would get, term, false). New entries go out at once to followers with
    /// nothing in flight; the others get them batched into their next AppendEntries.
    pub fn start(&mut self, now_ms: u64, command: Vec<u8>) -> (Index, Term, bool) {
        let _ = now_ms; // sending does not depend on time; kept for a uniform input API
        let index = self.log.last_index() + 1;
        if self.role != Role::Leader || self.transfer.is_some() {
            return (index, self.current_term, false);
        }
        self.append_entry(Entry::command(self.current_term, index, command));
        let me = self.config.id;
        self.progress.get_mut(me).on_match(index);
        self.maybe_commit(); // a one-peer cluster commits alone
        self.send_new_entries();
        self.check_invariants();
        (index, self.current_term, true)
    }

    /// New entries go out at once to followers with nothing in flight; the
    /// others get them batched into their next AppendEntries.
    fn send_new_entries(&mut self) {
        for peer in self.replicas() {
            if self.role == Role::Leader && !self.progress.get(peer).inflight {
                self.send_append(peer);
            }
        }
    }

    /// Membership change (thesis chapter 4): as leader, move to `target`
    /// (voters and learners; `outgoing` empty). A change of at most one
    /// voter is one entry (4.2); a larger one is joint consensus (4.3): an
    /// entry with both voter sets, then, once that one commits, the leader
    /// appends the new set alone. A configuration takes effect on each peer
    /// as soon as it is in its log, committed or not, and the next change
    /// waits until it commits. Returns the index of the entry appended.
    pub fn change_membership(
        &mut self,
        now_ms: u64,
        target: Membership,
    ) -> Result<Index, RaftError> {
        let _ = now_ms;
        self.validate_change(&target)?;
        if self.role != Role::Leader || self.transfer.is_some() {
            return Err(RaftError::NotLeader);
        }
        if self.membership_index > self.commit_index || self.membership.is_joint() {
            let index = self.membership_index;
            return Err(RaftError::ChangeInProgress { index });
        }
        if self.log.term_at(self.commit_index) != Some(self.current_term) {
            // Ongaro's fix to single-server changes (raft-dev, 2015): a new
            // leader first commits an entry of its own term, so that no
            // change of a deposed leader's can still be decided behind it.
            mark(coverage::CHANGE_WAITS_FOR_TERM_ENTRY);
            if self.log.last_term() != self.current_term {
                self.append_no_op();
                self.send_new_entries();
            }
            let index = self.log.last_index();
            return Err(RaftError::TermEntryPending { index });
        }
        let moved = self
            .membership
            .voters
            .union(target.voters)
            .minus(self.membership.voters.intersection(target.voters));
        let next = match moved.len() <= 1 {
            true => target,
            false => {
                mark(coverage::JOINT_CONSENSUS_ENTERED);
                Membership {
                    outgoing: self.membership.voters,
                    ..target
                }
            }
        };
        let index = self.append_membership(next);
        self.check_invariants();
        Ok(index)
    }

    /// Refuses a target that is joint, empty of voters, outside the
    /// cluster's peers, or that makes a peer both voter and learner.
    fn validate_change(&self, target: &Membership) -> Result<(), RaftError> {
        let bad = |why: String| Err(RaftError::InvalidMembership(why));
        if target.is_joint() {
            return bad("the target must name its voters only (outgoing is empty)".into());
        }
        if target.voters.is_empty() {
            return Err(RaftError::NoVoters);
        }
        if let Some(p) = target
            .members()
            .minus(PeerSet::first(self.config.peers))
            .iter()
            .next()
        {
            return Err(RaftError::UnknownPeer(p));
        }
        if !target.voters.intersection(target.learners).is_empty() {
            let both = target.voters.intersection(target.learners);
            return bad(format!(
                "peers {both} cannot be voters and learners at once"
            ));
        }
        Ok(())
    }

    /// Appends `next` as a configuration entry, in effect at once, and sends it.
    fn append_membership(&mut self, next: Membership) -> Index {
        let index = self.log.last_index() + 1;
        self.append_entry(Entry {
            kind: EntryKind::Membership,
            ..Entry::command(self.current_term, index, next.encode())
        });
        let me = self.config.id;
        self.progress.get_mut(me).on_match(index);
        self.maybe_commit();
        self.send_new_entries();
        index
    }

    /// True for a leader whose latest configuration is committed.
    fn membership_committed(&self) -> bool {
        self.role == Role::Leader && self.membership_index <= self.commit_index
    }

    /// A leader whose joint configuration committed leaves it: the new
    /// voters alone (thesis 4.3).
    fn leave_joint_when_committed(&mut self) {
        if self.membership_committed() && self.membership.is_joint() {
            mark(coverage::JOINT_CONSENSUS_LEFT);
            self.append_membership(self.membership.leave_joint());
        }
    }

    /// A leader that is no voter of its committed configuration steps down
    /// (thesis 4.2.2: it managed the cluster until then without counting
    /// itself in majorities).
    fn step_down_when_removed(&mut self, now_ms: u64) {
        if self.membership_committed() && !self.membership.is_joint() && !self.is_voter() {
            mark(coverage::REMOVED_LEADER_STEPPED_DOWN);
            self.become_follower(now_ms, self.current_term, None);
        }
    }

    /// This peer votes in the configuration in effect.
    fn is_voter(&self) -> bool {
        self.membership.is_voter(self.config.id)
    }

    /// A voter campaigns, and so does a peer that voted in the configuration
    /// before an uncommitted one that leaves it out: otherwise a leader
    /// deposed between appending its own removal (C_new, in effect at once)
    /// and committing it could leave the cluster without a candidate that
    /// can win, when the only log holding C_new is its own. It counts votes
    /// in its latest configuration, which does not count it (thesis 4.2.2:
    /// a leader can manage a cluster it is not part of), commits C_new, and
    /// steps down.
    fn may_campaign(&self) -> bool {
        let me = self.config.id;
        let pending = self.membership_index > self.commit_index;
        self.is_voter() || (pending && self.previous_membership.is_voter(me))
    }

    /// The configuration this peer follows now.
    pub fn membership(&self) -> Membership {
        self.membership
    }

    /// ReadIndex (thesis 6.4): confirm with one round of heartbeats that this
    /// peer still leads, wait until an entry of its term is committed (it
    /// appends an empty one if it has none), then hand back
    /// `ReadState { ctx, index: commit_index }`. A leader that steps down
    /// first never confirms the read.
    pub fn read_index(&mut self, now_ms: u64, ctx: u64) -> Result<(), RaftError> {
        if self.role != Role::Leader || self.transfer.is_some() {
            return Err(RaftError::NotLeader);
        }
        if self.log.last_term() != self.current_term {
            mark(coverage::READ_INDEX_NO_OP);
            self.append_no_op();
        }
        if self.holds_lease(now_ms)
            && self.log.term_at(self.commit_index) == Some(self.current_term)
        {
            mark(coverage::LEASE_READ);
            let index = self.commit_index;
            self.read_states.push(ReadState { ctx, index });
            return Ok(());
        }
        self.read_round += 1;
        self.pending_reads.push((ctx, self.read_round));
        self.progress.get_mut(self.config.id).acked_read_round = self.read_round;
        self.broadcast_heartbeat(now_ms);
        self.maybe_commit();
        self.confirm_reads();
        self.check_invariants();
        Ok(())
    }

    /// A leader's empty entry of its term (the service skips it), for what
    /// waits on an entry of this term being committed.
    fn append_no_op(&mut self) {
        let index = self.log.last_index() + 1;
        self.append_entry(Entry::command(self.current_term, index, Vec::new()));
        self.progress.get_mut(self.config.id).on_match(index);
    }

    /// Lease reads: the lease is on and has not run out.
    fn holds_lease(&self, now_ms: u64) -> bool {
        self.config.lease_reads
            && self.config.check_quorum
            && !self.lease_revoked
            && now_ms < self.lease_until_ms
    }

    /// How long a round a majority answered keeps the lease: the followers
    /// refuse other candidates for a minimum election timeout on their
    /// clocks, which may run fast, while this leader's may run slow.
    fn lease_ms(&self) -> u64 {
        let (min, drift) = (
            self.config.election_timeout_min_ms,
            self.config.max_clock_drift_ppm,
        );
        min * (1_000_000 - drift) / (1_000_000 + drift)
    }

    /// Extends the lease through the latest round a majority answered.
    fn extend_lease(&mut self) {
        if self.rounds_sent.is_empty() {
            return; // no lease reads, or nothing new to count (every reply)
        }
        let answered = self.progress.quorum_read_round(&self.membership);
        while let Some(&(round, sent_ms)) = self.rounds_sent.front() {
            if round > answered {
                break;
            }
            self.rounds_sent.pop_front();
            self.lease_until_ms = self.lease_until_ms.max(sent_ms + self.lease_ms());
        }
    }

    /// Hands over the reads whose round a majority echoed, once the commit
    /// index holds an entry of this term (before that it may lag what an
    /// earlier leader committed).
    fn confirm_reads(&mut self) {
        if self.pending_reads.is_empty()
            || self.log.term_at(self.commit_index) != Some(self.current_term)
        {
            return;
        }
        let confirmed = match mutant!(self, ReadIndexWithoutRound) {
            true => u64::MAX,
            false => self.progress.quorum_read_round(&self.membership),
        };
        let done = self
            .pending_reads
            .partition_point(|&(_, round)| round <= confirmed);
        let index = self.commit_index;
        for (ctx, _) in self.pending_reads.drain(..done) {
            mark(coverage::READ_INDEX_CONFIRMED);
            self.read_states.push(ReadState { ctx, index });
        }
    }

    /// Leadership transfer (thesis 3.10): bring `to` up to date, then tell it to
    /// campaign at once (TimeoutNow). No command is accepted until the
    /// transfer ends: `to` wins (this peer steps down on its higher term), or
    /// a minimum election timeout passes and the transfer is given up. A
    /// transfer to this peer itself does nothing.
    pub fn transfer_leadership(&mut self, now_ms: u64, to: PeerId) -> Result<(), RaftError> {
        if to >= self.config.peers {
            return Err(RaftError::UnknownPeer(to));
        }
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader);
        }
        if to == self.config.id {
            return Ok(());
        }
        if !self.membership.is_voter(to) {
            return Err(RaftError::NotAVoter(to));
        }
        let deadline_ms = now_ms + self.config.election_timeout_min_ms;
        self.transfer = Some(Transfer { to, deadline_ms });
        self.lease_revoked = true;
        if self.progress.get(to).match_index == self.log.last_index() {
            self.send_timeout_now(to);
        } else if !self.progress.get(to).inflight {
            self.send_append(to);
        }
        self.check_invariants();
        Ok(())
    }

    /// The service's state through `index` is `data`: discard the log through `index`.
    /// A no-op if `index` is at or below the current snapshot.
    pub fn snapshot(&mut self, index: Index, data: Vec<u8>) -> Result<(), RaftError> {
        if index <= self.log.snapshot_index() {
            return Ok(());
        }
        if index > self.commit_index {
            return Err(RaftError::SnapshotBeyondCommit {
                index,
                commit_index: self.commit_index,
            });
        }
        if index > self.last_applied {
            return Err(RaftError::SnapshotBeyondApplied {
                index,
                last_applied: self.last_applied,
            });
        }
        let term = self
            .log
            .term_at(index)
            .expect("committed index above the snapshot is in the log");
        let (membership, _) = self.log.membership_at(index);
        self.log.compact_to(index, term, membership);
        self.snapshot_data = data;
        self.snapshot_dirty = true;
        self.check_invariants();
        Ok(())
    }

    /// True if [`Raft::ready`] has anything to hand out.
    pub fn has_ready(&self) -> bool {
        self.hard_state_dirty
            || self.snapshot_dirty
            || self
                .unstable_from
                .is_some_and(|i| i.max(self.log.first_index()) <= self.log.last_index())
            || !self.messages.is_empty()
            || !self.applies.is_empty()
            || !self.read_states.is_empty()
    }

    /// Take all pending output. See [`Ready`] for what the driver must do with it.
    pub fn ready(&mut self) -> Ready {
        let voted_for = if mutant!(self, VotedForNotPersisted) {
            None
        } else {
            self.voted_for
        };
        let hard_state = std::mem::take(&mut self.hard_state_dirty).then_some(HardState {
            current_term: self.current_term,
            voted_for,
        });
        let snapshot = std::mem::take(&mut self.snapshot_dirty).then(|| Snapshot {
            last_included_index: self.log.snapshot_index(),
            last_included_term: self.log.snapshot_term(),
            membership: self.log.membership_at(self.log.snapshot_index()).0,
            data: self.snapshot_data.clone(),
        });
        // Entries now inside the snapshot are covered by it, so start after it.
        let entries = match self.unstable_from.take() {
            Some(from) => {
                let from = from.max(self.log.first_index());
                if from <= self.log.last_index() {
                    self.log.entries_from(from, usize::MAX).to_vec()
                } else {
                    Vec::new()
                }
            }
            None => Vec::new(),
        };
        Ready {
            hard_state,
            entries,
            snapshot,
            messages: std::mem::take(&mut self.messages),
            applies: std::mem::take(&mut self.applies),
            read_states: std::mem::take(&mut self.read_states),
        }
    }

    // ----- read-only introspection -----

    /// 6.824's GetState: (current_term, is_leader).
    pub fn get_state(&self) -> (Term, bool) {
        (self.current_term, self.role == Role::Leader)
    }
    pub fn id(&self) -> PeerId {
        self.config.id
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn current_term(&self) -> Term {
        self.current_term
    }
    pub fn voted_for(&self) -> Option<PeerId> {
        self.voted_for
    }
    pub fn commit_index(&self) -> Index {
        self.commit_index
    }
    pub fn last_applied(&self) -> Index {
        self.last_applied
    }
    /// First index still in the log (snapshot index + 1).
    pub fn first_index(&self) -> Index {
        self.log.first_index()
    }
    pub fn last_index(&self) -> Index {
        self.log.last_index()
    }
    pub fn last_term(&self) -> Term {
        self.log.last_term()
    }
    pub fn snapshot_index(&self) -> Index {
        self.log.snapshot_index()
    }
    pub fn snapshot_term(&self) -> Term {
        self.log.snapshot_term()
    }
    /// The current snapshot's data (empty without one).
    pub fn snapshot_data(&self) -> &[u8] {
        &self.snapshot_data
    }
    /// Term of the entry at `index`; known for held entries and the snapshot's own index.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.log.term_at(index)
    }
    /// The entry at `index` if it is still in the log (not compacted, not past the end).
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        self.log.entry(index)
    }
    /// The leader this peer last heard from in its current term (itself when leader).
    pub fn leader_id(&self) -> Option<PeerId> {
        self.leader_id
    }
    /// Leader only: (next_index, match_index) of `peer`.
    pub fn progress_of(&self, peer: PeerId) -> Option<(Index, Index)> {
        (self.role == Role::Leader && peer < self.config.peers).then(|| {
            let p = self.progress.get(peer);
            (p.next_index, p.match_index)
        })
    }

    // ----- role step functions -----

    fn step_follower(&mut self, now_ms: u64, from: PeerId, msg: Message) {
        match msg {
            Message::RequestVote(args) => self.handle_request_vote(now_ms, from, args),
            Message::AppendEntries(args) => self.handle_append_entries(now_ms, from, args),
            Message::InstallSnapshot(args) => self.handle_install_snapshot(now_ms, from, args),
            Message::TimeoutNow(args) => {
                // The leader of our term hands over (an older one's is stale).
                if args.term == self.current_term && self.may_campaign() {
                    mark(coverage::TIMEOUT_NOW_CAMPAIGN);
                    self.campaign_for(now_ms, true);
                }
            }
            // Replies to something we sent as candidate or leader of an older term.
            Message::RequestVoteReply(_)
            | Message::AppendEntriesReply(_)
            | Message::InstallSnapshotReply(_) => {}
        }
    }

    fn step_candidate(&mut self, now_ms: u64, from: PeerId, msg: Message) {
        match msg {
            Message::RequestVote(args) => self.handle_request_vote(now_ms, from, args),
            Message::AppendEntries(args) => {
                // A leader of our term exists (its term is not below ours, else the
                // handler just rejects): give up the candidacy.
                if args.term == self.current_term {
                    self.become_follower(now_ms, args.term, Some(from));
                }
                self.handle_append_entries(now_ms, from, args)
            }
            Message::InstallSnapshot(args) => {
                if args.term == self.current_term {
                    self.become_follower(now_ms, args.term, Some(from));
                }
                self.handle_install_snapshot(now_ms, from, args)
            }
            Message::RequestVoteReply(reply) => {
                let current = reply.term == self.current_term || mutant!(self, StaleRepliesCounted);
                if reply.term != self.current_term {
                    mark(coverage::STALE_REPLY_IGNORED);
                    if reply.vote_granted {
                        mark(coverage::STALE_VOTE_IGNORED);
                    }
                }
                if current && reply.vote_granted {
                    self.votes_granted = self.votes_granted.with(from); // duplicates count once
                    if self.has_quorum_of_votes() {
                        self.become_leader(now_ms);
                    }
                }
            }
            // Already campaigning; a TimeoutNow of our term came from no leader.
            Message::AppendEntriesReply(_)
            | Message::InstallSnapshotReply(_)
            | Message::TimeoutNow(_) => {}
        }
    }

    fn step_leader(&mut self, now_ms: u64, from: PeerId, msg: Message) {
        if msg.term() == self.current_term {
            self.progress.get_mut(from).recent_active = true;
        }
        if let Message::AppendEntriesReply(r) = &msg
            && r.term == self.current_term
        {
            // Accepted or not, the follower took this peer as its term's leader.
            let pr = self.progress.get_mut(from);
            pr.acked_read_round = pr.acked_read_round.max(r.read_round);
            self.extend_lease();
            self.confirm_reads();
        }
        match msg {
            Message::RequestVote(args) => self.handle_request_vote(now_ms, from, args),
            Message::AppendEntries(args) => {
                // Another leader in our own term would break Election Safety; stale ones
                // (lower term) are simply rejected.
                internal_assert!(
                    self,
                    args.term < self.current_term,
                    "two leaders ({} and {from}) in term {}",
                    self.config.id,
                    args.term
                );
                self.reply_append_entries(from, false, args.prev_log_index, 0, None);
            }
            Message::InstallSnapshot(args) => {
                internal_assert!(
                    self,
                    args.term < self.current_term,
                    "two leaders in term {}",
                    args.term
                );
                self.send(
                    from,
                    Message::InstallSnapshotReply(InstallSnapshotReply {
                        term: self.current_term,
                        last_included_index: args.last_included_index,
                    }),
                );
            }
            Message::AppendEntriesReply(reply) => self.handle_append_entries_reply(from, reply),
            Message::InstallSnapshotReply(reply) => {
                if reply.term != self.current_term {
                    return;
                }
                self.on_acknowledged(from, reply.last_included_index);
            }
            // A TimeoutNow of our own term cannot come from another leader.
            Message::RequestVoteReply(_) | Message::TimeoutNow(_) => {}
        }
    }

    // ----- handlers -----

    /// Would we vote for `from` in `args.term`? Yes if that term is ahead of ours, its
    /// log is at least as up to date as ours, and we have not heard from a live leader
    /// within the minimum election timeout. Nothing here changes our state.
    /// Section 5.4.1: is the candidate's log at least as up to date as ours (its
    /// last term later, or the same last term and at least as long)?
    fn is_up_to_date(&self, args: &RequestVoteArgs) -> bool {
        if mutant!(self, VoteWithoutLogCheck) {
            return true;
        }
        (args.last_log_term, args.last_log_index) >= (self.log.last_term(), self.log.last_index())
    }

    /// Asks every other peer for its vote (or PreVote) in `term`.
    fn request_votes(&mut self, term: Term, pre_vote: bool, leader_transfer: bool) {
        let args = RequestVoteArgs {
            term,
            candidate_id: self.config.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            pre_vote,
            leader_transfer,
        };
        let voters = self.membership.all_voters().without(self.config.id);
        for peer in voters.iter() {
            self.send(peer, Message::RequestVote(args.clone()));
        }
    }

    /// This peer leads, or heard from its leader within the minimum election
    /// timeout: an election now would depose a live leader.
    fn leader_alive(&self, now_ms: u64) -> bool {
        self.role == Role::Leader
            || self
                .heard_leader_ms
                .is_some_and(|t| now_ms < t + self.config.election_timeout_min_ms)
    }

    fn handle_pre_vote(&mut self, now_ms: u64, from: PeerId, args: &RequestVoteArgs) {
        let up_to_date = self.is_up_to_date(args);
        let leader_alive = self.leader_alive(now_ms);
        let grant = args.term > self.current_term && up_to_date && !leader_alive;
        if args.term > self.current_term && !up_to_date {
            mark(coverage::VOTE_REFUSED_STALE_LOG);
        } else if args.term > self.current_term && leader_alive {
            mark(coverage::PRE_VOTE_REFUSED_LEADER_ALIVE);
        }
        self.send(
            from,
            Message::RequestVoteReply(RequestVoteReply {
                term: if grant { args.term } else { self.current_term },
                vote_granted: grant,
                pre_vote: true,
            }),
        );
    }

    fn handle_pre_vote_grant(&mut self, now_ms: u64, from: PeerId, term: Term) {
        if self.role != Role::Follower || self.pre_vote_term != Some(term) {
            return; // a grant for a round we are no longer running
        }
        self.pre_votes_granted = self.pre_votes_granted.with(from);
        if self.membership.is_quorum(self.pre_votes_granted) {
            self.campaign(now_ms);
        }
    }

    /// Election timeout with PreVote on: ask first, without bumping the term.
    fn pre_campaign(&mut self, now_ms: u64) {
        if self.role == Role::Candidate {
            self.role = Role::Follower;
        }
        self.leader_id = None;
        self.heard_leader_ms = None;
        let term = self.current_term + 1;
        self.pre_vote_term = Some(term);
        self.pre_votes_granted = PeerSet::EMPTY.with(self.config.id);
        self.reset_election_timer(now_ms);
        if self.membership.is_quorum(self.pre_votes_granted) {
            self.campaign(now_ms); // a one-peer cluster needs nobody's agreement
            return;
        }
        self.request_votes(term, true, false);
    }

    fn handle_request_vote(&mut self, now_ms: u64, from: PeerId, args: RequestVoteArgs) {
        let up_to_date = self.is_up_to_date(&args);
        let may_vote =
            args.term == self.current_term && self.voted_for.is_none_or(|v| v == args.candidate_id);
        let grant = may_vote && up_to_date;
        if may_vote && !up_to_date {
            mark(coverage::VOTE_REFUSED_STALE_LOG);
            mark(coverage::REAL_VOTE_REFUSED_STALE_LOG);
        } else if args.term == self.current_term && !may_vote {
            mark(coverage::VOTE_REFUSED_ALREADY_VOTED);
        }
        let (restored_term, restored_vote) = self.restored_vote;
        if args.term == restored_term && args.term > 0 && restored_vote != Some(args.candidate_id) {
            mark(coverage::VOTE_ASKED_IN_RESTORED_TERM);
        }
        if grant {
            mark(coverage::VOTE_GRANTED);
            if self.voted_for != Some(args.candidate_id) {
                self.voted_for = Some(args.candidate_id);
                self.hard_state_dirty = true;
            }
            // A candidate that cast no vote for itself (outside its latest
            // configuration) gives up its campaign with its vote: a leader
            // holds its own term's vote.
            if self.role == Role::Candidate {
                self.become_follower(now_ms, self.current_term, None);
            }
            self.reset_election_timer(now_ms);
        } else if mutant!(self, TimerResetOnRefusedVote) {
            self.reset_election_timer(now_ms);
        }
        self.send(
            from,
            Message::RequestVoteReply(RequestVoteReply {
                term: self.current_term,
                vote_granted: grant,
                pre_vote: false,
            }),
        );
    }

    /// The AppendEntries receiver of Figure 2: a stale leader is refused;
    /// otherwise the log must match the leader's at prevLogIndex, what is new
    /// is appended, and the commit index follows the leader's.
    fn handle_append_entries(&mut self, now_ms: u64, from: PeerId, args: AppendEntriesArgs) {
        if args.term < self.current_term {
            mark(coverage::APPEND_FROM_STALE_LEADER);
        }
        if args.term < self.current_term && !mutant!(self, AppendFromStaleLeader) {
            // The reply's higher term tells the stale leader to step down.
            self.reply_append_entries(from, false, args.prev_log_index, 0, None);
            return;
        }
        internal_assert!(
            self,
            self.role == Role::Follower,
            "peer {}: an AppendEntries of its term found it {:?}",
            self.config.id,
            self.role
        );
        self.leader_id = Some(from);
        self.heard_leader_ms = Some(now_ms);
        self.pre_vote_term = None;
        self.reset_election_timer(now_ms);

        let last_new = args.prev_log_index + args.entries.len() as Index;
        let Some(entries) = self.entries_past_matching_prev(from, &args, last_new) else {
            return;
        };
        self.append_new_entries(entries, last_new);
        self.commit_from_leader(args.leader_commit, last_new);
        self.reply_append_entries(from, true, last_new, 0, None);
    }

    /// Receiver step 2: the entries of `args` after the point where this log
    /// is known to match the leader's. `None`, with the reply sent, when the
    /// log does not hold prevLogTerm at prevLogIndex (with the hint of where
    /// the leader should back up to), or when the snapshot holds every entry.
    fn entries_past_matching_prev<'a>(
        &mut self,
        from: PeerId,
        args: &'a AppendEntriesArgs,
        last_new: Index,
    ) -> Option<&'a [Entry]> {
        let prev = args.prev_log_index;
        let snapshot_index = self.log.snapshot_index();
        if prev < snapshot_index {
            // Everything through our snapshot is committed, hence equal to the leader's:
            // skip that part and check consistency at the snapshot point instead.
            let skip = ((snapshot_index - prev) as usize).min(args.entries.len());
            let entries = &args.entries[skip..];
            if entries.is_empty() {
                self.reply_append_entries(from, true, last_new, 0, None);
                return None;
            }
            debug_assert_eq!(entries[0].index, snapshot_index + 1);
            return Some(entries);
        }
        match self.log.term_at(prev) {
            None => {
                mark(coverage::APPEND_PREV_MISMATCH);
                let ci = self.log.last_index() + 1;
                self.reply_append_entries(from, false, prev, ci, None);
                None
            }
            Some(term)
                if term != args.prev_log_term && !mutant!(self, AppendWithoutPrevLogCheck) =>
            {
                mark(coverage::APPEND_PREV_MISMATCH);
                let ci = self.log.first_index_of_term_at(prev);
                self.reply_append_entries(from, false, prev, ci, Some(term));
                None
            }
            Some(_) => {
                debug_assert_eq!(args.entries.first().map_or(prev + 1, |e| e.index), prev + 1);
                Some(&args.entries)
            }
        }
    }

    /// Receiver steps 3 and 4: truncate at the first entry that conflicts
    /// with the leader's, and append what the log does not hold. `entries`
    /// follow a point where the log matches the leader's; the last of them is
    /// `last_new`.
    fn append_new_entries(&mut self, entries: &[Entry], last_new: Index) {
        let matching = |e: &Entry| self.log.term_at(e.index) == Some(e.term);
        if !entries.is_empty() && self.log.last_index() > last_new && entries.iter().all(matching) {
            mark(coverage::MATCHING_ENTRIES_KEPT);
        }
        if mutant!(self, TruncateMatchingSuffix)
            && let Some(first) = entries.first()
            && first.index <= self.log.last_index()
        {
            self.truncate_log_from(first.index);
        }
        // Truncate only at a real conflict. A stale or duplicated AppendEntries whose
        // entries all match changes nothing (truncating there could drop entries that
        // are already committed).
        for (i, e) in entries.iter().enumerate() {
            match self.log.term_at(e.index) {
                Some(term) if term == e.term => continue,
                Some(_) => {
                    internal_assert!(
                        self,
                        e.index > self.commit_index,
                        "peer {}: conflict at committed index {} (commit_index {})",
                        self.config.id,
                        e.index,
                        self.commit_index
                    );
                    self.truncate_log_from(e.index);
                }
                None => {}
            }
            for e in &entries[i..] {
                self.append_entry(e.clone());
            }
            break;
        }
    }

    /// Receiver step 5: commitIndex = min(leaderCommit, index of the last new
    /// entry). No further than `last_new`: what lies past it in this log was
    /// not shown to match the leader's.
    fn commit_from_leader(&mut self, leader_commit: Index, last_new: Index) {
        if leader_commit <= self.commit_index {
            return;
        }
        if leader_commit > last_new && self.log.last_index() > last_new {
            mark(coverage::COMMIT_CAPPED_AT_LAST_NEW);
        }
        let last_known = if mutant!(self, CommitPastLastNewEntry) {
            self.log.last_index()
        } else {
            last_new
        };
        let new_commit = leader_commit.min(last_known);
        if new_commit > self.commit_index {
            self.commit_index = new_commit;
            self.apply_committed();
        }
    }

    fn handle_install_snapshot(&mut self, now_ms: u64, from: PeerId, args: InstallSnapshotArgs) {
        let reply = |raft: &mut Raft| {
            let term = raft.current_term;
            raft.send(
                from,
                Message::InstallSnapshotReply(InstallSnapshotReply {
                    term,
                    last_included_index: args.last_included_index,
                }),
            );
        };
        if args.term < self.current_term {
            reply(self);
            return;
        }
        internal_assert!(
            self,
            self.role == Role::Follower,
            "a snapshot of our term to a {:?}",
            self.role
        );
        self.leader_id = Some(from);
        self.heard_leader_ms = Some(now_ms);
        self.pre_vote_term = None;
        self.reset_election_timer(now_ms);
        // A snapshot at or below what we committed tells us nothing new (and installing
        // it could roll the service back).
        let stale_ok = mutant!(self, StaleSnapshotInstalled)
            && args.last_included_index > self.log.snapshot_index();
        if args.last_included_index <= self.commit_index {
            mark(coverage::STALE_SNAPSHOT_IGNORED);
            if args.last_included_index > self.log.snapshot_index() {
                mark(coverage::STALE_SNAPSHOT_PAST_OWN);
            }
        }
        if args.last_included_index > self.commit_index || stale_ok {
            self.log.compact_to(
                args.last_included_index,
                args.last_included_term,
                args.membership,
            );
            self.refresh_membership();
            self.snapshot_data = args.data.clone();
            self.snapshot_dirty = true;
            self.commit_index = args.last_included_index;
            self.last_applied = args.last_included_index;
            self.applies.push(ApplyMsg::Snapshot {
                index: args.last_included_index,
                term: args.last_included_term,
                data: args.data.clone(),
            });
        }
        reply(self);
    }

    /// `from` holds our log through `index` (an AppendEntries or InstallSnapshot
    /// succeeded). Only the answer to the newest message sent may send more at once
    /// (see `Progress::sent_up_to`); the heartbeat retries anything lost.
    fn on_acknowledged(&mut self, from: PeerId, index: Index) {
        let pr = self.progress.get_mut(from);
        let newest = index >= pr.sent_up_to;
        if newest {
            pr.inflight = false;
        }
        if pr.on_match(index.min(self.log.last_index())) {
            self.maybe_commit();
        }
        if self.transfer.is_some_and(|t| t.to == from)
            && self.progress.get(from).match_index == self.log.last_index()
        {
            self.send_timeout_now(from);
        }
        let member = self.membership.members().contains(from);
        if newest && member && self.progress.get(from).next_index <= self.log.last_index() {
            self.send_append(from);
        }
    }

    fn handle_append_entries_reply(&mut self, from: PeerId, reply: AppendEntriesReply) {
        if reply.term != self.current_term {
            mark(coverage::STALE_REPLY_IGNORED);
            if !mutant!(self, StaleRepliesCounted) {
                return; // from an older term: stale
            }
        }
        if reply.success {
            let index = if mutant!(self, MatchIndexFromLeaderLog) {
                self.log.last_index()
            } else {
                reply.match_index
            };
            self.on_acknowledged(from, index);
            return;
        }
        // Fast backtracking: skip the follower's whole conflicting term at once,
        // to just past the leader's own entries of it (the first entry that
        // differs) or, the paper's way, to the follower's first entry of it.
        let leader_last_of_term = match (self.config.backtracking, reply.conflict_term) {
            (Backtracking::LeaderTerm, Some(term)) => self.log.last_index_of_term(term),
            (Backtracking::FollowerTerm, _) | (_, None) => None,
        };
        let hint = leader_last_of_term.map_or(reply.conflict_index, |last| last + 1);
        let pr = self.progress.get_mut(from);
        if pr.on_reject(reply.match_index, hint.max(1)) {
            pr.inflight = false;
            // A server removed since gets nothing more.
            if self.membership.members().contains(from) {
                self.send_append(from);
            }
        }
    }

    // ----- roles -----

    fn become_follower(&mut self, now_ms: u64, term: Term, leader: Option<PeerId>) {
        self.transfer = None;
        self.pending_reads.clear();
        if leader.is_some() {
            self.heard_leader_ms = Some(now_ms);
        }
        if term > self.current_term || leader.is_some() {
            self.pre_vote_term = None; // a leader exists, or the round's term is taken
        }
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
            self.hard_state_dirty = !mutant!(self, TermNotPersisted);
        }
        // A follower learning of a higher term from a mere candidate keeps its timer:
        // resetting it there would let a candidate that cannot win (stale log) delay
        // the elections of those that can.
        if self.role != Role::Follower || leader.is_some() {
            self.reset_election_timer(now_ms);
        }
        self.role = Role::Follower;
        self.leader_id = leader;
    }

    fn campaign(&mut self, now_ms: u64) {
        self.campaign_for(now_ms, false);
    }

    /// An election; `leader_transfer` when the leader asked for it (TimeoutNow).
    fn campaign_for(&mut self, now_ms: u64, leader_transfer: bool) {
        self.pre_vote_term = None;
        self.role = Role::Candidate;
        if !mutant!(self, CampaignWithoutNewTerm) {
            self.current_term += 1;
        }
        // Only a voter votes for itself. A peer campaigning outside its
        // latest configuration (`may_campaign`) is not counted there, and a
        // vote for itself would only refuse a peer whose election needs it:
        // one whose clock runs slower then meets, in each campaign, a term
        // this peer already voted in, and the cluster never elects.
        let me = self.is_voter().then_some(self.config.id);
        self.voted_for = me;
        self.hard_state_dirty = true;
        self.leader_id = None;
        self.votes_granted = me.map_or(PeerSet::EMPTY, |me| PeerSet::EMPTY.with(me));
        self.reset_election_timer(now_ms);
        if self.has_quorum_of_votes() {
            self.become_leader(now_ms);
            return;
        }
        self.request_votes(self.current_term, false, leader_transfer);
    }

    fn become_leader(&mut self, now_ms: u64) {
        // One elected outside its latest configuration cast no vote for
        // itself (`campaign_for`); now that it leads, it holds its term's
        // vote, as every leader does, and grants no other candidate.
        if self.voted_for.is_none() {
            self.voted_for = Some(self.config.id);
            self.hard_state_dirty = true;
        }
        self.pre_vote_term = None;
        self.transfer = None;
        self.pending_reads.clear();
        self.rounds_sent.clear();
        self.lease_until_ms = 0;
        self.lease_revoked = false;
        self.role = Role::Leader;
        self.leader_id = Some(self.config.id);
        self.progress = ProgressTracker::new(self.config.peers, self.log.last_index());
        let (me, last) = (self.config.id, self.log.last_index());
        self.progress.get_mut(me).on_match(last);
        self.quorum_check_deadline_ms = now_ms + self.config.election_timeout_min_ms;
        // Announce ourselves at once so that other candidates stand down.
        self.broadcast_heartbeat(now_ms);
        // A joint configuration an earlier leader committed is left now.
        self.leave_joint_when_committed();
        if self.membership_index > self.commit_index && self.log.last_term() != self.current_term {
            // A configuration of an earlier term commits only under an
            // entry of this one (Figure 8): without it an idle cluster could
            // neither leave a joint configuration nor take a new change.
            mark(coverage::CHANGE_WAITS_FOR_TERM_ENTRY);
            self.append_no_op();
            self.send_new_entries();
        }
    }

    // ----- leader helpers -----

    fn broadcast_heartbeat(&mut self, now_ms: u64) {
        self.heartbeat_deadline_ms = now_ms + self.config.heartbeat_interval_ms;
        if self.config.lease_reads && self.config.check_quorum {
            // Each heartbeat round is a round the lease can start from.
            self.read_round += 1;
            self.progress.get_mut(self.config.id).acked_read_round = self.read_round;
            if self.rounds_sent.len() == MAX_ROUNDS_SENT {
                self.rounds_sent.pop_front();
            }
            self.rounds_sent.push_back((self.read_round, now_ms));
        }
        // Every heartbeat carries whatever the follower lacks, so a lost message is
        // retried within one interval.
        for peer in self.replicas() {
            self.send_append(peer);
        }
    }

    /// The transfer's target holds the whole log: it may campaign now.
    fn send_timeout_now(&mut self, to: PeerId) {
        let (term, leader_id) = (self.current_term, self.config.id);
        self.send(to, Message::TimeoutNow(TimeoutNowArgs { term, leader_id }));
    }

    /// Send `peer` what it needs next: InstallSnapshot if its next entry was compacted,
    /// else AppendEntries from its next_index (possibly empty).
    fn send_append(&mut self, peer: PeerId) {
        debug_assert_eq!(self.role, Role::Leader);
        let next_index = self.progress.get(peer).next_index;
        let msg = if next_index <= self.log.snapshot_index() {
            Message::InstallSnapshot(InstallSnapshotArgs {
                term: self.current_term,
                leader_id: self.config.id,
                last_included_index: self.log.snapshot_index(),
                last_included_term: self.log.snapshot_term(),
                membership: self.log.membership_at(self.log.snapshot_index()).0,
                data: self.snapshot_data.clone(),
            })
        } else {
            let prev_log_index = next_index - 1;
            Message::AppendEntries(AppendEntriesArgs {
                term: self.current_term,
                leader_id: self.config.id,
                prev_log_index,
                prev_log_term: self
                    .log
                    .term_at(prev_log_index)
                    .expect("prev is in the log"),
                entries: self
                    .log
                    .entries_from(next_index, self.config.max_entries_per_append)
                    .to_vec(),
                leader_commit: self.commit_index,
                read_round: self.read_round,
            })
        };
        let sent_up_to = match &msg {
            Message::AppendEntries(a) => a.prev_log_index + a.entries.len() as Index,
            Message::InstallSnapshot(a) => a.last_included_index,
            _ => unreachable!("send_append sends AppendEntries or InstallSnapshot"),
        };
        let pr = self.progress.get_mut(peer);
        pr.inflight = true;
        pr.sent_up_to = sent_up_to;
        self.send(peer, msg);
    }

    /// Figure 2 / Figure 8: commit N when a majority holds it and log[N] is of our term.
    /// Earlier-term entries become committed only indirectly, through such an N.
    fn maybe_commit(&mut self) {
        let n = self.progress.quorum_match_index(&self.membership);
        let of_our_term = self.log.term_at(n) == Some(self.current_term);
        if n > self.commit_index && !of_our_term {
            mark(coverage::OLD_TERM_NOT_COUNTED);
        }
        if n > self.commit_index && (of_our_term || mutant!(self, CommitOldTermByCounting)) {
            self.commit_index = n;
            self.apply_committed();
        }
        self.confirm_reads();
        self.leave_joint_when_committed();
    }

    // ----- common helpers -----

    fn append_entry(&mut self, entry: Entry) {
        let index = entry.index;
        internal_assert!(
            self,
            entry.term >= self.log.last_term(),
            "peer {}: log terms must not decrease: {} after {}",
            self.config.id,
            entry.term,
            self.log.last_term()
        );
        if entry.kind == EntryKind::Membership {
            self.previous_membership = self.membership;
            self.membership = Membership::decode(&entry.command).expect("a configuration decodes");
            self.membership_index = index;
        }
        self.log.append(entry);
        self.unstable_from = Some(self.unstable_from.map_or(index, |u| u.min(index)));
    }

    fn apply_committed(&mut self) {
        while self.last_applied < self.commit_index {
            let index = self.last_applied + 1;
            let e = self
                .log
                .entry(index)
                .expect("committed entries after the snapshot are in the log");
            // A configuration is the peer's business: the service sees an
            // empty command at its index.
            let command = match e.kind {
                EntryKind::Command => e.command.clone(),
                EntryKind::Membership => Vec::new(),
            };
            self.applies.push(ApplyMsg::Command {
                index,
                term: e.term,
                command,
            });
            self.last_applied = index;
        }
    }

    fn reply_append_entries(
        &mut self,
        to: PeerId,
        success: bool,
        match_index: Index,
        conflict_index: Index,
        conflict_term: Option<Term>,
    ) {
        let (term, read_round) = (self.current_term, self.echo_read_round);
        self.send(
            to,
            Message::AppendEntriesReply(AppendEntriesReply {
                term,
                success,
                match_index,
                conflict_index,
                conflict_term,
                read_round,
            }),
        );
    }

    fn has_quorum_of_votes(&self) -> bool {
        if mutant!(self, QuorumOffByOne) {
            let voters = self.membership.voters;
            let granted = voters.intersection(self.votes_granted).len();
            return 2 * granted >= voters.len() - 1;
        }
        self.membership.is_quorum(self.votes_granted)
    }

    fn reset_election_timer(&mut self, now_ms: u64) {
        let timeout = self.rng.range_inclusive(
            self.config.election_timeout_min_ms,
            self.config.election_timeout_max_ms,
        );
        self.election_deadline_ms = now_ms + timeout;
    }

    /// Everyone the leader replicates to: the members of the configuration
    /// in effect (voters of both halves, learners), itself aside.
    fn replicas(&self) -> impl Iterator<Item = PeerId> + use<> {
        self.membership.members().without(self.config.id).iter()
    }

    /// The log was replaced by a snapshot: the configuration in effect is
    /// found again in what is left.
    fn refresh_membership(&mut self) {
        (self.membership, self.membership_index) = self.log.membership_at(self.log.last_index());
        let before = self
            .membership_index
            .saturating_sub(1)
            .max(self.log.snapshot_index());
        self.previous_membership = self.log.membership_at(before).0;
    }

    /// The log was cut from `index` (a conflict with the leader's): a
    /// configuration appended there goes with it.
    fn truncate_log_from(&mut self, index: Index) {
        self.log.truncate_from(index);
        let before = self.membership;
        self.refresh_membership();
        if self.membership != before {
            mark(coverage::MEMBERSHIP_ROLLED_BACK);
        }
    }

    fn send(&mut self, to: PeerId, msg: Message) {
        self.messages.push((to, msg));
    }

    fn validate_message(&self, from: PeerId, msg: &Message) -> Result<(), RaftError> {
        if from >= self.config.peers {
            return Err(RaftError::UnknownPeer(from));
        }
        if from == self.config.id {
            return Err(RaftError::InvalidMessage(format!(
                "peer {from} sent a message to itself"
            )));
        }
        let claimed = match msg {
            Message::RequestVote(a) => Some(a.candidate_id),
            Message::AppendEntries(a) => Some(a.leader_id),
            Message::InstallSnapshot(a) => Some(a.leader_id),
            Message::TimeoutNow(a) => Some(a.leader_id),
            _ => None,
        };
        if let Some(claimed) = claimed.filter(|&c| c != from) {
            return Err(RaftError::InvalidMessage(format!(
                "message from peer {from} claims to come from peer {claimed}"
            )));
        }
        if let Message::AppendEntries(a) = msg {
            let contiguous = a
                .entries
                .iter()
                .enumerate()
                .all(|(i, e)| e.index == a.prev_log_index + 1 + i as Index);
            if !contiguous {
                return Err(RaftError::InvalidMessage(format!(
                    "AppendEntries from peer {from}: entries not contiguous after prev_log_index {}",
                    a.prev_log_index
                )));
            }
        }
        Ok(())
    }

    fn check_invariants(&self) {
        internal_assert!(
            self,
            self.commit_index <= self.log.last_index(),
            "commit_index {} beyond last_index {}",
            self.commit_index,
            self.log.last_index()
        );
        internal_assert!(self, self.last_applied <= self.commit_index);
        internal_assert!(self, self.log.snapshot_index() <= self.last_applied);
        debug_assert!(self.voted_for.is_none_or(|v| v < self.config.peers));
        if cfg!(debug_assertions) {
            self.log.check_invariants();
            if self.role == Role::Leader {
                internal_assert!(self, self.voted_for == Some(self.config.id));
                for p in 0..self.config.peers {
                    let pr = self.progress.get(p);
                    debug_assert!(pr.match_index < pr.next_index);
                    internal_assert!(self, pr.next_index <= self.log.last_index() + 1);
                }
            }
        }
    }
}

/// Whether restored state hangs together. Its shape (a vote for a peer,
/// contiguous indexes, configurations of the cluster's peers) is always
/// checked. Raft's invariants (a hard state beside any log, terms of at
/// least 1 never falling along the log and within currentTerm) are the
/// peer's own assertions: a mutant run with them off starts anyway, as a
/// student's Raft that checks nothing would, and leaves what follows to the
/// lab's oracle (a peer back in an older term than its messages promised).
fn validate_restored(config: &Config, r: &Restored) -> Result<(), RaftError> {
    let corrupt = |why: String| Err(RaftError::CorruptState(why));
    let raft_invariants = config.assertions_on();
    let has_log = r.snapshot.is_some() || !r.entries.is_empty();
    if raft_invariants && has_log && r.hard_state.is_none() {
        return corrupt("the hard state is missing but a log or snapshot exists".into());
    }
    let hs = r.hard_state.clone().unwrap_or_default();
    if let Some(v) = hs.voted_for.filter(|&v| v >= config.peers) {
        return corrupt(format!(
            "voted_for {v} is not a peer (peers = {})",
            config.peers
        ));
    }
    let (snap_index, snap_term) = match &r.snapshot {
        Some(s) => {
            if s.last_included_index == 0 || (raft_invariants && s.last_included_term == 0) {
                return corrupt(format!(
                    "snapshot at index {} term {}: both must be at least 1",
                    s.last_included_index, s.last_included_term
                ));
            }
            if !fits(config, &s.membership) {
                return corrupt(format!(
                    "snapshot configuration {} is not one of peers 0..{}",
                    s.membership, config.peers
                ));
            }
            (s.last_included_index, s.last_included_term)
        }
        None => (0, 0),
    };
    if raft_invariants && snap_term > hs.current_term {
        return corrupt(format!(
            "snapshot term {snap_term} is above current_term {}",
            hs.current_term
        ));
    }
    validate_entries(config, &r.entries, (snap_index, snap_term), hs.current_term)
}

/// The restored entries after a snapshot at `(index, term)`, as
/// [`validate_restored`] says.
fn validate_entries(
    config: &Config,
    entries: &[Entry],
    (snap_index, snap_term): (Index, Term),
    current_term: Term,
) -> Result<(), RaftError> {
    let corrupt = |why: String| Err(RaftError::CorruptState(why));
    let mut prev_term = snap_term;
    for (i, e) in entries.iter().enumerate() {
        let want = snap_index + 1 + i as Index;
        if e.index != want {
            return corrupt(format!(
                "log entry #{i} has index {} but {want} was expected (entries must be contiguous after snapshot index {snap_index})",
                e.index
            ));
        }
        if e.kind == EntryKind::Membership
            && Membership::decode(&e.command).is_none_or(|m| !fits(config, &m))
        {
            return corrupt(format!(
                "log entry {} holds no configuration of peers 0..{}",
                e.index, config.peers
            ));
        }
        let out_of_order = e.term == 0 || e.term < prev_term || e.term > current_term;
        if config.assertions_on() && out_of_order {
            return corrupt(format!(
                "log entry {} has term {} (previous term {prev_term}, current_term {current_term})",
                e.index, e.term
            ));
        }
        prev_term = e.term;
    }
    Ok(())
}

/// A configuration with voters, all of them among the cluster's peers.
fn fits(config: &Config, m: &Membership) -> bool {
    !m.voters.is_empty() && m.members().minus(PeerSet::first(config.peers)).is_empty()
}

/// The peer's Raft assertions hold in release runs, and a mutant run can
/// switch them off like the rest (a student's Raft has none of them).
#[cfg(all(test, feature = "injected-bugs"))]
mod tests {
    use super::*;
    use crate::message::{AppendEntriesArgs, RequestVoteReply};

    /// Peer 0, leader of term 1 in a cluster of three.
    fn leader(internal_assertions: bool) -> Raft {
        let config = Config {
            pre_vote: false,
            internal_assertions,
            ..Config::new(0, 3, 7)
        };
        let mut raft = Raft::new(config, None, 0).expect("a valid config");
        raft.tick(raft.next_deadline_ms());
        let vote = RequestVoteReply {
            term: 1,
            vote_granted: true,
            pre_vote: false,
        };
        let now_ms = raft.next_deadline_ms();
        raft.step(now_ms, 1, Message::RequestVoteReply(vote))
            .unwrap();
        assert_eq!((raft.role(), raft.current_term()), (Role::Leader, 1));
        let _ = raft.ready();
        raft
    }

    /// Peer 2's AppendEntries of term 1: a second leader in the term.
    fn second_leader(raft: &mut Raft) {
        let args = AppendEntriesArgs {
            term: 1,
            leader_id: 2,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![],
            leader_commit: 0,
            read_round: 0,
        };
        let now_ms = raft.next_deadline_ms();
        raft.step(now_ms, 2, Message::AppendEntries(args)).unwrap();
    }

    #[test]
    fn a_restored_log_past_its_term_stops_the_peer_unless_its_assertions_are_off() {
        // What a peer that never persisted its term leaves on its disk: an
        // entry of term 3 in a log whose current term is 1.
        let entry = |index, term| Entry {
            index,
            term,
            kind: EntryKind::Command,
            command: vec![],
        };
        let restored = Restored {
            hard_state: Some(HardState {
                current_term: 1,
                voted_for: None,
            }),
            snapshot: None,
            entries: vec![entry(1, 1), entry(2, 3)],
        };
        let config = |internal_assertions| Config {
            internal_assertions,
            ..Config::new(0, 3, 7)
        };
        // ... or no hard state at all beside its log: term 0, no vote.
        let no_hard_state = Restored {
            hard_state: None,
            ..restored.clone()
        };
        for (restored, term) in [(restored, 1), (no_hard_state, 0)] {
            let refused = Raft::new(config(true), Some(restored.clone()), 0).map(|_| ());
            assert!(
                matches!(refused, Err(RaftError::CorruptState(_))),
                "{refused:?}"
            );
            let started = Raft::new(config(false), Some(restored), 0).expect("left to the lab");
            assert_eq!(
                (started.current_term(), started.log.last_index()),
                (term, 2)
            );
        }
    }

    #[test]
    fn two_leaders_in_a_term_stop_the_peer_unless_its_assertions_are_off() {
        let mut on = leader(true);
        let stopped =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| second_leader(&mut on)));
        let why = stopped.expect_err("two leaders stop the peer");
        let why = why.downcast_ref::<String>().map(String::as_str);
        assert_eq!(why, Some("two leaders (0 and 2) in term 1"));

        let mut off = leader(false);
        second_leader(&mut off);
        assert_eq!(off.role(), Role::Leader);
        let refused =
            off.ready().messages.iter().any(|(to, m)| {
                *to == 2 && matches!(m, Message::AppendEntriesReply(r) if !r.success)
            });
        assert!(refused, "the second leader is refused");
    }
}
