//! Runs every graded KV test once (seed from the first argument, default 1)
//! and prints its wall time, virtual time, operations and RPCs.

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let t0 = std::time::Instant::now();
    for t in tests::kv_suite::TESTS {
        if !t.name.contains(&filter) {
            continue;
        }
        let start = std::time::Instant::now();
        let r = t.run(seed);
        let wall = start.elapsed();
        match r {
            Ok(r) => println!(
                "{:<70} {:>6.2}s wall {:>7.2}s virtual {:>6} ops {:>8} rpcs {:>9} events",
                t.name,
                wall.as_secs_f64(),
                r.virtual_ns as f64 / 1e9,
                r.commands,
                r.rpcs,
                r.events
            ),
            Err(f) => println!("{:<70} {:>6.2}s wall\n{f}", t.name, wall.as_secs_f64()),
        }
    }
    println!("total {:.2}s", t0.elapsed().as_secs_f64());
}
