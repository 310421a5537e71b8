//! raft-rs peers in a small cluster, driven by a loop over MemDisks (no simulator):
//! messages take one millisecond, in order, unless a peer is cut off.

use std::collections::VecDeque;

use peer::{ApplyMsg, Disk, MemDisk, Peer, PeerConfig, PeerId, Ready, Role, Wire};
use raftrs::{RaftRsPeer, factory};

/// A key/value-free service: the commands applied, in order, and the last index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Service {
    commands: Vec<Vec<u8>>,
    applied: u64,
    snapshots_installed: usize,
}

impl Service {
    fn encode(&self) -> Vec<u8> {
        let mut data = self.applied.to_le_bytes().to_vec();
        for c in &self.commands {
            data.extend_from_slice(&(c.len() as u32).to_le_bytes());
            data.extend_from_slice(c);
        }
        data
    }

    fn decode(data: &[u8]) -> Service {
        let applied = u64::from_le_bytes(data[..8].try_into().unwrap());
        let mut commands = Vec::new();
        let mut rest = &data[8..];
        while !rest.is_empty() {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            commands.push(rest[4..4 + len].to_vec());
            rest = &rest[4 + len..];
        }
        Service {
            commands,
            applied,
            snapshots_installed: 0,
        }
    }

    fn apply(&mut self, msg: &ApplyMsg) {
        match msg {
            ApplyMsg::Command { index, command, .. } => {
                assert_eq!(*index, self.applied + 1, "applies out of order");
                self.applied = *index;
                if !command.is_empty() {
                    self.commands.push(command.clone());
                }
            }
            ApplyMsg::Snapshot { index, data, .. } => {
                let installed = Service::decode(data);
                assert_eq!(installed.applied, *index);
                assert!(*index > self.applied || self.applied == 0 || *index == self.applied);
                let n = self.snapshots_installed + 1;
                *self = installed;
                self.snapshots_installed = n;
            }
        }
    }
}

struct Cluster {
    seed: u64,
    now: u64,
    peers: Vec<Option<Box<dyn Peer>>>,
    incarnations: Vec<u64>,
    disks: Vec<MemDisk>,
    services: Vec<Service>,
    connected: Vec<bool>,
    /// Messages sent during the current millisecond, delivered during the next.
    in_flight: VecDeque<(PeerId, PeerId, Wire)>,
    /// Messages on a slow path, with their delivery time (an unreliable network).
    delayed: Vec<(u64, PeerId, PeerId, Wire)>,
    /// When set, the network drops, duplicates and delays messages.
    unreliable: Option<Rng>,
    /// MsgSnapshot messages still to lose.
    lose_snapshots: usize,
    /// Leader seen for each term, to check there is at most one.
    leaders: std::collections::BTreeMap<u64, PeerId>,
    /// Every Ready, with its time and peer: a run's fingerprint.
    readies: Vec<(u64, PeerId, Ready)>,
    /// Services snapshot every this many applied indices (0: never).
    snapshot_every: u64,
}

impl Cluster {
    fn new(n: usize, seed: u64) -> Cluster {
        let mut c = Cluster {
            seed,
            now: 0,
            peers: (0..n).map(|_| None).collect(),
            incarnations: vec![0; n],
            disks: vec![MemDisk::default(); n],
            services: vec![Service::default(); n],
            connected: vec![true; n],
            in_flight: VecDeque::new(),
            delayed: Vec::new(),
            unreliable: None,
            lose_snapshots: 0,
            leaders: Default::default(),
            readies: Vec::new(),
            snapshot_every: 0,
        };
        for i in 0..n {
            c.start_peer(i);
        }
        c
    }

    fn config(&self, i: PeerId) -> PeerConfig {
        let seed = self.seed * 1_000_003 + i as u64 * 1_009 + self.incarnations[i];
        PeerConfig::new(i, self.peers.len(), seed)
    }

    fn start_peer(&mut self, i: PeerId) {
        self.incarnations[i] += 1;
        let p = factory()(self.config(i), &self.disks[i], self.now).expect("peer starts");
        self.peers[i] = Some(p);
        self.services[i] = Service::default();
        self.drain(i);
    }

    fn crash(&mut self, i: PeerId) {
        self.peers[i] = None;
    }

    fn peer(&self, i: PeerId) -> &dyn Peer {
        self.peers[i].as_deref().expect("peer is up")
    }

