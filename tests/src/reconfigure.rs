//! The nemesis's verbs on the cluster itself rather than its network: change
//! its membership (add, remove and replace servers, thesis chapter 4) and
//! hand its leadership to another server (thesis 3.10), through whichever
//! server leads at that moment. A peer without these features refuses, and
//! the refusal is written to the trace; nothing else happens.

use crate::raft_suite::node::{any_status, with_any_peer};
use labrpc::Sim;
use labsim::{MS, NodeId};
use peer::Membership;

/// How often a refused change is asked again (a change still under way, a
/// new leader's first entry, no leader).
const RETRY_MS: u64 = 100;

thread_local! {
    /// Bumped by [`supersede`]: a change asked before stops asking again.
    /// (One simulation runs on one thread; only equality matters.)
    static EPOCH: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Every change asked so far stops being asked again: the heal's own
/// change must not be undone by a fault's retry that comes after it.
pub fn supersede() {
    EPOCH.with(|e| e.set(e.get() + 1));
}

/// The server that leads in the highest term, if any is up and leading.
fn leader(sim: &Sim, servers: &[NodeId]) -> Option<NodeId> {
    servers
        .iter()
        .filter_map(|&s| any_status(sim, s).map(|st| (st, s)))
        .filter(|(st, _)| st.role == peer::Role::Leader)
        .max_by_key(|(st, _)| st.term)
        .map(|(_, s)| s)
}

/// Whether some server that is up knows a term later than `term`.
fn superseded(sim: &Sim, servers: &[NodeId], term: peer::Term) -> bool {
    servers
        .iter()
        .filter_map(|&s| any_status(sim, s))
        .any(|st| st.term > term)
}

fn record(sim: &mut Sim, what: String) {
    sim.kernel().record(None, "nemesis", &what);
}

/// Moves the cluster to `target` (indices of `servers`, the cluster's peers
/// in the order of their ids, so indices are peer ids): asks the leader,
/// and asks again every [`RETRY_MS`] (a refusal, a change lost with its
/// leader) until a leader follows `target` and has committed the change, or
/// `until_ns` passes. A peer that reports no membership is not asked.
pub fn change(sim: &mut Sim, servers: Vec<NodeId>, target: Membership, until_ns: u64) {
    let goal = target;
    let epoch = EPOCH.with(|e| e.get());
    let asked = Asked {
        servers,
        goal,
        until_ns,
        epoch,
        asked: None,
    };
    ask(sim, asked);
}

/// A change under way: the servers, the configuration wanted (peer ids),
/// until when it is asked, the epoch it was first asked in, and the last
/// leader that took it: the leader, its term, the index of its entry.
struct Asked {
    servers: Vec<NodeId>,
    goal: Membership,
    until_ns: u64,
    epoch: u64,
    asked: Option<(NodeId, peer::Term, u64)>,
}

fn ask(sim: &mut Sim, mut a: Asked) {
    if EPOCH.with(|e| e.get()) != a.epoch {
        return; // superseded
    }
    let supported = a
        .servers
        .iter()
        .any(|&s| any_status(sim, s).is_some_and(|st| st.membership.is_some()));
    if !supported {
        return;
    }
    let Some(at) = leader(sim, &a.servers) else {
        return retry(sim, a);
    };
    let status = any_status(sim, at).expect("a leader is up");
    if status.membership == Some(a.goal) {
        // A leader reports the last configuration in its log, committed or
        // not, and a deposed leader cut off from the others (an aimed
        // isolation) still leads in its own eyes, in the configuration it
        // had. So the goal counts once a leader no server has superseded has
        // committed the entry it was asked for or, if it was not the one
        // asked (nor in that term), its whole log.
        let index = match a.asked {
            Some((node, term, index)) if node == at && term == status.term => index,
            _ => status.last_index,
        };
        if status.commit_index >= index && !superseded(sim, &a.servers, status.term) {
            return; // there, and committed
        }
        return retry(sim, a);
    }
    let goal = a.goal;
    match with_any_peer(sim, at, |p, now| p.change_membership(now, goal)) {
        Some(Ok(index)) => {
            record(
                sim,
                format!("membership: {goal} asked of {at} at index {index}"),
            );
            a.asked = Some((at, status.term, index));
        }
        Some(Err(e)) => record(sim, format!("membership: {goal} refused by {at}: {e}")),
        None => {}
    }
    retry(sim, a);
}

fn retry(sim: &mut Sim, a: Asked) {
    let next_ns = sim.now_ns() + RETRY_MS * MS;
    if next_ns > a.until_ns {
        return;
    }
    sim.schedule(next_ns, "nemesis", move |sim| ask(sim, a))
        .expect("a retry within the run");
}

/// Asks the leader, if there is one, to hand its leadership to `to` (an
/// index of `servers`).
pub fn transfer(sim: &mut Sim, servers: &[NodeId], to: usize) {
    let Some(at) = leader(sim, servers) else {
        return record(sim, "transfer: no leader".into());
    };
    let node = servers[to];
    match with_any_peer(sim, at, |p, now| p.transfer_leadership(now, to)) {
        Some(Ok(())) => record(sim, format!("transfer: {at} hands over to {node}")),
        Some(Err(e)) => record(
            sim,
            format!("transfer: {at} refused to hand over to {node}: {e}"),
        ),
        None => {}
    }
}
