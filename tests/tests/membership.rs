//! Membership changes through the peer interface, on the simulated network,
//! with the oracle watching (a majority is one of the leader's
//! configuration): learners catch up, every voter is replaced, the KV clerk
//! finds the servers of the new configuration, and a peer without the
//! feature refuses clearly.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use labsim::SEC;
use peer::{Membership, PeerSet};
use tests::Test;
use tests::kv_suite::{KvConfig, KvOptions};
use tests::peers::with_peer;
use tests::raft_suite::node::RaftTuning;
use tests::raft_suite::{Cluster, ClusterOptions, cmd};

fn target(voters: &[usize], learners: &[usize]) -> Membership {
    Membership {
        voters: voters.iter().copied().collect(),
        learners: learners.iter().copied().collect(),
        ..Membership::default()
    }
}

/// Five servers of which 0, 1 and 2 start as the voters.
fn three_of_five() -> RaftTuning {
    RaftTuning {
        voters: Some(PeerSet::first(3)),
        ..RaftTuning::default()
    }
}

#[test]
fn learners_catch_up_and_every_voter_is_replaced() {
    for seed in 1..=3 {
        let t = Test {
            name: "membership",
            seed,
        };
        let options = ClusterOptions {
            tuning: three_of_five(),
            ..ClusterOptions::new(5)
        };
        let mut c = Cluster::new(&t, options);
        let leader = c.check_one_leader().unwrap();
        assert!(leader < 3, "seed {seed}: only voters lead");
        c.one(cmd(1), 3, true).unwrap();
        c.reconfigure(target(&[0, 1, 2], &[3, 4])).unwrap();
        c.one(cmd(2), 5, true).unwrap();
        // {0,1,2} -> {2,3,4}: joint consensus, then the new voters alone.
        c.reconfigure(target(&[2, 3, 4], &[])).unwrap();
        c.crash(0);
        c.crash(1);
        let leader = c.check_one_leader().unwrap();
        assert!([2, 3, 4].contains(&leader), "seed {seed}: leader {leader}");
        c.one(cmd(3), 3, true).unwrap();
        c.end().unwrap();
    }
}

#[test]
fn the_clerk_finds_the_servers_of_the_new_configuration() {
    let t = Test {
        name: "membership-kv",
        seed: 1,
    };
    let options = KvOptions {
        tuning: three_of_five(),
        ..KvOptions::new(5)
    };
    let mut cfg = KvConfig::new(&t, options);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    cfg.put(ck, "k", "a").unwrap();
    // Every voter replaced. The old ones keep running outside the
    // configuration, answering with the leader they last heard of.
    let until_ns = cfg.sim.now_ns() + 10 * SEC;
    tests::reconfigure::change(&mut cfg.sim, all.clone(), target(&[3, 4], &[]), until_ns);
    cfg.sleep(3 * SEC).unwrap();
    cfg.append(ck, "k", "b").unwrap();
    cfg.check(ck, "k", "ab").unwrap();
    let fresh = cfg.make_client(&all);
    cfg.check(fresh, "k", "ab").unwrap();
    // And once they are gone for good too.
    for i in 0..3 {
        cfg.shutdown_server(i);
    }
    cfg.append(fresh, "k", "c").unwrap();
    cfg.check(ck, "k", "abc").unwrap();
    cfg.end().unwrap();
}

#[test]
fn a_peer_without_membership_changes_refuses_clearly() {
    with_peer("raft-rs", || {
        let t = Test {
            name: "membership-unsupported",
            seed: 1,
        };
        let mut c = Cluster::new(&t, ClusterOptions::new(3));
        let leader = c.check_one_leader().unwrap();
        let e = c
            .change_membership(leader, target(&[0, 1], &[]))
            .unwrap()
            .unwrap_err();
        assert!(e.contains("no membership changes"), "{e}");
        assert_eq!(c.membership(leader), None);
        c.one(cmd(1), 3, true).unwrap();
        c.end().unwrap();
    });
}

#[test]
fn bad_changes_are_refused_and_the_cluster_is_unharmed() {
    let t = Test {
        name: "membership-bad",
        seed: 2,
    };
    let mut c = Cluster::new(&t, ClusterOptions::new(3));
    let leader = c.check_one_leader().unwrap();
    c.one(cmd(1), 3, true).unwrap();
    let before = c.membership(leader);
    let e = c
        .change_membership(leader, target(&[], &[1]))
        .unwrap()
        .unwrap_err();
    assert!(e.contains("no voters"), "{e}");
    let e = c
        .change_membership(leader, target(&[0, 1, 2, 7], &[]))
        .unwrap()
        .unwrap_err();
    assert!(e.contains("unknown peer 7"), "{e}");
    let e = c.transfer_leadership(leader, 9).unwrap().unwrap_err();
    assert!(e.contains("unknown peer 9"), "{e}");
    assert_eq!(c.membership(leader), before);
    c.one(cmd(2), 3, true).unwrap();
    c.end().unwrap();
}
