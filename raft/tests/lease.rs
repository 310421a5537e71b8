//! Lease reads (thesis 6.4.1): a leader whose heartbeat round a majority
//! answered serves reads at once for a while; a leadership transfer ends
//! that for its term (etcd-io/raft#99).

mod driver;

use driver::{Cluster, cmd};
use raft::Config;

fn lease(id: usize, peers: usize, seed: u64) -> Config {
    Config {
        check_quorum: true,
        lease_reads: true,
        ..Config::new(id, peers, seed)
    }
}

fn read_at_once(c: &mut Cluster, leader: usize, ctx: u64) -> bool {
    c.input(leader, |r, now| r.read_index(now, ctx)).unwrap();
    c.nodes[leader].reads.iter().any(|r| r.0 == ctx)
}

#[test]
fn a_leader_with_a_lease_reads_at_once_and_without_one_takes_a_round() {
    let mut c = Cluster::with_config(3, 1, lease);
    let leader = c.check_one_leader();
    c.one(cmd(1), 3);
    c.run_for(150); // a heartbeat round answered
    assert!(read_at_once(&mut c, leader, 1), "within the lease");
    c.disconnect(leader);
    c.run_for(Config::new(0, 3, 0).election_timeout_min_ms);
    assert!(!read_at_once(&mut c, leader, 2), "the lease ran out");
}

#[test]
fn a_transfer_ends_the_lease_for_the_term() {
    let mut c = Cluster::with_config(3, 2, lease);
    let leader = c.check_one_leader();
    c.one(cmd(1), 3);
    c.run_for(150);
    let to = (leader + 1) % 3;
    c.disconnect(to); // the transfer will be given up
    c.input(leader, |r, now| r.transfer_leadership(now, to))
        .unwrap();
    c.run_for(Config::new(0, 3, 0).election_timeout_min_ms + 1);
    c.connect_all();
    c.run_for(150);
    assert!(
        !read_at_once(&mut c, leader, 3),
        "no lease after a transfer"
    );
    c.run_for(20);
    assert!(
        c.nodes[leader].reads.iter().any(|r| r.0 == 3),
        "a round still serves it"
    );
}
