//! Your Raft peer (6.824 lab 3). Every function compiles and does nothing useful yet.
//!
//! Read Figure 2 of the Raft paper first; name things as it does (current_term,
//! voted_for, log, commit_index, last_applied, next_index, match_index).
//!
//! - **3A, leader election**: `tick` starts an election when the election timeout
//!   (randomised in `election_timeout_min_ms..=election_timeout_max_ms`, drawn from a
//!   generator seeded with `rng_seed`, e.g. `peer::SplitMix64::new(config.rng_seed)`)
//!   passes without word from a leader; RequestVote requests and replies; a leader
//!   sends heartbeats (empty AppendEntries) every
//!   `heartbeat_interval_ms`. `status()` must report role, term and leader truthfully:
//!   the lab checks "at most one leader per term" after every event.
//! - **3B, the log**: `start` appends a command as leader; AppendEntries carries
//!   entries, the consistency check on (prev_log_index, prev_log_term), commit_index
//!   advances when a majority holds an entry of the current term; committed entries
//!   go out, in order, in `Ready::applies`. Report every entry you write in
//!   `Ready::entries` (the lab checks log matching with them).
//! - **3C, persistence**: write current_term, voted_for and the log to the `Disk` in
//!   `ready` (any format you like), set `must_sync`, and restore from the disk in `new`.
//!   The lab syncs before it sends your messages, and crashes peers at any moment.
//! - **3D, snapshots**: `snapshot(index, data)` drops the log through `index`; persist
//!   the snapshot; InstallSnapshot brings a lagging follower up to date; after a
//!   restart, hand the snapshot to the service first (`ApplyMsg::Snapshot`).
//!
//! Messages: every request you step in must be answered by exactly one reply to its
//! sender in the next Ready (`Kind::Reply`, same method). Encode your messages as you
//! like (bincode of your own structs is easiest) under the method names in `METHODS`.

use peer::{Disk, Index, Kind, PeerConfig, PeerError, PeerId, Ready, Role, Status, Term, Wire};

/// Your RPCs: a name on the wire and how each travels.
const METHODS: &[(&str, Kind)] = &[
    ("Raft.RequestVote", Kind::Request),
    ("Raft.AppendEntries", Kind::Request),
    ("Raft.InstallSnapshot", Kind::Request),
];

/// One Raft peer. Add the state of Figure 2 here.
pub struct Raft {
    config: PeerConfig,
    /// When `tick` last ran. The skeleton asks to be ticked every 100 ms.
    now_ms: u64,
    // 3A: current_term, voted_for, role, election deadline, votes received, ...
    // 3B: log, commit_index, last_applied, next_index, match_index, ...
    // Output waiting for the next `ready()`: messages, applies, what to persist.
}

impl Raft {
    /// A peer starting fresh (an empty `disk`) or after a crash, from what it
    /// persisted on `disk` (3C, 3D).
    pub fn new(config: PeerConfig, disk: &dyn Disk, now_ms: u64) -> Result<Raft, PeerError> {
        let _ = disk; // 3C: read back what you persisted.
        Ok(Raft { config, now_ms })
    }
}

impl peer::Peer for Raft {
    fn methods(&self) -> &'static [(&'static str, Kind)] {
        METHODS
    }

    fn tick(&mut self, now_ms: u64) {
        // 3A: start an election when the election timeout has passed; as leader,
        // send heartbeats.
        self.now_ms = now_ms;
    }

    fn next_deadline_ms(&self) -> u64 {
        // 3A: the earlier of the election deadline and (as leader) the next heartbeat.
        self.now_ms + 100
    }

    fn step(&mut self, now_ms: u64, from: PeerId, msg: Wire) -> Result<(), PeerError> {
        // 3A-3D: decode `msg.bytes` by `msg.method` and `msg.kind`, apply the rules of
        // Figure 2, and queue exactly one reply for each request.
        let _ = (now_ms, from);
        Err(PeerError(format!(
            "the student skeleton does not handle {} yet",
            msg.method
        )))
    }

    fn start(&mut self, now_ms: u64, command: Vec<u8>) -> (Index, Term, bool) {
        // 3B: as leader, append the command; return (its index, the term, true).
        let _ = (now_ms, command);
        (1, 0, false)
    }

    fn snapshot(&mut self, index: Index, data: Vec<u8>) -> Result<(), PeerError> {
        // 3D: drop the log through `index`; keep and persist `data`.
        let _ = (index, data);
        Ok(())
    }

    fn has_ready(&self) -> bool {
        // 3A: true whenever `ready` has something to hand over (messages to send,
        // state to persist, entries to apply). The lab calls `ready` only while this
        // is true: left false, nothing you queue ever leaves.
        false
    }

    fn ready(&mut self, disk: &mut dyn Disk) -> Ready {
        // 3C: write what changed to `disk` and set `must_sync`; then the messages and
        // applies gathered since the last Ready.
        let _ = disk;
        Ready::default()
    }

    fn status(&self) -> Status {
        Status {
            role: Role::Follower,
            term: 0,
            voted_for: None,
            leader: None,
            commit_index: 0,
            last_index: 0,
            snapshot_index: 0,
            // With membership changes (optional), report the configuration
            // your peer follows; `None`: every peer always votes.
            membership: None,
        }
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        (index == 0).then_some(0)
    }

    fn raft_state_bytes(&self, disk: &dyn Disk) -> u64 {
        // 3D: the bytes of your persisted Raft state (not the snapshot).
        let _ = (disk, self.config.id);
        0
    }

    fn snapshot_bytes(&self, disk: &dyn Disk) -> u64 {
        let _ = disk;
        0
    }
}
