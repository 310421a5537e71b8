//! The scenarios' liveness phases can fail: a cluster that cannot elect a
//! leader after every fault heals (the untouched student skeleton elects
//! nobody) fails with a liveness line at the limit, even when no client had
//! work in flight at the heal. A graded test's waits end at its limit.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use labsim::SEC;
use peer::CtrlOp;
use tests::Test;
use tests::ctrler_suite::CtrlConfig;
use tests::failure::{Failure, FailureKind};
use tests::nemesis::{Fault, FaultKind, Schedule, WorkloadSize};
use tests::peers::with_peer;
use tests::scenarios;

/// One short pause of node 0, then the heal at 20 s.
fn one_fault(max_ops_per_client: Option<u64>) -> Schedule {
    Schedule {
        faults: vec![Fault {
            at_ms: 1_000,
            duration_ms: 100,
            kind: FaultKind::Pause { node: 0 },
        }],
        workload: WorkloadSize {
            clients: Some(2),
            max_ops_per_client,
        },
        ..Schedule::default()
    }
}

fn fails_on_the_skeleton(scenario: &str, schedule: &Schedule) -> Failure {
    let s = scenarios::find(scenario).expect("a scenario");
    with_peer("student", || s.run_with(1, schedule)).expect_err("nobody is ever elected")
}

#[test]
fn raft_nemesis_fails_at_its_own_liveness_limit() {
    let f = fails_on_the_skeleton("raft-nemesis", &one_fault(None));
    assert_eq!(f.kind, FailureKind::Liveness, "{f}");
    assert!(
        f.what.contains("within 15 s after every fault healed"),
        "{f}"
    );
    // Healed at 20 s; the limit, not one()'s 10 s, ends the wait.
    assert_eq!(f.at_ns, 35_000_000_000, "{f}");
}

#[test]
fn kv_nemesis_asks_for_new_operations_after_the_heal() {
    // No client has anything in flight at the heal: only the operations
    // submitted after it can show that the cluster is stuck.
    let f = fails_on_the_skeleton("kv-nemesis", &one_fault(Some(0)));
    assert_eq!(f.kind, FailureKind::Liveness, "{f}");
    assert!(
        f.what
            .contains("submitted after the heal did not complete within 15 s"),
        "{f}"
    );
}

#[test]
fn a_controller_operation_that_never_completes_fails_at_the_tests_limit() {
    // Started at 50 s on the skeleton, which elects nobody. The wait once
    // ran 120 s from its start and failed at 170 s as a test that "took
    // longer than 120 seconds", hiding what was stuck.
    let t = Test {
        name: "ctrler::never_completes",
        seed: 1,
    };
    let f = with_peer("student", || {
        let mut cfg = CtrlConfig::new(&t, 3, false);
        cfg.sleep(50 * SEC)?;
        let all = cfg.all();
        let ck = cfg.make_client(&all);
        cfg.call(ck, CtrlOp::Query { num: None })
    })
    .expect_err("nobody is ever elected");
    assert_eq!(f.kind, FailureKind::Liveness, "{f}");
    assert!(
        f.what.contains("a controller operation never completed"),
        "{f}"
    );
    assert_eq!(f.at_ns, 120 * SEC, "{f}");
}
