//! Membership changes (Raft thesis, chapter 4): learners that catch up without
//! voting, single-server changes, joint consensus, and the refusals that keep
//! a cluster whole.

mod driver;

use driver::{Cluster, cmd};
use raft::{Config, Membership, Message, PeerId, PeerSet, RaftError, RequestVoteArgs, Role};

fn set(ids: &[PeerId]) -> PeerSet {
    ids.iter().copied().collect()
}

fn target(voters: &[PeerId], learners: &[PeerId]) -> Membership {
    Membership {
        voters: set(voters),
        learners: set(learners),
        ..Membership::default()
    }
}

/// Five servers, of which 0, 1 and 2 start as the voters.
fn three_of_five(id: PeerId, peers: usize, seed: u64) -> Config {
    Config {
        voters: PeerSet::first(3),
        ..Config::new(id, peers, seed)
    }
}

/// The leader among `voters`, once one is elected and has committed an
/// entry of its term (so that it may change the configuration).
fn settled_leader(c: &mut Cluster, k: u64) -> PeerId {
    c.one(cmd(k), 3);
    c.check_one_leader()
}

/// Asks `leader` for `to`, retrying while an earlier change or the leader's
/// first entry of its term is still committing; returns the entry's index.
fn change(c: &mut Cluster, leader: PeerId, to: Membership) -> u64 {
    for _ in 0..50 {
        match c.input(leader, |r, now| r.change_membership(now, to)) {
            Ok(index) => return index,
            Err(RaftError::ChangeInProgress { .. } | RaftError::TermEntryPending { .. }) => {
                c.run_for(100)
            }
            Err(e) => panic!("change to {to} refused: {e}"),
        }
    }
    panic!("change to {to} still in progress after 5 s");
}

/// Runs until every live peer follows `m` and it is committed at the leader.
fn settle(c: &mut Cluster, m: Membership) {
    for _ in 0..50 {
        c.run_for(100);
        let done = (0..c.peers())
            .filter(|&p| c.alive(p) && m.members().contains(p))
            .all(|p| c.raft(p).membership() == m);
        if done {
            return;
        }
    }
    panic!("the cluster did not settle on {m}");
}

#[test]
fn a_learner_catches_up_but_never_votes_nor_campaigns() {
    let mut c = Cluster::with_config(5, 1, three_of_five);
    let leader = settled_leader(&mut c, 1);
    assert!(leader < 3, "only voters lead");
    let with_learner = target(&[0, 1, 2], &[3]);
    change(&mut c, leader, with_learner);
    let index = c.one(cmd(2), 4);
    assert!(
        c.raft(3).last_applied() >= index,
        "the learner applied the log"
    );
    assert_eq!(c.raft(4).last_index(), 0, "peer 4, outside, heard nothing");
    // Cut from everyone for many election timeouts, it never campaigns.
    let term = c.raft(3).current_term();
    c.disconnect(3);
    c.disconnect(4);
    c.run_for(5_000);
    assert_eq!(c.raft(3).current_term(), term);
    assert_eq!(c.raft(4).current_term(), 0);
    // And the voters' majority is still 2 of 3: the learner does not count.
    c.connect_all();
    let other = (0..3).find(|&p| p != leader).unwrap();
    c.disconnect(other);
    c.one(cmd(3), 3);
}

#[test]
fn single_server_changes_add_and_remove_a_voter() {
    let mut c = Cluster::with_config(5, 2, three_of_five);
    let leader = settled_leader(&mut c, 1);
    change(&mut c, leader, target(&[0, 1, 2], &[3]));
    c.one(cmd(2), 4);
    let four = target(&[0, 1, 2, 3], &[]);
    change(&mut c, leader, four);
    settle(&mut c, four);
    // Four voters: two of them are no longer a majority.
    let others: Vec<PeerId> = (0..4).filter(|&p| p != leader).collect();
    c.disconnect(others[0]);
    c.disconnect(others[1]);
    let before = c.raft(leader).commit_index();
    c.input(leader, |r, now| r.start(now, cmd(3)));
    c.run_for(1_000);
    assert_eq!(
        c.raft(leader).commit_index(),
        before,
        "2 of 4 commit nothing"
    );
    c.connect_all();
    c.one(cmd(4), 4);
    // Remove a voter that is not the leader: back to three.
    let leader = c.check_one_leader();
    let gone = (0..4).find(|&p| p != leader).unwrap();
    let voters: Vec<PeerId> = (0..4).filter(|&p| p != gone).collect();
    let three = target(&voters, &[]);
    change(&mut c, leader, three);
    settle(&mut c, three);
    c.disconnect(gone);
    c.disconnect(voters.iter().copied().find(|&p| p != leader).unwrap());
    c.connect_all();
    c.crash(gone);
    c.one(cmd(5), 3);
}

