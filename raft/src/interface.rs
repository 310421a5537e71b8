//! The reference Raft as a [`peer::Peer`]: [`Raft`] plus its on-disk [`LogStore`],
//! speaking 6.824-style RPCs whose bytes are the bincode of Figure 2's structs.

use peer::{Disk, Index, Kind, Membership, PeerConfig, PeerError, PeerId, Status, Term, Wire};

use crate::storage::LogStore;
use crate::{
    AppendEntriesArgs, AppendEntriesReply, Config, InstallSnapshotArgs, InstallSnapshotReply,
    Message, Raft, RequestVoteArgs, RequestVoteReply, Role, TimeoutNowArgs,
};

/// The name on the wire of RequestVote (and PreVote, a RequestVote with a flag).
pub const REQUEST_VOTE: &str = "Raft.RequestVote";
/// The name on the wire of AppendEntries.
pub const APPEND_ENTRIES: &str = "Raft.AppendEntries";
/// The name on the wire of InstallSnapshot.
pub const INSTALL_SNAPSHOT: &str = "Raft.InstallSnapshot";
/// The name on the wire of TimeoutNow (one-way).
pub const TIMEOUT_NOW: &str = "Raft.TimeoutNow";

/// The reference peer, driven through the peer interface.
#[derive(Debug)]
pub struct ReferencePeer {
    raft: Raft,
    store: LogStore,
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64);
    bincode::serde::encode_into_std_write(value, &mut bytes, bincode::config::standard())
        .expect("bincode cannot fail on in-memory values");
    bytes
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, PeerError> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((value, used)) if used == bytes.len() => Ok(value),
        Ok((_, used)) => Err(PeerError(format!("{} trailing bytes", bytes.len() - used))),
        Err(e) => Err(PeerError(format!("undecodable: {e}"))),
    }
}

/// A message as it crosses the network.
pub fn to_wire(msg: &Message) -> Wire {
    let (kind, method, bytes) = match msg {
        Message::RequestVote(a) => (Kind::Request, REQUEST_VOTE, encode(a)),
        Message::RequestVoteReply(r) => (Kind::Reply, REQUEST_VOTE, encode(r)),
        Message::AppendEntries(a) => (Kind::Request, APPEND_ENTRIES, encode(a)),
        Message::AppendEntriesReply(r) => (Kind::Reply, APPEND_ENTRIES, encode(r)),
        Message::InstallSnapshot(a) => (Kind::Request, INSTALL_SNAPSHOT, encode(a)),
        Message::InstallSnapshotReply(r) => (Kind::Reply, INSTALL_SNAPSHOT, encode(r)),
        Message::TimeoutNow(a) => (Kind::OneWay, TIMEOUT_NOW, encode(a)),
    };
    Wire {
        kind,
        method,
        bytes,
    }
}

/// A message off the network; an error for bytes or a method that is not the
/// reference's.
pub fn from_wire(wire: &Wire) -> Result<Message, PeerError> {
    let b = &wire.bytes;
    Ok(match (wire.kind, wire.method) {
        (Kind::Request, REQUEST_VOTE) => Message::RequestVote(decode::<RequestVoteArgs>(b)?),
        (Kind::Reply, REQUEST_VOTE) => Message::RequestVoteReply(decode::<RequestVoteReply>(b)?),
        (Kind::Request, APPEND_ENTRIES) => Message::AppendEntries(decode::<AppendEntriesArgs>(b)?),
        (Kind::Reply, APPEND_ENTRIES) => {
            Message::AppendEntriesReply(decode::<AppendEntriesReply>(b)?)
        }
        (Kind::Request, INSTALL_SNAPSHOT) => {
            Message::InstallSnapshot(decode::<InstallSnapshotArgs>(b)?)
        }
        (Kind::Reply, INSTALL_SNAPSHOT) => {
            Message::InstallSnapshotReply(decode::<InstallSnapshotReply>(b)?)
        }
        (Kind::OneWay, TIMEOUT_NOW) => Message::TimeoutNow(decode::<TimeoutNowArgs>(b)?),
        (kind, method) => {
            return Err(PeerError(format!(
                "the reference peer has no {kind:?} `{method}`"
            )));
        }
    })
}

