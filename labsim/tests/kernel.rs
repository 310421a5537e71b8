//! labsim's own tests: ordering, time, randomness, node life, storage, the
//! trace and its hash, invariants and the determinism self-check.

use labsim::{
    CrashMode, Ctx, DirectNetwork, Field, MS, Node, NodeId, SEC, Sim, SimError, Status, Storage,
    Stream, Synced, TimerId, Trace, TraceFilter, determinism,
};
use rand::RngExt;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

type Net = DirectNetwork<u64>;

/// Sends random numbers to random peers at random intervals.
struct Chatter {
    peers: usize,
    heard: Vec<u64>,
}

impl Node<Net> for Chatter {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Net>) {
        let delay = ctx.rng().random_range(1..50) * MS;
        ctx.set_timer(delay, 0);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Net>, _from: NodeId, msg: u64) {
        self.heard.push(msg);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Net>, _t: TimerId, _tag: u64) {
        let to = ctx.rng().random_range(0..self.peers);
        let value = ctx.rng().random::<u64>();
        ctx.send(to, value);
        let delay = ctx.rng().random_range(1..50) * MS;
        ctx.set_timer(delay, 0);
    }
}

fn chatter_run(seed: u64) -> (u64, u64) {
    let mut sim = Sim::new(seed, DirectNetwork::new(3 * MS));
    for i in 0..4 {
        sim.add_node(format!("n{i}"), |_, _| {
            Box::new(Chatter {
                peers: 4,
                heard: vec![],
            })
        });
    }
    sim.run_for(2 * SEC).unwrap();
    (sim.trace_hash(), sim.events())
}

#[test]
fn same_seed_same_hash_different_seed_different_hash() {
    let (a, events) = chatter_run(1);
    assert!(
        events > 100,
        "the scenario should be busy, had {events} events"
    );
    assert_eq!(chatter_run(1), (a, events));
    let others: HashSet<u64> = (2..20).map(|s| chatter_run(s).0).collect();
    assert_eq!(others.len(), 18, "every seed should give its own hash");
    assert!(!others.contains(&a));
}

#[test]
fn the_trace_hash_is_pinned_across_builds_and_machines() {
    // A fixed scenario's hash is part of the contract: if this changes, every
    // hash anyone recorded (in a bug report, a corpus) no longer replays.
    assert_eq!(chatter_run(42).0, PINNED_CHATTER_42);
}
const PINNED_CHATTER_42: u64 = 2256862778071223113;

#[test]
fn streams_are_independent() {
    let draws = |extra_node_draws: usize| {
        let mut sim = Sim::new(99, DirectNetwork::<u64>::new(0));
        let k = sim.kernel();
        for _ in 0..extra_node_draws {
            let _: u64 = k.rng(Stream::Node(3)).random();
        }
        let _: u64 = k.rng(Stream::Named("extra")).random();
        let net: Vec<u64> = (0..8).map(|_| k.rng(Stream::Network).random()).collect();
        let nemesis: Vec<u64> = (0..8).map(|_| k.rng(Stream::Nemesis).random()).collect();
        let node1: Vec<u64> = (0..8).map(|_| k.rng(Stream::Node(1)).random()).collect();
        (net, nemesis, node1)
    };
    let base = draws(0);
    assert_eq!(draws(1), base);
    assert_eq!(draws(1000), base);
    // And the streams are not copies of one another.
    assert_ne!(base.0, base.1);
    assert_ne!(base.0, base.2);
    // The same stream under another seed differs.
    let other = labsim::derive_stream(100, Stream::Network).random::<u64>();
    assert_ne!(other, base.0[0]);
}

/// Records what it sees, in order.
struct Recorder {
    log: Rc<RefCell<Vec<(u64, u64)>>>,
}

impl Node<Net> for Recorder {
    fn on_message(&mut self, ctx: &mut Ctx<'_, Net>, _from: NodeId, msg: u64) {
        self.log.borrow_mut().push((ctx.now_ns(), msg));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Net>, _t: TimerId, tag: u64) {
        self.log.borrow_mut().push((ctx.now_ns(), 1000 + tag));
    }
}

