//! End-to-end scenarios on the in-memory driver, plus direct step tests of one peer.

mod driver;

use driver::{Cluster, MemDisk, cmd};
use raft::storage::{Disk, LogStore};
use raft::{
    AppendEntriesArgs, AppendEntriesReply, ApplyMsg, Config, Entry, HardState, Message, Raft,
    RaftError, Ready, RequestVoteArgs, Restored, Role, Snapshot,
};

/// The configuration of a fresh 3-peer cluster.
fn three() -> raft::Membership {
    raft::Membership::of_voters(raft::PeerSet::first(3))
}

fn entries(terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &term)| Entry::command(term, i as u64 + 1, cmd(1000 * term + i as u64 + 1)))
        .collect()
}

fn restored(term: u64, voted_for: Option<usize>, log: Vec<Entry>) -> Option<Restored> {
    Some(Restored {
        hard_state: Some(HardState {
            current_term: term,
            voted_for,
        }),
        snapshot: None,
        entries: log,
    })
}

/// Peer 0 times out first (50..60 ms) so scenarios can pick the first candidate.
fn peer0_first(id: usize, peers: usize, seed: u64) -> Config {
    let mut c = Config::new(id, peers, seed);
    if id == 0 {
        c.election_timeout_min_ms = 150;
        c.election_timeout_max_ms = 160;
    } else {
        c.election_timeout_min_ms = 500;
        c.election_timeout_max_ms = 600;
    }
    c
}

#[test]
fn single_leader_is_elected_and_stays() {
    let mut c = Cluster::new(3, 1);
    let leader = c.check_one_leader();
    let term = c.raft(leader).current_term();
    assert!(term >= 1);
    c.run_for(3_000);
    assert_eq!(
        c.raft(leader).current_term(),
        term,
        "no re-election without failures"
    );
    assert_eq!(c.leaders_now(), vec![leader]);
    for id in 0..3 {
        assert_eq!(c.raft(id).leader_id(), Some(leader));
    }
}

#[test]
fn re_election_after_leader_is_partitioned() {
    for seed in 0..20 {
        let mut c = Cluster::new(3, seed);
        let old = c.check_one_leader();
        let old_term = c.raft(old).current_term();
        c.disconnect(old);
        let new = c.check_one_leader();
        assert_ne!(new, old);
        assert!(c.raft(new).current_term() > old_term);
        // The old leader, back, learns the new term and steps down.
        c.connect_all();
        c.run_for(1_000);
        assert_eq!(c.raft(old).role(), Role::Follower);
        assert_eq!(c.leaders_now().len(), 1);
        // No quorum, no leader.
        let l = c.check_one_leader();
        c.disconnect(l);
        c.disconnect((l + 1) % 3);
        c.run_for(2_000);
        let survivor = (l + 2) % 3;
        assert_ne!(c.raft(survivor).role(), Role::Leader);
    }
}

#[test]
fn replication_commits_and_applies_in_order_with_bounded_rpcs() {
    let mut c = Cluster::new(3, 7);
    c.run_for(10);
    let before = c.sent.requests;
    let leader = c.check_one_leader();
    let election_rpcs = c.sent.requests - before;
    // 6.824 count test: electing costs 1..30 RPCs, including heartbeats while we wait.
    assert!(
        (1..=30).contains(&election_rpcs),
        "election took {election_rpcs} RPCs"
    );

    let before = c.sent.requests;
    let now = c.now_ms;
    let (start_index, term, ok) = c.raft_mut(leader).start(now, cmd(0));
    assert!(ok);
    c.process(leader);
    let mut indices = vec![start_index];
    for i in 1..=10 {
        let (index, t, ok) = c.raft_mut(leader).start(now, cmd(i));
        assert!(ok && t == term);
        indices.push(index);
        c.process(leader);
    }
    assert_eq!(indices, (start_index..start_index + 11).collect::<Vec<_>>());
    c.run_for(300);
    for (i, &index) in indices.iter().enumerate() {
        assert_eq!(c.n_committed(index), (3, Some(cmd(i as u64))));
    }
    let agreement_rpcs = c.sent.requests - before;
    assert!(
        agreement_rpcs <= (10 + 1 + 3) * 3,
        "10 agreements took {agreement_rpcs} RPCs"
    );

    let before = c.sent.requests;
    c.run_for(1_000);
    let idle = c.sent.requests - before;
    assert!(idle <= 60, "1 s idle took {idle} RPCs");
    assert!(
        idle >= 2 * 9,
        "a leader must keep sending heartbeats (sent {idle})"
    );
    assert_eq!(c.raft(leader).current_term(), term);

    // Followers not leaders refuse Start.
    let follower = (leader + 1) % 3;
    let now = c.now_ms;
    assert!(!c.raft_mut(follower).start(now, cmd(99)).2);
}

