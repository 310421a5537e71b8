//! Part C: persistence (6.824's 3C tests, in virtual time).

use super::clients::{TaskState, spawn_churn, spawn_one};
use super::tests_a::ELECTION_TIMEOUT_NS;
use super::{Cluster, ClusterOptions, RunReport, cmd, decode_cmd};
use crate::Test;
use crate::failure::Failure;
use labsim::{MS, SEC};
use std::cell::Cell;
use std::rc::Rc;

fn unreliable(peers: usize) -> ClusterOptions {
    ClusterOptions {
        unreliable: true,
        ..ClusterOptions::new(peers)
    }
}

/// Crash and restart everyone, the leader, a follower: nothing is lost.
pub fn persist1(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(11), servers, true)?;
    // Crash and re-start all.
    for i in 0..servers {
        cfg.restart(i);
    }
    for i in 0..servers {
        cfg.disconnect(i);
        cfg.connect(i);
    }
    cfg.one(cmd(12), servers, true)?;
    let leader1 = cfg.check_one_leader()?;
    cfg.disconnect(leader1);
    cfg.restart(leader1);
    cfg.connect(leader1);
    cfg.one(cmd(13), servers, true)?;
    let leader2 = cfg.check_one_leader()?;
    cfg.disconnect(leader2);
    cfg.one(cmd(14), servers - 1, true)?;
    cfg.restart(leader2);
    cfg.connect(leader2);
    // Wait for leader2 to join before killing i3.
    cfg.wait(4, servers, None)?;
    let i3 = (cfg.check_one_leader()? + 1) % servers;
    cfg.disconnect(i3);
    cfg.one(cmd(15), servers - 1, true)?;
    cfg.restart(i3);
    cfg.connect(i3);
    cfg.one(cmd(16), servers, true)?;
    cfg.end()
}

/// Five rounds of partitions with crashes and restarts among five peers.
pub fn persist2(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    let mut index = 1;
    for _ in 0..5 {
        cfg.one(cmd(10 + index), servers, true)?;
        index += 1;
        let leader1 = cfg.check_one_leader()?;
        cfg.disconnect((leader1 + 1) % servers);
        cfg.disconnect((leader1 + 2) % servers);
        cfg.one(cmd(10 + index), servers - 2, true)?;
        index += 1;
        cfg.disconnect(leader1 % servers);
        cfg.disconnect((leader1 + 3) % servers);
        cfg.disconnect((leader1 + 4) % servers);
        cfg.restart((leader1 + 1) % servers);
        cfg.restart((leader1 + 2) % servers);
        cfg.connect((leader1 + 1) % servers);
        cfg.connect((leader1 + 2) % servers);
        cfg.sleep(ELECTION_TIMEOUT_NS)?;
        cfg.restart((leader1 + 3) % servers);
        cfg.connect((leader1 + 3) % servers);
        cfg.one(cmd(10 + index), servers - 2, true)?;
        index += 1;
        cfg.connect((leader1 + 4) % servers);
        cfg.connect(leader1 % servers);
    }
    cfg.one(cmd(1000), servers, true)?;
    cfg.end()
}

/// A partitioned leader and a follower crash and restart.
pub fn persist3(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(101), 3, true)?;
    let leader = cfg.check_one_leader()?;
    cfg.disconnect((leader + 2) % servers);
    cfg.one(cmd(102), 2, true)?;
    cfg.crash(leader % servers);
    cfg.crash((leader + 1) % servers);
    cfg.connect((leader + 2) % servers);
    cfg.restart(leader % servers);
    cfg.connect(leader % servers);
    cfg.one(cmd(103), 2, true)?;
    cfg.restart((leader + 1) % servers);
    cfg.connect((leader + 1) % servers);
    cfg.one(cmd(104), servers, true)?;
    cfg.end()
}

/// Figure 8 of the Raft paper: leaders crash right after appending; no
/// entry of an older term may be committed by counting replicas.
pub fn figure8(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), 1, true)?;
    let mut nup = servers;
    for _ in 0..1000 {
        let mut leader = None;
        for i in 0..servers {
            let r = cfg.rand(1 << 40);
            if let Some((_, _, true)) = cfg.start(i, cmd(r))? {
                leader = Some(i);
            }
        }
        let ms = if cfg.rand(1000) < 100 {
            cfg.rand(ELECTION_TIMEOUT_NS / MS / 2)
        } else {
            cfg.rand(13)
        };
        cfg.sleep(ms * MS)?;
        if let Some(l) = leader {
            cfg.crash(l);
            nup -= 1;
        }
        if nup < 3 {
            let s = cfg.rand(servers as u64) as usize;
            if !cfg.alive(s) {
                cfg.restart(s);
                cfg.connect(s);
                nup += 1;
            }
        }
    }
    for i in 0..servers {
        if !cfg.alive(i) {
            cfg.restart(i);
            cfg.connect(i);
        }
    }
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), servers, true)?;
    cfg.end()
}

