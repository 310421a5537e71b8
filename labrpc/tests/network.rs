//! labrpc's tests: 6.824's labrpc tests (basic, types, disconnect, counts,
//! bytes, concurrent many/one, unreliable, killed server, regression, a
//! benchmark-sized run) plus duplication, long delays and reordering, every
//! partition shape, bad input, and determinism of a busy network.

use labrpc::{
    CallId, Completion, Latency, Method, Net, NetConfig, NetError, ReplyToken, Router, RpcError,
    Sim, call, reply,
};
use labsim::{MS, Node, NodeId, SEC, TimerId};
use std::collections::BTreeMap;
use std::rc::Rc;

struct Echo;
impl Method for Echo {
    const NAME: &'static str = "Junk.Handler2";
    type Args = u64;
    type Reply = String;
}
struct Len;
impl Method for Len {
    const NAME: &'static str = "Junk.Handler1";
    type Args = String;
    type Reply = u64;
}
/// Answers after 50 ms, from a timer: a deferred reply.
struct Slow;
impl Method for Slow {
    const NAME: &'static str = "Junk.Slow";
    type Args = u64;
    type Reply = u64;
}
struct Blob;
impl Method for Blob {
    const NAME: &'static str = "Junk.Blob";
    type Args = Vec<u8>;
    type Reply = Vec<u8>;
}
struct Missing;
impl Method for Missing {
    const NAME: &'static str = "Junk.Missing";
    type Args = ();
    type Reply = ();
}

/// A server (6.824's JunkServer) and a client at once.
struct Peer {
    router: Rc<Router<Peer>>,
    /// Requests handled, by method, in order.
    handled: Vec<(&'static str, u64)>,
    /// Slow requests waiting for their timer.
    waiting: BTreeMap<TimerId, (ReplyToken, u64)>,
    /// Completions of this node's calls.
    done: BTreeMap<CallId, Completion>,
    /// The calls in the order they completed, with when.
    order: Vec<(CallId, u64)>,
    made: Vec<CallId>,
}

fn router() -> Rc<Router<Peer>> {
    Router::new()
        .route::<Echo>(|p: &mut Peer, ctx, _from, n, token| {
            p.handled.push((Echo::NAME, n));
            reply::<Echo>(ctx, token, &format!("handler2-{n}"));
        })
        .unwrap()
        .route::<Len>(|p: &mut Peer, ctx, _from, s, token| {
            p.handled.push((Len::NAME, s.len() as u64));
            reply::<Len>(ctx, token, &(s.len() as u64));
        })
        .unwrap()
        .route::<Slow>(|p: &mut Peer, ctx, _from, n, token| {
            p.handled.push((Slow::NAME, n));
            let t = ctx.set_timer(50 * MS, 0);
            p.waiting.insert(t, (token, n));
        })
        .unwrap()
        .route::<Blob>(|p: &mut Peer, ctx, _from, b, token| {
            p.handled.push((Blob::NAME, b.len() as u64));
            reply::<Blob>(ctx, token, &b[..b.len() / 2].to_vec());
        })
        .unwrap()
        .build()
}

impl Peer {
    fn new() -> Peer {
        Peer {
            router: router(),
            handled: vec![],
            waiting: BTreeMap::new(),
            done: BTreeMap::new(),
            order: vec![],
            made: vec![],
        }
    }
    fn completion(&self, call: CallId) -> Option<&Completion> {
        self.done.get(&call)
    }
}

impl Node<Net> for Peer {
    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: labrpc::Packet) {
        if let Some(c) = Router::serve(self.router.clone(), self, ctx, from, packet) {
            assert!(
                self.completion(c.call).is_none(),
                "call {} completed twice",
                c.call
            );
            self.order.push((c.call, ctx.now_ns()));
            self.done.insert(c.call, c);
        }
    }
    fn on_timer(&mut self, ctx: &mut labrpc::Ctx<'_>, timer: TimerId, _tag: u64) {
        if let Some((token, n)) = self.waiting.remove(&timer) {
            reply::<Slow>(ctx, token, &(n * 2));
        }
    }
}

