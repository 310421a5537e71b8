//! Figure 16 of the Raft paper (Ongaro and Ousterhout, 2014, section 9.3):
//! how long a cluster is without a leader after its leader crashes, for a
//! range of election timeouts. One trial is one seed:
//!
//! 1. A cluster of `peers` starts with one node ahead of the others, so the
//!    first election has one candidate whatever the timeout range; every
//!    message takes a third of the broadcast time each way (give or take a
//!    tenth), and a disk write the last third (the paper's broadcast time: a
//!    round trip plus a write).
//! 2. Two followers fall behind by [`LAG_ENTRIES`] entries (the paper's
//!    "different log lengths": their logs are too short to win) yet hear
//!    every heartbeat, as the others do.
//! 3. The moment the leader sends a heartbeat round (the synchronized
//!    broadcast of the paper's script), a point of its heartbeat interval
//!    (half the minimum election timeout) is drawn uniformly; the leader
//!    crashes there.
//! 4. The downtime runs from the crash until every survivor has heard the
//!    new leader (its first AppendEntries), or until the trial's limit.

use crate::Test;
use crate::failure::{Failure, FailureKind};
use crate::raft_suite::cluster::{Cluster, ClusterOptions, cmd};
use crate::raft_suite::node::{RaftNode, RaftTuning};
use labrpc::Latency;
use labsim::{MS, NodeId};
use rand::RngExt;

/// The registered name of a trial, for its failure lines.
pub const NAME: &str = "election-downtime";

/// One configuration of the experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Servers (the paper: 5).
    pub peers: usize,
    /// Election timeout range.
    pub election_min_ms: u64,
    /// Election timeout range.
    pub election_max_ms: u64,
    /// Round trip plus disk write (the paper: about 15 ms).
    pub broadcast_ms: u64,
    /// PreVote on.
    pub pre_vote: bool,
    /// A trial still without a leader this long after the crash ends there.
    pub limit_ms: u64,
}

/// What one trial measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trial {
    /// From the crash until every survivor heard the new leader; `None` if
    /// that took longer than the limit.
    pub downtime_ns: Option<u64>,
    /// Two survivors' logs were shorter than the others' at the crash (the
    /// leader crashed after its last entry reached the two others).
    pub short_logs: bool,
}

/// Entries the two short followers lack: a heartbeat carries one entry
/// (the cluster sends one per AppendEntries), so they stay short for as
/// many heartbeats.
const LAG_ENTRIES: u64 = 20;

/// Runs trial `seed` of `setup`.
pub fn trial(setup: &Setup, seed: u64) -> Result<Trial, Failure> {
    validate(setup).map_err(|e| Failure::new(NAME, seed, 0, FailureKind::Check, e))?;
    let mut c = cluster(setup, seed);
    let leader = first_leader(&mut c, setup)?;
    c.one(cmd(0), setup.peers, true)?;
    let short: Vec<NodeId> = followers(setup.peers, leader).take(2).collect();
    let term = make_short(&mut c, leader, &short)?;
    // The heartbeat round every follower hears at once.
    let round = peer_deadline(&c.sim, leader);
    c.run_until(|s| peer_deadline(s, leader) != round, 10 * labsim::SEC)?;
    let interval_ns = setup.election_min_ms / 2 * MS;
    let after_ns = c.rng().random_range(0..interval_ns.max(1));
    c.sleep(after_ns)?;
    let last = |i| status(&c, i).map_or(0, |s| s.last_index);
    let longest_short = short.iter().map(|&s| last(s)).max().unwrap_or(0);
    let short_logs = followers(setup.peers, leader)
        .filter(|f| !short.contains(f))
        .all(|f| last(f) > longest_short);
    c.crash(leader);
    let crashed_at = c.sim.now_ns();
    let elected = c.run_until(
        |s| everyone_follows_a_new_leader(s, setup.peers, leader, term),
        setup.limit_ms * MS,
    )?;
    Ok(Trial {
        downtime_ns: elected.then(|| c.sim.now_ns() - crashed_at),
        short_logs,
    })
}

/// Leaves `short` [`LAG_ENTRIES`] entries behind the others, hearing every
/// heartbeat (each brings one entry) but answering the leader so slowly
/// that it never sends them more between heartbeats: their election timers
/// stay in step with the others'. Returns the leader's term.
fn make_short(c: &mut Cluster, leader: NodeId, short: &[NodeId]) -> Result<peer::Term, Failure> {
    for &s in short {
        c.disconnect(s);
    }
    let first = c.one(cmd(1), c.n() - short.len(), true)?;
    for k in 2..=LAG_ENTRIES {
        c.start(leader, cmd(k))?;
    }
    let last = first + LAG_ENTRIES - 1;
    let long: Vec<NodeId> = followers(c.n(), leader)
        .filter(|f| !short.contains(f))
        .collect();
    let caught_up = |s: &labrpc::Sim| {
        long.iter()
            .all(|&f| node_status(s, f).is_some_and(|st| st.last_index >= last))
    };
    if !c.run_until(caught_up, 10 * labsim::SEC)? {
        return c.check("the long followers did not get the leader's entries");
    }
    for &s in short {
        let slow = Latency::Fixed(SLOW_REPLY_NS);
        c.sim
            .with_net(|net, k| net.set_link_latency(k, s, leader, slow))
            .expect("peers");
        c.connect(s);
    }
    match status(c, leader) {
        Some(s) if s.role == peer::Role::Leader => Ok(s.term),
        _ => c.check(format!(
            "peer {leader} lost its leadership on a quiet network"
        )),
    }
}

/// How long a short follower's answer takes to reach the leader: past any
/// trial's crash.
const SLOW_REPLY_NS: u64 = 3_600 * labsim::SEC;

