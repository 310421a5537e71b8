//! Part B: log replication (6.824's 3B tests, in virtual time).

use super::tests_a::ELECTION_TIMEOUT_NS;
use super::{Cluster, ClusterOptions, RunReport, cmd, decode_cmd};
use crate::Test;
use crate::failure::Failure;
use labsim::{MS, SEC};
use rand::RngExt;

/// Three agreements, at the expected indices.
pub fn basic_agree(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    for index in 1..=3u64 {
        let (nd, _) = cfg.n_committed(index);
        if nd > 0 {
            return cfg.check("some have committed before Start()");
        }
        let xindex = cfg.one(cmd(index * 100), servers, false)?;
        if xindex != index {
            return cfg.check(format!("got index {xindex} but expected {index}"));
        }
    }
    cfg.end()
}

/// Each command is sent to each peer just once.
pub fn rpc_bytes(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(99), servers, false)?;
    let bytes0 = cfg.bytes_total();
    let mut sent = 0u64;
    for index in 2..12u64 {
        let command: Vec<u8> = (0..5000)
            .map(|_| cfg.rng().random_range(b'a'..=b'z'))
            .collect();
        sent += command.len() as u64;
        let xindex = cfg.one(command, servers, false)?;
        if xindex != index {
            return cfg.check(format!("got index {xindex} but expected {index}"));
        }
    }
    let got = cfg.bytes_total() - bytes0;
    let expected = servers as u64 * sent;
    if got > expected + 50_000 {
        return cfg.check(format!(
            "too many RPC bytes; got {got}, expected {expected}"
        ));
    }
    cfg.end()
}

/// Agreement despite one, then no commit without a majority of, followers.
pub fn follower_failure(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(101), servers, false)?;
    // Disconnect one follower from the network.
    let leader1 = cfg.check_one_leader()?;
    cfg.disconnect((leader1 + 1) % servers);
    // The leader and remaining follower should be able to agree despite the
    // disconnected follower.
    cfg.one(cmd(102), servers - 1, false)?;
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.one(cmd(103), servers - 1, false)?;
    // Disconnect the remaining follower.
    let leader2 = cfg.check_one_leader()?;
    cfg.disconnect((leader2 + 1) % servers);
    cfg.disconnect((leader2 + 2) % servers);
    // Submit a command.
    let Some((index, _, true)) = cfg.start(leader2, cmd(104))? else {
        return cfg.check("leader rejected Start()");
    };
    if index != 4 {
        return cfg.check(format!("expected index 4, got {index}"));
    }
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    // Check that command 104 did not commit.
    let (n, _) = cfg.n_committed(index);
    if n > 0 {
        return cfg.check(format!("{n} committed but no majority"));
    }
    cfg.end()
}

/// Agreement after the leader fails; none once a second leader fails.
pub fn leader_failure(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(101), servers, false)?;
    // Disconnect the first leader.
    let leader1 = cfg.check_one_leader()?;
    cfg.disconnect(leader1);
    // The remaining followers should elect a new leader.
    cfg.one(cmd(102), servers - 1, false)?;
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.one(cmd(103), servers - 1, false)?;
    // Disconnect the new leader.
    let leader2 = cfg.check_one_leader()?;
    cfg.disconnect(leader2);
    // Submit a command to each server.
    for i in 0..servers {
        cfg.start(i, cmd(104))?;
    }
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    // Check that command 104 did not commit.
    let (n, _) = cfg.n_committed(4);
    if n > 0 {
        return cfg.check(format!("{n} committed but no majority"));
    }
    cfg.end()
}

/// A follower that rejoins catches up.
pub fn fail_agree(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(101), servers, false)?;
    // Disconnect one follower from the network.
    let leader = cfg.check_one_leader()?;
    cfg.disconnect((leader + 1) % servers);
    // The leader and remaining follower should be able to agree despite the
    // disconnected follower.
    cfg.one(cmd(102), servers - 1, false)?;
    cfg.one(cmd(103), servers - 1, false)?;
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.one(cmd(104), servers - 1, false)?;
    cfg.one(cmd(105), servers - 1, false)?;
    // Re-connect.
    cfg.connect((leader + 1) % servers);
    // The full set of servers should preserve previous agreements, and be
    // able to agree on new commands.
    cfg.one(cmd(106), servers, true)?;
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    cfg.one(cmd(107), servers, true)?;
    cfg.end()
}