fn sim_with(seed: u64, config: NetConfig, nodes: usize) -> Sim {
    let mut sim = Sim::new(seed, Net::new(config));
    for i in 0..nodes {
        sim.add_node(format!("peer{i}"), |_, _| Box::new(Peer::new()));
    }
    sim
}

fn start<M: Method>(sim: &mut Sim, from: NodeId, to: NodeId, args: M::Args) -> CallId {
    sim.with_node::<Peer, _>(from, |p, ctx| {
        let c = call::<M>(ctx, to, &args).unwrap();
        p.made.push(c);
        c
    })
    .expect("caller is up")
}

fn wait_done(sim: &mut Sim, node: NodeId, call: CallId) -> Result<Vec<u8>, RpcError> {
    let deadline = sim.now_ns() + 60 * SEC;
    let ended = sim
        .run_until(
            |s| {
                s.node::<Peer>(node)
                    .is_some_and(|p| p.completion(call).is_some())
            },
            deadline,
        )
        .unwrap();
    assert!(
        ended,
        "call {call} did not end within 60 s: calls must never hang"
    );
    sim.node::<Peer>(node)
        .unwrap()
        .completion(call)
        .unwrap()
        .outcome
        .clone()
}

fn call_sync<M: Method>(
    sim: &mut Sim,
    from: NodeId,
    to: NodeId,
    args: M::Args,
) -> Result<M::Reply, RpcError> {
    let c = start::<M>(sim, from, to, args);
    wait_done(sim, from, c).and_then(|bytes| labrpc::decode::<M::Reply>(&bytes))
}

#[test]
fn basic() {
    let mut sim = sim_with(1, NetConfig::default(), 2);
    assert_eq!(
        call_sync::<Echo>(&mut sim, 0, 1, 111),
        Ok("handler2-111".to_string())
    );
    assert_eq!(sim.now_ns(), 2 * MS, "one round trip of 1 ms links");
}

#[test]
fn types() {
    let mut sim = sim_with(1, NetConfig::default(), 2);
    assert_eq!(call_sync::<Len>(&mut sim, 0, 1, "ninechars".into()), Ok(9));
    assert_eq!(
        call_sync::<Echo>(&mut sim, 0, 1, 7),
        Ok("handler2-7".into())
    );
    let handled = &sim.node::<Peer>(1).unwrap().handled;
    assert_eq!(handled, &vec![(Len::NAME, 9), (Echo::NAME, 7)]);
}

#[test]
fn disconnect() {
    let mut sim = sim_with(1, NetConfig::default(), 2);
    sim.with_net(|net, k| net.set_connected(k, 1, false))
        .unwrap();
    let t0 = sim.now_ns();
    assert_eq!(
        call_sync::<Echo>(&mut sim, 0, 1, 1),
        Err(RpcError::Unreachable)
    );
    assert!(
        sim.now_ns() - t0 < 100 * MS,
        "fails within 100 ms without long delays"
    );
    assert!(sim.node::<Peer>(1).unwrap().handled.is_empty());
    sim.with_net(|net, k| net.set_connected(k, 1, true))
        .unwrap();
    assert_eq!(
        call_sync::<Echo>(&mut sim, 0, 1, 2),
        Ok("handler2-2".into())
    );
}

#[test]
fn counts() {
    let mut sim = sim_with(1, NetConfig::default(), 2);
    for i in 0..17 {
        assert_eq!(
            call_sync::<Echo>(&mut sim, 0, 1, i),
            Ok(format!("handler2-{i}"))
        );
    }
    assert_eq!(sim.net().rpc_count(1), 17);
    assert_eq!(sim.net().rpc_count(0), 0);
    assert_eq!(sim.net().total_rpcs(), 17);
}