    fn drain(&mut self, i: PeerId) {
        let Some(p) = self.peers[i].as_mut() else {
            return;
        };
        while p.has_ready() {
            let rd = p.ready(&mut self.disks[i]);
            for (to, w) in &rd.messages {
                assert_ne!(*to, i);
                self.in_flight.push_back((i, *to, w.clone()));
            }
            for a in &rd.applies {
                self.services[i].apply(a);
            }
            let s = &self.services[i];
            if self.snapshot_every > 0
                && s.applied >= p.status().snapshot_index + self.snapshot_every
            {
                p.snapshot(s.applied, s.encode())
                    .expect("snapshot at an applied index");
            }
            self.readies.push((self.now, i, rd));
        }
    }

    /// One millisecond: deliver what was sent during the last one, then tick.
    fn step_ms(&mut self) {
        self.now += 1;
        let mut batch: Vec<_> = self.in_flight.drain(..).collect();
        if let Some(rng) = self.unreliable.as_mut() {
            let mut kept = Vec::new();
            for (from, to, w) in batch {
                match rng.below(100) {
                    0..10 => {}
                    10..15 => {
                        kept.push((from, to, w.clone()));
                        kept.push((from, to, w));
                    }
                    15..40 => self.delayed.push((self.now + rng.below(40), from, to, w)),
                    _ => kept.push((from, to, w)),
                }
            }
            batch = kept;
        }
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.delayed.drain(..).partition(|m| m.0 <= now);
        self.delayed = later;
        batch.extend(due.into_iter().map(|(_, from, to, w)| (from, to, w)));
        for (from, to, w) in batch {
            if !(self.connected[from] && self.connected[to]) {
                continue;
            }
            if self.lose_snapshots > 0
                && let Some(p) = self.peers[to].as_ref()
                && p.describe(&w).starts_with("MsgSnapshot")
            {
                self.lose_snapshots -= 1;
                continue;
            }
            if let Some(p) = self.peers[to].as_mut() {
                p.step(self.now, from, w)
                    .expect("a message from a peer is accepted");
                self.drain(to);
            }
        }
        for i in 0..self.peers.len() {
            if let Some(p) = self.peers[i].as_mut()
                && self.now >= p.next_deadline_ms()
            {
                p.tick(self.now);
                self.drain(i);
            }
        }
        for (i, p) in self.peers.iter().enumerate() {
            let Some(p) = p else { continue };
            let s = p.status();
            if s.role == Role::Leader {
                let l = *self.leaders.entry(s.term).or_insert(i);
                assert_eq!(l, i, "two leaders in term {}", s.term);
            }
        }
    }

    fn run_ms(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step_ms();
        }
    }

    fn leader(&self) -> Option<PeerId> {
        let up = (0..self.peers.len()).filter(|&i| self.peers[i].is_some() && self.connected[i]);
        let leaders: Vec<_> = up
            .filter(|&i| self.peer(i).status().role == Role::Leader)
            .collect();
        let top = leaders.iter().map(|&i| self.peer(i).status().term).max()?;
        let at_top: Vec<_> = leaders
            .into_iter()
            .filter(|&i| self.peer(i).status().term == top)
            .collect();
        assert_eq!(at_top.len(), 1, "two leaders in term {top}");
        Some(at_top[0])
    }

    fn await_leader(&mut self) -> PeerId {
        for _ in 0..5_000 {
            if let Some(l) = self.leader() {
                return l;
            }
            self.step_ms();
        }
        panic!("no leader after 5 s");
    }

    /// Starts `cmd` on the leader and runs until it is applied everywhere up.
    fn commit(&mut self, cmd: &[u8]) -> u64 {
        for _ in 0..10 {
            let l = self.await_leader();
            let p = self.peers[l].as_mut().unwrap();
            let (index, _, ok) = p.start(self.now, cmd.to_vec());
            assert!(ok);
            self.drain(l);
            for _ in 0..2_000 {
                self.step_ms();
                if self.services[l].applied >= index {
                    return index;
                }
            }
        }
        panic!("{:?} not committed", String::from_utf8_lossy(cmd));
    }

    fn converge(&mut self, ms: u64) {
        self.run_ms(ms);
        let live: Vec<_> = (0..self.peers.len())
            .filter(|&i| self.peers[i].is_some())
            .collect();
        for &i in &live[1..] {
            assert_eq!(
                self.services[i].commands, self.services[live[0]].commands,
                "peer {i} applied differently from peer {}",
                live[0]
            );
        }
    }
}

/// The test's own PRNG (SplitMix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

fn cmd(i: usize) -> Vec<u8> {
    format!("cmd-{i}").into_bytes()
}

