//! The graded Raft suites (6.824 parts A to D), each test on its default
//! seeds (`RAFTLAB_SEEDS=1..100` widens the set). A failure prints one line
//! with the test, the seed, the virtual time, what broke, and the command
//! that replays it.

tests::graded_cargo_tests!(
    tests::raft_suite::TESTS, "raft";
    initial_election,
    re_election,
    many_elections,
    basic_agree,
    rpc_bytes,
    follower_failure,
    leader_failure,
    fail_agree,
    fail_no_agree,
    concurrent_starts,
    rejoin,
    backup,
    count,
    persist1,
    persist2,
    persist3,
    figure8,
    unreliable_agree,
    figure8_unreliable,
    reliable_churn,
    unreliable_churn,
    snapshot_basic,
    snapshot_install,
    snapshot_install_unreliable,
    snapshot_install_crash,
    snapshot_install_unreliable_crash,
    snapshot_all_crash,
    snapshot_init,
);