#[test]
fn bytes() {
    let mut sim = sim_with(1, NetConfig::default(), 2);
    assert_eq!(
        call_sync::<Blob>(&mut sim, 0, 1, vec![7; 5000]).map(|b| b.len()),
        Ok(2500)
    );
    // bincode: a 5000-byte vec is 3 bytes of length + 5000; the reply 3 + 2500.
    assert_eq!(sim.net().total_bytes(), 5003 + 2503);
    // Failed calls count their request only.
    sim.with_net(|net, k| net.set_connected(k, 1, false))
        .unwrap();
    assert!(call_sync::<Blob>(&mut sim, 0, 1, vec![1; 100]).is_err());
    assert_eq!(sim.net().total_bytes(), 5003 + 2503 + 101);
}

#[test]
fn concurrent_many() {
    let clients = 20;
    let per_client = 10;
    let mut sim = sim_with(2, NetConfig::default(), clients + 1);
    let server = clients;
    for c in 0..clients {
        for j in 0..per_client {
            start::<Echo>(&mut sim, c, server, (c * 100 + j) as u64);
        }
    }
    sim.run_for(SEC).unwrap();
    for c in 0..clients {
        let p = sim.node::<Peer>(c).unwrap();
        assert_eq!(p.done.len(), per_client);
        for d in p.done.values() {
            assert!(d.decode::<Echo>().unwrap().starts_with("handler2-"));
        }
    }
    assert_eq!(sim.net().rpc_count(server), (clients * per_client) as u64);
}

#[test]
fn concurrent_one_with_deferred_replies() {
    let mut sim = sim_with(3, NetConfig::default(), 2);
    let calls: Vec<CallId> = (0..20).map(|i| start::<Slow>(&mut sim, 0, 1, i)).collect();
    sim.run_for(100 * MS).unwrap();
    let p = sim.node::<Peer>(0).unwrap();
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(p.completion(*c).unwrap().decode::<Slow>(), Ok(i as u64 * 2));
    }
    assert_eq!(sim.net().rpc_count(1), 20);
}

#[test]
fn unreliable() {
    let mut sim = sim_with(
        4,
        NetConfig {
            reliable: false,
            ..Default::default()
        },
        2,
    );
    let n = 2000;
    for i in 0..n {
        start::<Echo>(&mut sim, 0, 1, i);
    }
    sim.run_for(2 * SEC).unwrap();
    let p = sim.node::<Peer>(0).unwrap();
    assert_eq!(p.done.len(), n as usize, "every call ends");
    let ok = p.done.values().filter(|d| d.outcome.is_ok()).count() as f64 / n as f64;
    // 10% of requests and 10% of replies lost: 81% get through.
    assert!((0.77..0.85).contains(&ok), "success rate {ok}");
    let dropped = p
        .done
        .values()
        .filter(|d| d.outcome == Err(RpcError::Dropped))
        .count();
    assert_eq!(
        dropped,
        n as usize - p.done.values().filter(|d| d.outcome.is_ok()).count()
    );
}

#[test]
fn killed_server_fails_waiting_calls_and_never_replies() {
    // 6.824's TestKilled and TestRegression1: a server crashed while a
    // request waits at it must not answer, not even after it restarts.
    let mut sim = sim_with(5, NetConfig::default(), 2);
    let c = start::<Slow>(&mut sim, 0, 1, 21);
    sim.run_for(10 * MS).unwrap(); // arrived, waiting 50 ms for its timer
    sim.crash(1).unwrap();
    sim.restart(1).unwrap();
    assert_eq!(wait_done(&mut sim, 0, c), Err(RpcError::ServerCrashed));
    sim.run_for(SEC).unwrap();
    let p = sim.node::<Peer>(0).unwrap();
    assert_eq!(
        p.done.len(),
        1,
        "no second completion from the restarted server"
    );
    // A request in flight to a server that crashes fails too.
    let c2 = start::<Echo>(&mut sim, 0, 1, 3);
    sim.crash(1).unwrap();
    assert_eq!(wait_done(&mut sim, 0, c2), Err(RpcError::ServerCrashed));
    // Calling a crashed server fails after at most 100 ms.
    let t0 = sim.now_ns();
    assert_eq!(
        call_sync::<Echo>(&mut sim, 0, 1, 4),
        Err(RpcError::Unreachable)
    );
    assert!(sim.now_ns() - t0 < 100 * MS);
}

