//! Faults that overlap compose: each holds from its start to its own end.
//! Two drifts of one node add up, and each one's end takes away only its
//! own share; two partitions cut both their links, and each one's end
//! restores only the links no other still cuts.

use labsim::MS;
use tests::Test;
use tests::nemesis::{self, Fault, FaultKind, Schedule};
use tests::raft_suite::node::RaftNode;
use tests::raft_suite::{Cluster, ClusterOptions};

/// A cluster of `servers` Raft peers with `faults` scheduled from now.
fn under(name: &'static str, servers: usize, faults: Vec<Fault>) -> Cluster {
    let schedule = Schedule {
        faults,
        ..Schedule::default()
    };
    let mut c = Cluster::new(&Test { name, seed: 1 }, ClusterOptions::new(servers));
    let ids: Vec<usize> = (0..servers).collect();
    nemesis::apply(&mut c.sim, &schedule, &ids).unwrap();
    c
}

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
    let mut c = under("drift", 3, vec![drift(0, 200_000), drift(500, 100_000)]);
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

#[test]
fn overlapping_partitions_cut_together_and_end_one_by_one() {
    let isolate = |at_ms, duration_ms, node| Fault {
        at_ms,
        duration_ms,
        kind: FaultKind::Isolate { node },
    };
    // Server 0 cut off for 1 s; server 1 for 300 ms within it.
    let mut c = under(
        "partitions",
        5,
        vec![isolate(0, 1_000, 0), isolate(300, 300, 1)],
    );
    let mut seen = vec![];
    for _ in 0..4 {
        c.sleep(150 * MS).unwrap();
        let mut sends = |from, to| c.sim.with_net(|net, _| net.can_send(from, to));
        seen.push((sends(0, 2), sends(1, 2), sends(2, 3)));
        c.sleep(150 * MS).unwrap();
    }
    // At 150, 450, 750 and 1050 ms: 0 alone cut off, then 0 and 1, then 0
    // alone again, then no one. (Once, the second partition replaced the
    // first and held until the first's end.)
    let expected = vec![
        (false, true, true),
        (false, false, true),
        (false, true, true),
        (true, true, true),
    ];
    assert_eq!(seen, expected);
}
