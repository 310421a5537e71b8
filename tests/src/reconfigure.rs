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

/// The server that leads in the highest term, if any is up and leading.
fn leader(sim: &Sim, servers: &[NodeId]) -> Option<NodeId> {
    servers
        .iter()
        .filter_map(|&s| any_status(sim, s).map(|st| (st, s)))
        .filter(|(st, _)| st.role == peer::Role::Leader)
        .max_by_key(|(st, _)| st.term)
        .map(|(_, s)| s)
}

fn record(sim: &mut Sim, what: String) {
    sim.kernel().record(None, "nemesis", &what);
}

/// Moves the cluster to `target` (indices of `servers`), asking the leader
/// again every [`RETRY_MS`] until it accepts or `until_ns` passes. A peer
/// that reports no membership is not asked.
pub fn change(sim: &mut Sim, servers: Vec<NodeId>, target: Membership, until_ns: u64) {
    let supported = servers
        .iter()
        .any(|&s| any_status(sim, s).is_some_and(|st| st.membership.is_some()));
    let Some(at) = leader(sim, &servers).filter(|_| supported) else {
        return retry(sim, servers, target, until_ns, supported);
    };
    if any_status(sim, at).and_then(|st| st.membership) == Some(target) {
        return; // already there
    }
    let ids = |m: Membership| to_nodes(m, &servers);
    let asked = with_any_peer(sim, at, |p, now| p.change_membership(now, ids(target)));
    match asked {
        Some(Ok(index)) => record(
            sim,
            format!("membership: {target} asked of {at} at index {index}"),
        ),
        Some(Err(e)) => {
            record(sim, format!("membership: {target} refused by {at}: {e}"));
            retry(sim, servers, target, until_ns, true);
        }
        None => retry(sim, servers, target, until_ns, true),
    }
}

fn retry(sim: &mut Sim, servers: Vec<NodeId>, target: Membership, until_ns: u64, supported: bool) {
    let next_ns = sim.now_ns() + RETRY_MS * MS;
    if !supported || next_ns > until_ns {
        return;
    }
    let again = move |sim: &mut Sim| change(sim, servers, target, until_ns);
    sim.schedule(next_ns, "nemesis", again)
        .expect("a retry within the run");
}

/// `target` names indices of `servers`; the peers know servers by node id.
fn to_nodes(target: Membership, servers: &[NodeId]) -> Membership {
    let map = |set: peer::PeerSet| set.iter().map(|i| servers[i]).collect();
    Membership {
        voters: map(target.voters),
        outgoing: map(target.outgoing),
        learners: map(target.learners),
    }
}

/// Asks the leader, if there is one, to hand its leadership to `to` (an
/// index of `servers`).
pub fn transfer(sim: &mut Sim, servers: &[NodeId], to: usize) {
    let Some(at) = leader(sim, servers) else {
        return record(sim, "transfer: no leader".into());
    };
    let node = servers[to];
    match with_any_peer(sim, at, |p, now| p.transfer_leadership(now, node)) {
        Some(Ok(())) => record(sim, format!("transfer: {at} hands over to {node}")),
        Some(Err(e)) => record(
            sim,
            format!("transfer: {at} refused to hand over to {node}: {e}"),
        ),
        None => {}
    }
}
