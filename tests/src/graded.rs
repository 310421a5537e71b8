//! Running graded tests over seeds, as `cargo test` and `lab` do.

use crate::failure::{run_caught, seeds};
use crate::raft_suite::{GradedTest, RunReport};

/// The seeds `cargo test` runs each graded test on, unless `RAFTLAB_SEEDS`
/// says otherwise.
pub const DEFAULT_SEEDS: &[u64] = &[1, 2, 3];

/// Runs `test` on every seed of `RAFTLAB_SEEDS` (or the defaults), and runs
/// the first seed a second time to check that it gives the same trace hash.
/// Panics with the failure line (and its replay command) on the first failure.
pub fn run_graded(test: &GradedTest) {
    let seeds = seeds(DEFAULT_SEEDS);
    let mut first: Option<RunReport> = None;
    for seed in seeds.iter() {
        match run_caught(test.name, seed, || test.run(seed)) {
            Ok(report) => {
                if first.is_none() {
                    first = Some(report);
                }
            }
            Err(f) => panic!("\n{f}\n"),
        }
    }
    if let (Some(report), Some(seed)) = (first, seeds.first()) {
        let again = run_caught(test.name, seed, || test.run(seed))
            .unwrap_or_else(|f| panic!("\nthe second run failed where the first passed:\n{f}\n"));
        assert_eq!(
            report.trace_hash,
            again.trace_hash,
            "{} seed={}: two runs gave different trace hashes; run `lab check-determinism {} --seeds {}..{}`",
            test.name,
            seed,
            test.name,
            seed,
            seed + 1
        );
    }
}

/// One `#[test]` per graded test of a registry (`TESTS`, named `PREFIX::name`),
/// each run by [`run_graded`], plus a test that every registered test has one.
#[macro_export]
macro_rules! graded_cargo_tests {
    ($registry:path, $prefix:literal; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let full = concat!($prefix, "::", stringify!($name));
                let test = $registry.iter().find(|t| t.name == full).expect("registered");
                $crate::graded::run_graded(test);
            }
        )*

        #[test]
        fn every_registered_test_has_a_cargo_test() {
            let names = [$(concat!($prefix, "::", stringify!($name))),*];
            for t in $registry {
                assert!(names.contains(&t.name), "{} has no #[test]", t.name);
            }
            assert_eq!(names.len(), $registry.len());
        }
    };
}