/// No agreement while three of five are cut off; the minority's entry is
/// replaced after healing.
pub fn fail_no_agree(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(10), servers, false)?;
    // Three of five followers disconnect.
    let leader = cfg.check_one_leader()?;
    for d in 1..=3 {
        cfg.disconnect((leader + d) % servers);
    }
    let Some((index, _, true)) = cfg.start(leader, cmd(20))? else {
        return cfg.check("leader rejected Start()");
    };
    if index != 2 {
        return cfg.check(format!("expected index 2, got {index}"));
    }
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    let (n, _) = cfg.n_committed(index);
    if n > 0 {
        return cfg.check(format!("{n} committed but no majority"));
    }
    // Repair.
    for d in 1..=3 {
        cfg.connect((leader + d) % servers);
    }
    // The disconnected majority may have chosen a leader from among their
    // own ranks, forgetting index 2.
    let leader2 = cfg.check_one_leader()?;
    let Some((index2, _, true)) = cfg.start(leader2, cmd(30))? else {
        return cfg.check("leader2 rejected Start()");
    };
    if !(2..=3).contains(&index2) {
        return cfg.check(format!("unexpected index {index2}"));
    }
    cfg.one(cmd(1000), servers, true)?;
    cfg.end()
}

/// Five commands started at once on the leader all commit.
pub fn concurrent_starts(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    'tries: for attempt in 0..5 {
        if attempt > 0 {
            // Give the solution some time to settle.
            cfg.sleep(3 * SEC)?;
        }
        let leader = cfg.check_one_leader()?;
        let Some((_, term, true)) = cfg.start(leader, cmd(1))? else {
            continue;
        };
        let mut indices = vec![];
        for i in 0..5u64 {
            if let Some((index, term1, true)) = cfg.start(leader, cmd(100 + i))?
                && term1 == term
            {
                indices.push(index);
            }
        }
        for j in 0..servers {
            if cfg.get_state(j).map(|s| s.0) != Some(term) {
                // Term changed: can't expect low RPC counts.
                continue 'tries;
            }
        }
        let mut commands = vec![];
        for index in indices {
            match cfg.wait(index, servers, Some(term))? {
                // The peers have moved on to later terms, so we cannot
                // expect all Start()s to have succeeded.
                None => continue 'tries,
                Some(c) => match decode_cmd(&c) {
                    Some(v) => commands.push(v),
                    None => return cfg.check(format!("value at index {index} is not an int")),
                },
            }
        }
        for i in 0..5u64 {
            if !commands.contains(&(100 + i)) {
                return cfg.check(format!("cmd {} missing in {commands:?}", 100 + i));
            }
        }
        return cfg.end();
    }
    cfg.check("term changed too often")
}

/// A partitioned leader with uncommitted entries rejoins.
pub fn rejoin(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(101), servers, true)?;
    // Leader network failure.
    let leader1 = cfg.check_one_leader()?;
    cfg.disconnect(leader1);
    // Make the old leader try to agree on some entries.
    for c in [102, 103, 104] {
        cfg.start(leader1, cmd(c))?;
    }
    // The new leader commits, also for index=2.
    cfg.one(cmd(103), 2, true)?;
    // New leader network failure.
    let leader2 = cfg.check_one_leader()?;
    cfg.disconnect(leader2);
    // Old leader connected again.
    cfg.connect(leader1);
    cfg.one(cmd(104), 2, true)?;
    // All together now.
    cfg.connect(leader2);
    cfg.one(cmd(105), servers, true)?;
    cfg.end()
}