#[test]
fn disconnect_while_waiting_fails_the_call() {
    let mut sim = sim_with(6, NetConfig::default(), 2);
    let c = start::<Slow>(&mut sim, 0, 1, 1);
    sim.run_for(10 * MS).unwrap();
    sim.with_net(|net, k| net.set_connected(k, 0, false))
        .unwrap();
    let t0 = sim.now_ns();
    assert_eq!(wait_done(&mut sim, 0, c), Err(RpcError::Unreachable));
    assert!(sim.now_ns() - t0 < 100 * MS);
}

#[test]
fn long_delays_stretch_failures_to_seven_seconds() {
    let config = NetConfig {
        long_delays: true,
        ..Default::default()
    };
    let mut sim = sim_with(7, config, 2);
    sim.with_net(|net, k| net.set_connected(k, 1, false))
        .unwrap();
    let calls: Vec<CallId> = (0..200).map(|i| start::<Echo>(&mut sim, 0, 1, i)).collect();
    let t0 = sim.now_ns();
    sim.run_until(|s| s.node::<Peer>(0).unwrap().done.len() == 200, 7 * SEC)
        .unwrap();
    assert_eq!(sim.node::<Peer>(0).unwrap().done.len(), calls.len());
    assert!(sim.now_ns() - t0 > 5 * SEC, "some take almost 7 s");
}

#[test]
fn long_reordering_delays_most_replies() {
    let config = NetConfig {
        long_reordering: true,
        ..Default::default()
    };
    let mut sim = sim_with(8, config, 2);
    let calls: Vec<CallId> = (0..900).map(|i| start::<Echo>(&mut sim, 0, 1, i)).collect();
    sim.run_for(3 * SEC).unwrap();
    let p = sim.node::<Peer>(0).unwrap();
    assert_eq!(p.done.len(), 900);
    // Replies now arrive out of order, and about 600 of 900 were held.
    let order: Vec<CallId> = p.order.iter().map(|(c, _)| *c).collect();
    assert_ne!(order, calls, "replies arrive out of order");
    assert!(p.done.values().all(|d| d.outcome.is_ok()));
    // About 600 of 900 replies are held back by 200 ms or more.
    let held = p.order.iter().filter(|(_, at)| *at >= 200 * MS).count();
    assert!((540..=660).contains(&held), "{held} of 900 held");
    assert!(p.order.iter().all(|(_, at)| *at <= 2202 * MS));
}

#[test]
fn duplicated_requests_reach_the_server_twice_but_complete_once() {
    let config = NetConfig {
        duplicate_per_million: 500_000,
        ..Default::default()
    };
    let mut sim = sim_with(9, config, 2);
    for i in 0..200 {
        start::<Echo>(&mut sim, 0, 1, i);
    }
    sim.run_for(SEC).unwrap();
    let handled = sim.node::<Peer>(1).unwrap().handled.len();
    assert!(
        (260..340).contains(&handled),
        "about half duplicated: {handled}"
    );
    assert_eq!(sim.node::<Peer>(0).unwrap().done.len(), 200);
    assert_eq!(sim.net().calls_in_progress(), 0);
}