#[test]
fn joint_consensus_replaces_every_voter() {
    let mut c = Cluster::with_config(5, 3, three_of_five);
    let leader = settled_leader(&mut c, 1);
    change(&mut c, leader, target(&[0, 1, 2], &[3, 4]));
    c.one(cmd(2), 5);
    // {0,1,2} -> {2,3,4}: two voters out, two in, through C_old,new.
    let new = target(&[2, 3, 4], &[]);
    let index = change(&mut c, leader, new);
    let joint = c.raft(leader).membership();
    assert!(joint.is_joint(), "{joint}");
    assert_eq!(
        (joint.outgoing, joint.voters),
        (set(&[0, 1, 2]), set(&[2, 3, 4]))
    );
    settle(&mut c, new);
    assert!(
        c.raft(leader).commit_index() > index,
        "C_new followed C_old,new"
    );
    // The old voters 0 and 1 can go: the new three carry on alone.
    c.crash(0);
    c.crash(1);
    let leader = c.check_one_leader();
    assert!([2, 3, 4].contains(&leader), "leader {leader}");
    c.one(cmd(3), 3);
}

#[test]
fn a_joint_configuration_needs_both_majorities() {
    let mut c = Cluster::with_config(5, 4, three_of_five);
    let leader = settled_leader(&mut c, 1);
    change(&mut c, leader, target(&[0, 1, 2], &[3, 4]));
    c.one(cmd(2), 5);
    // The new voters are cut off: the old majority alone commits nothing.
    c.disconnect(3);
    c.disconnect(4);
    let joint_at = change(&mut c, leader, target(&[leader, 3, 4], &[]));
    c.run_for(2_000);
    assert!(
        c.raft(leader).commit_index() < joint_at,
        "no new majority, no commit"
    );
    assert!(c.raft(leader).membership().is_joint());
    c.connect_all();
    settle(&mut c, target(&[leader, 3, 4], &[]));
    c.one(cmd(3), 3);
}

#[test]
fn a_joint_configuration_needs_the_old_majority_too() {
    let mut c = Cluster::with_config(5, 14, three_of_five);
    let leader = settled_leader(&mut c, 1);
    change(&mut c, leader, target(&[0, 1, 2], &[3, 4]));
    c.one(cmd(2), 5);
    // The old voters but the leader are cut off: the new majority alone
    // (the leader, 3 and 4) commits nothing.
    for p in (0..3).filter(|&p| p != leader) {
        c.disconnect(p);
    }
    let joint_at = change(&mut c, leader, target(&[leader, 3, 4], &[]));
    c.run_for(2_000);
    assert!(
        c.raft(leader).commit_index() < joint_at,
        "no old majority, no commit"
    );
    c.connect_all();
    settle(&mut c, target(&[leader, 3, 4], &[]));
}

/// Elections in a joint configuration need both majorities as well.
#[test]
fn a_candidate_in_a_joint_configuration_needs_both_majorities() {
    let mut c = Cluster::with_config(5, 15, three_of_five);
    let leader = settled_leader(&mut c, 1);
    change(&mut c, leader, target(&[0, 1, 2], &[3, 4]));
    c.one(cmd(2), 5);
    let old: Vec<PeerId> = (0..3).filter(|&p| p != leader).collect();
    c.disconnect(old[0]);
    c.disconnect(old[1]);
    change(&mut c, leader, target(&[leader, 3, 4], &[]));
    c.run_for(50);
    assert!(c.raft(3).membership().is_joint(), "3 holds the joint entry");
    // The leader goes; 3 and 4 are a new majority but no old one.
    c.crash(leader);
    c.run_for(3_000);
    assert!(
        c.leaders_now().is_empty(),
        "elected by half a joint configuration"
    );
    c.connect_all();
    c.restart(leader);
    c.check_one_leader();
}

#[test]
fn a_removed_leader_steps_down_once_the_removal_commits() {
    let mut c = Cluster::with_config(5, 5, three_of_five);
    let leader = settled_leader(&mut c, 1);
    let rest: Vec<PeerId> = (0..3).filter(|&p| p != leader).collect();
    change(&mut c, leader, target(&rest, &[]));
    c.run_for(200);
    assert_eq!(c.raft(leader).role(), Role::Follower);
    let term = c.raft(leader).current_term();
    let next = c.check_one_leader();
    assert!(rest.contains(&next), "leader {next}");
    // Two voters left, and the old leader never campaigns again.
    c.one(cmd(2), 2);
    c.run_for(3_000);
    assert_eq!(c.raft(leader).role(), Role::Follower);
    assert!(c.raft(leader).current_term() <= c.raft(next).current_term());
    assert!(c.raft(leader).current_term() >= term);
}