#[test]
fn three_peers_elect_a_leader_and_apply_the_same_commands_in_order() {
    let mut c = Cluster::new(3, 1);
    let l = c.await_leader();
    assert!(c.now < 2_000, "leader after {} ms", c.now);
    c.run_ms(50);
    let term = c.peer(l).status().term;
    for i in 0..3 {
        let s = c.peer(i).status();
        assert_eq!(s.term, term);
        assert_eq!(s.leader, Some(l));
    }
    for i in 0..20 {
        c.commit(&cmd(i));
    }
    c.converge(500);
    let want: Vec<_> = (0..20).map(cmd).collect();
    for i in 0..3 {
        assert_eq!(c.services[i].commands, want);
        let s = c.peer(i).status();
        assert_eq!(s.commit_index, s.last_index);
        assert_eq!(c.services[i].applied, s.commit_index);
        // The leader's own no-op entry was handed over with an empty command.
        assert_eq!(s.last_index, 21);
    }
    // Every Ready that wrote something asked for a sync.
    for (_, _, rd) in &c.readies {
        if !rd.entries.is_empty() || rd.snapshot.is_some() {
            assert!(rd.must_sync);
        }
    }
    // Start on a follower refuses and tells the index it would get.
    let f = (l + 1) % 3;
    let (index, t, ok) = c.peers[f].as_mut().unwrap().start(c.now, b"no".to_vec());
    assert_eq!((index, t, ok), (22, term, false));
}

#[test]
fn a_restarted_peer_keeps_its_committed_log_and_reapplies_it() {
    let mut c = Cluster::new(3, 2);
    for i in 0..10 {
        c.commit(&cmd(i));
    }
    c.converge(300);
    let victim = (c.await_leader() + 1) % 3;
    let before = c.peer(victim).status();
    let terms: Vec<_> = (0..=before.commit_index)
        .map(|i| c.peer(victim).term_at(i))
        .collect();
    assert!(c.peer(victim).raft_state_bytes(&c.disks[victim]) > 0);
    c.crash(victim);
    c.start_peer(victim);
    let after = c.peer(victim).status();
    assert!(after.last_index >= before.commit_index);
    assert_eq!(after.commit_index, before.commit_index);
    for (i, t) in terms.iter().enumerate() {
        assert_eq!(c.peer(victim).term_at(i as u64), *t, "term of entry {i}");
    }
    // The fresh service got every committed command again, at once.
    assert_eq!(
        c.services[victim].commands,
        (0..10).map(cmd).collect::<Vec<_>>()
    );
    for i in 10..15 {
        c.commit(&cmd(i));
    }
    c.converge(300);
    // A whole-cluster restart loses nothing either.
    for i in 0..3 {
        c.crash(i);
    }
    for i in 0..3 {
        c.start_peer(i);
    }
    c.commit(b"after");
    c.converge(300);
    let mut want: Vec<_> = (0..15).map(cmd).collect();
    want.push(b"after".to_vec());
    assert_eq!(c.services[0].commands, want);
}

#[test]
fn a_cut_off_peer_catches_up_through_a_snapshot() {
    let mut c = Cluster::new(3, 3);
    c.snapshot_every = 5;
    c.commit(&cmd(0));
    c.converge(300);
    let victim = (c.await_leader() + 1) % 3;
    c.connected[victim] = false;
    for i in 1..30 {
        c.commit(&cmd(i));
    }
    let l = c.await_leader();
    assert_ne!(l, victim);
    let leader_snap = c.peer(l).status().snapshot_index;
    assert!(
        leader_snap > c.peer(victim).status().last_index,
        "the log moved past the victim"
    );
    assert!(c.peer(l).snapshot_bytes(&c.disks[l]) > 0);
    // Only the leader's term for its snapshot index is known; entries before are gone.
    assert!(c.peer(l).term_at(leader_snap).is_some());
    assert_eq!(c.peer(l).term_at(leader_snap - 1), None);

    c.connected[victim] = true;
    c.converge(2_000);
    let s = &c.services[victim];
    assert!(
        s.snapshots_installed >= 1,
        "the victim installed a snapshot"
    );
    assert_eq!(s.commands, (0..30).map(cmd).collect::<Vec<_>>());
    assert!(c.peer(victim).status().snapshot_index >= leader_snap);

    // The victim restarts from its installed snapshot: the service gets it first,
    // then the committed entries after it.
    let mark = c.readies.len();
    c.crash(victim);
    c.start_peer(victim);
    let (_, _, first) = c.readies[mark..]
        .iter()
        .find(|(_, i, _)| *i == victim)
        .expect("a Ready after the restart");
    assert!(matches!(
        first.applies.first(),
        Some(ApplyMsg::Snapshot { .. })
    ));
    assert_eq!(c.services[victim].snapshots_installed, 1);
    c.converge(500);
    assert_eq!(
        c.services[victim].commands,
        (0..30).map(cmd).collect::<Vec<_>>()
    );
}