#[test]
fn events_run_in_time_then_insertion_order() {
    let log = Rc::new(RefCell::new(vec![]));
    let mut sim = Sim::new(1, DirectNetwork::new(5 * MS));
    let l = log.clone();
    let a = sim.add_node("a", move |_, _| Box::new(Recorder { log: l.clone() }));
    sim.with_node::<Recorder, _>(a, |_, ctx| {
        ctx.set_timer(10 * MS, 2);
        ctx.set_timer(5 * MS, 1);
        ctx.send(0, 7); // due at 5 ms, inserted after the 5 ms timer
        ctx.set_timer(5 * MS, 3);
        ctx.set_timer(0, 0);
    })
    .unwrap();
    sim.run_for(SEC).unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            (0, 1000),
            (5 * MS, 1001),
            (5 * MS, 7),
            (5 * MS, 1003),
            (10 * MS, 1002)
        ]
    );
}

#[test]
fn time_jumps_from_event_to_event() {
    let log = Rc::new(RefCell::new(vec![]));
    let mut sim = Sim::new(1, DirectNetwork::new(0));
    let l = log.clone();
    let a = sim.add_node("a", move |_, _| Box::new(Recorder { log: l.clone() }));
    sim.with_node::<Recorder, _>(a, |_, ctx| ctx.set_timer(3600 * SEC, 9))
        .unwrap();
    let before = sim.events();
    let fired = sim
        .run_until(|_| !log.borrow().is_empty(), 7200 * SEC)
        .unwrap();
    assert!(fired);
    assert_eq!(sim.now_ns(), 3600 * SEC);
    assert_eq!(
        sim.events() - before,
        1,
        "one event for an hour of virtual time"
    );
    assert!(!sim.run_until(|_| false, 7200 * SEC).unwrap());
    assert_eq!(sim.now_ns(), 7200 * SEC);
}

#[test]
fn cancelled_timers_do_not_fire() {
    let log = Rc::new(RefCell::new(vec![]));
    let mut sim = Sim::new(1, DirectNetwork::new(0));
    let l = log.clone();
    let a = sim.add_node("a", move |_, _| Box::new(Recorder { log: l.clone() }));
    let t = sim.with_node::<Recorder, _>(a, |_, ctx| {
        let t = ctx.set_timer(MS, 1);
        ctx.set_timer(2 * MS, 2);
        t
    });
    let cancelled = sim.with_node::<Recorder, _>(a, |_, ctx| ctx.cancel_timer(t.unwrap()));
    assert_eq!(cancelled, Some(true));
    sim.run_for(SEC).unwrap();
    assert_eq!(*log.borrow(), vec![(2 * MS, 1002)]);
}

/// Counts in memory, and keeps a durable copy of its count on disk.
struct Counter {
    count: u64,
    synced: Vec<u64>,
}

impl Counter {
    fn from_disk(storage: &Storage) -> Counter {
        let count = storage
            .read("count")
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .unwrap_or(0);
        Counter {
            count,
            synced: vec![],
        }
    }
}

impl Node<Net> for Counter {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Net>) {
        ctx.set_timer(10 * MS, 0);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Net>, _from: NodeId, add: u64) {
        self.count += add;
        ctx.write("count", &self.count.to_le_bytes());
        if let Synced::Later(id) = ctx.sync() {
            assert!(id < 1 << 40);
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Net>, _t: TimerId, _tag: u64) {
        self.count += 1000; // volatile only
        ctx.set_timer(10 * MS, 0);
    }
    fn on_sync(&mut self, _ctx: &mut Ctx<'_, Net>, sync: u64) {
        self.synced.push(sync);
    }
}

fn counter_sim() -> (Sim<Net>, NodeId, NodeId) {
    let mut sim = Sim::new(5, DirectNetwork::new(MS));
    let a = sim.add_node("a", |_, s| Box::new(Counter::from_disk(s)));
    let b = sim.add_node("b", |_, s| Box::new(Counter::from_disk(s)));
    (sim, a, b)
}

