//! A tiny deterministic in-memory driver for Raft peers: a fake clock, a message queue
//! ordered by (delivery time, sequence), partitions, drops, duplicates, crashes with an
//! in-memory disk, and safety checkers (one leader per term, state machine safety,
//! log matching). Everything is decided by a seed.

#![allow(dead_code)]

use std::collections::BTreeMap;

use raft::storage::{Disk, LogStore};
use raft::{ApplyMsg, Config, Index, Message, PeerId, Raft, Role, Term};

/// SplitMix64, for the network's choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0xD1B5_4A32_D192_ED03)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance_per_mille(&mut self, p: u32) -> bool {
        self.below(1000) < p as u64
    }
}

/// A disk that keeps everything written (the driver "syncs" before each next input).
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Disk for MemDisk {
    fn read(&self, file: &str) -> Option<&[u8]> {
        self.files.get(file).map(|v| v.as_slice())
    }
    fn write(&mut self, file: &str, data: &[u8]) {
        self.files.insert(file.to_string(), data.to_vec());
    }
    fn append(&mut self, file: &str, data: &[u8]) {
        self.files
            .entry(file.to_string())
            .or_default()
            .extend_from_slice(data);
    }
    fn truncate(&mut self, file: &str, len: u64) {
        if let Some(f) = self.files.get_mut(file) {
            f.truncate(len as usize);
        }
    }
}

pub fn cmd(x: u64) -> Vec<u8> {
    x.to_le_bytes().to_vec()
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).unwrap()
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> T {
    bincode::serde::decode_from_slice(b, bincode::config::standard())
        .unwrap()
        .0
}

pub struct Node {
    pub raft: Option<Raft>,
    pub disk: MemDisk,
    pub store: LogStore,
    /// The service: applied commands by index (its snapshot is this map, bincoded).
    pub service: BTreeMap<Index, Vec<u8>>,
    pub applied_index: Index,
    pub snapshots_installed: u64,
    /// Reads the peer confirmed (ReadIndex), as (ctx, index, applied index
    /// when they came out).
    pub reads: Vec<(u64, Index, Index)>,
}

struct Envelope {
    from: PeerId,
    to: PeerId,
    bytes: Vec<u8>,
}

/// Counts of messages sent, by kind.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub requests: u64,
    pub append_entries: u64,
    pub append_rejections: u64,
    pub install_snapshots: u64,
    pub request_votes: u64,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub now_ms: u64,
    queue: BTreeMap<(u64, u64), Envelope>,
    seq: u64,
    /// Peers in the same group can talk.
    pub group: Vec<u32>,
    /// Links cut between two peers of one group (both ways): partial partitions.
    pub cut: std::collections::BTreeSet<(PeerId, PeerId)>,
    pub drop_per_mille: u32,
    pub dup_per_mille: u32,
    pub max_delay_ms: u64,
    pub rng: Rng,
    pub seed: u64,
    /// First command applied at each index by anyone: everyone must agree.
    pub committed: BTreeMap<Index, Vec<u8>>,
    pub leaders: BTreeMap<Term, PeerId>,
    pub sent: Counters,
    pub snapshot_every: Option<Index>,
    pub make_config: fn(PeerId, usize, u64) -> Config,
    restarts: u64,
}

fn default_config(id: PeerId, peers: usize, seed: u64) -> Config {
    Config::new(id, peers, seed)
}

/// A configuration maker with PreVote and CheckQuorum as given.
pub fn with_switches(pre_vote: bool, check_quorum: bool) -> fn(PeerId, usize, u64) -> Config {
    match (pre_vote, check_quorum) {
        (false, false) => |id, n, seed| Config {
            pre_vote: false,
            ..Config::new(id, n, seed)
        },
        (false, true) => |id, n, seed| Config {
            pre_vote: false,
            check_quorum: true,
            ..Config::new(id, n, seed)
        },
        (true, false) => Config::new,
        (true, true) => |id, n, seed| Config {
            check_quorum: true,
            ..Config::new(id, n, seed)
        },
    }
}

