//! Clock drift faults compose: two overlapping drifts of one node add up,
//! and each one's end takes away only its own share.

use labsim::MS;
use tests::Test;
use tests::nemesis::{self, Fault, FaultKind, Schedule};
use tests::raft_suite::node::RaftNode;
use tests::raft_suite::{Cluster, ClusterOptions};

fn local_ms(c: &mut Cluster, node: usize) -> u64 {
    let ns = c.sim.with_node::<RaftNode, _>(node, |_, ctx| ctx.now_ns());
    ns.expect("running") / MS
}

#[test]
fn overlapping_drifts_of_one_node_add_up_and_end_one_by_one() {
    let drift = |at_ms, ppm| Fault {
        at_ms,
        duration_ms: 1_000,
        kind: FaultKind::ClockDrift { node: 0, ppm },
    };
    let schedule = Schedule {
        faults: vec![drift(0, 200_000), drift(500, 100_000)],
        ..Schedule::default()
    };
    let t = Test {
        name: "drift",
        seed: 1,
    };
    let mut c = Cluster::new(&t, ClusterOptions::new(3));
    let servers: Vec<usize> = (0..3).collect();
    nemesis::apply(&mut c.sim, &schedule, &servers).unwrap();
    let mut rates = vec![];
    let mut last = local_ms(&mut c, 0);
    for _ in 0..4 {
        c.sleep(500 * MS).unwrap();
        let now = local_ms(&mut c, 0);
        rates.push(now - last);
        last = now;
    }
    // +20%, then +20% and +10% at once, then the +10% alone, then none.
    assert_eq!(rates, vec![600, 650, 550, 500]);
}