/// A leader backs up quickly over incorrect follower logs (50-entry batches
/// across partitions of five peers).
pub fn backup(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), servers, true)?;
    // Put the leader and one follower in a partition.
    let leader1 = cfg.check_one_leader()?;
    for d in 2..=4 {
        cfg.disconnect((leader1 + d) % servers);
    }
    // Submit lots of commands that won't commit.
    for _ in 0..50 {
        let r = cfg.rand(1 << 40);
        cfg.start(leader1, cmd(r))?;
    }
    cfg.sleep(ELECTION_TIMEOUT_NS / 2)?;
    cfg.disconnect(leader1 % servers);
    cfg.disconnect((leader1 + 1) % servers);
    // Allow the other partition to recover.
    for d in 2..=4 {
        cfg.connect((leader1 + d) % servers);
    }
    // Lots of successful commands to the new group.
    for _ in 0..50 {
        let r = cfg.rand(1 << 40);
        cfg.one(cmd(r), 3, true)?;
    }
    // Now another partitioned leader and one follower.
    let leader2 = cfg.check_one_leader()?;
    let mut other = (leader1 + 2) % servers;
    if leader2 == other {
        other = (leader2 + 1) % servers;
    }
    cfg.disconnect(other);
    // Lots more commands that won't commit.
    for _ in 0..50 {
        let r = cfg.rand(1 << 40);
        cfg.start(leader2, cmd(r))?;
    }
    cfg.sleep(ELECTION_TIMEOUT_NS / 2)?;
    // Bring the original leader back to life.
    for i in 0..servers {
        cfg.disconnect(i);
    }
    cfg.connect(leader1 % servers);
    cfg.connect((leader1 + 1) % servers);
    cfg.connect(other);
    // Lots of successful commands to the new group.
    for _ in 0..50 {
        let r = cfg.rand(1 << 40);
        cfg.one(cmd(r), 3, true)?;
    }
    // Now everyone.
    for i in 0..servers {
        cfg.connect(i);
    }
    let r = cfg.rand(1 << 40);
    cfg.one(cmd(r), servers, true)?;
    cfg.end()
}

/// RPC counts: electing a leader, ten agreements, and one idle second.
pub fn count(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    let rpcs = |cfg: &Cluster| (0..servers).map(|j| cfg.rpc_count(j)).sum::<u64>();
    cfg.check_one_leader()?;
    let total1 = rpcs(&cfg);
    if !(1..=30).contains(&total1) {
        return cfg.check(format!(
            "too many or few RPCs ({total1}) to elect initial leader"
        ));
    }
    let mut total2 = 0;
    let mut success = false;
    'tries: for attempt in 0..5 {
        if attempt > 0 {
            // Give the solution some time to settle.
            cfg.sleep(3 * SEC)?;
        }
        let leader = cfg.check_one_leader()?;
        let total1 = rpcs(&cfg);
        let iters = 10u64;
        let Some((starti, term, true)) = cfg.start(leader, cmd(1))? else {
            continue;
        };
        let mut commands = vec![];
        for i in 1..iters + 2 {
            let x = cfg.rand(1 << 31);
            commands.push(x);
            match cfg.start(leader, cmd(x))? {
                Some((index1, term1, true)) if term1 == term => {
                    if starti + i != index1 {
                        return cfg.check("Start() failed");
                    }
                }
                _ => continue 'tries,
            }
        }
        for i in 1..iters + 1 {
            match cfg.wait(starti + i, servers, Some(term))? {
                None => continue 'tries,
                Some(c) if decode_cmd(&c) == Some(commands[i as usize - 1]) => {}
                Some(c) => {
                    return cfg.check(format!(
                        "wrong value {:?} committed for index {}; expected {commands:?}",
                        decode_cmd(&c),
                        starti + i
                    ));
                }
            }
        }
        for j in 0..servers {
            if cfg.get_state(j).map(|s| s.0) != Some(term) {
                // Term changed: can't expect low RPC counts.
                continue 'tries;
            }
        }
        total2 = rpcs(&cfg);
        if total2 - total1 > (iters + 1 + 3) * 3 {
            return cfg.check(format!(
                "too many RPCs ({}) for {iters} entries",
                total2 - total1
            ));
        }
        success = true;
        break;
    }
    if !success {
        return cfg.check("term changed too often");
    }
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    let total3 = rpcs(&cfg);
    if total3 - total2 > 3 * 20 {
        return cfg.check(format!(
            "too many RPCs ({}) for 1 second of idleness",
            total3 - total2
        ));
    }
    let _ = MS;
    cfg.end()
}