impl Cluster {
    pub fn new(peers: usize, seed: u64) -> Cluster {
        Cluster::with_config(peers, seed, default_config)
    }

    pub fn with_config(
        peers: usize,
        seed: u64,
        make_config: fn(PeerId, usize, u64) -> Config,
    ) -> Cluster {
        let mut c = Cluster {
            nodes: Vec::new(),
            now_ms: 0,
            queue: BTreeMap::new(),
            seq: 0,
            group: vec![0; peers],
            cut: Default::default(),
            drop_per_mille: 0,
            dup_per_mille: 0,
            max_delay_ms: 5,
            rng: Rng::new(seed),
            seed,
            committed: BTreeMap::new(),
            leaders: BTreeMap::new(),
            sent: Counters::default(),
            snapshot_every: None,
            make_config,
            restarts: 0,
        };
        for id in 0..peers {
            let raft = Raft::new(
                make_config(id, peers, seed.wrapping_mul(31).wrapping_add(id as u64)),
                None,
                0,
            )
            .unwrap();
            c.nodes.push(Node {
                raft: Some(raft),
                disk: MemDisk::default(),
                store: LogStore::default(),
                service: BTreeMap::new(),
                applied_index: 0,
                snapshots_installed: 0,
                reads: Vec::new(),
            });
        }
        for id in 0..peers {
            c.process(id);
        }
        c
    }

    /// Start the cluster from given durable states (one per peer) instead of empty ones.
    pub fn from_restored(
        restored: Vec<Option<raft::Restored>>,
        seed: u64,
        make_config: fn(PeerId, usize, u64) -> Config,
    ) -> Cluster {
        let peers = restored.len();
        let mut c = Cluster::with_config(peers, seed, make_config);
        for (id, r) in restored.into_iter().enumerate() {
            c.nodes[id].raft =
                Some(Raft::new(make_config(id, peers, seed + id as u64), r, 0).unwrap());
            c.process(id);
        }
        c
    }

    pub fn peers(&self) -> usize {
        self.nodes.len()
    }

    pub fn raft(&self, id: PeerId) -> &Raft {
        self.nodes[id].raft.as_ref().expect("peer is up")
    }

    pub fn raft_mut(&mut self, id: PeerId) -> &mut Raft {
        self.nodes[id].raft.as_mut().expect("peer is up")
    }

    pub fn alive(&self, id: PeerId) -> bool {
        self.nodes[id].raft.is_some()
    }

    fn connected(&self, a: PeerId, b: PeerId) -> bool {
        self.group[a] == self.group[b] && !self.cut.contains(&(a.min(b), a.max(b)))
    }

    /// Runs `f` on peer `id` with the time now (an input from its service),
    /// then handles what it output.
    pub fn input<R>(&mut self, id: PeerId, f: impl FnOnce(&mut Raft, u64) -> R) -> R {
        let now = self.now_ms;
        let r = f(self.raft_mut(id), now);
        self.process(id);
        r
    }

    /// Cuts the link between `a` and `b` only: each still talks to the others.
    pub fn cut_link(&mut self, a: PeerId, b: PeerId) {
        self.cut.insert((a.min(b), a.max(b)));
    }

    pub fn disconnect(&mut self, id: PeerId) {
        self.group[id] = 1000 + id as u32;
    }

    pub fn connect_all(&mut self) {
        self.group = vec![0; self.peers()];
        self.cut.clear();
    }

