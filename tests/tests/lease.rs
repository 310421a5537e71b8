//! The lease hazard the etcd docs warn about: lease reads are linearizable
//! while clocks drift within what the lease assumes, and stale beyond it.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use tests::scenarios;

#[test]
fn within_the_drift_bound_lease_reads_stay_linearizable() {
    let s = scenarios::find("kv-lease").expect("the scenario");
    for seed in 0..10 {
        let report = s.run(seed).unwrap_or_else(|f| panic!("{f}"));
        assert!(
            report.marks.contains_key(peer::coverage::LEASE_READ),
            "seed {seed}"
        );
    }
}

#[test]
fn beyond_it_the_checker_catches_a_stale_lease_read() {
    let s = scenarios::find("kv-lease-beyond-bound").expect("the scenario");
    let stale = (0..100).find_map(|seed| s.run(seed).err());
    let f = stale.expect("a stale read in 100 seeds");
    assert!(f.what.contains("not linearizable"), "{f}");
}
