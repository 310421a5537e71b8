//! CheckQuorum (Raft thesis, section 6.2), switch by switch: a leader cut off
//! from the majority steps down, and a follower that hears its leader does
//! not let a disruptive candidate depose it (the partial partition in which
//! one follower loses only its link to the leader).

mod driver;

use driver::{Cluster, with_switches as config};
use raft::{Config, Message, Raft, RequestVoteArgs, Role};

#[test]
fn a_leader_cut_off_from_the_majority_steps_down_only_with_check_quorum() {
    for check_quorum in [false, true] {
        let mut c = Cluster::with_config(3, 7, config(true, check_quorum));
        let leader = c.check_one_leader();
        let term = c.raft(leader).current_term();
        c.disconnect(leader);
        // Two minimum election timeouts: one period to count, one to spare.
        c.run_for(2 * Config::new(0, 3, 0).election_timeout_min_ms + 1);
        let role = c.raft(leader).role();
        let expected = if check_quorum {
            Role::Follower
        } else {
            Role::Leader
        };
        assert_eq!(role, expected, "check_quorum {check_quorum}");
        assert_eq!(
            c.raft(leader).current_term(),
            term,
            "stepping down takes no new term"
        );
    }
}

#[test]
fn a_follower_cut_from_the_leader_alone_cannot_depose_it_with_either_remedy() {
    // Without PreVote or CheckQuorum, the follower's elections bump the
    // term through the peer in the middle, and leaders come and go.
    let leaders_elected = |pre_vote, check_quorum| {
        let mut c = Cluster::with_config(3, 11, config(pre_vote, check_quorum));
        let leader = c.check_one_leader();
        let before = c.leaders.len();
        c.cut_link(leader, (leader + 1) % 3);
        c.run_for(20_000);
        c.leaders.len() - before
    };
    assert!(
        leaders_elected(false, false) >= 3,
        "the flapping this test is about"
    );
    assert_eq!(
        leaders_elected(true, false),
        0,
        "PreVote: the middle peer hears the leader"
    );
    assert_eq!(
        leaders_elected(false, true),
        0,
        "CheckQuorum: the middle peer refuses the vote"
    );
    assert_eq!(leaders_elected(true, true), 0);
}

#[test]
fn a_follower_that_hears_its_leader_refuses_a_higher_term_vote_without_taking_the_term() {
    for check_quorum in [false, true] {
        let cfg = Config {
            check_quorum,
            ..Config::new(1, 3, 9)
        };
        let mut r = Raft::new(cfg, None, 0).unwrap();
        let _ = r.ready();
        // The leader (0) of term 1 is heard at t=1000.
        r.step(1000, 0, heartbeat(1)).unwrap();
        let _ = r.ready();
        let vote = Message::RequestVote(RequestVoteArgs {
            term: 5,
            candidate_id: 2,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
            leader_transfer: false,
        });
        r.step(1001, 2, vote).unwrap();
        let granted = match r.ready().messages.as_slice() {
            [(2, Message::RequestVoteReply(reply))] => reply.vote_granted,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(granted, !check_quorum, "check_quorum {check_quorum}");
        let term = if check_quorum { 1 } else { 5 };
        assert_eq!(r.current_term(), term, "check_quorum {check_quorum}");
    }
}

fn heartbeat(term: u64) -> Message {
    Message::AppendEntries(raft::AppendEntriesArgs {
        term,
        leader_id: 0,
        prev_log_index: 0,
        prev_log_term: 0,
        entries: vec![],
        leader_commit: 0,
        read_round: 0,
    })
}

#[test]
fn with_pre_vote_and_check_quorum_the_others_still_elect_when_the_leader_is_isolated() {
    // etcd-io/etcd#8334 and #9586: a pre-candidate that still believed in
    // the old leader refused the other's PreVote, and no one was elected.
    for seed in 0..20 {
        let mut c = Cluster::with_config(3, seed, config(true, true));
        let old = c.check_one_leader();
        c.disconnect(old);
        c.run_for(5_000);
        let now: Vec<usize> = c.leaders_now().into_iter().filter(|&l| l != old).collect();
        assert_eq!(now.len(), 1, "seed {seed}: leaders {now:?}");
    }
}