impl ReferencePeer {
    /// A peer with `config`, restored from `disk` (fresh if it is empty).
    pub fn new(config: Config, disk: &dyn Disk, now_ms: u64) -> Result<ReferencePeer, PeerError> {
        let (store, restored) = LogStore::restore(disk).map_err(|e| PeerError(e.to_string()))?;
        let raft = Raft::new(config, restored, now_ms).map_err(|e| PeerError(e.to_string()))?;
        Ok(ReferencePeer { raft, store })
    }

    /// The reference's configuration for what the lab says of every peer.
    pub fn config(lab: &PeerConfig) -> Config {
        let defaults = Config::new(lab.id, lab.peers, lab.rng_seed);
        Config {
            election_timeout_min_ms: lab.election_timeout_min_ms,
            election_timeout_max_ms: lab.election_timeout_max_ms,
            heartbeat_interval_ms: lab.heartbeat_interval_ms,
            voters: lab.voters.unwrap_or(defaults.voters),
            pre_vote: lab.pre_vote.unwrap_or(defaults.pre_vote),
            check_quorum: lab.check_quorum.unwrap_or(defaults.check_quorum),
            lease_reads: lab.lease_reads.unwrap_or(defaults.lease_reads),
            backtracking: lab.backtracking.unwrap_or(defaults.backtracking),
            max_entries_per_append: lab
                .max_entries_per_append
                .unwrap_or(defaults.max_entries_per_append),
            ..defaults
        }
    }

    /// The Raft inside, for tests that look closer than the interface does.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }
}

/// The reference's RPCs.
const METHODS: &[(&str, Kind)] = &[
    (REQUEST_VOTE, Kind::Request),
    (APPEND_ENTRIES, Kind::Request),
    (INSTALL_SNAPSHOT, Kind::Request),
    (TIMEOUT_NOW, Kind::OneWay),
];

impl peer::Peer for ReferencePeer {
    fn methods(&self) -> &'static [(&'static str, Kind)] {
        METHODS
    }

    fn tick(&mut self, now_ms: u64) {
        self.raft.tick(now_ms);
    }

    fn next_deadline_ms(&self) -> u64 {
        self.raft.next_deadline_ms()
    }

    fn step(&mut self, now_ms: u64, from: PeerId, msg: Wire) -> Result<(), PeerError> {
        let msg = from_wire(&msg)?;
        self.raft
            .step(now_ms, from, msg)
            .map_err(|e| PeerError(e.to_string()))
    }

    fn start(&mut self, now_ms: u64, command: Vec<u8>) -> (Index, Term, bool) {
        self.raft.start(now_ms, command)
    }

    fn read_index(&mut self, now_ms: u64, ctx: u64) -> Result<(), PeerError> {
        self.raft
            .read_index(now_ms, ctx)
            .map_err(|e| PeerError(e.to_string()))
    }

    fn transfer_leadership(&mut self, now_ms: u64, to: PeerId) -> Result<(), PeerError> {
        self.raft
            .transfer_leadership(now_ms, to)
            .map_err(|e| PeerError(e.to_string()))
    }

    fn change_membership(&mut self, now_ms: u64, target: Membership) -> Result<Index, PeerError> {
        self.raft
            .change_membership(now_ms, target)
            .map_err(|e| PeerError(e.to_string()))
    }

    fn snapshot(&mut self, index: Index, data: Vec<u8>) -> Result<(), PeerError> {
        self.raft
            .snapshot(index, data)
            .map_err(|e| PeerError(e.to_string()))
    }

    fn has_ready(&self) -> bool {
        self.raft.has_ready()
    }

    fn ready(&mut self, disk: &mut dyn Disk) -> peer::Ready {
        let rd = self.raft.ready();
        let must_persist = rd.must_persist();
        if must_persist {
            self.store.persist(disk, &rd);
        }
        #[cfg(feature = "injected-bugs")]
        let must_sync = must_persist
            && self.raft.config().injected_bug != Some(crate::InjectedBug::ReplyBeforePersist);
        #[cfg(not(feature = "injected-bugs"))]
        let must_sync = must_persist;
        peer::Ready {
            must_sync,
            snapshot: rd
                .snapshot
                .as_ref()
                .map(|s| (s.last_included_index, s.last_included_term)),
            entries: rd.entries,
            read_states: rd.read_states,
            messages: rd
                .messages
                .iter()
                .map(|(to, m)| (*to, to_wire(m)))
                .collect(),
            applies: rd.applies,
        }
    }

    fn status(&self) -> Status {
        let r = &self.raft;
        Status {
            role: match r.role() {
                Role::Follower => peer::Role::Follower,
                Role::Candidate => peer::Role::Candidate,
                Role::Leader => peer::Role::Leader,
            },
            term: r.current_term(),
            voted_for: r.voted_for(),
            leader: r.leader_id(),
            commit_index: r.commit_index(),
            last_index: r.last_index(),
            snapshot_index: r.snapshot_index(),
            membership: Some(r.membership()),
        }
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        self.raft.term_at(index)
    }

    fn raft_state_bytes(&self, disk: &dyn Disk) -> u64 {
        LogStore::raft_state_size(disk)
    }

    fn snapshot_bytes(&self, disk: &dyn Disk) -> u64 {
        disk.read(crate::storage::SNAPSHOT_FILE)
            .map_or(0, |b| b.len() as u64)
    }

    fn describe(&self, wire: &Wire) -> String {
        match from_wire(wire) {
            Ok(m) => summarize(&m),
            Err(e) => format!("{} ({} bytes): {e}", wire.method, wire.bytes.len()),
        }
    }
}