#[test]
fn an_uncommitted_configuration_is_rolled_back_with_its_entry() {
    // CheckQuorum deposes the cut-off leader, so that commands find the new one.
    let mut c = Cluster::with_config(5, 6, driver::with_switches(true, true));
    let leader = settled_leader(&mut c, 1);
    let before = c.raft(leader).membership();
    c.disconnect(leader);
    let others: Vec<PeerId> = (0..5).filter(|&p| p != leader).collect();
    change(&mut c, leader, target(&others, &[]));
    assert_ne!(
        c.raft(leader).membership(),
        before,
        "in effect once appended"
    );
    // The majority elects another leader, whose log lacks the change.
    c.run_for(2_000);
    let next = c.check_one_leader();
    assert_ne!(next, leader);
    c.one(cmd(2), 4);
    c.connect_all();
    c.one(cmd(3), 5);
    assert_eq!(c.raft(leader).membership(), before, "cut with its entry");
    c.check_log_matching();
}

#[test]
fn configurations_survive_snapshots_and_restarts() {
    let mut c = Cluster::with_config(5, 7, three_of_five);
    c.snapshot_every = Some(4);
    let leader = settled_leader(&mut c, 1);
    let four = target(&[0, 1, 2], &[4]);
    change(&mut c, leader, four);
    for k in 2..12 {
        c.one(cmd(k), 4);
    }
    assert!(
        c.raft(leader).snapshot_index() > 4,
        "the change is inside a snapshot"
    );
    // A late learner gets the snapshot, configuration included.
    let late = target(&[0, 1, 2], &[3, 4]);
    let late_at = change(&mut c, leader, late);
    for k in 12..20 {
        c.one(cmd(k), 5);
    }
    assert_eq!(c.raft(3).membership(), late);
    assert!(
        c.raft(3).snapshot_index() > late_at,
        "the late change is inside a snapshot too"
    );
    for p in 0..5 {
        c.restart(p);
    }
    c.check_one_leader();
    for p in 0..5 {
        assert_eq!(c.raft(p).membership(), late, "peer {p} after restart");
    }
    c.one(cmd(20), 5);
}

#[test]
fn bad_changes_are_refused_and_change_nothing() {
    let mut c = Cluster::with_config(5, 8, three_of_five);
    let leader = settled_leader(&mut c, 1);
    let follower = (0..3).find(|&p| p != leader).unwrap();
    let last = c.raft(leader).last_index();
    let ask = |c: &mut Cluster, who: PeerId, to: Membership| {
        c.input(who, |r, now| r.change_membership(now, to))
    };
    assert_eq!(
        ask(&mut c, leader, target(&[], &[3])),
        Err(RaftError::NoVoters)
    );
    assert_eq!(
        ask(&mut c, leader, target(&[0, 1, 2, 9], &[])),
        Err(RaftError::UnknownPeer(9))
    );
    assert!(matches!(
        ask(&mut c, leader, target(&[0, 1, 2], &[2])),
        Err(RaftError::InvalidMembership(_))
    ));
    assert_eq!(
        ask(&mut c, follower, target(&[0, 1], &[])),
        Err(RaftError::NotLeader)
    );
    assert_eq!(c.raft(leader).last_index(), last, "nothing appended");
    // One change at a time.
    c.disconnect(follower);
    let other = (0..3).find(|&p| p != leader && p != follower).unwrap();
    c.disconnect(other);
    ask(&mut c, leader, target(&[0, 1, 2], &[3])).unwrap();
    assert!(matches!(
        ask(&mut c, leader, target(&[0, 1, 2], &[3, 4])),
        Err(RaftError::ChangeInProgress { .. })
    ));
    // A transfer to a learner or a server outside is refused.
    assert_eq!(
        c.input(leader, |r, now| r.transfer_leadership(now, 3)),
        Err(RaftError::NotAVoter(3))
    );
    assert_eq!(
        c.input(leader, |r, now| r.transfer_leadership(now, 4)),
        Err(RaftError::NotAVoter(4))
    );
    c.connect_all();
    c.one(cmd(2), 4);
}

