//! raftrs: tikv's raft-rs (the crates.io crate `raft` 0.7, renamed `raft_rs` here) as a
//! [`peer::Peer`] of the lab.
//!
//! [`RaftRsPeer`] wraps a raft-rs `RawNode` over an in-memory `Storage` that mirrors
//! this crate's files on the lab's [`Disk`]. Design decisions:
//!
//! - **Messages** are one-way: each `eraftpb::Message` crosses the network as a
//!   [`peer::Kind::OneWay`] [`Wire`] named [`METHOD`], its bytes the message's protobuf
//!   encoding. Peer `i` of the lab is raft-rs id `i + 1`.
//! - **Time**: raft-rs counts ticks. One tick is [`TICK_MS`] of the peer's clock, give
//!   or take a seeded jitter of up to [`TICK_JITTER_MS`] per tick, so that peers do not
//!   tick in lockstep; a call to [`Peer::tick`] runs every tick that fell due (after a
//!   long pause, at most twice the election timeout's worth: enough for every raft-rs
//!   timer to fire; the rest are dropped, as a coalescing timer would).
//! - **Randomness**: raft-rs draws a new randomized election timeout from
//!   `rand::thread_rng()` in `[min_election_tick, max_election_tick)` every time it
//!   resets its timers (each change of term or role). The adapter overwrites that draw,
//!   before raft-rs can read it, with one from a SplitMix64 seeded by
//!   [`PeerConfig::rng_seed`] in the same range: after every raft-rs tick and step whose
//!   term or role differs from before, it sets the timeout with
//!   `set_randomized_election_timeout`. The timeout is thus redrawn at every election,
//!   as Raft needs: a fixed one lets the peer with the shortest timeout and a stale log
//!   time out first forever, bumping everyone's term without PreVote and winning no
//!   vote. The tick jitter comes from the same generator. A run is then a pure
//!   function of the seed. (raft-rs reads its own draw only in `tick_election`, never
//!   within the call that drew it. raft-rs has no other source of randomness and reads
//!   no clock: its maps and sets use `FxHasher`, which has no random seed, so their
//!   iteration order, and the order of the messages built from it, is the same in
//!   every process.)
//! - **Configuration**: PreVote and CheckQuorum on (CheckQuorum gives the leader
//!   stickiness the reference gets from PreVote alone, and lets a cut-off leader step
//!   down); membership never changes.
//! - **Persistence**: see the `disk` module: `raftrs-hardstate`, `raftrs-log` and
//!   `raftrs-snapshot`, records of length, CRC-32 and protobuf.
//! - **Snapshots**: the service's snapshot is kept with its data in the storage, so the
//!   leader sends it to lagging followers. raft-rs waits for the transport to report
//!   whether a snapshot arrived; the lab's network reports nothing, so the adapter
//!   reports a failure when a follower is still waiting for its snapshot one election
//!   timeout later, and raft-rs sends it again.

mod disk;
mod storage;
mod wire;

pub use disk::{HARD_STATE_FILE, LOG_FILE, SNAPSHOT_FILE};
pub use wire::METHOD;

use peer::{
    ApplyMsg, Disk, Index, Peer, PeerConfig, PeerError, PeerId, Role, SplitMix64, Status, Term,
    Wire,
};
use raft_rs::eraftpb::{Entry, EntryType};
use raft_rs::{ProgressState, RawNode, SnapshotStatus, StateRole};

use storage::LabStorage;

/// The length of one raft-rs tick, in milliseconds of the peer's clock.
pub const TICK_MS: u64 = 10;
/// Each tick lasts `TICK_MS` plus a seeded jitter in `-TICK_JITTER_MS..=TICK_JITTER_MS`.
pub const TICK_JITTER_MS: u64 = 2;
/// Largest batch of entries in one append message (raft-rs's `max_size_per_msg`).
const MAX_SIZE_PER_MSG: u64 = 1 << 20;

/// Ticks derived from a [`PeerConfig`]'s milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timing {
    heartbeat_tick: usize,
    /// raft-rs's `election_tick`: the base election timeout, which also paces
    /// CheckQuorum and the followers' lease against disruptive (pre-)votes.
    election_tick: usize,
    /// The range of this peer's randomized election timeout, in ticks.
    election_lo: usize,
    election_hi: usize,
}