    /// Handle everything the peer has to output, as a real driver would.
    pub fn process(&mut self, id: PeerId) {
        loop {
            let Some(raft) = self.nodes[id].raft.as_mut() else {
                return;
            };
            if !raft.has_ready() {
                return;
            }
            let ready = raft.ready();
            assert!(!ready.is_empty(), "has_ready() but an empty Ready");
            let node = &mut self.nodes[id];
            node.store.persist(&mut node.disk, &ready);
            for (to, msg) in ready.messages {
                self.send(id, to, &msg);
            }
            let mut snapshot_at = None;
            for apply in ready.applies {
                self.apply(id, apply, &mut snapshot_at);
            }
            let node = &mut self.nodes[id];
            for r in ready.read_states {
                node.reads.push((r.ctx, r.index, node.applied_index));
            }
            if let Some((index, data)) = snapshot_at {
                self.raft_mut(id)
                    .snapshot(index, data)
                    .expect("snapshot of applied state");
            }
            self.check_leader(id);
        }
    }

    fn apply(&mut self, id: PeerId, apply: ApplyMsg, snapshot_at: &mut Option<(Index, Vec<u8>)>) {
        let node = &mut self.nodes[id];
        match apply {
            ApplyMsg::Command { index, command, .. } => {
                assert_eq!(
                    index,
                    node.applied_index + 1,
                    "peer {id} applied index {index} out of order (last {})",
                    node.applied_index
                );
                match self.committed.get(&index) {
                    Some(c) => assert_eq!(
                        c, &command,
                        "state machine safety: peers disagree at index {index}"
                    ),
                    None => {
                        self.committed.insert(index, command.clone());
                    }
                }
                node.service.insert(index, command);
                node.applied_index = index;
                if self.snapshot_every.is_some_and(|every| index % every == 0) {
                    // The service snapshots its state as of exactly this index.
                    *snapshot_at = Some((index, encode(&node.service)));
                }
            }
            ApplyMsg::Snapshot { index, data, .. } => {
                assert!(
                    index > node.applied_index
                        || node.applied_index == 0
                        || node.service.is_empty(),
                    "peer {id}: snapshot at {index} would roll back applied index {}",
                    node.applied_index
                );
                let service: BTreeMap<Index, Vec<u8>> = decode(&data);
                assert_eq!(service.keys().next_back().copied().unwrap_or(index), index);
                for (i, c) in &service {
                    if let Some(known) = self.committed.get(i) {
                        assert_eq!(known, c, "snapshot disagrees with applied commands at {i}");
                    }
                }
                node.service = service;
                node.applied_index = index;
                node.snapshots_installed += 1;
            }
        }
    }

    fn check_leader(&mut self, id: PeerId) {
        let raft = self.nodes[id].raft.as_ref().unwrap();
        if raft.role() == Role::Leader {
            let term = raft.current_term();
            let first = *self.leaders.entry(term).or_insert(id);
            assert_eq!(first, id, "two leaders in term {term}: {first} and {id}");
        }
    }