#[test]
fn a_new_leader_commits_an_entry_of_its_term_before_any_change() {
    let mut c = Cluster::with_config(5, 9, three_of_five);
    let leader = c.check_one_leader();
    let last = c.raft(leader).last_index();
    let r = c.input(leader, |r, now| {
        r.change_membership(now, target(&[0, 1, 2], &[3]))
    });
    assert_eq!(r, Err(RaftError::TermEntryPending { index: last + 1 }));
    assert!(
        c.raft(leader).entry(last + 1).unwrap().command.is_empty(),
        "a no-op"
    );
    c.run_for(100);
    change(&mut c, leader, target(&[0, 1, 2], &[3]));
}

/// Random changes among five servers under message loss, duplication,
/// partitions and restarts: the driver's checks (one leader per term, state
/// machine safety, log matching) hold on every seed.
#[test]
fn random_changes_under_faults_stay_safe() {
    for seed in 0..20 {
        let mut c = Cluster::with_config(5, 100 + seed, three_of_five);
        c.drop_per_mille = 50;
        c.dup_per_mille = 50;
        c.snapshot_every = Some(7);
        let mut rng = driver::Rng::new(seed);
        for step in 0..30u64 {
            random_fault(&mut c, &mut rng);
            random_change(&mut c, &mut rng);
            let leader = c.leaders_now().into_iter().next();
            if let Some(l) = leader {
                c.input(l, |r, now| r.start(now, cmd(step)));
            }
            c.run_for(300);
        }
        c.connect_all();
        c.drop_per_mille = 0;
        for p in 0..5 {
            if !c.alive(p) {
                c.restart(p);
            }
        }
        c.run_for(3_000);
        c.check_log_matching();
        let leader = c.check_one_leader();
        let m = c.raft(leader).membership();
        c.one(cmd(1000), m.voters.len().div_ceil(2));
    }
}

fn random_fault(c: &mut Cluster, rng: &mut driver::Rng) {
    match rng.below(6) {
        0 => c.disconnect(rng.below(5) as usize),
        1 => c.connect_all(),
        2 => c.crash(rng.below(5) as usize),
        3 => {
            let p = rng.below(5) as usize;
            if !c.alive(p) {
                c.restart(p);
            }
        }
        _ => {}
    }
}

fn random_change(c: &mut Cluster, rng: &mut driver::Rng) {
    let Some(leader) = c.leaders_now().into_iter().next() else {
        return;
    };
    let current = c.raft(leader).membership();
    let voters: PeerSet = (0..5).filter(|_| rng.below(2) == 0).collect();
    let voters = if voters.is_empty() {
        current.voters
    } else {
        voters
    };
    let learners = PeerSet::first(5)
        .minus(voters)
        .intersection(current.members());
    let to = Membership {
        voters,
        learners,
        ..Membership::default()
    };
    let _ = c.input(leader, |r, now| r.change_membership(now, to));
}

/// The liveness hole of configurations that take effect when appended: a
/// leader leaving a joint configuration appends C_new (which leaves it out)
/// and is deposed before the only other voter of C_new has it. That voter
/// cannot win (its log is behind), and the old leader would never campaign
/// (not a voter of its latest configuration), but for the rule that a peer
/// voting in the configuration before an uncommitted one still campaigns.
#[test]
fn a_deposed_leader_that_alone_holds_its_removal_still_campaigns() {
    let joint = Membership {
        voters: set(&[1]),
        outgoing: set(&[0]),
        learners: PeerSet::EMPTY,
    };
    let conf = |index: u64, m: Membership| raft::Entry {
        kind: raft::EntryKind::Membership,
        ..raft::Entry::command(1, index, m.encode())
    };
    let restored = |entries: Vec<raft::Entry>| {
        Some(raft::Restored {
            hard_state: Some(raft::HardState {
                current_term: 1,
                voted_for: Some(0),
            }),
            snapshot: None,
            entries,
        })
    };
    let old_leader = restored(vec![conf(1, joint), conf(2, joint.leave_joint())]);
    let behind = restored(vec![conf(1, joint)]);
    let only_zero = |id, n, seed| Config {
        voters: set(&[0]),
        pre_vote: false,
        ..Config::new(id, n, seed)
    };
    let mut c = Cluster::from_restored(vec![old_leader, behind], 3, only_zero);
    c.run_for(3_000);
    let leader = c.check_one_leader();
    assert_eq!(leader, 1, "C_new committed, the old leader stepped down");
    assert_eq!(c.raft(0).role(), Role::Follower);
    assert_eq!(c.raft(1).membership(), joint.leave_joint());
    c.one(cmd(1), 1); // peer 0 is out: only peer 1 applies it
}

