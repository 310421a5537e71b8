//! Part E: Raft's other half, in the shape of 6.824's tests and in virtual
//! time: CheckQuorum and PreVote (thesis 6.2 and 9.6), leadership transfer
//! (3.10), ReadIndex (6.4) and membership changes (chapter 4). 6.824 stops
//! at 3D; a peer passes these with the optional inputs of `peer::Peer`
//! (`transfer_leadership`, `read_index`, `change_membership`) and by
//! following the `pre_vote`, `check_quorum` and `voters` hints.

use super::node::{RaftTuning, any_status};
use super::tests_a::ELECTION_TIMEOUT_NS;
use super::{Cluster, ClusterOptions, RunReport, cmd};
use crate::Test;
use crate::failure::Failure;
use labsim::{MS, SEC};
use peer::{Index, Membership, PeerSet, Role};

/// The minimum election timeout the peers are given (6.824's 300 ms).
fn min_election_timeout_ns() -> u64 {
    RaftTuning::default().election_timeout_min_ms * MS
}

/// Options for `servers` peers with `tuning`.
fn tuned(servers: usize, tuning: RaftTuning) -> ClusterOptions {
    ClusterOptions {
        tuning,
        ..ClusterOptions::new(servers)
    }
}

/// Five servers of which 0, 1 and 2 start as the voters (3 and 4 are spares).
fn three_of_five() -> ClusterOptions {
    let tuning = RaftTuning {
        voters: Some(PeerSet::first(3)),
        ..RaftTuning::default()
    };
    tuned(5, tuning)
}

fn set_of(peers: &[usize]) -> PeerSet {
    peers.iter().copied().collect()
}

/// A configuration of `voters` and `learners`.
fn config(voters: &[usize], learners: &[usize]) -> Membership {
    Membership {
        learners: set_of(learners),
        ..Membership::of_voters(set_of(voters))
    }
}

/// Cuts (or heals) the link between `a` and `b`, both ways.
fn set_link(cfg: &mut Cluster, a: usize, b: usize, up: bool) {
    cfg.sim.with_net(|net, k| {
        net.set_link(k, a, b, up).expect("peers");
        net.set_link(k, b, a, up).expect("peers");
    });
}

/// CheckQuorum (thesis 6.2): a leader cut off from the majority stops being
/// leader within two minimum election timeouts (one to count the acks, one
/// to spare), and stays a follower while cut off; the majority elects a
/// leader and commits, and the old leader rejoins.
pub fn check_quorum_leader_steps_down(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let tuning = RaftTuning {
        check_quorum: Some(true),
        ..RaftTuning::default()
    };
    let mut cfg = Cluster::new(t, tuned(servers, tuning));
    cfg.one(cmd(101), servers, true)?;
    let leader1 = cfg.check_one_leader()?;
    cfg.disconnect(leader1);
    let within_ns = 2 * min_election_timeout_ns() + 50 * MS;
    cfg.sleep(within_ns)?;
    if cfg.get_state(leader1).is_some_and(|(_, l)| l) {
        return cfg.check(format!(
            "leader {leader1}, cut off from the majority, still leads {} ms later \
             (CheckQuorum on)",
            within_ns / MS
        ));
    }
    cfg.check_one_leader()?;
    cfg.one(cmd(102), servers - 1, true)?;
    if cfg.get_state(leader1).is_some_and(|(_, l)| l) {
        return cfg.check(format!("peer {leader1}, still cut off, leads again"));
    }
    cfg.connect(leader1);
    cfg.one(cmd(103), servers, true)?;
    cfg.end()
}