#[test]
fn crash_loses_volatile_state_timers_and_messages_in_flight() {
    let (mut sim, a, b) = counter_sim();
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 5))
        .unwrap();
    sim.run_for(5 * MS).unwrap(); // delivered at 1 ms, synced at once
    assert_eq!(sim.node::<Counter>(a).unwrap().count, 5);
    sim.run_for(10 * MS).unwrap(); // one timer: +1000 in memory
    assert_eq!(sim.node::<Counter>(a).unwrap().count, 1005);
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 7))
        .unwrap(); // in flight
    sim.crash(a).unwrap();
    assert!(sim.node::<Counter>(a).is_none());
    assert_eq!(sim.status(a), Ok(Status::Crashed));
    sim.run_for(5 * MS).unwrap(); // the message in flight is lost
    sim.restart(a).unwrap();
    assert_eq!(
        sim.node::<Counter>(a).unwrap().count,
        5,
        "rebuilt from disk alone"
    );
    // Timers set before the crash are gone: only the restarted node's fire.
    let t0 = sim.now_ns();
    sim.run_for(10 * MS).unwrap();
    assert_eq!(sim.node::<Counter>(a).unwrap().count, 1005);
    assert_eq!(sim.now_ns() - t0, 10 * MS);
    assert!(matches!(sim.restart(a), Err(SimError::BadState { .. })));
    assert!(matches!(sim.crash(17), Err(SimError::UnknownNode(17))));
}

#[test]
fn overlapping_holds_keep_a_node_down_until_the_last_ends() {
    let (mut sim, a, _) = counter_sim();
    let status = |sim: &Sim<Net>| sim.status(a).unwrap();
    // A crash nested in another: the inner one's end leaves the node down.
    assert_eq!(sim.hold_crashed(a, CrashMode::Machine), Ok(true));
    assert_eq!(sim.hold_crashed(a, CrashMode::Machine), Ok(false));
    sim.release_crashed(a).unwrap();
    assert_eq!(status(&sim), Status::Crashed, "the outer crash still holds");
    sim.release_crashed(a).unwrap();
    assert_eq!(status(&sim), Status::Up);
    // A pause nested in another.
    sim.hold_paused(a).unwrap();
    sim.hold_paused(a).unwrap();
    sim.release_paused(a).unwrap();
    assert_eq!(status(&sim), Status::Paused, "the outer pause still holds");
    sim.release_paused(a).unwrap();
    assert_eq!(status(&sim), Status::Up);
    // A crash inside a pause crashes the node, and it comes back paused.
    sim.hold_paused(a).unwrap();
    assert_eq!(sim.hold_crashed(a, CrashMode::Process), Ok(true));
    sim.release_crashed(a).unwrap();
    assert_eq!(status(&sim), Status::Paused, "restarted, still paused");
    assert!(sim.node::<Counter>(a).is_some(), "rebuilt from its disk");
    sim.release_paused(a).unwrap();
    assert_eq!(status(&sim), Status::Up);
    // A pause inside a crash: the pause's end leaves the node down.
    sim.hold_crashed(a, CrashMode::Torn).unwrap();
    sim.hold_paused(a).unwrap();
    sim.release_paused(a).unwrap();
    assert_eq!(status(&sim), Status::Crashed);
    // The heal drops every hold; a release after it does nothing.
    sim.hold_paused(a).unwrap();
    sim.release_all(a).unwrap();
    assert_eq!(status(&sim), Status::Up);
    sim.release_crashed(a).unwrap();
    sim.release_paused(a).unwrap();
    assert_eq!(status(&sim), Status::Up);
    assert_eq!(
        sim.hold_crashed(9, CrashMode::Machine),
        Err(SimError::UnknownNode(9))
    );
}

#[test]
fn writes_are_durable_only_once_synced() {
    let (mut sim, a, b) = counter_sim();
    sim.set_sync_latency(a, 4 * MS).unwrap();
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 5))
        .unwrap();
    sim.run_for(3 * MS).unwrap(); // delivered at 1 ms; sync done at 5 ms
    assert_eq!(sim.storage(a).read("count"), Some(&5u64.to_le_bytes()[..]));
    assert_eq!(sim.storage(a).read_durable("count"), None);
    sim.run_for(3 * MS).unwrap();
    assert_eq!(
        sim.storage(a).read_durable("count"),
        Some(&5u64.to_le_bytes()[..])
    );
    assert_eq!(sim.node::<Counter>(a).unwrap().synced, vec![0]);
    // A crash before the next sync completes loses that write.
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 2))
        .unwrap();
    sim.run_for(2 * MS).unwrap();
    assert_eq!(sim.node::<Counter>(a).unwrap().count, 7);
    sim.crash(a).unwrap();
    sim.restart(a).unwrap();
    assert_eq!(sim.node::<Counter>(a).unwrap().count, 5);
    // A process crash keeps what the page cache had.
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 2))
        .unwrap();
    sim.run_for(2 * MS).unwrap();
    sim.crash_keep_unsynced(a).unwrap();
    sim.restart(a).unwrap();
    assert_eq!(sim.node::<Counter>(a).unwrap().count, 7);
}

