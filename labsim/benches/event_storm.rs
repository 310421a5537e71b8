//! An empty-handler event storm: nodes that do nothing but re-arm timers.
//! Measures the kernel's raw cost per event (queue, dispatch, trace hash).
//! Run: `cargo bench -p labsim --bench event_storm`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use labsim::{Ctx, DirectNetwork, Node, NodeId, Sim, TimerId, US};

type Net = DirectNetwork<u64>;

struct Ticker;

impl Node<Net> for Ticker {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Net>) {
        for tag in 0..4 {
            ctx.set_timer((ctx.id() as u64 * 7 + tag) % 97 * US, tag);
        }
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Net>, _: NodeId, _: u64) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Net>, _: TimerId, tag: u64) {
        ctx.set_timer((13 + tag * 29) * US, tag);
    }
}

const EVENTS: u64 = 1_000_000;

fn storm() -> u64 {
    let mut sim = Sim::new(1, DirectNetwork::new(0));
    for i in 0..64 {
        sim.add_node(format!("n{i}"), |_, _| Box::new(Ticker));
    }
    let start = sim.events();
    while sim.events() - start < EVENTS {
        sim.step().unwrap();
    }
    sim.trace_hash()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("labsim");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(10);
    g.bench_function("timer_storm_1M_events", |b| b.iter(storm));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