/// PreVote and CheckQuorum (thesis 9.6 and 6.2) against a partial partition:
/// a follower that loses its link to the leader alone campaigns, but the
/// other follower still hears the leader and refuses it. The leader keeps its
/// term and commands commit throughout; once healed, the follower catches up.
pub fn prevote_check_quorum_partial_partition(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let tuning = RaftTuning {
        pre_vote: Some(true),
        check_quorum: Some(true),
        ..RaftTuning::default()
    };
    let mut cfg = Cluster::new(t, tuned(servers, tuning));
    cfg.one(cmd(100), servers, true)?;
    let leader = cfg.check_one_leader()?;
    let (term, _) = cfg.get_state(leader).expect("the leader runs");
    let cut = (leader + 1 + cfg.rand(2) as usize) % servers;
    let other = (0..servers)
        .find(|&p| p != leader && p != cut)
        .expect("3 peers");
    set_link(&mut cfg, leader, cut, false);
    // About three seconds: several election timeouts of the cut follower.
    for i in 1..=10 {
        cfg.one(cmd(100 + i), servers - 1, false)?;
        cfg.sleep(250 * MS)?;
        let states = (cfg.get_state(leader), cfg.get_state(other));
        if states != (Some((term, true)), Some((term, false))) {
            return cfg.check(format!(
                "peer {cut}, cut from leader {leader} of term {term} alone, disturbed it: \
                 leader {leader} is at {:?}, peer {other} at {:?} (PreVote and CheckQuorum on)",
                states.0, states.1
            ));
        }
    }
    set_link(&mut cfg, leader, cut, true);
    cfg.one(cmd(111), servers, true)?;
    if cfg.get_state(leader) != Some((term, true)) {
        return cfg.check(format!(
            "leader {leader} of term {term} lost its leadership when peer {cut} rejoined"
        ));
    }
    cfg.end()
}

/// Asks `from` to hand its leadership to `to`; fails unless `to` leads
/// within one minimum election timeout (TimeoutNow starts its election at
/// once) and is then the leader of the highest term.
fn transfer_now(cfg: &mut Cluster, from: usize, to: usize) -> Result<(), Failure> {
    if let Err(e) = cfg.transfer_leadership(from, to)? {
        return cfg.check(format!("leader {from} refused to hand over to {to}: {e}"));
    }
    let leads =
        move |sim: &labrpc::Sim| any_status(sim, to).is_some_and(|s| s.role == Role::Leader);
    if !cfg.run_until(leads, min_election_timeout_ns())? {
        return cfg.check(format!(
            "peer {to} did not lead within {} ms of the transfer from {from}",
            min_election_timeout_ns() / MS
        ));
    }
    let leader = cfg.check_one_leader()?;
    if leader != to {
        return cfg.check(format!("after the transfer to {to}, {leader} leads"));
    }
    Ok(())
}

/// Leadership transfer (thesis 3.10): the leader hands over to each other
/// peer in turn, each time the target leads within one minimum election
/// timeout and commands commit; a transfer to an unknown peer, or asked of a
/// follower, is refused and changes nothing.
pub fn leadership_transfer(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(100), servers, true)?;
    let first = cfg.check_one_leader()?;
    let mut leader = first;
    for k in 1..=servers {
        let to = (first + k) % servers;
        transfer_now(&mut cfg, leader, to)?;
        leader = to;
        cfg.one(cmd(100 + k as u64), servers, true)?;
    }
    let (term, _) = cfg.get_state(leader).expect("the leader runs");
    let unknown = servers + 2;
    if cfg.transfer_leadership(leader, unknown)?.is_ok() {
        return cfg.check(format!(
            "leader {leader} took a transfer to unknown peer {unknown}"
        ));
    }
    let follower = (leader + 1) % servers;
    if cfg.transfer_leadership(follower, leader)?.is_ok() {
        return cfg.check(format!("follower {follower} took a transfer"));
    }
    // Nothing changed: the leader takes commands at once, and keeps leading.
    let Some((index, _, true)) = cfg.start(leader, cmd(200))? else {
        return cfg.check(format!(
            "leader {leader} rejected Start() after refused transfers"
        ));
    };
    cfg.wait(index, servers, None)?;
    cfg.sleep(ELECTION_TIMEOUT_NS)?;
    if cfg.get_state(leader) != Some((term, true)) {
        return cfg.check(format!(
            "leader {leader} of term {term} is at {:?} after refused transfers",
            cfg.get_state(leader)
        ));
    }
    cfg.end()
}

