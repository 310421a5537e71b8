//! The graded shard controller suite (6.824 5A), each test on its default
//! seeds (`RAFTLAB_SEEDS=1..100` widens the set), and the controller's answers
//! to bad requests through a whole cluster.

use peer::{CtrlError, CtrlOp, CtrlOutcome};
use std::collections::BTreeMap;
use tests::Test;
use tests::ctrler_suite::CtrlConfig;

tests::graded_cargo_tests!(
    tests::ctrler_suite::TESTS, "ctrler";
    basic,
    multi,
    minimal_again,
);

/// A bad request gets its reason back, a retry of it the same answer, and the
/// configuration chain is unchanged.
#[test]
fn bad_requests_are_refused_with_their_reason_and_change_nothing() {
    let t = Test {
        name: "ctrler::bad_requests",
        seed: 1,
    };
    let mut cfg = CtrlConfig::new(&t, 3, false);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    let one = BTreeMap::from([(1, vec!["a".to_string()])]);
    cfg.join(ck, one.clone()).unwrap();
    let before = cfg.query(ck, -1).unwrap();
    let cases = [
        (CtrlOp::Join { servers: one }, CtrlError::GroupExists(1)),
        (CtrlOp::Leave { gids: vec![7] }, CtrlError::UnknownGroup(7)),
        (
            CtrlOp::Move { shard: 3, gid: 7 },
            CtrlError::UnknownGroup(7),
        ),
        (
            CtrlOp::Move { shard: 10, gid: 1 },
            CtrlError::ShardOutOfRange(10),
        ),
        (
            CtrlOp::Query { num: Some(5) },
            CtrlError::NoSuchConfig {
                asked: 5,
                latest: 1,
            },
        ),
    ];
    for (op, error) in cases {
        let got = cfg.call(ck, op.clone()).unwrap();
        assert_eq!(got, CtrlOutcome::Refused(error), "{op:?}");
    }
    assert_eq!(
        cfg.query(ck, -1).unwrap(),
        before,
        "a refusal made a configuration"
    );
    // Every server applied the same refusals: the leader's successor agrees.
    let leader = cfg.leader().expect("a leader");
    cfg.shutdown_server(leader);
    assert_eq!(cfg.query(ck, -1).unwrap(), before);
    cfg.end().unwrap();
}