impl Timing {
    fn new(c: &PeerConfig) -> Result<Timing, PeerError> {
        if c.election_timeout_min_ms > c.election_timeout_max_ms {
            return Err(PeerError(format!(
                "election timeout range {}..={} ms is empty",
                c.election_timeout_min_ms, c.election_timeout_max_ms
            )));
        }
        let heartbeat_tick = (c.heartbeat_interval_ms / TICK_MS).max(1) as usize;
        let election_tick =
            (c.election_timeout_min_ms.div_ceil(TICK_MS) as usize).max(heartbeat_tick + 1);
        // A timer reset between two ticks fires after (n - 1, n] ticks of time: start
        // one tick above the minimum so the timeout never falls below it.
        let election_lo = election_tick + 1;
        let election_hi = ((c.election_timeout_max_ms / TICK_MS) as usize).max(election_lo);
        Ok(Timing {
            heartbeat_tick,
            election_tick,
            election_lo,
            election_hi,
        })
    }
}

/// tikv's raft-rs, driven through the peer interface.
pub struct RaftRsPeer {
    node: RawNode<LabStorage>,
    id: PeerId,
    peers: usize,
    timing: Timing,
    /// The current election timeout, in ticks (drawn from the seed at every reset).
    election_timeout_ticks: usize,
    /// raft-rs's term and role after the last call into it: a change means it reset
    /// its timers and drew a timeout of its own, which `redraw_election_timeout` replaces.
    last_term_role: (Term, StateRole),
    rng: SplitMix64,
    next_tick_ms: u64,
    /// Where the log's records are in the log file.
    log: disk::DiskLog,
    /// Applies waiting for the next Ready (the restored snapshot, after a restart).
    pending_applies: Vec<ApplyMsg>,
    /// The service's latest snapshot is in the storage but not yet on disk.
    snapshot_dirty: bool,
    /// Per follower (our id), ticks its progress has waited for a snapshot.
    snapshot_wait: Vec<usize>,
}

impl std::fmt::Debug for RaftRsPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftRsPeer")
            .field("id", &self.id)
            .field("status", &self.status())
            .field("election_timeout_ticks", &self.election_timeout_ticks)
            .field("next_tick_ms", &self.next_tick_ms)
            .finish_non_exhaustive()
    }
}

fn lab_command(e: &Entry) -> Vec<u8> {
    // The service's commands are normal entries; configuration changes are not its.
    match e.get_entry_type() {
        EntryType::EntryNormal => e.data.to_vec(),
        _ => Vec::new(),
    }
}

fn to_apply(e: &Entry) -> ApplyMsg {
    ApplyMsg::Command {
        index: e.index,
        term: e.term,
        command: lab_command(e),
    }
}

/// raft-rs's configuration for a peer of the lab's, which has applied up to
/// `applied` (its snapshot).
fn rs_config(
    config: &PeerConfig,
    timing: &Timing,
    applied: u64,
) -> Result<raft_rs::Config, PeerError> {
    let cfg = raft_rs::Config {
        id: config.id as u64 + 1,
        election_tick: timing.election_tick,
        heartbeat_tick: timing.heartbeat_tick,
        applied,
        max_size_per_msg: MAX_SIZE_PER_MSG,
        max_inflight_msgs: 256,
        check_quorum: config.check_quorum.unwrap_or(true),
        pre_vote: config.pre_vote.unwrap_or(true),
        min_election_tick: timing.election_lo,
        max_election_tick: timing.election_hi + 1,
        ..Default::default()
    };
    cfg.validate()
        .map_err(|e| PeerError(format!("raft-rs configuration: {e}")))?;
    Ok(cfg)
}

