//! Part A: the KV service without snapshots (6.824's 4A tests, in virtual time).

use super::config::{ELECTION_TIMEOUT_NS, KvConfig, KvOptions};
use super::generic::{Generic, check_concurrent_appends, generic_test, generic_test_speed};
use crate::Test;
use crate::failure::{Failure, FailureKind};
use crate::raft_suite::RunReport;
use labsim::{MS, SEC};
use peer::Op;

const fn generic(nclients: usize, nservers: usize) -> Generic {
    Generic {
        nclients,
        nservers,
        unreliable: false,
        crash: false,
        partitions: false,
        maxraftstate: None,
        randomkeys: false,
    }
}

/// One client.
pub fn basic(t: &Test) -> Result<RunReport, Failure> {
    generic_test(t, generic(1, 5))
}

/// 1000 appends at 3 or more per heartbeat interval.
pub fn speed(t: &Test) -> Result<RunReport, Failure> {
    generic_test_speed(t, None)
}

/// Many clients.
pub fn concurrent(t: &Test) -> Result<RunReport, Failure> {
    generic_test(t, generic(5, 5))
}

/// Unreliable network.
pub fn unreliable(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        unreliable: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Concurrent appends to one key on an unreliable network.
pub fn unreliable_one_key(t: &Test) -> Result<RunReport, Failure> {
    const NCLIENT: usize = 5;
    const UPTO: u64 = 10;
    let options = KvOptions {
        unreliable: true,
        ..KvOptions::new(3)
    };
    let mut cfg = KvConfig::new(t, options);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    cfg.put(ck, "k", "")?;
    let cks: Vec<_> = (0..NCLIENT).map(|_| cfg.make_client(&all)).collect();
    let mut sent = [0u64; NCLIENT];
    for (me, &c) in cks.iter().enumerate() {
        cfg.start_op(c, append(me, 0));
        sent[me] = 1;
    }
    // Each client appends its next value when the previous one returns.
    loop {
        let (cks2, sent2) = (cks.clone(), sent);
        cfg.run_until(
            move |s| {
                cks2.iter().zip(sent2).any(|(c, n)| {
                    n <= UPTO
                        && s.node::<super::clerk::ClerkNode>(c.0)
                            .is_some_and(|n| !n.busy())
                })
            },
            super::config::TEST_LIMIT_NS,
        )?;
        for (me, &c) in cks.iter().enumerate() {
            if sent[me] <= UPTO && cfg.idle(c) {
                if sent[me] < UPTO {
                    cfg.start_op(c, append(me, sent[me]));
                }
                sent[me] += 1;
            }
        }
        if sent.iter().all(|&n| n > UPTO) {
            break;
        }
    }
    let vx = cfg.get(ck, "k")?;
    if let Err(e) = check_concurrent_appends(&vx, &[UPTO; NCLIENT]) {
        return cfg.check_fail(e);
    }
    // Blind appends to one key make the generic search exponential (only the
    // final Get constrains their order), so check this history exactly and
    // directly: with every append in `vx` once, the history is linearizable
    // iff `vx` orders every two appends as real time does.
    cfg.end_checked_by(|cfg| {
        check_append_order(&cfg.history(), &vx).map_err(|e| {
            cfg.failure(
                FailureKind::Linearizability,
                format!("history is not linearizable: {e}"),
            )
        })
    })
}

/// The appends of `history` appear in `v` in an order that respects real
/// time: if one returned before another was called, it comes first.
fn check_append_order(history: &super::clerk::KvHistory, v: &str) -> Result<(), String> {
    use linearizability::{KvInput, KvOutput};
    let mut appends = Vec::new();
    for op in history {
        if let (KvInput::Append { value, .. }, KvOutput::Done) = (&op.input, &op.output) {
            let at = v
                .find(value.as_str())
                .ok_or_else(|| format!("append({value:?}) returned but is missing"))?;
            appends.push((at, op.call_ns, op.return_ns, value));
        }
    }
    for a in &appends {
        for b in &appends {
            if a.2 < b.1 && a.0 > b.0 {
                return Err(format!(
                    "append({:?}) returned before append({:?}) was called, but comes after it",
                    a.3, b.3
                ));
            }
        }
    }
    Ok(())
}

fn append(me: usize, n: u64) -> Op {
    Op::Append {
        key: "k".into(),
        value: format!("x {me} {n} y"),
    }
}

/// Progress in a majority, none in a minority, completion after healing.
pub fn one_partition(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = KvConfig::new(t, KvOptions::new(5));
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    cfg.put(ck, "1", "13")?;

    // Progress in majority.
    let (p1, p2) = cfg.make_partition()?;
    cfg.partition(&p1, &p2);
    let ckp1 = cfg.make_client(&p1);
    let ckp2a = cfg.make_client(&p2);
    let ckp2b = cfg.make_client(&p2);
    cfg.put(ckp1, "1", "14")?;
    cfg.check(ckp1, "1", "14")?;

    // No progress in minority.
    cfg.start_op(
        ckp2a,
        Op::Put {
            key: "1".into(),
            value: "15".into(),
        },
    );
    cfg.start_op(ckp2b, Op::Get { key: "1".into() });
    cfg.sleep(SEC)?;
    if cfg.idle(ckp2a) {
        return cfg.check_fail("Put in minority completed");
    }
    if cfg.idle(ckp2b) {
        return cfg.check_fail("Get in minority completed");
    }
    cfg.check(ckp1, "1", "14")?;
    cfg.put(ckp1, "1", "16")?;
    cfg.check(ckp1, "1", "16")?;

    // Completion after heal.
    cfg.connect_all();
    cfg.connect_client(ckp2a, &all);
    cfg.connect_client(ckp2b, &all);
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    let done = cfg.run_until(
        move |s| {
            s.node::<super::clerk::ClerkNode>(ckp2a.0)
                .is_some_and(|n| n.idle())
        },
        30 * 100 * MS,
    )?;
    if !done {
        return Err(cfg.failure(FailureKind::Liveness, "Put did not complete"));
    }
    let done = cfg.run_until(
        move |s| {
            s.node::<super::clerk::ClerkNode>(ckp2b.0)
                .is_some_and(|n| n.idle())
        },
        30 * 100 * MS,
    )?;
    if !done {
        return Err(cfg.failure(FailureKind::Liveness, "Get did not complete"));
    }
    cfg.check(ck, "1", "15")?;
    cfg.end()
}

/// Random partitions, one client.
pub fn many_partitions_one_client(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        partitions: true,
        ..generic(1, 5)
    };
    generic_test(t, g)
}

/// Random partitions, many clients.
pub fn many_partitions_many_clients(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        partitions: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Restarts, one client.
pub fn persist_one_client(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        ..generic(1, 5)
    };
    generic_test(t, g)
}

/// Restarts, many clients.
pub fn persist_concurrent(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Restarts, many clients, unreliable network.
pub fn persist_concurrent_unreliable(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        unreliable: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Restarts and partitions, many clients.
pub fn persist_partition(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        partitions: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Restarts and partitions, many clients, unreliable network.
pub fn persist_partition_unreliable(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        partitions: true,
        unreliable: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Restarts and partitions, 15 clients on random keys, 7 servers,
/// unreliable network: checked by linearizability alone.
pub fn persist_partition_unreliable_linearizable(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        partitions: true,
        unreliable: true,
        randomkeys: true,
        ..generic(15, 7)
    };
    generic_test(t, g)
}