fn fingerprint(seed: u64) -> Vec<(u64, PeerId, Ready)> {
    let mut c = Cluster::new(3, seed);
    for i in 0..10 {
        c.commit(&cmd(i));
    }
    c.converge(500);
    c.readies
}

#[test]
fn the_same_seed_gives_the_same_readies_and_other_seeds_other_timeouts() {
    let a = fingerprint(7);
    assert!(a.len() > 50, "{} readies", a.len());
    assert_eq!(a, fingerprint(7));
    assert_ne!(a, fingerprint(8));

    let mut drawn = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let config = PeerConfig::new(0, 3, seed);
        let p = RaftRsPeer::new(config, &MemDisk::default(), 0).unwrap();
        // raft-rs's own (thread_rng) draw is replaced by the seeded one.
        assert_eq!(p.randomized_election_timeout(), p.election_timeout_ticks());
        let ms = p.election_timeout_ticks() as u64 * raftrs::TICK_MS;
        assert!((300..=600).contains(&ms), "{ms} ms");
        drawn.insert(p.election_timeout_ticks());
    }
    assert!(drawn.len() > 5, "election timeouts drawn: {drawn:?}");
}

#[test]
fn ticks_follow_the_clock_with_jitter_and_catch_up() {
    let mut p = RaftRsPeer::new(PeerConfig::new(0, 3, 5), &MemDisk::default(), 1_000).unwrap();
    let first = p.next_deadline_ms();
    assert!((1_001..=1_000 + raftrs::TICK_MS).contains(&first));
    let mut deadlines = vec![first];
    for _ in 0..50 {
        let d = p.next_deadline_ms();
        p.tick(d);
        let next = p.next_deadline_ms();
        let len = next - d;
        assert!(
            (raftrs::TICK_MS - raftrs::TICK_JITTER_MS..=raftrs::TICK_MS + raftrs::TICK_JITTER_MS)
                .contains(&len)
        );
        deadlines.push(next);
    }
    let lengths: std::collections::BTreeSet<_> =
        deadlines.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(lengths.len() > 1, "tick lengths jitter");
    // A follower that hears nothing for its election timeout becomes a (pre)candidate,
    // also when the ticks arrive all at once.
    let mut q = RaftRsPeer::new(PeerConfig::new(1, 3, 5), &MemDisk::default(), 0).unwrap();
    q.tick(700);
    assert_eq!(q.status().role, Role::Candidate);
    // raft-rs redrew its timeout from thread_rng when it changed role; the adapter
    // replaced that draw with a seeded one.
    assert_eq!(q.randomized_election_timeout(), q.election_timeout_ticks());
    assert!(q.next_deadline_ms() > 700);
    let mut disk = MemDisk::default();
    let rd = q.ready(&mut disk);
    assert!(rd.messages.len() >= 2, "pre-votes to both others");
    for (_, w) in &rd.messages {
        assert!(
            q.describe(w).starts_with("MsgRequestPreVote"),
            "{}",
            q.describe(w)
        );
    }
    assert_eq!(q.status().term, 0, "a pre-vote does not raise the term");
}

#[test]
fn a_lone_peer_elects_itself_and_commits() {
    let mut disk = MemDisk::default();
    let mut p = factory()(PeerConfig::new(0, 1, 9), &disk, 0).unwrap();
    let mut t = 0;
    while p.status().role != Role::Leader {
        t = p.next_deadline_ms();
        p.tick(t);
        while p.has_ready() {
            p.ready(&mut disk);
        }
        assert!(t < 2_000);
    }
    let (index, term, ok) = p.start(t, b"x".to_vec());
    assert!(ok);
    let mut applied = Vec::new();
    while p.has_ready() {
        let rd = p.ready(&mut disk);
        assert!(rd.must_sync || rd.entries.is_empty());
        applied.extend(rd.applies);
    }
    assert!(applied.contains(&ApplyMsg::Command {
        index,
        term,
        command: b"x".to_vec()
    }));
}