#[test]
fn late_requests_fail_at_the_caller_and_reach_the_server_seconds_later() {
    let config = NetConfig {
        late_request_per_million: 500_000,
        ..Default::default()
    };
    let mut sim = sim_with(9, config, 2);
    for i in 0..200 {
        start::<Echo>(&mut sim, 0, 1, i);
    }
    sim.run_for(400 * MS).unwrap();
    let done = &sim.node::<Peer>(0).unwrap().done;
    assert_eq!(done.len(), 200, "every call ended at its caller");
    let lost = done.values().filter(|d| d.outcome.is_err()).count();
    assert!((70..130).contains(&lost), "about half held: {lost}");
    let handled_early = sim.node::<Peer>(1).unwrap().handled.len();
    assert_eq!(
        handled_early,
        200 - lost,
        "held requests have not arrived yet"
    );
    sim.run_for(5 * SEC).unwrap();
    let handled = sim.node::<Peer>(1).unwrap().handled.len();
    assert_eq!(handled, 200, "the held requests arrived after all");
    assert_eq!(sim.net().calls_in_progress(), 0);
}

#[test]
fn replayed_requests_arrive_again_seconds_later() {
    let config = NetConfig {
        replay_request_per_million: 500_000,
        ..Default::default()
    };
    let mut sim = sim_with(9, config, 2);
    for i in 0..200 {
        start::<Echo>(&mut sim, 0, 1, i);
    }
    sim.run_for(900 * MS).unwrap();
    assert_eq!(sim.node::<Peer>(1).unwrap().handled.len(), 200);
    let done = &sim.node::<Peer>(0).unwrap().done;
    assert!(done.len() == 200 && done.values().all(|d| d.outcome.is_ok()));
    sim.run_for(10 * SEC).unwrap();
    let handled = sim.node::<Peer>(1).unwrap().handled.len();
    assert!((260..340).contains(&handled), "about half again: {handled}");
    assert_eq!(
        sim.node::<Peer>(0).unwrap().done.len(),
        200,
        "completed once"
    );
}

/// Which ordered pairs of `nodes` can complete a call now.
fn reach(sim: &mut Sim, nodes: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let mut calls = vec![];
    for &a in nodes {
        for &b in nodes {
            if a != b {
                calls.push((a, b, start::<Echo>(sim, a, b, 0)));
            }
        }
    }
    sim.run_for(SEC).unwrap();
    calls
        .into_iter()
        .filter(|(a, _, c)| {
            sim.node::<Peer>(*a)
                .unwrap()
                .completion(*c)
                .unwrap()
                .outcome
                .is_ok()
        })
        .map(|(a, b, _)| (a, b))
        .collect()
}

fn all_pairs(groups: &[&[NodeId]]) -> Vec<(NodeId, NodeId)> {
    let mut v = vec![];
    for g in groups {
        for &a in *g {
            for &b in *g {
                if a != b {
                    v.push((a, b));
                }
            }
        }
    }
    v.sort();
    v
}

#[test]
fn partition_shapes() {
    let nodes = [0, 1, 2, 3, 4];
    let mut sim = sim_with(10, NetConfig::default(), 5);
    assert_eq!(reach(&mut sim, &nodes).len(), 20);

    sim.with_net(|net, k| net.isolate(k, 2, &nodes)).unwrap();
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[0, 1, 3, 4]]));

    sim.with_net(|net, k| net.split_majority(k, &nodes))
        .unwrap();
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[0, 1, 2], &[3, 4]]));

    sim.with_net(|net, k| net.bridge(k, &nodes)).unwrap();
    let mut expected = all_pairs(&[&[0, 1, 2], &[2, 3, 4]]);
    expected.dedup();
    assert_eq!(reach(&mut sim, &nodes), expected);

    sim.with_net(|net, k| net.majorities_ring(k, &nodes))
        .unwrap();
    let got = reach(&mut sim, &nodes);
    for &n in &nodes {
        let sees = got.iter().filter(|(a, _)| *a == n).count() + 1;
        assert_eq!(sees, 3, "node {n} sees exactly a majority");
    }
    let mut ring = vec![];
    for i in 0..5 {
        ring.push((i, (i + 1) % 5));
        ring.push(((i + 1) % 5, i));
    }
    ring.sort();
    assert_eq!(got, ring);

    // Any shape at once: here 0 cannot send to 1 (so neither can call the
    // other) and 3 is cut off.
    let links: Vec<Vec<bool>> = (0..5)
        .map(|a| {
            (0..5)
                .map(|b| (a, b) != (0, 1) && (a == b || (a != 3 && b != 3)))
                .collect()
        })
        .collect();
    sim.with_net(|net, k| net.set_links(k, &nodes, &links, "test"))
        .unwrap();
    let mut expected = all_pairs(&[&[0, 2, 4], &[1, 2, 4]]);
    expected.sort();
    expected.dedup();
    assert_eq!(reach(&mut sim, &nodes), expected);

    sim.with_net(|net, k| net.heal(k));
    assert_eq!(reach(&mut sim, &nodes).len(), 20);
}