impl RaftRsPeer {
    /// A peer from the lab's configuration, restored from `disk` (fresh if it holds
    /// none of this crate's files).
    pub fn new(config: PeerConfig, disk: &dyn Disk, now_ms: u64) -> Result<RaftRsPeer, PeerError> {
        if config.id >= config.peers {
            return Err(PeerError(format!(
                "peer id {} in a cluster of {}",
                config.id, config.peers
            )));
        }
        let timing = Timing::new(&config)?;
        let restored = disk::restore(disk, config.peers)?;
        // Mix the id in so that peers given the same seed still draw different timeouts.
        let mut rng = SplitMix64::new(
            config.rng_seed ^ (config.id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let election_timeout_ticks =
            rng.range_inclusive(timing.election_lo as u64, timing.election_hi as u64) as usize;

        let mut pending_applies = Vec::new();
        let mut snapshot_index = 0;
        if let Some(s) = &restored.snapshot {
            // As the reference does: the service gets its snapshot back first, then
            // every committed entry after it.
            let meta = s.get_metadata();
            snapshot_index = meta.index;
            pending_applies.push(ApplyMsg::Snapshot {
                index: meta.index,
                term: meta.term,
                data: s.data.to_vec(),
            });
        }
        let storage = LabStorage::new(
            restored.hard_state,
            restored.conf_state,
            restored.snapshot,
            restored.entries,
        );
        let cfg = rs_config(&config, &timing, snapshot_index)?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut node = RawNode::new(&cfg, storage, &logger)
            .map_err(|e| PeerError(format!("raft-rs could not start: {e}")))?;
        node.raft
            .set_randomized_election_timeout(election_timeout_ticks);
        let last_term_role = (node.raft.term, node.raft.state);
        // A random phase, so that peers started together do not tick together.
        let next_tick_ms = now_ms + rng.range_inclusive(1, TICK_MS);
        Ok(RaftRsPeer {
            node,
            id: config.id,
            peers: config.peers,
            timing,
            election_timeout_ticks,
            last_term_role,
            rng,
            next_tick_ms,
            log: restored.log,
            pending_applies,
            snapshot_dirty: false,
            snapshot_wait: vec![0; config.peers],
        })
    }

    /// The current election timeout, in ticks (drawn from the seed at every reset).
    pub fn election_timeout_ticks(&self) -> usize {
        self.election_timeout_ticks
    }

    /// raft-rs's own view of its election timeout (always the drawn one).
    pub fn randomized_election_timeout(&self) -> usize {
        self.node.raft.randomized_election_timeout()
    }

    /// Role as raft-rs has it (PreCandidate included).
    pub fn raft_rs_role(&self) -> StateRole {
        self.node.raft.state
    }

    /// The index raft-rs considers applied.
    pub fn applied_index(&self) -> Index {
        self.node.raft.raft_log.applied
    }

    /// After a call into raft-rs: if it changed term or role, it reset its election
    /// timer and drew a timeout from `thread_rng`; replace it with a seeded draw.
    fn redraw_election_timeout(&mut self) {
        let now = (self.node.raft.term, self.node.raft.state);
        if now == self.last_term_role {
            return;
        }
        self.last_term_role = now;
        self.election_timeout_ticks = self.rng.range_inclusive(
            self.timing.election_lo as u64,
            self.timing.election_hi as u64,
        ) as usize;
        self.node
            .raft
            .set_randomized_election_timeout(self.election_timeout_ticks);
    }

    fn draw_tick_length(&mut self) -> u64 {
        TICK_MS - TICK_JITTER_MS + self.rng.range_inclusive(0, 2 * TICK_JITTER_MS)
    }

    /// The service's snapshot, taken since the last Ready: to disk, and the log
    /// compacted behind it. True if it wrote.
    fn write_own_snapshot(&mut self, disk: &mut dyn Disk, out: &mut peer::Ready) -> bool {
        if !std::mem::take(&mut self.snapshot_dirty) {
            return false;
        }
        let s = self.node.store().current_snapshot();
        let (index, term) = (s.get_metadata().index, s.get_metadata().term);
        disk::write_snapshot(disk, s);
        self.log.compact_to(disk, index);
        out.snapshot = Some((index, term));
        true
    }

    /// raft-rs's Ready, in its order: persist, then messages and committed entries,
    /// then what `advance` made possible. True if it wrote.
    fn take_raft_ready(&mut self, disk: &mut dyn Disk, out: &mut peer::Ready) -> bool {
        let mut rd = self.node.ready();
        let mut wrote = self.persist(disk, &rd, out);
        // raft-rs lets a leader send `messages` before persisting and everyone send
        // `persisted_messages` after; the driver syncs before sending anything, so
        // both go out in this Ready.
        let mut messages = rd.take_messages();
        messages.extend(rd.take_persisted_messages());
        out.applies
            .extend(rd.take_committed_entries().iter().map(to_apply));
        // What became possible once the above is durable: a commit index (the leader's
        // own entries now count), messages and more committed entries.
        let mut light = self.node.advance(rd);
        if let Some(commit) = light.commit_index() {
            let store = self.node.mut_store();
            store.hard_state.commit = commit;
            disk::write_hard_state(disk, &store.hard_state);
            wrote = true;
        }
        messages.extend(light.take_messages());
        out.applies
            .extend(light.take_committed_entries().iter().map(to_apply));
        self.node.advance_apply();
        out.messages = messages.iter().map(|m| self.addressed(m)).collect();
        wrote
    }

    /// Persists a Ready: a snapshot received from the leader, then entries, then the
    /// hard state, to disk and to the storage raft-rs reads. True if it wrote.
    fn persist(&mut self, disk: &mut dyn Disk, rd: &raft_rs::Ready, out: &mut peer::Ready) -> bool {
        let mut wrote = false;
        if !rd.snapshot().is_empty() {
            let s = rd.snapshot().clone();
            let (index, term) = (s.get_metadata().index, s.get_metadata().term);
            disk::write_snapshot(disk, &s);
            self.log.clear(disk, index + 1);
            out.applies.push(ApplyMsg::Snapshot {
                index,
                term,
                data: s.data.to_vec(),
            });
            self.node.mut_store().apply_snapshot(s);
            out.snapshot = Some((index, term));
            wrote = true;
        }
        if !rd.entries().is_empty() {
            self.node.mut_store().append(rd.entries());
            self.log.append(disk, rd.entries());
            out.entries.extend(rd.entries().iter().map(|e| peer::Entry {
                // The oracle sees raft-rs's configuration entries as ours: a
                // kind of their own, bytes compared across peers.
                kind: match e.get_entry_type() {
                    EntryType::EntryNormal => peer::EntryKind::Command,
                    _ => peer::EntryKind::Membership,
                },
                ..peer::Entry::command(e.term, e.index, lab_command(e))
            }));
            wrote = true;
        }
        if let Some(hs) = rd.hs() {
            disk::write_hard_state(disk, hs);
            self.node.mut_store().hard_state = hs.clone();
            wrote = true;
        }
        wrote
    }

    /// A raft-rs message as the lab sends it: to our 0-based id, as bytes.
    fn addressed(&self, m: &raft_rs::eraftpb::Message) -> (PeerId, Wire) {
        assert!(
            (1..=self.peers as u64).contains(&m.to),
            "raft-rs sent a message to unknown id {}",
            m.to
        );
        ((m.to - 1) as PeerId, wire::to_wire(m))
    }

    /// Most ticks one call runs: enough for every raft-rs timer to fire (a heartbeat,
    /// an election, CheckQuorum's step-down). A peer paused longer than that loses the
    /// rest, as a real process's coalescing timer would, instead of replaying dozens
    /// of identical heartbeats or elections while no message can arrive in between.
    fn max_catch_up_ticks(&self) -> usize {
        2 * (self.timing.election_hi + 1)
    }

    /// After each tick: a follower whose progress still waits for a snapshot one
    /// election timeout after it was sent probably lost it (or its answer); tell
    /// raft-rs, which then probes and sends it again.
    fn watch_snapshots(&mut self) {
        if self.node.raft.state != StateRole::Leader {
            self.snapshot_wait.fill(0);
            return;
        }
        for peer in 0..self.peers {
            if peer == self.id {
                continue;
            }
            let waiting = self
                .node
                .raft
                .prs()
                .get(peer as u64 + 1)
                .is_some_and(|p| p.state == ProgressState::Snapshot);
            if !waiting {
                self.snapshot_wait[peer] = 0;
                continue;
            }
            self.snapshot_wait[peer] += 1;
            if self.snapshot_wait[peer] >= self.timing.election_tick {
                self.snapshot_wait[peer] = 0;
                self.node
                    .report_snapshot(peer as u64 + 1, SnapshotStatus::Failure);
            }
        }
    }
}

impl Peer for RaftRsPeer {
    fn methods(&self) -> &'static [(&'static str, peer::Kind)] {
        &[(METHOD, peer::Kind::OneWay)]
    }

