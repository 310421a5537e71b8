//! The graded KV suites (6.824 4A/4B), each test on its default seeds
//! (`RAFTLAB_SEEDS=1..100` widens the set), each ending with a
//! linearizability check. A failure prints one line with the test, the seed,
//! the virtual time, what broke, and the command that replays it.

use tests::failure::FailureKind;

tests::graded_cargo_tests!(
    tests::kv_suite::TESTS, "kv";
    basic,
    speed,
    concurrent,
    unreliable,
    unreliable_one_key,
    one_partition,
    many_partitions_one_client,
    many_partitions_many_clients,
    persist_one_client,
    persist_concurrent,
    persist_concurrent_unreliable,
    persist_partition,
    persist_partition_unreliable,
    persist_partition_unreliable_linearizable,
    snapshot_rpc,
    snapshot_size,
    speed_snapshots,
    snapshot_recover,
    snapshot_recover_many_clients,
    snapshot_unreliable,
    snapshot_unreliable_recover,
    snapshot_unreliable_recover_concurrent_partition,
    snapshot_unreliable_recover_concurrent_partition_linearizable,
);

/// The same scenario with Gets through the log is linearizable...
#[test]
fn log_reads_are_linearizable() {
    for seed in [1, 2, 3] {
        if let Err(f) = tests::kv_suite::stale::log_reads(seed) {
            panic!("\n{f}\n");
        }
    }
}

/// ...and with Gets served by a deposed leader from its local state, the
/// checker flags the history and draws it.
#[cfg(feature = "reference")]
#[test]
fn stale_reads_are_not_linearizable() {
    for seed in [1, 2, 3] {
        let f = tests::kv_suite::stale::stale_reads(seed)
            .expect_err("a stale read must make the history non-linearizable");
        assert_eq!(f.kind, FailureKind::Linearizability, "{f}");
        assert!(f.what.contains("not linearizable"), "{f}");
        let path = f
            .what
            .rsplit("see ")
            .next()
            .expect("the failure names the page");
        let page = std::fs::read_to_string(path).expect("the HTML page was written");
        assert!(page.contains("NOT linearizable"), "{path}");
        assert!(
            page.contains("get(\"k\") -&gt; \"1\"") || page.contains("get("),
            "{path}"
        );
    }
}