#[test]
fn agreement_despite_follower_disconnection_and_rejoin() {
    let mut c = Cluster::new(5, 3);
    c.one(cmd(1), 5);
    let leader = c.check_one_leader();
    let down = [(leader + 1) % 5, (leader + 2) % 5];
    for &d in &down {
        c.disconnect(d);
    }
    for i in 2..40 {
        c.one(cmd(i), 3);
    }
    // Without a majority, nothing commits.
    let extra = [(leader + 3) % 5];
    c.disconnect(extra[0]);
    let now = c.now_ms;
    let (index, _, ok) = c.raft_mut(leader).start(now, cmd(1000));
    assert!(ok);
    c.process(leader);
    c.run_for(2_000);
    assert_eq!(c.n_committed(index).0, 0);
    c.connect_all();
    c.one(cmd(41), 5);
    c.check_log_matching();
}

#[test]
fn far_behind_follower_is_repaired_in_few_round_trips() {
    // Leader-to-be (0) and 1: 5 entries of term 1, then 15 of term 3.
    // Peer 2: the same 5 of term 1, then 55 conflicting entries of term 2.
    let mut good: Vec<u64> = vec![1; 5];
    good.extend(vec![3; 15]);
    let mut bad: Vec<u64> = vec![1; 5];
    bad.extend(vec![2; 55]);
    let mut c = Cluster::from_restored(
        vec![
            restored(3, None, entries(&good)),
            restored(3, None, entries(&good)),
            restored(3, None, entries(&bad)),
        ],
        5,
        peer0_first,
    );
    let leader = c.check_one_leader();
    assert_eq!(leader, 0);
    let rejections_before = c.sent.append_rejections;
    let now = c.now_ms;
    let (index, _, _) = c.raft_mut(leader).start(now, cmd(77));
    c.process(leader);
    c.run_for(500);
    assert_eq!(c.n_committed(index).0, 3);
    let rejections = c.sent.append_rejections - rejections_before;
    // One rejection jumps over the whole term-2 run (conflict_term), not 55.
    assert!(rejections <= 2, "{rejections} rejections");
    assert_eq!(c.raft(2).last_index(), 21);
    assert_eq!(c.raft(2).term_at(20), Some(3));
    c.check_log_matching();

    // A follower whose log is just short also needs one rejection (conflict_term None).
    let long: Vec<u64> = vec![1; 600];
    let mut c = Cluster::from_restored(
        vec![
            restored(1, None, entries(&long)),
            restored(1, None, entries(&long[..3])),
            restored(1, None, entries(&long[..3])),
        ],
        6,
        peer0_first,
    );
    let rejections_before = c.sent.append_rejections;
    let leader = c.check_one_leader();
    c.run_for(500);
    assert_eq!(leader, 0);
    assert!(c.sent.append_rejections - rejections_before <= 2 * 2);
    assert_eq!(c.raft(1).last_index(), 600);
}