#[test]
fn a_severed_node_and_the_partitions_around_it_do_not_undo_each_other() {
    let nodes = [0, 1, 2, 3, 4];
    let mut sim = sim_with(12, NetConfig::default(), 5);
    sim.with_net(|net, k| net.partition(k, &[vec![0, 1, 2], vec![3, 4]]))
        .unwrap();
    // 0 severed from 1, 2 and 3: 1 and 2 still reach each other, and 3 and
    // 4 stay apart from them.
    sim.with_net(|net, k| net.sever(k, 0, &[1, 2, 3])).unwrap();
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[1, 2], &[3, 4]]));
    // A partition that starts, and a heal, while 0 is severed leave it so.
    sim.with_net(|net, k| net.partition(k, &[vec![0, 3], vec![1, 2, 4]]))
        .unwrap();
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[1, 2, 4]]));
    sim.with_net(|net, k| net.heal(k));
    let mut expected = all_pairs(&[&[1, 2, 3, 4], &[0, 4]]);
    expected.sort();
    expected.dedup();
    assert_eq!(reach(&mut sim, &nodes), expected);
    // Mended: 0 reaches everyone again, and the partition it was severed
    // over is whatever is in force now.
    sim.with_net(|net, k| net.partition(k, &[vec![0, 1, 2], vec![3, 4]]))
        .unwrap();
    sim.with_net(|net, k| net.mend(k, 0, &[1, 2, 3])).unwrap();
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[0, 1, 2], &[3, 4]]));
}

#[test]
fn severs_overlap_and_a_mend_of_no_sever_is_refused() {
    let nodes = [0, 1, 2];
    let mut sim = sim_with(13, NetConfig::default(), 3);
    sim.with_net(|net, k| net.sever(k, 0, &[1, 2])).unwrap();
    sim.with_net(|net, k| net.sever(k, 0, &[1])).unwrap();
    sim.with_net(|net, k| net.mend(k, 0, &[1, 2])).unwrap();
    // The second sever of 0 from 1 holds until its own mend.
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[0, 2], &[1, 2]]));
    sim.with_net(|net, k| net.mend(k, 0, &[1])).unwrap();
    assert_eq!(reach(&mut sim, &nodes).len(), 6);
    let err = sim.with_net(|net, k| net.mend(k, 0, &[2])).unwrap_err();
    assert_eq!(err.to_string(), "the link 0 -> 2 is not severed");
    assert_eq!(
        reach(&mut sim, &nodes).len(),
        6,
        "a refused mend changes nothing"
    );
}