/// The same rule's livelock (shardkv-nemesis seed 7000036945, guided): a
/// deposed leader that holds its removal uncommitted campaigns on and on,
/// while the others moved to a configuration that needs its vote. When it
/// voted for itself in each term, a candidate with a slower clock met, in
/// each of its campaigns, a term this peer had already voted in: no leader,
/// ever. Its own vote does not count in its latest configuration, so it
/// casts none, and grants the up-to-date candidate of its term.
#[test]
fn a_peer_campaigning_outside_its_configuration_keeps_its_vote_for_others() {
    let joint = Membership {
        voters: set(&[2]),
        outgoing: set(&[0, 1, 2]),
        learners: PeerSet::EMPTY,
    };
    let conf = |index: u64, m: Membership| raft::Entry {
        kind: raft::EntryKind::Membership,
        ..raft::Entry::command(1, index, m.encode())
    };
    let restored = raft::Restored {
        hard_state: Some(raft::HardState {
            current_term: 1,
            voted_for: Some(1),
        }),
        snapshot: None,
        entries: vec![conf(1, joint), conf(2, joint.leave_joint())],
    };
    let config = Config {
        pre_vote: false,
        ..Config::new(1, 3, 7)
    };
    let mut r = raft::Raft::new(config, Some(restored), 0).unwrap();
    r.tick(r.next_deadline_ms());
    assert_eq!((r.role(), r.current_term()), (Role::Candidate, 2));
    assert_eq!(
        r.voted_for(),
        None,
        "no vote for itself, where it does not count"
    );
    let newer = Message::RequestVote(RequestVoteArgs {
        term: 2,
        candidate_id: 0,
        last_log_index: 5,
        last_log_term: 2,
        pre_vote: false,
        leader_transfer: false,
    });
    r.step(r.next_deadline_ms() - 1, 0, newer).unwrap();
    assert_eq!(
        r.voted_for(),
        Some(0),
        "the up-to-date candidate of its term"
    );
    assert_eq!(
        r.role(),
        Role::Follower,
        "its campaign given up with its vote"
    );
}

/// A leader removed by joint consensus steps down as soon as C_new commits,
/// before its followers hear that it did. Their next leader inherits C_new
/// uncommitted and, with no client about, must still commit it (under an
/// empty entry of its term) and take the next change.
#[test]
fn an_idle_new_leader_commits_the_configuration_it_inherited() {
    let mut c = Cluster::with_config(5, 16, three_of_five);
    let leader = settled_leader(&mut c, 1);
    change(&mut c, leader, target(&[0, 1, 2], &[3, 4]));
    c.one(cmd(2), 5);
    let others: Vec<PeerId> = (0..5).filter(|&p| p != leader).collect();
    change(&mut c, leader, target(&others[..3], &[]));
    c.run_for(2_000);
    let next = c.check_one_leader();
    assert_ne!(next, leader);
    // No command from here on: only the peers' own entries.
    change(&mut c, next, target(&others[..3], &[others[3]]));
    settle(&mut c, target(&others[..3], &[others[3]]));
}

/// TimeoutNow makes a voter campaign at once; a learner, or a server outside
/// the configuration, ignores it (it never campaigns).
#[test]
fn a_non_voter_ignores_timeout_now() {
    let config = Config {
        voters: set(&[0, 1]),
        ..Config::new(2, 3, 1)
    };
    let mut r = raft::Raft::new(config, None, 0).unwrap();
    let now = raft::Message::TimeoutNow(raft::TimeoutNowArgs {
        term: 0,
        leader_id: 0,
    });
    r.step(5, 0, now).unwrap();
    assert_eq!((r.role(), r.current_term()), (Role::Follower, 0));
}

/// A server removed from the configuration gets no more of the log: its
/// acknowledgements and refusals no longer pull the next entries.
#[test]
fn a_removed_server_is_sent_nothing_more() {
    let mut c = Cluster::with_config(5, 17, three_of_five);
    let leader = settled_leader(&mut c, 1);
    let gone = (0..3).find(|&p| p != leader).unwrap();
    let rest: Vec<PeerId> = (0..3).filter(|&p| p != gone).collect();
    // Removed while an AppendEntries to it is in flight.
    for k in 2..5 {
        c.input(leader, |r, now| r.start(now, cmd(k)));
    }
    let at = change(&mut c, leader, target(&rest, &[]));
    for k in 5..12 {
        c.input(leader, |r, now| r.start(now, cmd(k)));
    }
    c.run_for(1_000);
    assert!(c.raft(leader).commit_index() > at);
    assert!(c.raft(gone).last_index() < at, "the removed server kept up");
}