/// Asks whoever leads to hand over to `to` until `to` leads (a transfer's
/// TimeoutNow or votes may be lost; one in progress refuses another).
fn transfer_eventually(cfg: &mut Cluster, to: usize) -> Result<(), Failure> {
    for _ in 0..10 {
        let leader = cfg.check_one_leader()?;
        if leader == to {
            return Ok(());
        }
        // A refusal (a transfer still under way) is asked again.
        let _ = cfg.transfer_leadership(leader, to)?;
        cfg.sleep(min_election_timeout_ns())?;
    }
    cfg.check(format!("peer {to} did not lead after 10 transfers to it"))
}

/// Leadership transfer (thesis 3.10) on an unreliable network: asked again
/// when it does not take, the transfer eventually makes each other peer in
/// turn the leader, and commands still commit.
pub fn leadership_transfer_unreliable(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(100), servers, true)?;
    cfg.set_unreliable(true);
    let first = cfg.check_one_leader()?;
    for k in 1..servers {
        transfer_eventually(&mut cfg, (first + k) % servers)?;
        cfg.one(cmd(100 + k as u64), 1, true)?;
    }
    cfg.set_unreliable(false);
    cfg.one(cmd(200), servers, true)?;
    cfg.end()
}

/// The highest commit index any peer has reached.
fn committed(cfg: &Cluster) -> Index {
    (0..cfg.n())
        .filter_map(|i| any_status(&cfg.sim, i))
        .map(|s| s.commit_index)
        .max()
        .unwrap_or(0)
}

/// Reads `ctx` at `leader`: it must be confirmed within an election timeout
/// at an index that covers everything committed before it was asked.
fn read_at(cfg: &mut Cluster, leader: usize, ctx: u64) -> Result<Index, Failure> {
    let before = committed(cfg);
    match cfg.read_index(leader, ctx, ELECTION_TIMEOUT_NS)? {
        Err(e) => cfg.check(format!("leader {leader} refused read {ctx}: {e}")),
        Ok(None) => cfg.check(format!("leader {leader} did not confirm read {ctx} in 1 s")),
        Ok(Some(index)) if index < before => cfg.check(format!(
            "read {ctx} confirmed at index {index}, but {before} was committed before it was asked"
        )),
        Ok(Some(index)) => Ok(index),
    }
}

/// ReadIndex (thesis 6.4): a read the leader confirms is at an index that
/// covers every command committed before the read was asked: with commands
/// in flight, and at a new leader that has not yet heard what its
/// predecessor committed. A follower refuses reads, and a deposed leader cut
/// off from the majority (CheckQuorum off, so it believes it still leads)
/// confirms none while the new leader commits.
pub fn read_index(t: &Test) -> Result<RunReport, Failure> {
    let servers = 3;
    let tuning = RaftTuning {
        check_quorum: Some(false),
        lease_reads: Some(false),
        ..RaftTuning::default()
    };
    let mut cfg = Cluster::new(t, tuned(servers, tuning));
    cfg.one(cmd(100), servers, true)?;
    let leader1 = cfg.check_one_leader()?;
    for ctx in 1..=6 {
        cfg.start(leader1, cmd(100 + ctx))?;
        if ctx % 2 == 0 {
            cfg.one(cmd(200 + ctx), servers, true)?;
        }
        read_at(&mut cfg, leader1, ctx)?;
    }
    let follower = (leader1 + 1) % servers;
    if let Ok(r) = cfg.read_index(follower, 50, ELECTION_TIMEOUT_NS)? {
        return cfg.check(format!("follower {follower} took a read ({r:?})"));
    }
    // The leader is cut off as soon as it commits, before its followers hear.
    let index = commit_alone(&mut cfg, leader1, cmd(300))?;
    cfg.disconnect(leader1);
    let leader2 = cfg.check_one_leader()?;
    read_at(&mut cfg, leader2, 60)?;
    let index2 = cfg.one(cmd(301), servers - 1, true)?;
    if let Ok(Some(at)) = cfg.read_index(leader1, 70, 2 * ELECTION_TIMEOUT_NS)? {
        return cfg.check(format!(
            "deposed leader {leader1}, cut off from the majority since committing index \
             {index}, confirmed a read at index {at}; leader {leader2} has since committed \
             index {index2}"
        ));
    }
    cfg.connect(leader1);
    let leader = cfg.check_one_leader()?;
    read_at(&mut cfg, leader, 80)?;
    cfg.one(cmd(302), servers, true)?;
    cfg.end()
}