#[test]
fn disconnect_holds_overlap_and_a_release_of_no_hold_is_refused() {
    let nodes = [0, 1, 2];
    let mut sim = sim_with(14, NetConfig::default(), 3);
    sim.with_net(|net, k| net.hold_disconnected(k, 0)).unwrap();
    sim.with_net(|net, k| net.hold_disconnected(k, 0)).unwrap();
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[1, 2]]));
    // The first release leaves 0 cut off: the second hold is still in force.
    sim.with_net(|net, k| net.release_disconnected(k, 0))
        .unwrap();
    assert!(!sim.net().is_connected(0));
    assert_eq!(reach(&mut sim, &nodes), all_pairs(&[&[1, 2]]));
    sim.with_net(|net, k| net.release_disconnected(k, 0))
        .unwrap();
    assert!(sim.net().is_connected(0));
    assert_eq!(reach(&mut sim, &nodes).len(), 6);
    let err = sim
        .with_net(|net, k| net.release_disconnected(k, 0))
        .unwrap_err();
    assert_eq!(err.to_string(), "node 0 is not held disconnected");
    assert!(
        sim.net().is_connected(0),
        "a refused release changes nothing"
    );
    // 6.824's connect overrides a hold; a hold after it still disconnects.
    sim.with_net(|net, k| net.hold_disconnected(k, 1)).unwrap();
    sim.with_net(|net, k| net.set_connected(k, 1, true))
        .unwrap();
    sim.with_net(|net, k| net.hold_disconnected(k, 1)).unwrap();
    assert!(!sim.net().is_connected(1));
}

#[test]
fn one_way_partition_blocks_one_direction_of_requests() {
    let mut sim = sim_with(11, NetConfig::default(), 3);
    // 0 cannot reach 1; 1 can still send to 0. A call needs both ways, so
    // both directions' calls fail, but 1's requests do reach 0.
    sim.with_net(|net, k| net.cut_one_way(k, &[0], &[1]))
        .unwrap();
    assert!(call_sync::<Echo>(&mut sim, 0, 1, 1).is_err());
    assert!(
        sim.node::<Peer>(1).unwrap().handled.is_empty(),
        "request never arrived"
    );
    assert!(call_sync::<Echo>(&mut sim, 1, 0, 2).is_err());
    assert_eq!(
        sim.node::<Peer>(0).unwrap().handled,
        vec![(Echo::NAME, 2)],
        "request arrived, reply lost"
    );
    assert!(call_sync::<Echo>(&mut sim, 2, 1, 3).is_ok());
    assert!(call_sync::<Echo>(&mut sim, 2, 0, 4).is_ok());
}

