//! Part B: the KV service with snapshots (6.824's 4B tests, in virtual time).

use super::config::{ELECTION_TIMEOUT_NS, KvConfig, KvOptions};
use super::generic::{Generic, generic_test, generic_test_speed};
use crate::Test;
use crate::failure::Failure;
use crate::raft_suite::RunReport;

/// 6.824's maxraftstate in part B.
pub const MAXRAFTSTATE: u64 = 1000;

const fn generic(nclients: usize, nservers: usize) -> Generic {
    Generic {
        nclients,
        nservers,
        unreliable: false,
        crash: false,
        partitions: false,
        maxraftstate: Some(MAXRAFTSTATE),
        randomkeys: false,
    }
}

/// A lagging server catches up by InstallSnapshot.
pub fn snapshot_rpc(t: &Test) -> Result<RunReport, Failure> {
    let options = KvOptions {
        maxraftstate: Some(MAXRAFTSTATE),
        ..KvOptions::new(3)
    };
    let mut cfg = KvConfig::new(t, options);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    cfg.put(ck, "a", "A")?;
    cfg.check(ck, "a", "A")?;

    // A bunch of puts into the majority partition.
    cfg.partition(&[0, 1], &[2]);
    {
        let ck1 = cfg.make_client(&[0, 1]);
        for i in 0..50 {
            cfg.put(ck1, &i.to_string(), &i.to_string())?;
        }
        cfg.sleep(ELECTION_TIMEOUT_NS)?;
        cfg.put(ck1, "b", "B")?;
    }
    // The majority has thrown away most of its log.
    let sz = cfg.log_size();
    if sz > 8 * MAXRAFTSTATE {
        return cfg.check_fail(format!("logs were not trimmed ({sz} > 8*{MAXRAFTSTATE})"));
    }
    // A group that needs the lagging server, so it must catch up.
    cfg.partition(&[0, 2], &[1]);
    {
        let ck1 = cfg.make_client(&[0, 2]);
        cfg.put(ck1, "c", "C")?;
        cfg.put(ck1, "d", "D")?;
        cfg.check(ck1, "a", "A")?;
        cfg.check(ck1, "b", "B")?;
        cfg.check(ck1, "1", "1")?;
        cfg.check(ck1, "49", "49")?;
    }
    // Now everybody.
    cfg.partition(&[0, 1, 2], &[]);
    cfg.put(ck, "e", "E")?;
    cfg.check(ck, "c", "C")?;
    cfg.check(ck, "e", "E")?;
    cfg.check(ck, "1", "1")?;
    cfg.end()
}

/// Snapshots and logs stay small.
pub fn snapshot_size(t: &Test) -> Result<RunReport, Failure> {
    const MAX_SNAPSHOT_STATE: u64 = 500;
    let options = KvOptions {
        maxraftstate: Some(MAXRAFTSTATE),
        ..KvOptions::new(3)
    };
    let mut cfg = KvConfig::new(t, options);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    for _ in 0..200 {
        cfg.put(ck, "x", "0")?;
        cfg.check(ck, "x", "0")?;
        cfg.put(ck, "x", "1")?;
        cfg.check(ck, "x", "1")?;
    }
    let sz = cfg.log_size();
    if sz > 8 * MAXRAFTSTATE {
        return cfg.check_fail(format!("logs were not trimmed ({sz} > 8*{MAXRAFTSTATE})"));
    }
    let ssz = cfg.snapshot_size();
    if ssz > MAX_SNAPSHOT_STATE {
        return cfg.check_fail(format!("snapshot too large ({ssz} > {MAX_SNAPSHOT_STATE})"));
    }
    cfg.end()
}

/// 1000 appends with snapshots on.
pub fn speed_snapshots(t: &Test) -> Result<RunReport, Failure> {
    generic_test_speed(t, Some(MAXRAFTSTATE))
}

/// Restarts recover from snapshots, one client.
pub fn snapshot_recover(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        ..generic(1, 5)
    };
    generic_test(t, g)
}

/// Restarts recover from snapshots, 20 clients.
pub fn snapshot_recover_many_clients(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        crash: true,
        ..generic(20, 5)
    };
    generic_test(t, g)
}

/// Snapshots on an unreliable network.
pub fn snapshot_unreliable(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        unreliable: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Snapshots, restarts, unreliable network.
pub fn snapshot_unreliable_recover(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        unreliable: true,
        crash: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// Snapshots, restarts, partitions, unreliable network.
pub fn snapshot_unreliable_recover_concurrent_partition(t: &Test) -> Result<RunReport, Failure> {
    let g = Generic {
        unreliable: true,
        crash: true,
        partitions: true,
        ..generic(5, 5)
    };
    generic_test(t, g)
}

/// The same with 15 clients on random keys and 7 servers: linearizability alone.
pub fn snapshot_unreliable_recover_concurrent_partition_linearizable(
    t: &Test,
) -> Result<RunReport, Failure> {
    let g = Generic {
        unreliable: true,
        crash: true,
        partitions: true,
        randomkeys: true,
        ..generic(15, 7)
    };
    generic_test(t, g)
}