/// Agreement on an unreliable network, with concurrent clients.
pub fn unreliable_agree(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, unreliable(servers));
    let mut tasks = vec![];
    for iters in 1..50u64 {
        for j in 0..4 {
            tasks.push(spawn_one(&mut cfg, cmd(100 * iters + j), 1));
        }
        cfg.one(cmd(iters), 1, true)?;
    }
    cfg.set_unreliable(false);
    let all_ended = |_: &labrpc::Sim| tasks.iter().all(|t| *t.borrow() != TaskState::Running);
    if !cfg.run_until(all_ended, 20 * SEC)? {
        return cfg.check("concurrent one() calls did not end");
    }
    for t in &tasks {
        if let TaskState::Failed(why) = &*t.borrow() {
            return cfg.check(why.clone());
        }
    }
    cfg.one(cmd(100), servers, true)?;
    cfg.end()
}

/// Figure 8 on an unreliable network, with long reordering from iteration 200.
pub fn figure8_unreliable(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, unreliable(servers));
    let r = cfg.rand(10000);
    cfg.one(cmd(r), 1, true)?;
    let mut nup = servers;
    for iters in 0..1000 {
        if iters == 200 {
            cfg.set_long_reordering(true);
        }
        let mut leader = None;
        for i in 0..servers {
            let r = cfg.rand(10000);
            if let Some((_, _, true)) = cfg.start(i, cmd(r))?
                && cfg.connected(i)
            {
                leader = Some(i);
            }
        }
        let ms = if cfg.rand(1000) < 100 {
            cfg.rand(ELECTION_TIMEOUT_NS / MS / 2)
        } else {
            cfg.rand(13)
        };
        cfg.sleep(ms * MS)?;
        if let Some(l) = leader
            && cfg.rand(1000) < 500
        {
            cfg.disconnect(l);
            nup -= 1;
        }
        if nup < 3 {
            let s = cfg.rand(servers as u64) as usize;
            if !cfg.connected(s) {
                cfg.connect(s);
                nup += 1;
            }
        }
    }
    for i in 0..servers {
        if !cfg.connected(i) {
            cfg.connect(i);
        }
    }
    let r = cfg.rand(10000);
    cfg.one(cmd(r), servers, true)?;
    cfg.end()
}

fn churn(t: &Test, unreliable_net: bool) -> Result<RunReport, Failure> {
    let servers = 5;
    let options = if unreliable_net {
        unreliable(servers)
    } else {
        ClusterOptions::new(servers)
    };
    let mut cfg = Cluster::new(t, options);
    let stop = Rc::new(Cell::new(false));
    let clients: Vec<_> = (0..3)
        .map(|me| spawn_churn(&mut cfg, me, stop.clone()))
        .collect();
    for _ in 0..20 {
        if cfg.rand(1000) < 200 {
            let i = cfg.rand(servers as u64) as usize;
            cfg.disconnect(i);
        }
        if cfg.rand(1000) < 500 {
            let i = cfg.rand(servers as u64) as usize;
            if !cfg.alive(i) {
                cfg.restart(i);
            }
            cfg.connect(i);
        }
        if cfg.rand(1000) < 200 {
            let i = cfg.rand(servers as u64) as usize;
            if cfg.alive(i) {
                cfg.crash(i);
            }
        }
        // Often enough that peers keep up, not so often that all settles.
        cfg.sleep(ELECTION_TIMEOUT_NS * 7 / 10)?;
    }
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.set_unreliable(false);
    for i in 0..servers {
        if !cfg.alive(i) {
            cfg.restart(i);
        }
        cfg.connect(i);
    }
    stop.set(true);
    let ended = |_: &labrpc::Sim| clients.iter().all(|c| c.borrow().done);
    if !cfg.run_until(ended, 5 * SEC)? {
        return cfg.check("client failed");
    }
    let values: Vec<u64> = clients
        .iter()
        .flat_map(|c| c.borrow().values.clone())
        .collect();
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    let r = cfg.rand(1 << 40);
    let last_index = cfg.one(cmd(r), servers, true)?;
    let mut really = vec![];
    for index in 1..=last_index {
        match cfg
            .wait(index, servers, None)?
            .as_deref()
            .and_then(decode_cmd)
        {
            Some(v) => really.push(v),
            None => return cfg.check(format!("value at index {index} is not an int")),
        }
    }
    for v1 in values {
        if !really.contains(&v1) {
            return cfg.check(format!(
                "didn't find a value: {v1} was committed but is not in the log"
            ));
        }
    }
    cfg.end()
}

/// Churn: crashes, restarts and disconnections under three clients.
pub fn reliable_churn(t: &Test) -> Result<RunReport, Failure> {
    churn(t, false)
}

/// Churn on an unreliable network.
pub fn unreliable_churn(t: &Test) -> Result<RunReport, Failure> {
    churn(t, true)
}
