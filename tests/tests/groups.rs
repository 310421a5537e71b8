//! Several Raft groups in one simulation (the sharded lab's shape: a
//! controller group beside replica groups): each group's peers talk among
//! themselves, elect their own leader and serve their own clients, a fault
//! in one leaves the others alone, and each group has its own oracle.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use labsim::SEC;
use peer::{CtrlOp, CtrlOutcome};
use std::collections::BTreeMap;
use tests::Test;
use tests::ctrler_suite::clerk::CtrlClerkNode;
use tests::kv_suite::{KvConfig, KvOptions};
use tests::raft_suite::node::{PeerNode, RaftTuning, any_status};
use tests::replicated::server::ReplicatedService;

/// Runs `ops` on a new controller clerk of the servers `servers`; what they returned.
fn ctrl_ops(cfg: &mut KvConfig, servers: Vec<usize>, ops: Vec<CtrlOp>) -> Vec<CtrlOutcome> {
    let mut node = Some(CtrlClerkNode::new(99, servers));
    let id = cfg.sim.add_node("ctrlclerk", move |_, _| {
        Box::new(node.take().expect("never restarts"))
    });
    let n = ops.len();
    cfg.sim
        .with_node::<CtrlClerkNode, _>(id, |c, ctx| c.run(ctx, ops))
        .unwrap();
    let idle = move |s: &labrpc::Sim| s.node::<CtrlClerkNode>(id).is_some_and(|c| c.idle());
    assert!(
        cfg.run_until(idle, 10 * SEC).unwrap(),
        "controller ops stuck"
    );
    let outcomes = cfg.sim.node::<CtrlClerkNode>(id).unwrap().outcomes.clone();
    assert_eq!(outcomes.len(), n);
    outcomes
        .into_iter()
        .map(|o| match o {
            tests::replicated::clerk::Settled::Done(v) => v,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_controller_group_and_a_kv_group_share_a_simulation_and_nothing_else() {
    for seed in 1..=3 {
        let t = Test {
            name: "groups",
            seed,
        };
        let mut cfg = KvConfig::new(&t, KvOptions::new(3));
        let base = cfg.add_group(3, "ctrler", |choice, oracle| {
            let service = ReplicatedService::new((choice.ctrler)());
            PeerNode::with_service(3, RaftTuning::default(), choice.clone(), service, oracle)
        });
        assert_eq!(base, 3, "after the KV servers");
        let ctrl: Vec<usize> = (base..base + 3).collect();
        let all = cfg.all();
        let ck = cfg.make_client(&all);
        cfg.put(ck, "k", "a").unwrap();
        // Cut the KV group's leader off: the controller group does not notice.
        let leader = cfg.leader().expect("a KV leader");
        let rest: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
        cfg.partition(&[leader], &rest);
        let servers = BTreeMap::from([(1, vec!["a".to_string()])]);
        let done = ctrl_ops(&mut cfg, ctrl.clone(), vec![CtrlOp::Join { servers }]);
        assert_eq!(done, vec![CtrlOutcome::Done], "seed {seed}");
        let terms: Vec<u64> = ctrl
            .iter()
            .filter_map(|&i| any_status(&cfg.sim, i).map(|s| s.term))
            .collect();
        assert_eq!(terms.len(), 3);
        assert!(terms.iter().all(|&t| t == terms[0]), "one term: {terms:?}");
        // Each group's peers are 0, 1, 2 of their own group.
        assert!(
            ctrl.iter()
                .all(|&i| any_status(&cfg.sim, i).is_some_and(|s| s.leader.is_none_or(|l| l < 3)))
        );
        cfg.connect_all();
        cfg.append(ck, "k", "b").unwrap();
        cfg.check(ck, "k", "ab").unwrap();
        let latest = ctrl_ops(&mut cfg, ctrl, vec![CtrlOp::Query { num: None }]);
        let [CtrlOutcome::Config(c)] = &latest[..] else {
            panic!("{latest:?}")
        };
        assert_eq!((c.num, c.shards), (1, [1; peer::NSHARDS]));
        cfg.end().unwrap();
    }
}
