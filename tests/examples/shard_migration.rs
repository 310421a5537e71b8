//! The cost of a shard migration: three groups of three, one of which holds
//! ten 1,000-byte values; a second group joins and takes half the shards.
//! Prints the messages and bytes of the two seconds after the Join, less
//! those of two idle seconds before it (heartbeats, polls of the controller).
//! `cargo run --release -p tests --example shard_migration -- [SEED]`

use labsim::SEC;
use tests::Test;
use tests::shardkv_suite::ShardKvConfig;

fn counters(cfg: &ShardKvConfig) -> (u64, u64) {
    let net = cfg.sim.net();
    (net.total_rpcs(), net.total_bytes())
}

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let t = Test {
        name: "shard-migration",
        seed,
    };
    let mut cfg = ShardKvConfig::new(&t, 3, false, None);
    let ctl = cfg.ctl();
    let ck = cfg.make_client(&ctl);
    cfg.join(0).expect("join");
    let value = "x".repeat(1000);
    for k in 0..10 {
        cfg.put(ck, &k.to_string(), &value).expect("put");
    }
    cfg.sleep(2 * SEC).expect("settle");
    let (r0, b0) = counters(&cfg);
    cfg.sleep(2 * SEC).expect("idle");
    let (r1, b1) = counters(&cfg);
    cfg.join(1).expect("join");
    cfg.sleep(2 * SEC).expect("migrate");
    let (r2, b2) = counters(&cfg);
    let moved = cfg.query().expect("query").shards_of(cfg.gid(1)).len();
    let (idle_rpcs, idle_bytes) = (r1 - r0, b1 - b0);
    let (rpcs, bytes) = (
        (r2 - r1).saturating_sub(idle_rpcs),
        (b2 - b1).saturating_sub(idle_bytes),
    );
    println!(
        "shards moved: {moved} (about {} bytes of values)",
        moved * 1000
    );
    println!("idle 2 s: {idle_rpcs} RPCs, {idle_bytes} bytes");
    println!("migration (2 s after the Join, less idle): {rpcs} RPCs, {bytes} bytes");
    for k in 0..10 {
        cfg.check(ck, &k.to_string(), &value).expect("value kept");
    }
    cfg.end().expect("linearizable");
}
