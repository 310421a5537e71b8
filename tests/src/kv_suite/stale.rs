//! The checker catches a server that serves Gets from its local state
//! without confirming it is still leader (the reference's stale read mode, a
//! test-only bug): a deposed leader cut off in a minority answers a Get
//! with a value that a newer leader has already overwritten.

use super::config::{ELECTION_TIMEOUT_NS, KvConfig, KvOptions};
use crate::Test;
use crate::failure::Failure;
use crate::peers::PeerChoice;
use crate::raft_suite::RunReport;

/// The scenario: write `k=1`, cut the leader off with a clerk of its own,
/// write `k=2` through the majority's new leader, then read `k` through the
/// old leader. On a correct server the read waits and the history is
/// linearizable; on the stale one it returns `1` at once and is not.
pub fn stale_read_scenario(t: &Test, peer: PeerChoice) -> Result<RunReport, Failure> {
    let options = KvOptions {
        peer,
        ..KvOptions::new(5)
    };
    let mut cfg = KvConfig::new(t, options);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    cfg.put(ck, "k", "1")?;
    let (p1, p2) = cfg.make_partition()?;
    // The old leader alone in the minority, with a clerk that reaches only it.
    let old = *p1.last().expect("the leader is last in p1");
    let majority: Vec<usize> = all.iter().copied().filter(|&i| i != old).collect();
    let minority = vec![old];
    let _ = p2;
    cfg.partition(&majority, &minority);
    let ck_old = cfg.make_client(&minority);
    let ck_new = cfg.make_client(&majority);
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.put(ck_new, "k", "2")?;
    cfg.sleep(10 * labsim::MS)?;
    cfg.start_op(ck_old, peer::Op::Get { key: "k".into() });
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.connect_all();
    cfg.connect_client(ck_old, &all);
    cfg.wait_op(ck_old)?;
    cfg.end()
}

/// Gets through the log: the history is linearizable.
pub fn log_reads(seed: u64) -> Result<RunReport, Failure> {
    let t = Test {
        name: "kv::log_reads",
        seed,
    };
    stale_read_scenario(&t, crate::peers::current())
}

/// Gets from a deposed leader's local state: the checker must flag it.
#[cfg(feature = "reference")]
pub fn stale_reads(seed: u64) -> Result<RunReport, Failure> {
    let t = Test {
        name: "kv::stale_reads",
        seed,
    };
    stale_read_scenario(&t, PeerChoice::stale_reads_reference())
}
