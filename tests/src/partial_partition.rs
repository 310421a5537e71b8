//! The partial partition of cockroachdb/cockroach#107060 and etcd-io/raft#78,
//! both shapes at once, on 5 Raft peers under a steady stream of commands:
//! one follower can reach every peer but the leader (it hears no heartbeat,
//! so it campaigns), and another can reach the leader only. The leader
//! still reaches a majority, so nothing justifies an election: a Raft that
//! lets the cut-off follower's campaigns depose it loses its leader every
//! election timeout, for as long as the partition lasts.
//!
//! The remedy is PreVote (the others hear the leader and refuse to help)
//! or CheckQuorum (they refuse the vote itself, and a leader steps down
//! only when it cannot hear a majority). `partial-partition` runs with one
//! or both on (drawn per seed) and must keep its leader;
//! `partial-partition-unremedied` runs with both off and shows the failure.
//!
//! The cluster is idle for the first half of the partition, so the cut-off
//! follower's log is as good as anyone's and only the remedy refuses it;
//! then commands flow, and its log falls behind.

use crate::Test;
use crate::failure::{Failure, FailureKind};
use crate::nemesis::Schedule;
use crate::raft_suite::node::RaftTuning;
use crate::raft_suite::{Cluster, ClusterOptions, RunReport, cmd};
use crate::scenarios::SERVERS;
use labsim::MS;

/// How long the partition lasts, and commands flow.
const PARTITION_MS: u64 = 10_000;

/// `partial-partition`: PreVote, CheckQuorum or both on, drawn per seed.
pub fn remedied(t: &Test, _: &Schedule) -> Result<RunReport, Failure> {
    let (pre_vote, check_quorum) =
        [(true, false), (false, true), (true, true)][t.seed as usize % 3];
    run(t, pre_vote, check_quorum)
}

/// `partial-partition-unremedied`: both off.
pub fn unremedied(t: &Test, _: &Schedule) -> Result<RunReport, Failure> {
    run(t, false, false)
}

fn run(t: &Test, pre_vote: bool, check_quorum: bool) -> Result<RunReport, Failure> {
    let tuning = RaftTuning {
        pre_vote: Some(pre_vote),
        check_quorum: Some(check_quorum),
        ..RaftTuning::default()
    };
    let options = ClusterOptions {
        tuning,
        time_limit_ns: None,
        ..ClusterOptions::new(SERVERS)
    };
    let mut c = Cluster::new(t, options);
    let leader = c.check_one_leader()?;
    c.one(cmd(0), SERVERS, true)?;
    let (term, _) = c.get_state(leader).expect("the leader runs");
    let (cut_off, only_leader) = partition(&mut c, leader);
    c.sleep(PARTITION_MS / 2 * MS)?;
    let mut next = 1;
    let end_ns = c.sim.now_ns() + PARTITION_MS / 2 * MS;
    while c.sim.now_ns() < end_ns {
        c.start(leader, cmd(next))?;
        next += 1;
        let pause_ms = 50 + c.rand(200);
        c.sleep(pause_ms * MS)?;
    }
    let deposed = (0..SERVERS)
        .filter(|&i| i != cut_off)
        .any(|i| c.get_state(i).is_some_and(|(t, _)| t != term));
    if deposed || c.get_state(leader) != Some((term, true)) {
        let what = format!(
            "partial partition: leader {leader} of term {term} still reaches a majority, yet peer \
             {cut_off} (cut from it alone) had it deposed (peer {only_leader} reaches only the \
             leader); PreVote or CheckQuorum keeps it (PreVote {pre_vote}, CheckQuorum \
             {check_quorum})"
        );
        return Err(c.failure(FailureKind::Liveness, what));
    }
    c.end()
}

/// Cuts one follower off from the leader alone, and another from all but
/// the leader. Returns them.
fn partition(c: &mut Cluster, leader: usize) -> (usize, usize) {
    let followers: Vec<usize> = (0..SERVERS).filter(|&i| i != leader).collect();
    let cut_off = followers[c.rand(followers.len() as u64) as usize];
    let rest: Vec<usize> = followers.into_iter().filter(|&i| i != cut_off).collect();
    let only_leader = rest[c.rand(rest.len() as u64) as usize];
    let mut cut = vec![(leader, cut_off)];
    cut.extend(
        (0..SERVERS)
            .filter(|&i| i != leader && i != only_leader)
            .map(|i| (only_leader, i)),
    );
    c.sim.with_net(|net, k| {
        for &(a, b) in &cut {
            net.set_link(k, a, b, false).expect("peers");
            net.set_link(k, b, a, false).expect("peers");
        }
    });
    (cut_off, only_leader)
}
