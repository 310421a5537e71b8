//! The workload `lab real-nemesis --no-faults` runs on a real cluster, in the
//! simulator: 3 servers, 1, 8 and 64 clients each one operation at a time,
//! half Gets, a quarter Puts, a quarter Appends on ten keys. Prints completed
//! operations per virtual second and latency percentiles in virtual ms, to
//! set beside the real cluster's figures (see README, "Running for real").
//! Run with `cargo run --release -p tests --example sim_vs_real [SEED]`.

use labsim::SEC;
use linearizability::KvInput;
use tests::kv_suite::clerk::{Mixed, STAMPS_PER_NS};
use tests::kv_suite::{KvConfig, KvOptions};

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    let at = ((sorted.len().max(1) - 1) as f64 * p).round() as usize;
    sorted.get(at).map_or(0.0, |&ns| ns as f64 / 1e6)
}

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "clients", "gets/s", "writes/s", "p50 ms", "p99 ms", "wall s"
    );
    for clients in [1, 8, 64] {
        let wall = std::time::Instant::now();
        let test = tests::Test {
            name: "sim-vs-real",
            seed,
        };
        let mut cfg = KvConfig::new(&test, KvOptions::new(3));
        let all = cfg.all();
        let cks: Vec<_> = (0..clients).map(|_| cfg.make_client(&all)).collect();
        for (me, ck) in cks.into_iter().enumerate() {
            cfg.start_workload(ck, Box::new(Mixed { client: me, n: 0 }));
        }
        cfg.sleep(2 * SEC).expect("warm-up: a leader is elected");
        let from = cfg.sim.now_ns() * STAMPS_PER_NS;
        let window_s = 10;
        cfg.sleep(window_s * SEC).expect("the measured window runs");
        let to = cfg.sim.now_ns() * STAMPS_PER_NS;
        let done: Vec<_> = cfg
            .history()
            .into_iter()
            .filter(|o| o.call_ns >= from && o.return_ns <= to)
            .collect();
        let mut latencies: Vec<u64> = done
            .iter()
            .map(|o| (o.return_ns - o.call_ns) / STAMPS_PER_NS)
            .collect();
        latencies.sort_unstable();
        let gets = done
            .iter()
            .filter(|o| matches!(o.input, KvInput::Get { .. }))
            .count();
        println!(
            "{clients:>7} {:>9.0} {:>9.0} {:>9.2} {:>9.2} {:>9.2}",
            gets as f64 / window_s as f64,
            (done.len() - gets) as f64 / window_s as f64,
            percentile_ms(&latencies, 0.5),
            percentile_ms(&latencies, 0.99),
            wall.elapsed().as_secs_f64()
        );
    }
}