#[test]
fn per_link_latency() {
    let mut sim = sim_with(12, NetConfig::default(), 3);
    sim.with_net(|net, k| net.set_link_latency(k, 0, 2, Latency::Fixed(40 * MS)))
        .unwrap();
    sim.with_net(|net, k| {
        net.set_link_latency(
            k,
            2,
            0,
            Latency::Uniform {
                min_ns: 10 * MS,
                max_ns: 20 * MS,
            },
        )
    })
    .unwrap();
    let t0 = sim.now_ns();
    call_sync::<Echo>(&mut sim, 0, 1, 0).unwrap();
    assert_eq!(sim.now_ns() - t0, 2 * MS);
    let t1 = sim.now_ns();
    call_sync::<Echo>(&mut sim, 0, 2, 0).unwrap();
    let rtt = sim.now_ns() - t1;
    assert!((50 * MS..=60 * MS).contains(&rtt), "round trip {rtt}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let mut sim = sim_with(13, NetConfig::default(), 2);
    let err = sim
        .with_node::<Peer, _>(0, |_, ctx| call::<Echo>(ctx, 9, &1))
        .unwrap();
    assert_eq!(err, Err(RpcError::UnknownServer(9)));
    assert!(err.unwrap_err().to_string().contains("no node 9"));
    assert_eq!(
        call_sync::<Missing>(&mut sim, 0, 1, ()),
        Err(RpcError::UnknownMethod("Junk.Missing".into()))
    );
    let twice = Router::<Peer>::new()
        .route::<Echo>(|_, _, _, _, _| {})
        .unwrap()
        .route::<Echo>(|_, _, _, _, _| {});
    assert_eq!(
        twice.err().unwrap().to_string(),
        "method `Junk.Handler2` is registered twice"
    );
    assert_eq!(
        sim.with_net(|net, k| net.isolate(k, 7, &[0, 1])),
        Err(NetError::UnknownNode(7))
    );
    assert_eq!(
        sim.with_net(|net, k| net.partition(k, &[vec![0], vec![0, 1]])),
        Err(NetError::NodeInTwoGroups(0))
    );
    assert!(sim.with_net(|net, k| net.bridge(k, &[0, 1])).is_err());
    let short = vec![vec![true, false]];
    let err = sim.with_net(|net, k| net.set_links(k, &[0, 1], &short, "short"));
    assert_eq!(
        err.unwrap_err().to_string(),
        "links among 2 nodes need 2 rows of 2"
    );
    // A reply that does not decode as the method's type is an error, not a panic.
    struct Liar;
    impl Method for Liar {
        const NAME: &'static str = "Junk.Handler2"; // answers a String
        type Args = u64;
        type Reply = (String, String);
    }
    assert!(matches!(
        call_sync::<Liar>(&mut sim, 0, 1, 5),
        Err(RpcError::Decode(_))
    ));
}

/// A busy network: unreliable, reordering, duplicating, with crashes and
/// partitions. Returns the trace hash and proves no call hangs.
fn chaos(seed: u64) -> u64 {
    let config = NetConfig {
        reliable: false,
        long_reordering: true,
        duplicate_per_million: 50_000,
        latency: Latency::Uniform {
            min_ns: MS / 2,
            max_ns: 5 * MS,
        },
        ..Default::default()
    };
    let mut sim = sim_with(seed, config, 5);
    let nodes = [0, 1, 2, 3, 4];
    let mut made = 0;
    for round in 0..40u64 {
        for from in 0..5 {
            if sim.is_up(from) {
                let to = ((from as u64 + round) % 5) as usize;
                if round % 3 == 0 {
                    start::<Slow>(&mut sim, from, to, round);
                } else {
                    start::<Echo>(&mut sim, from, to, round);
                }
                made += 1;
            }
        }
        match round % 8 {
            1 => sim
                .with_net(|net, k| net.split_majority(k, &nodes))
                .unwrap(),
            3 => sim.crash((round % 5) as usize).unwrap(),
            4 => sim.restart((round.saturating_sub(1) % 5) as usize).unwrap(),
            5 => sim
                .with_net(|net, k| net.majorities_ring(k, &nodes))
                .unwrap(),
            7 => sim.with_net(|net, k| net.heal(k)),
            _ => {}
        }
        sim.run_for(37 * MS).unwrap();
    }
    sim.with_net(|net, k| net.heal(k));
    sim.run_for(10 * SEC).unwrap();
    let _ = made;
    for n in 0..5 {
        if let Some(p) = sim.node::<Peer>(n) {
            for c in &p.made {
                assert!(
                    p.completion(*c).is_some(),
                    "seed {seed}: call {c} of node {n} never ended"
                );
            }
        }
    }
    assert_eq!(
        sim.net().calls_in_progress(),
        0,
        "seed {seed}: calls left hanging"
    );
    sim.trace_hash()
}

#[test]
fn a_busy_network_is_deterministic_and_never_hangs() {
    let a = chaos(77);
    assert_eq!(chaos(77), a);
    let others: std::collections::BTreeSet<u64> = (78..88).map(chaos).collect();
    assert_eq!(others.len(), 10);
    assert!(!others.contains(&a));
}

#[test]
fn many_round_trips() {
    // 6.824's TestBenchmark, as a correctness check: 100,000 calls all
    // complete. Speed is measured by `cargo bench -p labrpc`.
    let mut sim = sim_with(14, NetConfig::default(), 2);
    for i in 0..100_000 {
        start::<Echo>(&mut sim, 0, 1, i);
    }
    sim.run_for(SEC).unwrap();
    assert_eq!(sim.node::<Peer>(0).unwrap().done.len(), 100_000);
    assert_eq!(sim.net().rpc_count(1), 100_000);
}
