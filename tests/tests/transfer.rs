//! Leadership transfer through the peer interface, on the simulated
//! network: the target leads within an election timeout and the cluster
//! keeps committing; a peer without the feature refuses clearly.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use labsim::MS;
use tests::Test;
use tests::peers::with_peer;
use tests::raft_suite::{Cluster, ClusterOptions, cmd};

#[test]
fn the_target_leads_well_within_an_election_timeout_and_commands_flow_again() {
    for peer in ["reference", "raft-rs"] {
        with_peer(peer, || {
            for seed in 1..=3 {
                let t = Test {
                    name: "transfer",
                    seed,
                };
                let mut c = Cluster::new(&t, ClusterOptions::new(5));
                let leader = c.check_one_leader().unwrap();
                c.one(cmd(1), 5, true).unwrap();
                let to = (leader + 2) % 5;
                c.transfer_leadership(leader, to).unwrap().unwrap();
                // Below the 300 ms minimum election timeout.
                c.sleep(150 * MS).unwrap();
                assert_eq!(
                    c.get_state(to).map(|s| s.1),
                    Some(true),
                    "{peer} seed {seed}"
                );
                assert_eq!(
                    c.get_state(leader).map(|s| s.1),
                    Some(false),
                    "{peer} seed {seed}"
                );
                c.one(cmd(2), 5, true).unwrap();
                c.end().unwrap();
            }
        });
    }
}

#[test]
fn a_refused_transfer_says_why() {
    let t = Test {
        name: "transfer",
        seed: 1,
    };
    let mut c = Cluster::new(&t, ClusterOptions::new(3));
    let leader = c.check_one_leader().unwrap();
    let follower = (leader + 1) % 3;
    let e = c
        .transfer_leadership(follower, leader)
        .unwrap()
        .unwrap_err();
    assert!(e.contains("not the leader"), "{e}");
    let e = c.transfer_leadership(leader, 7).unwrap().unwrap_err();
    assert!(e.contains("unknown peer 7"), "{e}");
    with_peer("student", || {
        let mut c = Cluster::new(&t, ClusterOptions::new(3));
        let e = c.transfer_leadership(0, 1).unwrap().unwrap_err();
        assert!(e.contains("no leadership transfer"), "{e}");
    });
}
