//! Part A: leader election (6.824's 3A tests, in virtual time).

use super::{Cluster, ClusterOptions, RunReport};
use crate::Test;
use crate::failure::Failure;
use labsim::MS;

/// 6.824's RaftElectionTimeout.
pub const ELECTION_TIMEOUT_NS: u64 = 1000 * MS;

/// A leader is elected, terms agree, and with no failures nothing changes.
pub fn initial_election(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = Cluster::new(t, ClusterOptions::new(3));
    cfg.check_one_leader()?;
    // Sleep a bit to avoid racing with followers learning of the election.
    cfg.sleep(50 * MS)?;
    let term1 = cfg.check_terms()?;
    if term1 < 1 {
        return cfg.check(format!("term is {term1}, but should be at least 1"));
    }
    // Does the leader and term stay the same if there is no network failure?
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    let term2 = cfg.check_terms()?;
    if term1 != term2 {
        return cfg.check(format!(
            "term changed from {term1} to {term2} even though there were no failures"
        ));
    }
    cfg.check_one_leader()?;
    cfg.end()
}

/// A new leader after the old one is cut off; none without a majority.
pub fn re_election(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    let leader1 = cfg.check_one_leader()?;
    // If the leader disconnects, a new one should be elected.
    cfg.disconnect(leader1);
    cfg.check_one_leader()?;
    // If the old leader rejoins, that shouldn't disturb the new leader.
    cfg.connect(leader1);
    let leader2 = cfg.check_one_leader()?;
    // If there's no quorum, no new leader should be elected.
    cfg.disconnect(leader2);
    cfg.disconnect((leader2 + 1) % servers);
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    // Check that the one connected server does not think it is the leader.
    cfg.check_no_leader()?;
    // If a quorum arises, it should elect a leader.
    cfg.connect((leader2 + 1) % servers);
    cfg.check_one_leader()?;
    // Re-join of last node shouldn't prevent leader from existing.
    cfg.connect(leader2);
    cfg.check_one_leader()?;
    cfg.end()
}

/// Seven peers, three cut off at random, ten times over.
pub fn many_elections(t: &Test) -> Result<RunReport, Failure> {
    let servers = 7;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.check_one_leader()?;
    for _ in 1..10 {
        // Disconnect three nodes.
        let i1 = cfg.rand(servers as u64) as usize;
        let i2 = cfg.rand(servers as u64) as usize;
        let i3 = cfg.rand(servers as u64) as usize;
        cfg.disconnect(i1);
        cfg.disconnect(i2);
        cfg.disconnect(i3);
        // Either the current leader should still be alive, or the remaining
        // four should elect a new one.
        cfg.check_one_leader()?;
        cfg.connect(i1);
        cfg.connect(i2);
        cfg.connect(i3);
    }
    cfg.check_one_leader()?;
    cfg.end()
}