/// Bounds a setup must respect.
pub fn validate(setup: &Setup) -> Result<(), String> {
    // Two followers are held behind, and the rest must still commit.
    if !(5..=9).contains(&setup.peers) {
        return Err(format!(
            "{} servers: from 5 to 9 (two are held behind, and the others must still be a majority)",
            setup.peers
        ));
    }
    if setup.election_min_ms < 2 || setup.election_min_ms > setup.election_max_ms {
        return Err(format!(
            "election timeout {}-{} ms: the minimum must be at least 2 and at most the maximum",
            setup.election_min_ms, setup.election_max_ms
        ));
    }
    if setup.election_max_ms > 60_000 || setup.broadcast_ms > 10_000 || setup.limit_ms > 3_600_000 {
        return Err("timeouts at most 60 s, broadcast at most 10 s, limit at most 1 h".into());
    }
    // A round of votes takes the candidate's write, then the request, the
    // voter's write and the reply: four thirds of a broadcast, and up to 7/5
    // of it with the messages' tenth of jitter. A round that may outlast the
    // longest timeout leaves elections to luck: on 150-200 ms, a 147 ms
    // broadcast had 12 trials of 40 over the minute, and at 149 ms the first
    // election failed. (Below it, elections finish, if slowly: 140 ms has a
    // median near 8 s; the paper's 12-24 ms runs with its 15 ms broadcast.)
    if 7 * setup.broadcast_ms >= 5 * setup.election_max_ms {
        return Err(format!(
            "broadcast {} ms: a round of votes (the candidate's write, the request, the vote's \
             write, the reply: up to 7/5 of it, with the messages' jitter) may outlast the \
             election timeout's maximum {} ms, so elections would finish by luck if at all \
             (Raft needs broadcast time well below the election timeout)",
            setup.broadcast_ms, setup.election_max_ms
        ));
    }
    Ok(())
}

fn cluster(setup: &Setup, seed: u64) -> Cluster {
    let tuning = RaftTuning {
        election_timeout_min_ms: setup.election_min_ms,
        election_timeout_max_ms: setup.election_max_ms,
        heartbeat_interval_ms: (setup.election_min_ms / 2).max(1),
        pre_vote: Some(setup.pre_vote),
        max_entries_per_append: Some(1),
        check_quorum: None,
        lease_reads: None,
        ..RaftTuning::default()
    };
    let options = ClusterOptions {
        tuning,
        time_limit_ns: None,
        ..ClusterOptions::new(setup.peers)
    };
    let mut c = Cluster::new(&Test { name: NAME, seed }, options);
    // A real network's jitter (a tenth of the latency either way): without
    // any, candidates with equal timeouts stay in lockstep for ever.
    let third_ns = setup.broadcast_ms * MS / 3;
    let latency = Latency::Uniform {
        min_ns: third_ns - third_ns / 10,
        max_ns: third_ns + third_ns / 10,
    };
    c.sim.with_net(|net, _| net.config_mut().latency = latency);
    for i in 0..setup.peers {
        c.sim
            .set_sync_latency(i, setup.broadcast_ms * MS - 2 * third_ns)
            .expect("a peer");
    }
    c
}

/// Starts every peer but 0 one broadcast time late, so that with no
/// randomness in the timeouts 0 still times out alone and wins the first
/// election; with randomness, any peer may. Returns the leader once every
/// peer follows it.
fn first_leader(c: &mut Cluster, setup: &Setup) -> Result<NodeId, Failure> {
    for i in 1..setup.peers {
        c.crash(i);
    }
    c.sleep((setup.broadcast_ms + 1) * MS)?;
    for i in 1..setup.peers {
        c.restart(i);
        c.connect(i);
    }
    // The limit is the downtime's, after the crash; the first election has
    // a minute, or a thousand timeouts, however short the limit (with the
    // paper's 12-24 ms range it can take longer than twenty).
    let limit_ns = (60 * labsim::SEC).max(1000 * setup.election_max_ms * MS);
    let peers = setup.peers;
    if !c.run_until(|s| everyone_follows(s, peers).is_some(), limit_ns)? {
        return c.check("no leader that every peer follows at the start");
    }
    Ok(everyone_follows(&c.sim, peers).expect("just checked"))
}

/// The leader every peer follows, if there is one.
fn everyone_follows(s: &labrpc::Sim, peers: usize) -> Option<NodeId> {
    let leader = node_status(s, 0)?.leader?;
    (0..peers)
        .all(|i| node_status(s, i).is_some_and(|st| st.leader == Some(leader)))
        .then_some(leader)
}

fn followers(peers: usize, leader: NodeId) -> impl Iterator<Item = NodeId> {
    (0..peers).filter(move |&i| i != leader)
}

fn everyone_follows_a_new_leader(
    s: &labrpc::Sim,
    peers: usize,
    crashed: NodeId,
    term: peer::Term,
) -> bool {
    let Some(new) = node_status(s, (crashed + 1) % peers).and_then(|st| st.leader) else {
        return false;
    };
    let leads =
        node_status(s, new).is_some_and(|st| st.role == peer::Role::Leader && st.term > term);
    leads
        && followers(peers, crashed)
            .all(|i| node_status(s, i).is_some_and(|st| st.leader == Some(new)))
}

fn node_status(s: &labrpc::Sim, i: NodeId) -> Option<peer::Status> {
    s.node::<RaftNode>(i)
        .and_then(|n| n.peer())
        .map(|p| p.status())
}

fn status(c: &Cluster, i: NodeId) -> Option<peer::Status> {
    node_status(&c.sim, i)
}

fn peer_deadline(s: &labrpc::Sim, i: NodeId) -> Option<u64> {
    s.node::<RaftNode>(i)
        .and_then(|n| n.peer())
        .map(|p| p.next_deadline_ms())
}