#[test]
fn figure8_leader_does_not_commit_old_term_entries_by_counting() {
    // Peer 0 has index 2 from term 2 that only it holds; it becomes leader of term 4.
    let mut c = Cluster::from_restored(
        vec![
            restored(3, None, entries(&[1, 2])),
            restored(3, None, entries(&[1])),
            restored(3, None, entries(&[1])),
        ],
        8,
        peer0_first,
    );
    let leader = c.check_one_leader();
    assert_eq!(leader, 0);
    assert_eq!(c.raft(0).current_term(), 4);
    c.run_for(1_000);
    // Index 2 (term 2) is now on every peer, yet is not committed: it is not of term 4.
    for id in 0..3 {
        assert_eq!(c.raft(id).term_at(2), Some(2));
        assert_eq!(
            c.raft(id).commit_index(),
            0,
            "peer {id} committed an old-term entry by counting"
        );
    }
    assert_eq!(c.progress_match(0, 1), Some(2));
    // A term-4 entry commits everything before it, in order.
    let index = c.one(cmd(5), 3);
    assert_eq!(index, 3);
    for id in 0..3 {
        assert_eq!(
            c.nodes[id].service.keys().copied().collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
}

fn follower(log: Vec<Entry>, term: u64) -> Raft {
    let mut r = Raft::new(Config::new(1, 3, 9), restored(term, None, log), 0).unwrap();
    let _ = r.ready();
    r
}

fn append(term: u64, prev: (u64, u64), log: Vec<Entry>, commit: u64) -> Message {
    Message::AppendEntries(AppendEntriesArgs {
        term,
        leader_id: 0,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries: log,
        leader_commit: commit,
        read_round: 0,
    })
}

fn only_reply(r: &mut Raft) -> (raft::Ready, AppendEntriesReply) {
    let ready = r.ready();
    assert_eq!(ready.messages.len(), 1);
    match &ready.messages[0] {
        (0, Message::AppendEntriesReply(reply)) => {
            let reply = reply.clone();
            (ready, reply)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn conflicting_entries_are_truncated_and_persisted() {
    let mut r = follower(entries(&[1, 1, 1]), 1);
    let new = Entry::command(2, 2, cmd(42));
    r.step(10, 0, append(2, (1, 1), vec![new.clone()], 0))
        .unwrap();
    let (ready, reply) = only_reply(&mut r);
    assert!(reply.success);
    assert_eq!(reply.match_index, 2);
    assert_eq!(r.last_index(), 2);
    assert_eq!(r.entry(2), Some(&new));
    assert_eq!(ready.entries, vec![new]);
    assert_eq!(
        ready.hard_state,
        Some(HardState {
            current_term: 2,
            voted_for: None
        })
    );
    assert_eq!(r.leader_id(), Some(0));

    // Consistency check failures carry the fast-backtracking hints.
    let mut r = follower(entries(&[1, 1, 2, 2, 2]), 3);
    r.step(10, 0, append(3, (4, 3), vec![], 0)).unwrap();
    let (_, reply) = only_reply(&mut r);
    assert!(!reply.success);
    assert_eq!(
        (reply.conflict_term, reply.conflict_index, reply.match_index),
        (Some(2), 3, 4)
    );
    r.step(10, 0, append(3, (9, 3), vec![], 0)).unwrap();
    let (_, reply) = only_reply(&mut r);
    assert_eq!((reply.conflict_term, reply.conflict_index), (None, 6));
    // Stale term: rejected with our term.
    r.step(10, 0, append(2, (0, 0), vec![], 5)).unwrap();
    let (_, reply) = only_reply(&mut r);
    assert!(!reply.success && reply.term == 3);
    assert_eq!(r.commit_index(), 0);
}

#[test]
fn stale_duplicate_append_entries_do_not_truncate() {
    let mut r = follower(vec![], 1);
    let log = entries(&[1, 1, 1, 1]);
    r.step(10, 0, append(1, (0, 0), log.clone(), 3)).unwrap();
    let (ready, reply) = only_reply(&mut r);
    assert_eq!(ready.entries.len(), 4);
    assert_eq!(reply.match_index, 4);
    assert_eq!(r.commit_index(), 3);
    assert_eq!(ready.applies.len(), 3);
    // An older, shorter AppendEntries arrives late: nothing may be lost.
    r.step(11, 0, append(1, (0, 0), log[..2].to_vec(), 1))
        .unwrap();
    let (ready, reply) = only_reply(&mut r);
    assert!(reply.success);
    assert_eq!(reply.match_index, 2);
    assert_eq!(r.last_index(), 4);
    assert!(ready.entries.is_empty() && ready.applies.is_empty());
    assert_eq!(r.commit_index(), 3, "commit_index never moves back");
    // A duplicate in full changes nothing either.
    r.step(12, 0, append(1, (1, 1), log[1..].to_vec(), 3))
        .unwrap();
    let (ready, _) = only_reply(&mut r);
    assert!(!ready.must_persist());
    // leader_commit beyond what the message proves does not commit unverified entries.
    r.step(13, 0, append(1, (0, 0), vec![], 4)).unwrap();
    assert_eq!(r.commit_index(), 3);
}

#[test]
fn votes_once_per_term_and_only_for_up_to_date_logs() {
    let mut r = follower(entries(&[1, 2]), 2);
    let rv = |term, candidate_id, last_log_index, last_log_term| {
        Message::RequestVote(RequestVoteArgs {
            term,
            candidate_id,
            last_log_index,
            last_log_term,
            pre_vote: false,
            leader_transfer: false,
        })
    };
    let granted = |r: &mut Raft| match r.ready().messages.as_slice() {
        [(_, Message::RequestVoteReply(reply))] => reply.vote_granted,
        other => panic!("unexpected {other:?}"),
    };
    r.step(1, 0, rv(3, 0, 5, 1)).unwrap(); // longer but older last term
    assert!(!granted(&mut r));
    assert_eq!(r.current_term(), 3);
    r.step(1, 2, rv(3, 2, 2, 2)).unwrap();
    assert!(granted(&mut r));
    assert_eq!(r.voted_for(), Some(2));
    r.step(1, 0, rv(3, 0, 9, 3)).unwrap(); // already voted this term
    assert!(!granted(&mut r));
    r.step(1, 2, rv(3, 2, 2, 2)).unwrap(); // a retry by the same candidate
    assert!(granted(&mut r));
    r.step(1, 0, rv(4, 0, 2, 2)).unwrap();
    assert!(granted(&mut r));
    assert_eq!(
        r.hard_state_now(),
        HardState {
            current_term: 4,
            voted_for: Some(0)
        }
    );
    assert!(matches!(
        r.step(1, 7, rv(4, 7, 0, 0)),
        Err(RaftError::UnknownPeer(7))
    ));
    assert!(matches!(
        r.step(1, 0, rv(4, 2, 0, 0)),
        Err(RaftError::InvalidMessage(_))
    ));
}

#[test]
fn pre_votes_change_nothing_and_respect_a_live_leader() {
    let mut r = follower(entries(&[1, 2]), 2);
    let pre = |term, candidate_id, last_log_index, last_log_term| {
        Message::RequestVote(RequestVoteArgs {
            term,
            candidate_id,
            last_log_index,
            last_log_term,
            pre_vote: true,
            leader_transfer: false,
        })
    };
    let answer = |r: &mut Raft| match r.ready().messages.as_slice() {
        [(_, Message::RequestVoteReply(reply))] => (reply.pre_vote, reply.vote_granted, reply.term),
        other => panic!("unexpected {other:?}"),
    };
    let before = r.hard_state_now();
    // A stale log is refused; an up-to-date one is granted, for the asked term.
    r.step(1000, 0, pre(3, 0, 5, 1)).unwrap();
    assert_eq!(answer(&mut r), (true, false, before.current_term));
    r.step(1000, 2, pre(3, 2, 2, 2)).unwrap();
    assert_eq!(answer(&mut r), (true, true, 3));
    // Neither changed the term, the vote, or what must be persisted.
    assert_eq!(r.hard_state_now(), before);
    assert!(!r.ready().must_persist());
    // A follower that just heard from its leader does not help unseat it.
    r.step(2000, 0, append(before.current_term, (2, 2), vec![], 2))
        .unwrap();
    let _ = r.ready();
    r.step(2001, 2, pre(before.current_term + 1, 2, 2, 2))
        .unwrap();
    assert_eq!(answer(&mut r), (true, false, before.current_term));
}

trait HardStateNow {
    fn hard_state_now(&self) -> HardState;
}
impl HardStateNow for Raft {
    fn hard_state_now(&self) -> HardState {
        HardState {
            current_term: self.current_term(),
            voted_for: self.voted_for(),
        }
    }
}

#[test]
fn restart_from_disk_restores_the_same_state() {
    let mut c = Cluster::new(3, 11);
    c.snapshot_every = Some(10);
    for i in 0..35 {
        c.one(cmd(i), 3);
    }
    let leader = c.check_one_leader();
    c.disconnect((leader + 1) % 3);
    for i in 35..40 {
        c.one(cmd(i), 2);
    }
    for id in 0..3 {
        let (before_term, before_vote) = (c.raft(id).current_term(), c.raft(id).voted_for());
        let (snap_index, snap_term) = (c.raft(id).snapshot_index(), c.raft(id).snapshot_term());
        let log: Vec<Entry> = (c.raft(id).first_index()..=c.raft(id).last_index())
            .map(|i| c.raft(id).entry(i).unwrap().clone())
            .collect();
        let applied = c.nodes[id].applied_index;
        c.restart(id);
        let r = c.raft(id);
        assert_eq!(
            (r.current_term(), r.voted_for()),
            (before_term, before_vote)
        );
        assert_eq!(
            (r.snapshot_index(), r.snapshot_term()),
            (snap_index, snap_term)
        );
        assert!(snap_index >= 10, "snapshots were taken");
        let after: Vec<Entry> = (r.first_index()..=r.last_index())
            .map(|i| r.entry(i).unwrap().clone())
            .collect();
        assert_eq!(after, log);
        assert_eq!(
            (r.commit_index(), r.last_applied()),
            (snap_index, snap_index)
        );
        assert_eq!(
            c.nodes[id].applied_index, snap_index,
            "the snapshot was re-delivered"
        );
        assert!(applied >= snap_index);
        let size = LogStore::raft_state_size(&c.nodes[id].disk);
        assert!(size > 0 && size < 2_000, "raft state {size} bytes");
    }
    c.connect_all();
    c.one(cmd(100), 3);
    c.check_log_matching();
}

#[test]
fn a_snapshot_past_the_whole_log_then_entries_after_a_crash() {
    // A torn crash kept the new snapshot (at 5) but not the emptied log (1..=3).
    let mut disk = MemDisk::default();
    let mut store = LogStore::default();
    let ready = |hs: Option<HardState>, entries: Vec<Entry>, snapshot: Option<Snapshot>| Ready {
        hard_state: hs,
        entries,
        snapshot,
        ..Default::default()
    };
    let hs = HardState {
        current_term: 1,
        voted_for: None,
    };
    store.persist(&mut disk, &ready(Some(hs), entries(&[1, 1, 1]), None));
    let snapshot = Snapshot {
        last_included_index: 5,
        last_included_term: 1,
        membership: three(),
        data: vec![],
    };
    disk.write("raft-snapshot", &{
        let mut other = MemDisk::default();
        LogStore::default().persist(&mut other, &ready(None, vec![], Some(snapshot)));
        other.read("raft-snapshot").unwrap().to_vec()
    });
    let (mut store, restored) = LogStore::restore(&disk).unwrap();
    assert!(restored.unwrap().entries.is_empty());
    let mut six = entries(&[1, 1, 1, 1, 1, 1]);
    store.persist(&mut disk, &ready(None, six.split_off(5), None));
    let (_, restored) = LogStore::restore(&disk).unwrap();
    let indices: Vec<_> = restored.unwrap().entries.iter().map(|e| e.index).collect();
    assert_eq!(indices, vec![6]);
}

#[test]
fn a_fresh_disk_restores_nothing_a_torn_tail_is_dropped_and_rot_refused() {
    let empty = MemDisk::default();
    let (_, restored) = LogStore::restore(&empty).unwrap();
    assert!(restored.is_none());

    let mut c = Cluster::new(3, 12);
    for i in 0..5 {
        c.one(cmd(i), 3);
    }
    let disk = c.nodes[0].disk.clone();
    assert!(LogStore::restore(&disk).unwrap().1.is_some());

    let corrupt = |mutate: &dyn Fn(&mut MemDisk)| {
        let mut d = disk.clone();
        mutate(&mut d);
        match LogStore::restore(&d) {
            Err(RaftError::CorruptState(why)) => why,
            other => panic!("expected CorruptState, got {other:?}"),
        }
    };
    let log_len = disk.read("raft-log").unwrap().len() as u64;
    // A torn tail (a true prefix of the last record) is dropped, not refused:
    // that append was never synced.
    let last = LogStore::restore(&disk).unwrap().1.unwrap().entries.len();
    for cut in [1, 5, 12, 13] {
        let mut torn = disk.clone();
        torn.truncate("raft-log", log_len - cut);
        let kept = LogStore::restore(&torn).unwrap().1.unwrap().entries.len();
        assert_eq!(kept, last - 1, "cut {cut} bytes");
    }
    // Rot anywhere in synced data is refused, naming the file.
    for (file, len) in [
        ("raft-log", log_len as usize),
        ("raft-hardstate", disk.read("raft-hardstate").unwrap().len()),
    ] {
        for at in 0..len {
            let why = corrupt(&|d| {
                let mut bytes = d.read(file).unwrap().to_vec();
                bytes[at] ^= 0x01;
                d.write(file, &bytes);
            });
            assert!(
                why.contains(file) && why.contains("damaged"),
                "{file} byte {at}: {why}"
            );
        }
    }
    let why = corrupt(&|d| d.write("raft-hardstate", &[0xff, 0xff, 0xff]));
    assert!(why.contains("raft-hardstate"), "{why}");
    // A log without a hard state is read as it is, and refused by Raft::new
    // (every entry has a term, persisted before it).
    let mut no_hard_state = disk.clone();
    no_hard_state.files.remove("raft-hardstate");
    let (_, restored) = LogStore::restore(&no_hard_state).unwrap();
    let restored = restored.expect("the log is there");
    assert_eq!(restored.hard_state, None);
    assert!(!restored.entries.is_empty());
    match Raft::new(Config::new(0, 3, 1), Some(restored), 0) {
        Err(RaftError::CorruptState(why)) => assert!(why.contains("missing"), "{why}"),
        other => panic!("expected CorruptState, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn raft_new_refuses_restored_state_that_does_not_hang_together() {
    let hs = HardState {
        current_term: 5,
        voted_for: None,
    };
    let restored = |hard_state: &HardState, snapshot: Option<Snapshot>, entries| Restored {
        hard_state: Some(hard_state.clone()),
        snapshot,
        entries,
    };
    let snap = Snapshot {
        last_included_index: 5,
        last_included_term: 2,
        membership: three(),
        data: vec![],
    };
    let mut gap = entries(&[1, 1, 2]);
    gap[2].index = 4;
    let mut outsider = entries(&[1]);
    outsider[0].kind = raft::EntryKind::Membership;
    outsider[0].command = raft::Membership::of_voters([0, 7].into_iter().collect()).encode();
    let no_voters = Snapshot {
        membership: raft::Membership::default(),
        ..snap.clone()
    };
    let term_one = |voted_for| HardState {
        current_term: 1,
        voted_for,
    };
    for (state, says) in [
        (restored(&hs, None, gap), "contiguous"),
        (restored(&hs, None, entries(&[2, 1])), "term"),
        (restored(&hs, None, entries(&[6])), "term"),
        (restored(&term_one(Some(3)), None, vec![]), "voted_for"),
        (restored(&hs, Some(snap.clone()), entries(&[2])), "index"),
        (restored(&hs, None, outsider), "configuration"),
        (restored(&hs, Some(no_voters), vec![]), "configuration"),
        (
            restored(&term_one(None), Some(snap), vec![]),
            "snapshot term",
        ),
    ] {
        match Raft::new(Config::new(0, 3, 1), Some(state), 0) {
            Err(RaftError::CorruptState(why)) => assert!(why.contains(says), "{says}: {why}"),
            other => panic!("{says}: expected CorruptState, got {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn raft_new_refuses_an_invalid_config() {
    assert!(matches!(
        Raft::new(Config::new(3, 3, 1), None, 0),
        Err(RaftError::InvalidConfig(_))
    ));
    let mut cfg = Config::new(0, 3, 1);
    cfg.heartbeat_interval_ms = 400;
    assert!(matches!(
        Raft::new(cfg, None, 0),
        Err(RaftError::InvalidConfig(_))
    ));
}

#[test]
fn lagging_follower_catches_up_by_install_snapshot() {
    let mut c = Cluster::new(3, 13);
    c.snapshot_every = Some(10);
    c.one(cmd(0), 3);
    let leader = c.check_one_leader();
    let lagging = (leader + 1) % 3;
    c.disconnect(lagging);
    for i in 1..=55 {
        c.one(cmd(i), 2);
    }
    assert!(c.raft(leader).snapshot_index() >= 50);
    assert!(c.raft(leader).first_index() > c.raft(lagging).last_index() + 1);
    let installs = c.sent.install_snapshots;
    c.connect_all();
    c.one(cmd(56), 3);
    assert!(
        c.sent.install_snapshots > installs,
        "the leader had to send InstallSnapshot"
    );
    assert!(c.nodes[lagging].snapshots_installed >= 1);
    assert!(c.raft(lagging).snapshot_index() >= 50);
    c.run_for(500);
    assert_eq!(c.check_all_applied_same(), 57);
    // The disk of the caught-up follower restores to the same place.
    c.restart(lagging);
    c.one(cmd(57), 3);
    c.check_log_matching();
}

#[test]
fn install_snapshot_keeps_matching_suffix_and_ignores_old_snapshots() {
    let mut r = follower(entries(&[1, 1, 1, 1, 1]), 1);
    r.step(1, 0, append(1, (0, 0), entries(&[1, 1, 1, 1, 1]), 1))
        .unwrap();
    let _ = r.ready();
    let install = |index, term| {
        Message::InstallSnapshot(raft::InstallSnapshotArgs {
            term: 1,
            leader_id: 0,
            last_included_index: index,
            last_included_term: term,
            membership: three(),
            data: vec![index as u8],
        })
    };
    r.step(2, 0, install(3, 1)).unwrap();
    let ready = r.ready();
    assert_eq!(
        ready.applies,
        vec![ApplyMsg::Snapshot {
            index: 3,
            term: 1,
            data: vec![3]
        }]
    );
    assert_eq!(
        ready.snapshot.as_ref().map(|s| s.last_included_index),
        Some(3)
    );
    assert_eq!(
        (
            r.first_index(),
            r.last_index(),
            r.commit_index(),
            r.last_applied()
        ),
        (4, 5, 3, 3)
    );
    // Older than the commit index: ignored, but answered.
    r.step(3, 0, install(2, 1)).unwrap();
    let ready = r.ready();
    assert!(ready.applies.is_empty() && ready.snapshot.is_none());
    assert!(
        matches!(ready.messages.as_slice(), [(0, Message::InstallSnapshotReply(rep))] if rep.last_included_index == 2)
    );
    // A snapshot our log does not match (term differs): the whole log goes.
    r.step(4, 0, install(5, 1)).unwrap();
    let _ = r.ready();
    r.step(
        5,
        0,
        Message::InstallSnapshot(raft::InstallSnapshotArgs {
            term: 2,
            leader_id: 0,
            last_included_index: 9,
            last_included_term: 2,
            membership: three(),
            data: vec![],
        }),
    )
    .unwrap();
    let _ = r.ready();
    assert_eq!(
        (r.snapshot_index(), r.last_index(), r.last_term()),
        (9, 9, 2)
    );
}

#[test]
fn snapshot_beyond_commit_or_applied_is_an_error() {
    let mut r = follower(vec![], 1);
    r.step(1, 0, append(1, (0, 0), entries(&[1, 1, 1]), 2))
        .unwrap();
    let _ = r.ready();
    assert_eq!(
        r.snapshot(3, vec![]),
        Err(RaftError::SnapshotBeyondCommit {
            index: 3,
            commit_index: 2
        })
    );
    assert!(
        RaftError::SnapshotBeyondCommit {
            index: 3,
            commit_index: 2
        }
        .to_string()
        .contains("commit_index 2")
    );
    assert_eq!(r.snapshot(2, vec![7]), Ok(()));
    assert_eq!(
        (r.snapshot_index(), r.snapshot_term(), r.first_index()),
        (2, 1, 3)
    );
    let ready = r.ready();
    assert_eq!(
        ready.snapshot,
        Some(Snapshot {
            last_included_index: 2,
            last_included_term: 1,
            membership: three(),
            data: vec![7]
        })
    );
    assert_eq!(r.snapshot(1, vec![]), Ok(()), "older snapshots are a no-op");
    assert!(!r.has_ready());
}

#[test]
fn single_peer_cluster_commits_alone() {
    let mut c = Cluster::new(1, 14);
    let leader = c.check_one_leader();
    assert_eq!(leader, 0);
    assert_eq!(c.one(cmd(1), 1), 1);
}

/// Random faults over many seeds: drops, duplicates, delays, partitions, crashes with
/// restarts from disk, snapshots, and commands sent to whoever thinks it leads (as in
/// 6.824's figure8_unreliable). Safety is checked on every event by the driver; at the end
/// the healed cluster must agree on a new command.
#[test]
fn randomized_safety_and_liveness_over_many_seeds() {
    let (mut total_applied, mut total_terms, mut total_snapshots, mut sim_ms, mut total_rpcs) =
        (0, 0, 0, 0, 0);
    for seed in 0..400u64 {
        let mut c = faulty_cluster(seed);
        let mut next_cmd = 0u64;
        for _round in 0..25 {
            random_fault(&mut c);
            for _ in 0..c.rng.below(8) {
                start_on_every_leader(&mut c, &mut next_cmd);
                let ms = 1 + c.rng.below(60);
                c.run_for(ms);
            }
            let ms = c.rng.below(700);
            c.run_for(ms);
            c.check_log_matching();
        }
        total_applied += heal_and_agree(&mut c, seed);
        total_terms += c.leaders.len() as u64;
        total_snapshots += c.nodes.iter().map(|n| n.snapshots_installed).sum::<u64>();
        sim_ms += c.now_ms;
        total_rpcs += c.sent.requests;
    }
    eprintln!(
        "randomized: {total_applied} entries applied, {total_terms} leader terms, {total_snapshots} snapshots installed, {sim_ms} simulated ms, {total_rpcs} RPCs"
    );
    // The faults must have been real: many elections (PreVote spares the ones that
    // could not be won, so about 2.8 a seed), and snapshots shipped or restored.
    assert!(total_terms > 400 * 2, "too few elections: {total_terms}");
    assert!(
        total_snapshots > 200,
        "too few snapshots installed: {total_snapshots}"
    );
    assert!(
        total_applied > 400 * 20,
        "too little progress: {total_applied}"
    );
}

/// A cluster of 3 or 5 whose network drops, duplicates and delays as `seed` says,
/// snapshotting every 7 entries on half the seeds.
fn faulty_cluster(seed: u64) -> Cluster {
    let peers = if seed.is_multiple_of(2) { 3 } else { 5 };
    let mut c = Cluster::new(peers, seed);
    c.drop_per_mille = [0, 50, 150][(seed % 3) as usize];
    c.dup_per_mille = 50;
    c.max_delay_ms = [5, 30, 120][(seed % 3) as usize];
    if seed % 4 < 2 {
        c.snapshot_every = Some(7);
    }
    c
}

/// One of: a random partition into two groups, a heal, a crash, a restart, nothing.
fn random_fault(c: &mut Cluster) {
    let peers = c.nodes.len();
    match c.rng.below(6) {
        0 => {
            for id in 0..peers {
                c.group[id] = c.rng.below(2) as u32;
            }
        }
        1 => c.connect_all(),
        2 => {
            let id = c.rng.below(peers as u64) as usize;
            c.crash(id);
        }
        3 => {
            let id = c.rng.below(peers as u64) as usize;
            c.restart(id);
        }
        _ => {}
    }
}

/// A command to every live peer that thinks it leads.
fn start_on_every_leader(c: &mut Cluster, next_cmd: &mut u64) {
    for id in 0..c.nodes.len() {
        if c.alive(id) && c.raft(id).role() == Role::Leader {
            let now = c.now_ms;
            c.raft_mut(id).start(now, cmd(*next_cmd));
            *next_cmd += 1;
            c.process(id);
        }
    }
}

/// Every peer up and connected, on a reliable network.
fn heal(c: &mut Cluster) {
    c.connect_all();
    c.drop_per_mille = 0;
    c.dup_per_mille = 0;
    c.max_delay_ms = 5;
    for id in 0..c.nodes.len() {
        if !c.alive(id) {
            c.restart(id);
        }
    }
}

/// Heals everything, then the cluster must agree on a new command and every peer
/// commit it; returns the entries applied.
fn heal_and_agree(c: &mut Cluster, seed: u64) -> u64 {
    let peers = c.nodes.len();
    heal(c);
    c.one(cmd(1_000_000 + seed), peers);
    c.run_for(1_000);
    c.check_log_matching();
    let applied = c.check_all_applied_same();
    assert!(applied >= 1);
    for id in 0..peers {
        assert_eq!(c.raft(id).commit_index(), applied, "seed {seed} peer {id}");
    }
    applied
}

/// 6.824's Figure 8 (unreliable): leaders crash right after taking commands, and the
/// network drops, delays and reorders; committed entries must never be lost or changed.
#[test]
fn figure8_unreliable_style_churn() {
    for seed in 0..12u64 {
        let peers = 5;
        let mut c = Cluster::new(peers, 1000 + seed);
        c.drop_per_mille = 100;
        c.max_delay_ms = 30;
        c.dup_per_mille = 30;
        c.one(cmd(0), peers);
        let mut next_cmd = 1;
        for _ in 0..1000 {
            for id in 0..peers {
                if c.alive(id) {
                    let now = c.now_ms;
                    if c.raft_mut(id).start(now, cmd(next_cmd)).2 {
                        next_cmd += 1;
                    }
                    c.process(id);
                }
            }
            let ms = if c.rng.below(1000) < 100 {
                c.rng.below(500)
            } else {
                c.rng.below(13)
            };
            c.run_for(ms);
            let leaders = c.leaders_now();
            if !leaders.is_empty() && c.rng.below(2) == 0 {
                let victim = leaders[c.rng.below(leaders.len() as u64) as usize];
                c.crash(victim);
            }
            let up = (0..peers).filter(|&i| c.alive(i)).count();
            if up < 3 {
                let down: Vec<usize> = (0..peers).filter(|&i| !c.alive(i)).collect();
                let id = down[c.rng.below(down.len() as u64) as usize];
                c.restart(id);
            }
        }
        heal(&mut c);
        c.one(cmd(1 << 40), peers);
        c.check_log_matching();
        eprintln!(
            "seed {seed}: {} leader terms, {} committed",
            c.leaders.len(),
            c.committed.len()
        );
        assert!(
            c.leaders.len() > 15 && c.committed.len() > 10,
            "seed {seed}: too little churn or progress"
        );
    }
}

#[test]
fn log_store_persists_truncations_and_snapshots_in_one_ready() {
    let mut disk = MemDisk::default();
    let mut store = LogStore::default();
    let e = |index: u64, term: u64| Entry::command(term, index, cmd(index * 10 + term));
    let hs = HardState {
        current_term: 2,
        voted_for: Some(1),
    };
    let ready = |entries: Vec<Entry>, snapshot: Option<Snapshot>| raft::Ready {
        hard_state: Some(hs.clone()),
        entries,
        snapshot,
        ..Default::default()
    };
    store.persist(&mut disk, &ready((1..=10).map(|i| e(i, 1)).collect(), None));
    // Overwrite 6..8 with term 2, and snapshot at 7 (term 2) in the same Ready: the disk
    // held (7, 1), so all old records go and only 8 survives (from `entries`).
    let snap = Snapshot {
        last_included_index: 7,
        last_included_term: 2,
        membership: three(),
        data: vec![1, 2, 3],
    };
    store.persist(&mut disk, &ready(vec![e(8, 2)], Some(snap.clone())));
    let (mut store, restored) = LogStore::restore(&disk).unwrap();
    let restored = restored.unwrap();
    assert_eq!(restored.hard_state, Some(hs.clone()));
    assert_eq!(restored.snapshot, Some(snap));
    assert_eq!(restored.entries, vec![e(8, 2)]);
    // Append, then truncate back into the middle.
    store.persist(&mut disk, &ready((9..=12).map(|i| e(i, 2)).collect(), None));
    store.persist(&mut disk, &ready(vec![e(10, 3)], None));
    let (_, restored) = LogStore::restore(&disk).unwrap();
    assert_eq!(restored.unwrap().entries, vec![e(8, 2), e(9, 2), e(10, 3)]);
    // A snapshot matching the log keeps the suffix.
    let snap = Snapshot {
        last_included_index: 9,
        last_included_term: 2,
        membership: three(),
        data: vec![],
    };
    store.persist(&mut disk, &ready(vec![], Some(snap)));
    let (_, restored) = LogStore::restore(&disk).unwrap();
    assert_eq!(restored.unwrap().entries, vec![e(10, 3)]);
    let size = LogStore::raft_state_size(&disk);
    assert_eq!(
        size,
        (disk.read("raft-hardstate").unwrap().len() + disk.read("raft-log").unwrap().len()) as u64
    );
}