/// A short description of a message for the trace: entries and snapshot data are
/// summarised, not dumped.
fn summarize(msg: &Message) -> String {
    let text = match msg {
        Message::RequestVote(a) => format!("{REQUEST_VOTE} {a:?}"),
        Message::AppendEntries(a) => format!("{APPEND_ENTRIES} {a:?}"),
        Message::InstallSnapshot(a) => format!("{INSTALL_SNAPSHOT} {a:?}"),
        other => format!("{other:?}"),
    };
    match text.char_indices().nth(240) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// The lab makes reference peers through this.
pub fn factory() -> peer::PeerFactory {
    std::rc::Rc::new(|config, disk, now_ms| {
        let p = ReferencePeer::new(ReferencePeer::config(&config), disk, now_ms)?;
        Ok(Box::new(p) as Box<dyn peer::Peer>)
    })
}

/// Reference peers with a deliberate bug (tests of the testers only), their
/// own assertions on or off.
#[cfg(feature = "injected-bugs")]
pub fn buggy_factory(bug: crate::InjectedBug, internal_assertions: bool) -> peer::PeerFactory {
    std::rc::Rc::new(move |config, disk, now_ms| {
        let c = Config {
            injected_bug: Some(bug),
            internal_assertions,
            ..ReferencePeer::config(&config)
        };
        Ok(Box::new(ReferencePeer::new(c, disk, now_ms)?) as Box<dyn peer::Peer>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use peer::{MemDisk, Peer};

    #[test]
    fn messages_round_trip_through_the_wire() {
        let m = Message::RequestVote(RequestVoteArgs {
            term: 3,
            candidate_id: 1,
            last_log_index: 7,
            last_log_term: 2,
            pre_vote: false,
            leader_transfer: false,
        });
        let w = to_wire(&m);
        assert_eq!((w.kind, w.method), (Kind::Request, REQUEST_VOTE));
        assert_eq!(from_wire(&w).unwrap(), m);
        let bad = Wire {
            kind: Kind::OneWay,
            method: REQUEST_VOTE,
            bytes: w.bytes,
        };
        assert!(from_wire(&bad).is_err());
    }

    #[test]
    fn a_lone_peer_elects_itself_persists_and_restores() {
        let mut disk = MemDisk::default();
        let config = PeerConfig::new(0, 1, 9);
        let mut p = ReferencePeer::new(ReferencePeer::config(&config), &disk, 0).unwrap();
        p.tick(p.next_deadline_ms());
        while p.has_ready() {
            p.ready(&mut disk);
        }
        assert_eq!(p.status().role, peer::Role::Leader);
        let (index, term, ok) = p.start(1000, b"x".to_vec());
        assert!(ok);
        let rd = p.ready(&mut disk);
        assert!(rd.must_sync);
        assert_eq!(rd.entries.len(), 1);
        let restored = ReferencePeer::new(ReferencePeer::config(&config), &disk, 2000).unwrap();
        assert_eq!(restored.term_at(index), Some(term));
        assert!(restored.raft_state_bytes(&disk) > 0);
    }
}
