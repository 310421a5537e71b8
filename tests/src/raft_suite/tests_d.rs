//! Part D: log compaction (6.824's 3D tests, in virtual time).

use super::{Cluster, ClusterOptions, RunReport, cmd};
use crate::Test;
use crate::failure::Failure;

/// 6.824's bound on persisted Raft state when snapshots are on.
pub const MAX_LOG_SIZE: u64 = 2000;
/// The tester's service snapshots after this many commands.
pub const SNAPSHOT_INTERVAL: u64 = 10;

fn snapcommon(
    t: &Test,
    disconnect: bool,
    reliable: bool,
    crash: bool,
) -> Result<RunReport, Failure> {
    let iters = 30;
    let servers = 3;
    let options = ClusterOptions {
        unreliable: !reliable,
        snapshot: true,
        ..ClusterOptions::new(servers)
    };
    let mut cfg = Cluster::new(t, options);
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), servers, true)?;
    let mut leader1 = cfg.check_one_leader()?;
    for i in 0..iters {
        let mut victim = (leader1 + 1) % servers;
        let mut sender = leader1;
        if i % 3 == 1 {
            sender = (leader1 + 1) % servers;
            victim = leader1;
        }
        if disconnect {
            cfg.disconnect(victim);
            let r = cfg.rand(1 << 40);
            cfg.one(cmd(r), servers - 1, true)?;
        }
        if crash {
            cfg.crash(victim);
            let r = cfg.rand(1 << 40);
            cfg.one(cmd(r), servers - 1, true)?;
        }
        // Perhaps send enough to get a snapshot.
        let nn = SNAPSHOT_INTERVAL / 2 + cfg.rand(SNAPSHOT_INTERVAL);
        for _ in 0..nn {
            let r = cfg.rand(1 << 40);
            cfg.start(sender, cmd(r))?;
        }
        // Let the appliers catch up with the Start()s.
        let r = cfg.rand(1 << 40);
        if !disconnect && !crash {
            // All followers caught up, so no InstallSnapshot is needed
            // for snapshot_basic.
            cfg.one(cmd(r), servers, true)?;
        } else {
            cfg.one(cmd(r), servers - 1, true)?;
        }
        let size = (0..servers)
            .map(|s| cfg.raft_state_size(s))
            .max()
            .unwrap_or(0);
        if size >= MAX_LOG_SIZE {
            return cfg.check(format!(
                "log size too large: {size} bytes of persisted Raft state"
            ));
        }
        if disconnect {
            // Reconnect a follower, who may be behind and need a snapshot.
            cfg.connect(victim);
            let r = cfg.rand(1 << 40);
            cfg.one(cmd(r), servers, true)?;
            leader1 = cfg.check_one_leader()?;
        }
        if crash {
            cfg.restart(victim);
            cfg.connect(victim);
            let r = cfg.rand(1 << 40);
            cfg.one(cmd(r), servers, true)?;
            leader1 = cfg.check_one_leader()?;
        }
    }
    cfg.end()
}

/// Snapshots with everyone connected.
pub fn snapshot_basic(t: &Test) -> Result<RunReport, Failure> {
    snapcommon(t, false, true, false)
}

/// A disconnected follower catches up by InstallSnapshot.
pub fn snapshot_install(t: &Test) -> Result<RunReport, Failure> {
    snapcommon(t, true, true, false)
}

/// The same on an unreliable network.
pub fn snapshot_install_unreliable(t: &Test) -> Result<RunReport, Failure> {
    snapcommon(t, true, false, false)
}

/// A crashed follower restarts from its snapshot and catches up.
pub fn snapshot_install_crash(t: &Test) -> Result<RunReport, Failure> {
    snapcommon(t, false, true, true)
}

/// The same on an unreliable network.
pub fn snapshot_install_unreliable_crash(t: &Test) -> Result<RunReport, Failure> {
    snapcommon(t, false, false, true)
}

/// Everyone crashes after snapshots; log indices never go backwards.
pub fn snapshot_all_crash(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let options = ClusterOptions {
        snapshot: true,
        ..ClusterOptions::new(servers)
    };
    let mut cfg = Cluster::new(t, options);
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), servers, true)?;
    for _ in 0..5 {
        // Perhaps enough to get a snapshot.
        let nn = SNAPSHOT_INTERVAL / 2 + cfg.rand(SNAPSHOT_INTERVAL);
        for _ in 0..nn {
            let r = cfg.rand(1 << 40);
            cfg.one(cmd(r), servers, true)?;
        }
        let r = cfg.rand(1 << 40);
        let index1 = cfg.one(cmd(r), servers, true)?;
        for i in 0..servers {
            cfg.crash(i);
        }
        for i in 0..servers {
            cfg.restart(i);
            cfg.connect(i);
        }
        let r = cfg.rand(1 << 40);
        let index2 = cfg.one(cmd(r), servers, true)?;
        if index2 < index1 + 1 {
            return cfg.check(format!("index decreased from {index1} to {index2}"));
        }
    }
    cfg.end()
}

/// Peers load their snapshot at start, so later writes keep it.
pub fn snapshot_init(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let options = ClusterOptions {
        snapshot: true,
        ..ClusterOptions::new(servers)
    };
    let mut cfg = Cluster::new(t, options);
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), servers, true)?;
    // Enough ops to make a snapshot.
    for _ in 0..=SNAPSHOT_INTERVAL {
        let r = cfg.rand(1 << 40);
        cfg.one(cmd(r), servers, true)?;
    }
    for round in 0..2 {
        for i in 0..servers {
            cfg.crash(i);
        }
        for i in 0..servers {
            cfg.restart(i);
            cfg.connect(i);
        }
        // A single op, to get something written back to persistent storage
        // (the first round), then one to trigger a potential bug (the second).
        let r = cfg.rand(1 << 40) + round;
        cfg.one(cmd(r), servers, true)?;
    }
    cfg.end()
}
