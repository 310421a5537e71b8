//! Faults that overlap compose: each holds from its start to its own end.
//! Two drifts of one node add up, and each one's end takes away only its
//! own share; two partitions cut both their links, and each one's end
//! restores only the links no other still cuts; a node crashed or paused
//! stays so until the last fault holding it ends; the slowest disk and the
//! highest rate in force hold.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

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

/// A fault on one node from `at_ms` for `duration_ms`.
fn fault(at_ms: u64, duration_ms: u64, kind: FaultKind) -> Fault {
    Fault {
        at_ms,
        duration_ms,
        kind,
    }
}

/// At 150, 450, 750 and 1050 ms: what `look` sees.
fn quarters<T>(c: &mut Cluster, look: impl Fn(&mut Cluster) -> T) -> Vec<T> {
    let mut seen = vec![];
    for _ in 0..4 {
        c.sleep(150 * MS).unwrap();
        seen.push(look(c));
        c.sleep(150 * MS).unwrap();
    }
    seen
}

#[test]
fn overlapping_crashes_and_pauses_of_one_node_hold_until_the_last_ends() {
    let crash = |node| FaultKind::Crash {
        node,
        lose_unsynced: true,
        torn: false,
    };
    let pause = |node| FaultKind::Pause { node };
    // Each node has an outer fault for 1 s and an inner one from 300 to 600 ms.
    let mut c = under(
        "crashes",
        5,
        vec![
            fault(0, 1_000, crash(0)),
            fault(300, 300, crash(0)),
            fault(0, 1_000, pause(1)),
            fault(300, 300, crash(1)),
            fault(0, 1_000, pause(2)),
            fault(300, 300, pause(2)),
            fault(0, 1_000, crash(3)),
            fault(300, 300, pause(3)),
        ],
    );
    let seen = quarters(&mut c, |c| {
        (0..4)
            .map(|n| format!("{:?}", c.sim.status(n).unwrap()))
            .collect::<Vec<_>>()
            .join(" ")
    });
    // (Once, the inner fault's end brought node 0 back while the outer crash
    // held, ended node 2's pause early, and a crash of a paused node or a
    // pause of a crashed one did nothing.)
    let expected = [
        "Crashed Paused Paused Crashed",
        "Crashed Crashed Paused Crashed",
        "Crashed Paused Paused Crashed",
        "Up Up Up Up",
    ];
    assert_eq!(seen, expected);
}

#[test]
fn overlapping_slow_disks_and_rates_hold_their_highest_and_end_one_by_one() {
    let slow = |node, latency_ms| FaultKind::SlowDisk { node, latency_ms };
    let duplicate = |per_million| FaultKind::Duplicate { per_million };
    let late = |per_million| FaultKind::LateRequests { per_million };
    let mut c = under(
        "disks",
        3,
        vec![
            fault(0, 1_000, slow(0, 40)),
            fault(300, 300, slow(0, 10)),
            fault(0, 1_000, slow(1, 10)),
            fault(300, 300, slow(1, 40)),
            fault(0, 1_000, duplicate(1_000)),
            fault(300, 300, duplicate(5_000)),
            fault(0, 1_000, late(5_000)),
            fault(300, 300, late(1_000)),
        ],
    );
    let seen = quarters(&mut c, |c| {
        let latency_ms = |n| c.sim.sync_latency_ns(n).unwrap() / MS;
        let (l0, l1) = (latency_ms(0), latency_ms(1));
        let config = c.sim.net().config();
        (
            l0,
            l1,
            config.duplicate_per_million,
            config.late_request_per_million,
        )
    });
    // (Once, an inner fault's rate or latency replaced the outer one's, and
    // its end set the base back while the outer fault still held.)
    let expected = vec![
        (40, 10, 1_000, 5_000),
        (40, 40, 5_000, 5_000),
        (40, 10, 1_000, 5_000),
        (0, 0, 0, 0),
    ];
    assert_eq!(seen, expected);
}