#[test]
fn bad_messages_and_corrupt_disks_are_errors() {
    let mut c = Cluster::new(3, 4);
    c.commit(b"x");
    let (from, to, w) = loop {
        if let Some(m) = c.in_flight.front() {
            break m.clone();
        }
        c.step_ms();
    };
    let describe = c.peer(to).describe(&w);
    assert!(describe.starts_with("Msg"), "{describe}");
    let p = c.peers[to].as_mut().unwrap();
    let others: Vec<_> = (0..3).filter(|&i| i != from && i != to).collect();
    assert!(p.step(c.now, others[0], w.clone()).is_err(), "wrong sender");
    assert!(p.step(c.now, to, w.clone()).is_err(), "from itself");
    assert!(p.step(c.now, 7, w.clone()).is_err(), "no such peer");
    let garbage = Wire {
        bytes: vec![0xFF, 0x01, 0x02, 0x03],
        ..w.clone()
    };
    assert!(p.step(c.now, from, garbage).is_err());
    let wrong_kind = Wire {
        kind: peer::Kind::Request,
        ..w.clone()
    };
    assert!(p.step(c.now, from, wrong_kind).is_err());
    p.step(c.now, from, w)
        .expect("the real message is still fine");

    let mut disk = c.disks[0].clone();
    let mut log = disk.read(raftrs::LOG_FILE).unwrap().to_vec();
    log[10] ^= 0xFF;
    disk.write(raftrs::LOG_FILE, &log);
    let Err(err) = factory()(PeerConfig::new(0, 3, 1), &disk, 0) else {
        panic!("a corrupt log was accepted");
    };
    assert!(err.0.contains("corrupt disk"), "{err}");
    assert!(err.0.contains(raftrs::LOG_FILE), "{err}");
}

#[test]
fn a_lost_snapshot_is_sent_again() {
    let mut c = Cluster::new(3, 5);
    c.snapshot_every = 5;
    c.commit(&cmd(0));
    c.converge(300);
    let victim = (c.await_leader() + 1) % 3;
    c.connected[victim] = false;
    for i in 1..20 {
        c.commit(&cmd(i));
    }
    c.lose_snapshots = 2;
    c.connected[victim] = true;
    c.converge(3_000);
    assert_eq!(c.lose_snapshots, 0, "two snapshots were sent and lost");
    assert_eq!(
        c.services[victim].commands,
        (0..20).map(cmd).collect::<Vec<_>>()
    );
    assert!(c.services[victim].snapshots_installed >= 1);
}

/// Drops, duplicates and delays, partitions, crashes and restarts, over many seeds:
/// applied commands agree (each a prefix of another), at most one leader a term,
/// and once everything heals, a command commits and every peer applies the same.
#[test]
fn an_unreliable_network_with_crashes_stays_safe_and_recovers() {
    for seed in 0..100 {
        let n = if seed % 2 == 0 { 3 } else { 5 };
        let mut c = Cluster::new(n, 100 + seed);
        c.snapshot_every = 7;
        let mut rng = Rng(seed);
        c.unreliable = Some(Rng(seed ^ 0xABCD));
        let mut next = 0;
        for _ in 0..60 {
            match rng.below(10) {
                0 | 1 => {
                    let i = rng.below(n as u64) as usize;
                    c.connected[i] = !c.connected[i];
                }
                2 | 3 => {
                    let i = rng.below(n as u64) as usize;
                    if c.peers[i].is_some() {
                        c.crash(i);
                    } else {
                        c.start_peer(i);
                    }
                }
                _ => {
                    let live: Vec<_> = (0..n).filter(|&i| c.peers[i].is_some()).collect();
                    for i in live {
                        let p = c.peers[i].as_mut().unwrap();
                        if p.status().role == Role::Leader {
                            p.start(c.now, cmd(next));
                            next += 1;
                            c.drain(i);
                        }
                    }
                }
            }
            c.run_ms(rng.below(200));
            check_prefixes(&c);
        }
        c.unreliable = None;
        for i in 0..n {
            c.connected[i] = true;
            if c.peers[i].is_none() {
                c.start_peer(i);
            }
        }
        c.run_ms(1_000);
        c.commit(b"final");
        c.converge(1_000);
        check_prefixes(&c);
        assert_eq!(
            c.services[0].commands.last().unwrap(),
            b"final",
            "seed {seed}"
        );
    }
}

fn check_prefixes(c: &Cluster) {
    for a in &c.services {
        for b in &c.services {
            let (short, long) = if a.applied <= b.applied {
                (a, b)
            } else {
                (b, a)
            };
            assert!(
                long.commands.starts_with(&short.commands),
                "applied logs diverge"
            );
        }
    }
}