#[test]
fn a_paused_node_gets_its_events_late_and_in_order() {
    let log = Rc::new(RefCell::new(vec![]));
    let mut sim = Sim::new(1, DirectNetwork::new(MS));
    let l = log.clone();
    let a = sim.add_node("a", move |_, _| Box::new(Recorder { log: l.clone() }));
    let b = sim.add_node("b", |_, _| {
        Box::new(Chatter {
            peers: 0,
            heard: vec![],
        })
    });
    sim.with_node::<Recorder, _>(a, |_, ctx| ctx.set_timer(2 * MS, 1))
        .unwrap();
    sim.pause(a).unwrap();
    sim.with_node::<Chatter, _>(b, |_, ctx| ctx.send(a, 42))
        .unwrap();
    sim.run_for(10 * MS).unwrap();
    assert!(log.borrow().is_empty());
    assert!(
        sim.with_node::<Recorder, _>(a, |_, _| ()).is_none(),
        "a paused node takes no input"
    );
    sim.resume(a).unwrap();
    sim.run_for(0).unwrap();
    // Both were due while it was paused (the message at 1 ms, the timer at
    // 2 ms); they arrive on resume, in the order they fell due.
    assert_eq!(*log.borrow(), vec![(10 * MS, 42), (10 * MS, 1001)]);
}

#[test]
fn clock_drift_makes_timers_run_fast_or_slow() {
    let log = Rc::new(RefCell::new(vec![]));
    let mut sim = Sim::new(1, DirectNetwork::new(0));
    let l = log.clone();
    let a = sim.add_node("a", move |_, _| Box::new(Recorder { log: l.clone() }));
    sim.set_clock_drift(a, 250_000).unwrap(); // 25% fast
    sim.with_node::<Recorder, _>(a, |_, ctx| ctx.set_timer(100 * MS, 0))
        .unwrap();
    sim.run_until(|_| !log.borrow().is_empty(), SEC).unwrap();
    assert_eq!(sim.now_ns(), 80 * MS);
    assert_eq!(
        log.borrow()[0].0,
        100 * MS,
        "the node's own clock read 100 ms"
    );
    assert!(sim.set_clock_drift(a, -1_000_000).is_err());
}

#[test]
fn a_drift_change_re_times_timers_already_set() {
    let log = Rc::new(RefCell::new(vec![]));
    let mut sim = Sim::new(1, DirectNetwork::new(0));
    let l = log.clone();
    let a = sim.add_node("a", move |_, _| Box::new(Recorder { log: l.clone() }));
    sim.with_node::<Recorder, _>(a, |_, ctx| ctx.set_timer(100 * MS, 0))
        .unwrap();
    sim.run_for(50 * MS).unwrap();
    // Twice as fast from 50 ms: the 50 ms its clock still had to run take 25.
    sim.set_clock_drift(a, 1_000_000).unwrap();
    sim.run_until(|_| !log.borrow().is_empty(), SEC).unwrap();
    assert_eq!(sim.now_ns(), 75 * MS);
    assert_eq!(log.borrow()[0].0, 100 * MS, "its own clock read 100 ms");
    // And back: a timer set at the fast rate waits longer once it slows.
    sim.with_node::<Recorder, _>(a, |_, ctx| ctx.set_timer(100 * MS, 1))
        .unwrap();
    sim.set_clock_drift(a, 0).unwrap();
    sim.run_until(|_| log.borrow().len() == 2, SEC).unwrap();
    assert_eq!(sim.now_ns(), 175 * MS);
}

