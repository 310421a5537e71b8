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
