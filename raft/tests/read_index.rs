//! ReadIndex (Raft thesis, section 6.4): a read is confirmed by one round of
//! heartbeats a majority answers, once an entry of the leader's term is
//! committed; a leader cut off from the majority never confirms one.

mod driver;

use driver::{Cluster, cmd};
use raft::RaftError;

fn read(c: &mut Cluster, leader: usize, ctx: u64) -> Result<(), RaftError> {
    c.input(leader, |r, now| r.read_index(now, ctx))
}

#[test]
fn a_read_is_confirmed_within_a_round_trip_at_the_commit_index() {
    let mut c = Cluster::new(3, 1);
    let leader = c.check_one_leader();
    let index = c.one(cmd(1), 3);
    read(&mut c, leader, 7).unwrap();
    // One round trip, far below the heartbeat interval.
    c.run_for(12);
    assert_eq!(c.nodes[leader].reads, vec![(7, index, index)]);
}

#[test]
fn a_new_leader_commits_an_entry_of_its_term_before_confirming() {
    let mut c = Cluster::new(3, 2);
    let leader = c.check_one_leader();
    let index = c.one(cmd(1), 3);
    let term = c.raft(leader).current_term();
    // No entry of its term yet: the read appends an empty one.
    let (next, _, _) = {
        c.disconnect(leader);
        c.run_for(2_000);
        c.connect_all();
        let leader2 = c.check_one_leader();
        assert!(c.raft(leader2).current_term() > term);
        assert_eq!(
            c.raft(leader2).last_index(),
            index,
            "no entry of the new term yet"
        );
        read(&mut c, leader2, 9).unwrap();
        assert_eq!(c.raft(leader2).last_index(), index + 1, "the read's no-op");
        c.run_for(30);
        let reads = c.nodes[leader2].reads.clone();
        assert_eq!(
            reads,
            vec![(9, index + 1, index + 1)],
            "confirmed at the no-op"
        );
        reads[0]
    };
    assert_eq!(next, 9);
    // Every peer applies the no-op as an empty command.
    c.run_for(500);
    assert_eq!(c.nodes[0].service.get(&(index + 1)), Some(&Vec::new()));
}

#[test]
fn a_leader_cut_off_from_the_majority_never_confirms() {
    let mut c = Cluster::new(5, 3);
    let leader = c.check_one_leader();
    c.one(cmd(1), 5);
    c.disconnect(leader);
    read(&mut c, leader, 1).unwrap();
    c.run_for(3_000);
    assert!(
        c.nodes[leader].reads.is_empty(),
        "{:?}",
        c.nodes[leader].reads
    );
}

#[test]
fn only_a_leader_reads() {
    let mut c = Cluster::new(3, 4);
    let leader = c.check_one_leader();
    let follower = (leader + 1) % 3;
    assert_eq!(read(&mut c, follower, 1), Err(RaftError::NotLeader));
}
