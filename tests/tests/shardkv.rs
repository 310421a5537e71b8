//! The graded sharded KV suite (6.824 5B), each test on its default seeds
//! (`RAFTLAB_SEEDS=1..100` widens the set), each ending with a
//! linearizability check of its whole history.

tests::graded_cargo_tests!(
    tests::shardkv_suite::TESTS, "shardkv";
    static_shards,
    rejection,
    join_leave,
    snapshot,
    miss_change,
    concurrent1,
    concurrent2,
    concurrent3,
    unreliable1,
    unreliable2,
    unreliable3,
    challenge1_delete,
    challenge2_unaffected,
    challenge2_partial,
);

use tests::Test;
use tests::nemesis::{Fault, FaultKind, Schedule};
use tests::shardkv_suite::ShardKvConfig;

/// When the last group leaves, its shards stay with it (it holds their data);
/// the group that joins next takes them from it. (A controller that gave
/// them to "no group" lost every value: the new group started them empty.)
#[test]
fn the_data_outlives_every_group_leaving() {
    for seed in 1..=3 {
        let t = Test {
            name: "shardkv::every_group_leaves",
            seed,
        };
        let mut cfg = ShardKvConfig::new(&t, 3, false, None);
        let ctl = cfg.ctl();
        let ck = cfg.make_client(&ctl);
        cfg.join(0).unwrap();
        for k in 0..10 {
            cfg.put(ck, &k.to_string(), &format!("v{k}")).unwrap();
        }
        cfg.leave(0).unwrap();
        cfg.join(1).unwrap();
        for k in 0..10 {
            cfg.check(ck, &k.to_string(), &format!("v{k}")).unwrap();
        }
        cfg.end().unwrap();
    }
}

/// shardkv-nemesis passes its first seeds, and each replays to the same trace.
#[test]
fn shardkv_nemesis_passes_and_replays() {
    let scenario = tests::scenarios::find("shardkv-nemesis").expect("registered");
    for seed in 0..10 {
        let first = scenario.run(seed).unwrap_or_else(|f| panic!("\n{f}\n"));
        if seed < 2 {
            let again = scenario.run(seed).unwrap();
            assert_eq!(first.trace_hash, again.trace_hash, "seed {seed}");
        }
    }
}

/// A schedule's shard changes name groups and shards that exist.
#[test]
fn a_shard_change_of_a_group_or_shard_that_does_not_exist_is_refused() {
    let change = |kind| Schedule {
        faults: vec![Fault {
            at_ms: 0,
            duration_ms: 1,
            kind,
        }],
        ..Schedule::default()
    };
    let servers = tests::shardkv_nemesis::SERVERS;
    assert!(
        change(FaultKind::ShardJoin { group: 2 })
            .validate(servers)
            .is_ok()
    );
    let e = change(FaultKind::ShardLeave { group: 3 })
        .validate(servers)
        .unwrap_err();
    assert!(e.contains("names group 3"), "{e}");
    let e = change(FaultKind::ShardMove {
        shard: 10,
        group: 0,
    })
    .validate(servers)
    .unwrap_err();
    assert!(e.contains("moves shard 10"), "{e}");
}

/// A membership change drawn over every server acts on the Raft group of the
/// servers it names, in that group's peer ids; the other groups keep theirs.
#[test]
fn a_membership_fault_changes_the_group_it_names_and_no_other() {
    let t = Test {
        name: "shardkv::membership-fault",
        seed: 1,
    };
    let mut cfg = ShardKvConfig::new(&t, 3, false, None);
    cfg.joinm(&[0, 1, 2]).unwrap();
    let schedule = Schedule {
        faults: vec![Fault {
            at_ms: 100,
            duration_ms: 2000,
            // Servers 6, 7, 8 are group 101's peers 0, 1, 2.
            kind: FaultKind::Reconfigure {
                voters: vec![6, 7],
                learners: vec![8],
            },
        }],
        ..Schedule::default()
    };
    let servers = cfg.servers();
    let groups = tests::shardkv_nemesis::groups();
    tests::nemesis::apply_to_groups(&mut cfg.sim, &schedule, &servers, &groups).unwrap();
    cfg.sleep(3 * labsim::SEC).unwrap();
    let membership = |cfg: &ShardKvConfig, node| {
        tests::raft_suite::node::any_status(&cfg.sim, node).and_then(|s| s.membership)
    };
    let changed = membership(&cfg, 6).expect("the reference reports its membership");
    assert_eq!(changed.voters.iter().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(changed.learners.iter().collect::<Vec<_>>(), vec![2]);
    for node in [0, 3, 9] {
        let m = membership(&cfg, node).unwrap();
        assert_eq!(m.voters.iter().count(), 3, "node {node}: {m}");
    }
    let ctl = cfg.ctl();
    let ck = cfg.make_client(&ctl);
    for k in 0..10 {
        cfg.put(ck, &k.to_string(), "v").unwrap();
    }
    cfg.end().unwrap();
}