    /// Runs every tick due by `now_ms`, at most twice the election timeout's worth
    /// (see `max_catch_up_ticks`); the next tick is then one tick length after `now_ms`.
    fn tick(&mut self, now_ms: u64) {
        let mut ticks = 0;
        while now_ms >= self.next_tick_ms {
            if ticks == self.max_catch_up_ticks() {
                self.next_tick_ms = now_ms + self.draw_tick_length();
                break;
            }
            self.node.tick();
            self.redraw_election_timeout();
            self.watch_snapshots();
            ticks += 1;
            self.next_tick_ms += self.draw_tick_length();
        }
    }

    fn next_deadline_ms(&self) -> u64 {
        self.next_tick_ms
    }

    fn step(&mut self, _now_ms: u64, from: PeerId, msg: Wire) -> Result<(), PeerError> {
        if from >= self.peers || from == self.id {
            return Err(PeerError(format!(
                "{METHOD} from peer {from}, not another peer of this cluster of {}",
                self.peers
            )));
        }
        let msg = wire::from_wire(&msg)?;
        wire::check(&msg, from as u64 + 1, self.id as u64 + 1, self.peers as u64)?;
        let stepped = self
            .node
            .step(msg)
            .map_err(|e| PeerError(format!("raft-rs refused the message: {e}")));
        self.redraw_election_timeout();
        stepped
    }