/// Starts `command` at `leader` and runs until `leader` has committed it
/// (2 s at most): its index.
fn commit_alone(cfg: &mut Cluster, leader: usize, command: Vec<u8>) -> Result<Index, Failure> {
    let Some((index, _, true)) = cfg.start(leader, command)? else {
        return cfg.check(format!("leader {leader} rejected Start()"));
    };
    let done =
        move |sim: &labrpc::Sim| any_status(sim, leader).is_some_and(|s| s.commit_index >= index);
    if !cfg.run_until(done, 2 * SEC)? {
        return cfg.check(format!(
            "leader {leader} did not commit index {index} in 2 s"
        ));
    }
    Ok(index)
}

/// A learner (thesis 4.2.1): of five servers with voters {0,1,2}, server 3
/// added as a learner applies every entry committed before and after it
/// joined, in order, and never leads, even when it alone could gather the
/// votes of a majority (the leader cut off, the two other voters cut from
/// each other but not from it).
pub fn learner_catches_up(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = Cluster::new(t, three_of_five());
    for i in 1..=5 {
        cfg.one(cmd(i), 3, true)?;
    }
    cfg.reconfigure(config(&[0, 1, 2], &[3]))?;
    let last = cfg.one(cmd(6), 4, true)?;
    let leader = cfg.check_one_leader()?;
    if leader >= 3 {
        return cfg.check(format!("peer {leader}, no voter, leads"));
    }
    for index in 1..=last {
        let (learned, led) = (cfg.applied_at(3, index), cfg.applied_at(leader, index));
        if learned.is_none() || learned != led {
            return cfg.check(format!(
                "learner 3 did not apply index {index} as the leader did"
            ));
        }
    }
    // The leader is cut off, and so are the two other voters from each
    // other: only the learner, caught up, could gather both their votes.
    let (b, c) = ((leader + 1) % 3, (leader + 2) % 3);
    cfg.disconnect(leader);
    set_link(&mut cfg, b, c, false);
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    if cfg.get_state(3).is_some_and(|(_, l)| l) {
        return cfg.check("learner 3 leads");
    }
    cfg.check_no_leader()?;
    cfg.connect(leader);
    set_link(&mut cfg, b, c, true);
    let leader = cfg.check_one_leader()?;
    if leader >= 3 {
        return cfg.check(format!("peer {leader}, no voter, leads"));
    }
    cfg.one(cmd(7), 4, true)?;
    cfg.end()
}

