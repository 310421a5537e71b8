//! Speed of the linearizability checker on Porcupine's reference histories.
//! Porcupine itself, on the same machine: kv c50-ok 0.26 s, kv c50-bad 0.028 s,
//! all 102 etcd logs 1.2 s. Parsing is outside the measured loop, as in Porcupine's
//! benchmarks.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use linearizability::{
    CheckOptions, CheckResult, KvModel, RegisterModel, check, parse_jepsen_register, parse_kv,
};

/// Porcupine's histories, copied into the crate (see testdata/porcupine/README.md).
fn porcupine_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/porcupine"))
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let dir = porcupine_dir();
    let mut group = c.benchmark_group("linearizability");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));

    for (name, want) in [("c50-ok", true), ("c50-bad", false)] {
        let history = parse_kv(&read(dir.join(format!("kv/{name}.txt")))).expect("parses");
        for threads in [1, 2] {
            let options = CheckOptions {
                threads,
                ..CheckOptions::default()
            };
            group.bench_function(format!("kv/{name}/threads={threads}"), |b| {
                b.iter(|| {
                    let result = check(&KvModel, black_box(&history), &options);
                    assert_eq!(result.is_linearizable(), want);
                    assert!(!matches!(result, CheckResult::Unknown(_)));
                })
            });
        }
    }

    // Every log listed in VERDICTS.txt (102 of them), checked one after the other.
    let verdicts = read(dir.join("jepsen/VERDICTS.txt"));
    let logs: Vec<_> = verdicts
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace();
            let n: u32 = f.next().and_then(|n| n.parse().ok()).expect(l);
            let want: bool = f.next().and_then(|v| v.parse().ok()).expect(l);
            let text = read(dir.join(format!("jepsen/etcd_{n:03}.log")));
            (parse_jepsen_register(&text).expect("parses"), want)
        })
        .collect();
    assert_eq!(logs.len(), 102);
    let options = CheckOptions::default();
    group.bench_function("etcd/all-102-logs", |b| {
        b.iter(|| {
            for (history, want) in &logs {
                let result = check(&RegisterModel, black_box(history), &options);
                assert_eq!(result.is_linearizable(), *want);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