#[test]
fn an_invariant_stops_the_run_at_the_event() {
    let (mut sim, a, b) = counter_sim();
    sim.add_invariant("count below 1000", move |s: &Sim<Net>| {
        match s.node::<Counter>(a) {
            Some(c) if c.count >= 1000 => Err(format!("node {a} counted {}", c.count)),
            _ => Ok(()),
        }
    });
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 1))
        .unwrap();
    let err = sim.run_for(SEC).unwrap_err();
    let SimError::Violation(v) = err else {
        panic!("expected a violation")
    };
    assert_eq!(v.invariant, "count below 1000");
    assert_eq!(v.at_ns, 10 * MS);
    assert_eq!(v.message, "node 0 counted 1001");
    assert!(v.event > 0);
    assert!(v.to_string().contains(&format!("after event #{}", v.event)));
    // The run stays stopped.
    assert!(matches!(sim.run_for(SEC), Err(SimError::Violation(_))));
}

#[test]
fn bad_input_is_a_clear_error() {
    let (mut sim, a, _) = counter_sim();
    sim.run_for(SEC).unwrap();
    let err = sim.run_until(|_| false, 10 * MS).unwrap_err();
    assert_eq!(
        err,
        SimError::DeadlineInPast {
            deadline_ns: 10 * MS,
            now_ns: SEC
        }
    );
    assert!(err.to_string().contains("in the past"));
    assert!(sim.schedule(0, "late", |_| {}).is_err());
    assert_eq!(sim.pause(9), Err(SimError::UnknownNode(9)));
    assert!(matches!(sim.resume(a), Err(SimError::BadState { .. })));
    assert!(
        sim.with_node::<Recorder, _>(a, |_, _| ()).is_none(),
        "wrong type"
    );
}

/// A trace sink the test can read back.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.borrow().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[test]
fn the_trace_streams_as_json_lines() {
    let out = Shared::default();
    let (mut sim, a, b) = counter_sim();
    sim.trace_mut().stream_json(
        Box::new(out.clone()),
        TraceFilter {
            node: Some(a),
            ..Default::default()
        },
    );
    sim.with_node::<Counter, _>(b, |_, ctx| ctx.send(a, 3))
        .unwrap();
    sim.run_for(15 * MS).unwrap();
    sim.trace_mut().flush().unwrap();
    let lines = out.lines();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["deliver", "write", "sync", "timer"]);
    assert!(lines.iter().all(|l| l["node"] == 0));
    assert_eq!(lines[0]["detail"], "from 1: 3");
    assert_eq!(
        lines[0]["from"], 1,
        "a delivery names its sender as a field"
    );
    assert_eq!(lines[0]["t_ns"], MS);
    assert_eq!(
        sim.trace_mut().nodes(),
        2,
        "the trace counts the nodes of every event, not only of those kept"
    );
}

#[test]
fn annotations_carry_fields_and_never_enter_the_hash() {
    let run = |sink: Option<Shared>| {
        let (mut sim, a, b) = counter_sim();
        if let Some(out) = sink {
            sim.trace_mut()
                .stream_json(Box::new(out), TraceFilter::default());
        }
        sim.with_node::<Counter, _>(b, |_, ctx| {
            let fields = [
                ("to", Field::from(a)),
                ("why", Field::from("a \"test\"")),
                ("urgent", Field::from(true)),
            ];
            ctx.annotate_fields("plan", &fields, || "to 0: three".to_string());
            ctx.send(a, 3);
        })
        .unwrap();
        sim.run_for(15 * MS).unwrap();
        sim.trace_mut().flush().unwrap();
        (sim.trace_hash(), sim.events())
    };
    let out = Shared::default();
    assert_eq!(run(Some(out.clone())), run(None));
    let lines = out.lines();
    let plan = lines
        .iter()
        .find(|l| l["kind"] == "plan")
        .expect("the note");
    assert_eq!(plan["note"], true);
    assert_eq!(plan["node"], 1);
    assert_eq!(plan["detail"], "to 0: three");
    assert_eq!(
        (&plan["to"], &plan["why"], &plan["urgent"]),
        (&json!(0), &json!("a \"test\""), &json!(true))
    );
}

/// Broadcasts to its peers in the iteration order of a std HashSet: that
/// order comes from a process-random hasher, so two runs differ.
struct Nondeterministic;