/// Single-server changes (thesis 4.2): of five servers with voters {0,1,2},
/// server 3 is added as a voter, and then one voter is removed again; each
/// change moves the majority. With four voters, the leader and one other old
/// voter (a majority of the old three) commit nothing; after the removal, two
/// of the three remaining voters commit without the removed one.
pub fn membership_add_remove(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = Cluster::new(t, three_of_five());
    cfg.one(cmd(1), 3, true)?;
    cfg.reconfigure(config(&[0, 1, 2, 3], &[]))?;
    cfg.one(cmd(2), 4, true)?;
    let leader = cfg.check_one_leader()?;
    let keep = (0..3).find(|&p| p != leader).expect("an old voter");
    let cut: Vec<usize> = (0..4).filter(|&p| p != leader && p != keep).collect();
    for &p in &cut {
        cfg.disconnect(p);
    }
    let Some((index, _, true)) = cfg.start(leader, cmd(3))? else {
        return cfg.check(format!("leader {leader} rejected Start()"));
    };
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    let (n, _) = cfg.n_committed(index);
    if n > 0 {
        return cfg.check(format!(
            "{n} committed index {index} with voters {leader} and {keep} of 4 connected"
        ));
    }
    for &p in &cut {
        cfg.connect(p);
    }
    cfg.one(cmd(4), 4, true)?;
    let leader = cfg.check_one_leader()?;
    let voters: Vec<usize> = (0..4).filter(|&p| p != leader).collect();
    let (removed, down) = (voters[0], voters[1]);
    let rest: Vec<usize> = (0..4).filter(|&p| p != removed).collect();
    cfg.reconfigure(config(&rest, &[]))?;
    cfg.disconnect(removed);
    cfg.disconnect(down);
    cfg.one(cmd(5), 2, true)?;
    cfg.connect(removed);
    cfg.connect(down);
    cfg.one(cmd(6), 3, true)?;
    cfg.end()
}

/// Joint consensus (thesis 4.3): every voter of {0,1,2} is replaced at once
/// by {2,3,4}; the cluster passes through the joint configuration and then
/// settles on {2,3,4}. With the old voters 0 and 1 crashed, the new ones
/// elect a leader among themselves and commit, and still do with one of
/// them crashed too.
pub fn membership_joint_replace(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = Cluster::new(t, three_of_five());
    cfg.one(cmd(1), 3, true)?;
    let target = config(&[2, 3, 4], &[]);
    let joint = Membership {
        outgoing: PeerSet::first(3),
        ..target
    };
    cfg.change(target)?;
    let seen = move |sim: &labrpc::Sim| {
        (0..5).any(|p| any_status(sim, p).is_some_and(|s| s.membership == Some(joint)))
    };
    if !cfg.run_until(seen, 2 * SEC)? {
        return cfg.check(format!("no peer entered the joint configuration {joint}"));
    }
    if !cfg.settled_within(target, 3 * SEC)? {
        cfg.reconfigure(target)?;
    }
    cfg.one(cmd(2), 3, true)?;
    cfg.crash(0);
    cfg.crash(1);
    let leader = cfg.check_one_leader()?;
    if leader < 2 {
        return cfg.check(format!("peer {leader}, removed, leads"));
    }
    cfg.one(cmd(3), 3, true)?;
    cfg.crash(if leader == 4 { 3 } else { 4 });
    cfg.one(cmd(4), 2, true)?;
    cfg.end()
}

/// The leader removes itself (thesis 4.2.2): it manages the cluster until
/// the configuration without it commits, then steps down within an election
/// timeout; the others elect a leader among themselves and commit, and the
/// removed server does not disturb them.
pub fn membership_remove_leader(t: &Test) -> Result<RunReport, Failure> {
    let servers = 5;
    let mut cfg = Cluster::new(t, ClusterOptions::new(servers));
    cfg.one(cmd(1), servers, true)?;
    let leader1 = cfg.check_one_leader()?;
    let target = Membership::of_voters(PeerSet::first(servers).without(leader1));
    let index = match cfg.change_membership(leader1, target)? {
        Ok(index) => index,
        Err(e) => return cfg.check(format!("leader {leader1} refused to remove itself: {e}")),
    };
    let oracle = cfg.oracle.clone();
    if !cfg.run_until(|_| oracle.borrow().n_committed(index).0 > 0, 2 * SEC)? {
        return cfg.check(format!(
            "the removal of {leader1} at index {index} never committed"
        ));
    }
    let led =
        move |sim: &labrpc::Sim| any_status(sim, leader1).is_some_and(|s| s.role == Role::Leader);
    if !cfg.run_until(|sim| !led(sim), ELECTION_TIMEOUT_NS)? {
        return cfg.check(format!(
            "leader {leader1} still leads 1 s after its removal (index {index}) committed"
        ));
    }
    let leader2 = cfg.check_one_leader()?;
    if leader2 == leader1 {
        return cfg.check(format!("removed peer {leader1} leads again"));
    }
    cfg.one(cmd(2), servers - 1, true)?;
    let state = cfg.get_state(leader2);
    cfg.sleep(2 * ELECTION_TIMEOUT_NS)?;
    if cfg.get_state(leader2) != state {
        return cfg.check(format!(
            "leader {leader2} went from {state:?} to {:?} with removed peer {leader1} around",
            cfg.get_state(leader2)
        ));
    }
    cfg.one(cmd(3), servers - 1, true)?;
    cfg.end()
}

