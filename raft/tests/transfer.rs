//! Leadership transfer (Raft thesis, section 3.10): the leader brings the
//! target up to date, sends TimeoutNow, takes no command meanwhile, and
//! gives up after an election timeout.

mod driver;

use driver::{Cluster, cmd, with_switches as with};
use raft::{Config, RaftError, Role};

/// Asks `leader` to hand over to `to`, and sends what that produces.
fn transfer(c: &mut Cluster, leader: usize, to: usize) -> Result<(), RaftError> {
    c.input(leader, |r, now| r.transfer_leadership(now, to))
}

#[test]
fn the_target_leads_the_next_term_well_within_an_election_timeout() {
    for (pre_vote, check_quorum) in [(false, false), (true, false), (true, true)] {
        let mut c = Cluster::with_config(5, 3, with(pre_vote, check_quorum));
        let leader = c.check_one_leader();
        c.one(cmd(1), 5);
        let term = c.raft(leader).current_term();
        let to = (leader + 2) % 5;
        transfer(&mut c, leader, to).unwrap();
        // Shorter than any election timeout: only TimeoutNow explains it.
        c.run_for(100);
        let flags = format!("PreVote {pre_vote}, CheckQuorum {check_quorum}");
        assert_eq!(c.raft(to).role(), Role::Leader, "{flags}");
        assert_eq!(c.raft(to).current_term(), term + 1, "{flags}");
        assert_eq!(c.raft(leader).role(), Role::Follower, "{flags}");
        c.one(cmd(2), 5);
    }
}

#[test]
fn a_lagging_target_is_brought_up_to_date_first() {
    let mut c = Cluster::new(5, 5);
    let leader = c.check_one_leader();
    let to = (leader + 1) % 5;
    c.disconnect(to);
    for k in 1..=5 {
        c.one(cmd(k), 4);
    }
    c.connect_all();
    let last = c.raft(leader).last_index();
    assert!(c.raft(to).last_index() < last);
    transfer(&mut c, leader, to).unwrap();
    c.run_for(100);
    assert_eq!(c.raft(to).role(), Role::Leader);
    assert_eq!(c.raft(to).last_index(), last, "it won with the whole log");
    c.check_log_matching();
}

#[test]
fn no_command_is_taken_while_transferring_and_an_unreachable_target_is_given_up() {
    let mut c = Cluster::new(5, 7);
    let leader = c.check_one_leader();
    let term = c.raft(leader).current_term();
    let to = (leader + 1) % 5;
    c.disconnect(to);
    transfer(&mut c, leader, to).unwrap();
    let now = c.now_ms;
    let (_, _, taken) = c.raft_mut(leader).start(now, cmd(9));
    assert!(!taken, "a command during a transfer");
    let min = Config::new(0, 5, 0).election_timeout_min_ms;
    c.run_for(min + 1);
    assert_eq!(c.raft(leader).role(), Role::Leader);
    assert_eq!(c.raft(leader).current_term(), term);
    let now = c.now_ms;
    let (_, _, taken) = c.raft_mut(leader).start(now, cmd(10));
    assert!(taken, "the transfer was given up: commands are taken again");
}

#[test]
fn only_a_leader_transfers_and_only_to_a_peer() {
    let mut c = Cluster::new(3, 9);
    let leader = c.check_one_leader();
    let follower = (leader + 1) % 3;
    assert_eq!(
        transfer(&mut c, follower, leader),
        Err(RaftError::NotLeader)
    );
    assert_eq!(transfer(&mut c, leader, 3), Err(RaftError::UnknownPeer(3)));
    assert_eq!(transfer(&mut c, leader, leader), Ok(()));
    let now = c.now_ms;
    assert!(
        c.raft_mut(leader).start(now, cmd(1)).2,
        "a transfer to itself is nothing"
    );
}