    fn send(&mut self, from: PeerId, to: PeerId, msg: &Message) {
        if msg.is_request() {
            self.sent.requests += 1;
        }
        match msg {
            Message::AppendEntries(_) => self.sent.append_entries += 1,
            Message::AppendEntriesReply(r) if !r.success => self.sent.append_rejections += 1,
            Message::InstallSnapshot(_) => self.sent.install_snapshots += 1,
            Message::RequestVote(_) => self.sent.request_votes += 1,
            _ => {}
        }
        if !self.connected(from, to) || self.rng.chance_per_mille(self.drop_per_mille) {
            return;
        }
        let bytes = encode(msg);
        let copies = if self.rng.chance_per_mille(self.dup_per_mille) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now_ms + 1 + self.rng.below(self.max_delay_ms.max(1));
            self.seq += 1;
            self.queue.insert(
                (at, self.seq),
                Envelope {
                    from,
                    to,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    fn deliver(&mut self, env: Envelope) {
        if !self.alive(env.to) || !self.connected(env.from, env.to) {
            return;
        }
        let msg: Message = decode(&env.bytes);
        let is_request = msg.is_request();
        let now = self.now_ms;
        self.raft_mut(env.to)
            .step(now, env.from, msg)
            .expect("valid message");
        if is_request {
            // The contract: exactly one reply, to the sender, in the next Ready.
            let raft = self.nodes[env.to].raft.as_mut().unwrap();
            let ready = raft.ready();
            let replies: Vec<_> = ready
                .messages
                .iter()
                .filter(|(_, m)| !m.is_request())
                .collect();
            assert_eq!(replies.len(), 1, "a request must produce exactly one reply");
            assert_eq!(replies[0].0, env.from);
            self.finish_ready(env.to, ready);
        }
        self.process(env.to);
    }

    /// Handle a Ready already taken from the peer.
    fn finish_ready(&mut self, id: PeerId, ready: raft::Ready) {
        let node = &mut self.nodes[id];
        node.store.persist(&mut node.disk, &ready);
        for (to, msg) in ready.messages {
            self.send(id, to, &msg);
        }
        let mut snapshot_at = None;
        for apply in ready.applies {
            self.apply(id, apply, &mut snapshot_at);
        }
        if let Some((index, data)) = snapshot_at {
            self.raft_mut(id)
                .snapshot(index, data)
                .expect("snapshot of applied state");
        }
        self.check_leader(id);
    }

    /// Advance virtual time by `ms`, delivering messages and ticking peers.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        let mut spins = 0u64;
        let mut last_now = self.now_ms;
        loop {
            if self.now_ms == last_now {
                spins += 1;
                assert!(
                    spins < 1_000_000,
                    "no progress at t={} ms: queue {} roles {:?}",
                    self.now_ms,
                    self.queue.len(),
                    (0..self.peers())
                        .map(|i| self.nodes[i].raft.as_ref().map(|r| (
                            r.role(),
                            r.current_term(),
                            r.next_deadline_ms()
                        )))
                        .collect::<Vec<_>>()
                );
            } else {
                spins = 0;
                last_now = self.now_ms;
            }
            let next_msg = self.queue.first_key_value().map(|(k, _)| k.0);
            let next_tick = (0..self.peers())
                .filter_map(|i| self.nodes[i].raft.as_ref().map(|r| r.next_deadline_ms()))
                .min();
            let t = [next_msg, next_tick]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end + 1);
            if t > end {
                self.now_ms = end;
                return;
            }
            self.now_ms = self.now_ms.max(t);
            if next_msg.is_some_and(|m| m <= self.now_ms) {
                let (_, env) = self.queue.pop_first().unwrap();
                self.deliver(env);
                continue;
            }
            for id in 0..self.peers() {
                let now = self.now_ms;
                if let Some(r) = self.nodes[id].raft.as_mut()
                    && r.next_deadline_ms() <= now
                {
                    r.tick(now);
                    self.process(id);
                }
            }
        }
    }

    /// Crash: the peer loses everything but its disk (which the driver synced).
    pub fn crash(&mut self, id: PeerId) {
        self.nodes[id].raft = None;
    }

    pub fn restart(&mut self, id: PeerId) {
        self.crash(id);
        let (store, restored) = LogStore::restore(&self.nodes[id].disk).expect("disk restores");
        self.restarts += 1;
        let config = (self.make_config)(
            id,
            self.peers(),
            self.seed ^ (self.restarts << 20) ^ id as u64,
        );
        let node = &mut self.nodes[id];
        node.store = store;
        node.service.clear();
        node.applied_index = 0;
        node.raft =
            Some(Raft::new(config, restored, self.now_ms).expect("restored state is valid"));
        self.process(id);
    }

    /// Live leaders that can reach a majority's group, by term.
    pub fn leaders_now(&self) -> Vec<PeerId> {
        (0..self.peers())
            .filter(|&i| {
                self.nodes[i]
                    .raft
                    .as_ref()
                    .is_some_and(|r| r.role() == Role::Leader)
            })
            .collect()
    }

    /// Leader's (match_index) of `peer`, if `leader` leads.
    pub fn progress_match(&self, leader: PeerId, peer: PeerId) -> Option<Index> {
        self.raft(leader).progress_of(peer).map(|p| p.1)
    }

    /// Run until exactly one live leader exists in the highest term among connected
    /// majorities; returns it. Panics after 5 s of virtual time.
    pub fn check_one_leader(&mut self) -> PeerId {
        for _ in 0..50 {
            self.run_for(100);
            let mut by_term: BTreeMap<Term, Vec<PeerId>> = BTreeMap::new();
            for id in self.leaders_now() {
                let group_size = self.group.iter().filter(|g| **g == self.group[id]).count();
                if group_size * 2 > self.peers() {
                    by_term
                        .entry(self.raft(id).current_term())
                        .or_default()
                        .push(id);
                }
            }
            if let Some((_, ids)) = by_term.last_key_value() {
                assert_eq!(ids.len(), 1, "several leaders in one term: {ids:?}");
                return ids[0];
            }
        }
        panic!("no leader after 5 s (seed {})", self.seed);
    }

    /// How many peers applied `index`, and the command applied there.
    pub fn n_committed(&self, index: Index) -> (usize, Option<Vec<u8>>) {
        let command = self.committed.get(&index).cloned();
        let n = self
            .nodes
            .iter()
            .filter(|node| command.is_some() && node.service.get(&index) == command.as_ref())
            .count();
        (n, command)
    }

    /// 6.824's one(): submit `command` to a leader until `expected` peers applied it.
    /// Returns its index. Panics after 10 s.
    pub fn one(&mut self, command: Vec<u8>, expected: usize) -> Index {
        let start_ms = self.now_ms;
        while self.now_ms < start_ms + 10_000 {
            let mut index = None;
            for id in 0..self.peers() {
                if !self.alive(id) {
                    continue;
                }
                let now = self.now_ms;
                let (i, _, is_leader) = self.raft_mut(id).start(now, command.clone());
                self.process(id);
                if is_leader {
                    index = Some(i);
                    break;
                }
            }
            if let Some(index) = index {
                let t0 = self.now_ms;
                while self.now_ms < t0 + 2_000 {
                    self.run_for(20);
                    let (n, c) = self.n_committed(index);
                    if n >= expected && c.as_ref() == Some(&command) {
                        return index;
                    }
                }
            } else {
                self.run_for(50);
            }
        }
        panic!(
            "one({command:?}) failed to reach agreement (seed {})",
            self.seed
        );
    }

    /// Log Matching: if two live logs hold an entry with the same index and term, the
    /// entries are equal (and so, inductively, are all before them).
    pub fn check_log_matching(&self) {
        let live: Vec<&Raft> = self.nodes.iter().filter_map(|n| n.raft.as_ref()).collect();
        for a in 0..live.len() {
            for b in a + 1..live.len() {
                let (ra, rb) = (live[a], live[b]);
                let lo = ra.first_index().max(rb.first_index());
                let hi = ra.last_index().min(rb.last_index());
                let mut matched_above = false;
                for i in (lo..=hi).rev() {
                    let (ea, eb) = (ra.entry(i).unwrap(), rb.entry(i).unwrap());
                    if matched_above || ea.term == eb.term {
                        assert_eq!(
                            ea,
                            eb,
                            "log matching violated at index {i} (peers {} and {})",
                            ra.id(),
                            rb.id()
                        );
                        matched_above = true;
                    }
                }
            }
        }
    }

    /// Every live peer has applied exactly the same prefix.
    pub fn check_all_applied_same(&self) -> Index {
        let ids: Vec<usize> = (0..self.peers()).filter(|&i| self.alive(i)).collect();
        let index = self.nodes[ids[0]].applied_index;
        for &i in &ids {
            assert_eq!(
                self.nodes[i].applied_index, index,
                "peer {i} applied a different prefix"
            );
        }
        index
    }
}