/// A random configuration of five servers: three voters, and each other
/// server a learner or out, at random.
fn random_membership(cfg: &mut Cluster) -> Membership {
    let mut ids: Vec<usize> = (0..5).collect();
    for i in (1..ids.len()).rev() {
        let j = cfg.rand(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let learners: Vec<usize> = ids[3..]
        .iter()
        .copied()
        .filter(|_| cfg.rand(2) == 0)
        .collect();
    config(&ids[..3], &learners)
}

/// Round `round` of [`membership_unreliable`]: a change to a random
/// configuration, in round 2 with a server crashing and restarting while it
/// is under way; it settles and a command commits. Returns the target.
fn change_unreliably(cfg: &mut Cluster, round: u64) -> Result<Membership, Failure> {
    let target = random_membership(cfg);
    cfg.change(target)?;
    if round == 2 {
        let victim = cfg.rand(5) as usize;
        cfg.crash(victim);
        cfg.one(cmd(10 + round), 1, true)?;
        cfg.restart(victim);
        cfg.connect(victim);
    }
    if !cfg.settled_within(target, 3 * SEC)? {
        cfg.reconfigure(target)?;
    }
    cfg.one(cmd(round), 1, true)?;
    Ok(target)
}

/// Membership changes (thesis chapter 4) on an unreliable network: four
/// random configurations in turn (single-server changes and joint ones),
/// one server crashing and restarting in the middle of a change. Each
/// change settles and commands commit; at the end, on a reliable network and
/// with one member restarted from its disk, every member follows the last
/// configuration and applies the last command.
pub fn membership_unreliable(t: &Test) -> Result<RunReport, Failure> {
    let options = ClusterOptions {
        unreliable: true,
        ..three_of_five()
    };
    let mut cfg = Cluster::new(t, options);
    cfg.one(cmd(0), 1, true)?;
    for round in 1..4 {
        change_unreliably(&mut cfg, round)?;
    }
    let target = change_unreliably(&mut cfg, 4)?;
    cfg.set_unreliable(false);
    let members = target.members();
    // A member restarts from its disk alone, after the last change.
    let victim = members.iter().nth(cfg.rand(members.len() as u64) as usize);
    let victim = victim.expect("a member");
    cfg.crash(victim);
    cfg.restart(victim);
    cfg.connect(victim);
    let last = cfg.one(cmd(100), members.len(), true)?;
    // A server the last change removed may have applied it too (the leader
    // still answers its late replies with entries): wait for the members.
    let oracle = cfg.oracle.clone();
    let applied = move |_: &labrpc::Sim| {
        let o = oracle.borrow();
        members.iter().all(|p| o.applied_at(p, last).is_some())
    };
    cfg.run_until(applied, 2 * SEC)?;
    for p in members.iter() {
        let (follows, applied) = (cfg.membership(p), cfg.applied_at(p, last).is_some());
        if follows != Some(target) || !applied {
            return cfg.check(format!(
                "member {p} follows {follows:?}, not {target}, or did not apply index {last} \
                 (applied: {applied})"
            ));
        }
    }
    cfg.end()
}
