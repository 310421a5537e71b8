//! The disk fault model end to end: torn writes at crashes are recovered by
//! the reference, and rotten synced data stops a peer with a clear error
//! instead of being served.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use tests::Test;
use tests::nemesis::{Fault, FaultKind, Schedule, Tuning, WorkloadSize};
use tests::raft_suite::{Cluster, ClusterOptions, cmd};
use tests::scenarios;

/// Slow syncs, and a torn crash of one server after another every 400 ms.
fn torn_crashes() -> Schedule {
    let mut rng = labsim::derive_stream(1, labsim::Stream::Nemesis);
    let tuning = Tuning {
        sync_latency_ms: 10,
        ..Tuning::draw(&mut rng)
    };
    let faults = (0..40)
        .map(|i| Fault {
            at_ms: 300 + 400 * i,
            duration_ms: 150,
            kind: FaultKind::Crash {
                node: i as usize % 5,
                lose_unsynced: true,
                torn: true,
            },
        })
        .collect();
    Schedule {
        faults,
        tuning: Some(tuning),
        workload: WorkloadSize::default(),
        ..Schedule::default()
    }
}

#[test]
fn torn_writes_at_crashes_are_recovered() {
    for name in ["raft-nemesis", "kv-nemesis"] {
        let s = scenarios::find(name).expect("a scenario");
        for seed in 1..=3 {
            if let Err(f) = s.run_with(seed, &torn_crashes()) {
                panic!("{f}");
            }
        }
    }
}

#[test]
fn rotten_synced_data_stops_the_peer_with_a_clear_error() {
    let t = Test {
        name: "raft::basic_agree",
        seed: 1,
    };
    let mut cfg = Cluster::new(&t, ClusterOptions::new(3));
    for i in 0..5 {
        cfg.one(cmd(i), 3, false).expect("agreement");
    }
    cfg.crash(0);
    let hit = cfg.sim.corrupt_disk(0).expect("node 0 exists");
    assert!(hit.is_some(), "node 0 has synced data");
    cfg.restart(0);
    let f = cfg.one(cmd(99), 3, true).expect_err("node 0 cannot start");
    assert!(
        f.what.contains("peer 0 (reference) cannot start") && f.what.contains("damaged"),
        "{f}"
    );
}
