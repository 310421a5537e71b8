//! KV throughput in simulated terms: operations committed per virtual
//! second and messages per committed operation, for 1, 15 and 100 clients
//! on 3- and 5-server clusters (reliable network, every client issuing
//! Puts and Appends back to back). Run with `scripts/kv-bench.sh`.

use labsim::{SEC, SimRng};
use peer::Op;
use rand::RngExt;
use tests::kv_suite::clerk::Workload;
use tests::kv_suite::{KvConfig, KvOptions};

/// Puts and Appends to ten keys, forever.
struct BackToBack {
    me: usize,
    n: u64,
}

impl Workload for BackToBack {
    fn next(&mut self, rng: &mut SimRng, _last: Option<(&Op, &str)>) -> Option<Op> {
        self.n += 1;
        let key = format!("{}", rng.random_range(0..10));
        let value = format!("x {} {} y", self.me, self.n);
        Some(if rng.random_bool(0.5) {
            Op::Put { key, value }
        } else {
            Op::Append { key, value }
        })
    }
}

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!(
        "{:>7} {:>7} {:>14} {:>12} {:>10}",
        "servers", "clients", "ops/virtual s", "msgs/op", "wall s"
    );
    for servers in [3, 5] {
        for clients in [1, 15, 100] {
            let wall = std::time::Instant::now();
            let mut cfg = KvConfig::new(
                &tests::Test {
                    name: "kv-bench",
                    seed,
                },
                KvOptions::new(servers),
            );
            let all = cfg.all();
            let cks: Vec<_> = (0..clients).map(|_| cfg.make_client(&all)).collect();
            for (me, ck) in cks.into_iter().enumerate() {
                cfg.start_workload(ck, Box::new(BackToBack { me, n: 0 }));
            }
            cfg.sleep(2 * SEC).expect("warm-up: a leader is elected");
            let (ops0, rpcs0) = (cfg.ops(), cfg.sim.net().total_rpcs());
            let window_s = 10;
            cfg.sleep(window_s * SEC).expect("the measured window runs");
            let ops = (cfg.ops() - ops0) as f64;
            let rpcs = (cfg.sim.net().total_rpcs() - rpcs0) as f64;
            println!(
                "{servers:>7} {clients:>7} {:>14.0} {:>12.2} {:>10.2}",
                ops / window_s as f64,
                rpcs / ops.max(1.0),
                wall.elapsed().as_secs_f64()
            );
        }
    }
}
