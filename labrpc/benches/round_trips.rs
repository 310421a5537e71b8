//! Request/reply round trips per second of wall time, reliable and
//! unreliable. Run: `cargo bench -p labrpc --bench round_trips`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use labrpc::{Method, Net, NetConfig, Router, Sim, call, reply};
use labsim::{Node, NodeId, SEC};
use std::rc::Rc;

struct Echo;
impl Method for Echo {
    const NAME: &'static str = "Bench.Echo";
    type Args = u64;
    type Reply = u64;
}

/// Keeps `window` calls outstanding to node 1 until `budget` have ended.
struct Pump {
    router: Rc<Router<Pump>>,
    window: u64,
    budget: u64,
    started: u64,
    ended: u64,
}

impl Pump {
    fn next(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        if self.started < self.budget {
            self.started += 1;
            call::<Echo>(ctx, 1, &self.started).expect("node 1 exists");
        }
    }
}

impl Node<Net> for Pump {
    fn on_start(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        if ctx.id() == 0 {
            ctx.set_timer(0, 0);
        }
    }
    fn on_timer(&mut self, ctx: &mut labrpc::Ctx<'_>, _: u64, _: u64) {
        for _ in 0..self.window {
            self.next(ctx);
        }
    }
    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: labrpc::Packet) {
        if Router::serve(self.router.clone(), self, ctx, from, packet).is_some() {
            self.ended += 1;
            self.next(ctx);
        }
    }
}

const CALLS: u64 = 200_000;

fn run(reliable: bool) -> u64 {
    let config = NetConfig {
        reliable,
        ..Default::default()
    };
    let mut sim = Sim::new(1, Net::new(config));
    let router = Router::new()
        .route::<Echo>(|_: &mut Pump, ctx, _, n, token| reply::<Echo>(ctx, token, &n))
        .unwrap()
        .build();
    for i in 0..2 {
        let r = router.clone();
        sim.add_node(format!("n{i}"), move |_, _| {
            Box::new(Pump {
                router: r.clone(),
                window: 64,
                budget: CALLS,
                started: 0,
                ended: 0,
            })
        });
    }
    sim.run_until(|s| s.node::<Pump>(0).unwrap().ended == CALLS, 100_000 * SEC)
        .unwrap();
    sim.trace_hash()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("labrpc");
    g.throughput(Throughput::Elements(CALLS));
    g.sample_size(10);
    g.bench_function("reliable_round_trips_200k", |b| b.iter(|| run(true)));
    g.bench_function("unreliable_round_trips_200k", |b| b.iter(|| run(false)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