impl Node<Net> for Nondeterministic {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Net>) {
        ctx.set_timer(MS, 0);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Net>, _t: TimerId, _tag: u64) {
        if ctx.id() == 0 {
            let peers: HashSet<usize> = (1..16).collect();
            for p in peers {
                ctx.send(p, p as u64);
            }
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Net>, _from: NodeId, _msg: u64) {}
}

fn run_for_check(prepare: &mut dyn FnMut(&mut Trace), deterministic: bool) -> Trace {
    let mut sim = Sim::new(3, DirectNetwork::new(MS));
    prepare(sim.trace_mut());
    for i in 0..16 {
        if deterministic {
            sim.add_node(format!("n{i}"), |_, _| {
                Box::new(Chatter {
                    peers: 16,
                    heard: vec![],
                })
            });
        } else {
            sim.add_node(format!("n{i}"), |_, _| Box::new(Nondeterministic));
        }
    }
    sim.run_for(SEC).unwrap();
    std::mem::take(sim.trace_mut())
}

#[test]
fn the_self_check_passes_a_deterministic_scenario() {
    let hash = determinism::check(|prepare| run_for_check(prepare, true)).unwrap();
    assert_eq!(
        hash,
        determinism::check(|prepare| run_for_check(prepare, true)).unwrap()
    );
}

#[test]
fn the_self_check_names_the_first_divergent_event() {
    // 15! orders: two runs agree by chance essentially never; try a few times
    // so that even that chance cannot make this test flaky.
    let mut found = None;
    for _ in 0..5 {
        if let Err(d) = determinism::check(|prepare| run_for_check(prepare, false)) {
            found = Some(d);
            break;
        }
    }
    let d = found.expect("a node iterating a process-random HashSet must be caught");
    let first = d.first.clone().unwrap();
    let second = d.second.clone().unwrap();
    assert_eq!(first.index, d.index);
    assert_eq!(
        first.kind, "deliver",
        "the first difference is which peer hears first"
    );
    assert_eq!(second.kind, "deliver");
    assert_ne!(first.node, second.node);
    assert!(d.second_detail.starts_with("from 0: "));
    let report = d.to_string();
    assert!(
        report.contains(&format!("runs diverge at event #{}", d.index)),
        "{report}"
    );
    assert!(d.last_common.unwrap().index + 1 == d.index);
}

#[test]
fn a_run_stops_in_the_virtual_second_that_reaches_its_event_rate_budget() {
    let chatter = |sim: &mut Sim<Net>| {
        for _ in 0..3 {
            sim.add_node("chatter", |_, _| {
                Box::new(Chatter {
                    peers: 3,
                    heard: vec![],
                })
            });
        }
    };
    // About 80 events per node per second (a timer every 25 ms on average,
    // and the message it sends): within a budget of 200, ten seconds run.
    let mut calm = Sim::new(1, DirectNetwork::new(3 * MS));
    chatter(&mut calm);
    calm.set_event_rate_budget(200);
    calm.run_for(10 * SEC).unwrap();
    assert!(calm.events() > 2_000, "{} events", calm.events());
    // A budget of 20 is reached in the first second, and the error says so.
    let mut stormy = Sim::new(1, DirectNetwork::new(3 * MS));
    chatter(&mut stormy);
    stormy.set_event_rate_budget(20);
    let err = stormy.run_for(10 * SEC).unwrap_err();
    assert!(
        matches!(
            err,
            SimError::EventRateBudget {
                per_node: 20,
                nodes: 3,
                at_ns: 0
            }
        ),
        "{err:?}"
    );
    assert!(stormy.now_ns() < SEC, "stopped at {}", stormy.now_ns());
    assert!(
        err.to_string()
            .starts_with("the run reached its budget of 60 events in one virtual second"),
        "{err}"
    );
}

#[test]
fn a_run_stops_at_its_event_budget() {
    let mut sim = Sim::new(1, DirectNetwork::new(3 * MS));
    for _ in 0..3 {
        sim.add_node("chatter", |_, _| {
            Box::new(Chatter {
                peers: 3,
                heard: vec![],
            })
        });
    }
    sim.set_event_budget(500);
    match sim.run_for(3600 * SEC) {
        Err(SimError::EventBudget(500)) => {}
        other => panic!("expected the event budget, got {other:?}"),
    }
    assert_eq!(sim.events(), 500);
}