    fn start(&mut self, _now_ms: u64, command: Vec<u8>) -> (Index, Term, bool) {
        let raft = &self.node.raft;
        let (term, index) = (raft.term, raft.raft_log.last_index() + 1);
        if raft.state != StateRole::Leader {
            return (index, term, false);
        }
        match self.node.propose(Vec::new(), command) {
            Ok(()) if self.node.raft.raft_log.last_index() == index => (index, term, true),
            _ => (index, term, false),
        }
    }

    fn transfer_leadership(&mut self, _now_ms: u64, to: PeerId) -> Result<(), PeerError> {
        if to >= self.peers {
            return Err(PeerError(format!("unknown peer {to}")));
        }
        if self.node.raft.state != StateRole::Leader {
            return Err(PeerError("not the leader".into()));
        }
        // raft-rs's own: catch up, MsgTimeoutNow, proposals dropped meanwhile,
        // given up after an election timeout.
        self.node.transfer_leader(to as u64 + 1);
        Ok(())
    }

    fn snapshot(&mut self, index: Index, data: Vec<u8>) -> Result<(), PeerError> {
        if index <= self.node.store().snapshot_index() {
            return Ok(());
        }
        let applied = self.node.raft.raft_log.applied;
        if index > applied {
            return Err(PeerError(format!(
                "snapshot through index {index}, but only {applied} was handed to the service"
            )));
        }
        self.node.mut_store().compact_to(index, data);
        self.snapshot_dirty = true;
        Ok(())
    }

    fn has_ready(&self) -> bool {
        !self.pending_applies.is_empty() || self.snapshot_dirty || self.node.has_ready()
    }

    fn ready(&mut self, disk: &mut dyn Disk) -> peer::Ready {
        let mut out = peer::Ready {
            applies: std::mem::take(&mut self.pending_applies),
            ..Default::default()
        };
        let mut wrote = self.write_own_snapshot(disk, &mut out);
        if self.node.has_ready() {
            wrote |= self.take_raft_ready(disk, &mut out);
        }
        out.must_sync = wrote;
        out
    }

    fn status(&self) -> Status {
        let raft = &self.node.raft;
        let log = &raft.raft_log;
        Status {
            role: match raft.state {
                StateRole::Follower => Role::Follower,
                StateRole::PreCandidate | StateRole::Candidate => Role::Candidate,
                StateRole::Leader => Role::Leader,
            },
            term: raft.term,
            voted_for: (raft.vote != raft_rs::INVALID_ID).then(|| (raft.vote - 1) as PeerId),
            leader: (raft.leader_id != raft_rs::INVALID_ID).then(|| (raft.leader_id - 1) as PeerId),
            commit_index: log.committed,
            last_index: log.last_index(),
            snapshot_index: log.first_index() - 1,
            // The lab does not change raft-rs's membership: all peers vote.
            membership: None,
        }
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        let log = &self.node.raft.raft_log;
        if index + 1 < log.first_index() || index > log.last_index() {
            return None;
        }
        log.term(index).ok()
    }

    fn raft_state_bytes(&self, disk: &dyn Disk) -> u64 {
        disk::raft_state_bytes(disk)
    }

    fn snapshot_bytes(&self, disk: &dyn Disk) -> u64 {
        disk::snapshot_bytes(disk)
    }

    fn describe(&self, msg: &Wire) -> String {
        match wire::from_wire(msg) {
            Ok(m) => wire::describe(&m),
            Err(e) => format!("{} ({} bytes): {e}", msg.method, msg.bytes.len()),
        }
    }
}

/// Makes raft-rs peers for the lab (see [`peer::PeerFactory`]).
pub fn factory() -> peer::PeerFactory {
    std::rc::Rc::new(|config, disk, now_ms| {
        let p = RaftRsPeer::new(config, disk, now_ms)?;
        Ok(Box::new(p) as Box<dyn Peer>)
    })
}
