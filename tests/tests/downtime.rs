//! Figure 16's trial: the cluster loses its leader, and elects another in
//! about the time the paper measured; without randomness in the timeouts,
//! split votes can last for ever.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use tests::downtime::{Setup, trial, validate};

fn setup(min: u64, max: u64) -> Setup {
    Setup {
        peers: 5,
        election_min_ms: min,
        election_max_ms: max,
        broadcast_ms: 15,
        pre_vote: false,
        limit_ms: 10_000,
    }
}

#[test]
fn with_randomness_every_trial_elects_and_no_sooner_than_half_the_minimum_timeout() {
    let s = setup(150, 300);
    let mut downtimes_ms: Vec<u64> = (0..40)
        .map(|seed| {
            let t = trial(&s, seed).unwrap_or_else(|f| panic!("{f}"));
            assert!(
                t.short_logs,
                "seed {seed}: two survivors must be too short to win"
            );
            t.downtime_ns
                .unwrap_or_else(|| panic!("seed {seed}: no leader in 10 s"))
                / 1_000_000
        })
        .collect();
    downtimes_ms.sort_unstable();
    // The followers time out at least the minimum timeout after the last
    // heartbeat, which came at most half of it before the crash.
    assert!(downtimes_ms[0] >= 75, "{downtimes_ms:?}");
    let median = downtimes_ms[downtimes_ms.len() / 2];
    assert!(
        (100..400).contains(&median),
        "median {median} ms: {downtimes_ms:?}"
    );
}

#[test]
fn without_randomness_split_votes_can_outlast_the_limit() {
    let s = setup(150, 150);
    let stuck = (0..20)
        .filter(|&seed| trial(&s, seed).expect("a trial").downtime_ns.is_none())
        .count();
    assert!(
        stuck > 0,
        "no trial of 150-150 ms split its votes past 10 s"
    );
}

#[test]
fn a_trial_is_a_function_of_its_seed() {
    let s = setup(150, 155);
    for seed in 0..5 {
        assert_eq!(
            trial(&s, seed).unwrap(),
            trial(&s, seed).unwrap(),
            "seed {seed}"
        );
    }
}

#[test]
fn bad_setups_are_refused_with_the_reason() {
    assert!(
        validate(&setup(300, 150))
            .unwrap_err()
            .contains("at most the maximum")
    );
    // Two of the servers are held behind: with four, the other two are no
    // majority, and no trial could ever commit.
    let four = Setup {
        peers: 4,
        ..setup(150, 300)
    };
    assert!(validate(&four).unwrap_err().contains("from 5 to 9"));
    assert!(trial(&setup(0, 10), 1).is_err());
}

#[test]
fn a_limit_shorter_than_an_election_counts_the_trial_over_it() {
    let short = Setup {
        limit_ms: 1,
        ..setup(150, 300)
    };
    let t = trial(&short, 1).expect("the first election is not held to the limit");
    assert_eq!(
        t.downtime_ns, None,
        "no election ends within 1 ms of the crash"
    );
}

#[test]
fn the_papers_shortest_range_elects_its_first_leader_every_time() {
    // Elections at 12-24 ms take many rounds (a broadcast is 15 ms), so the
    // first one must not be held to a bound of a few timeouts.
    for seed in 0..40 {
        trial(&setup(12, 24), seed).unwrap_or_else(|f| panic!("seed {seed}: {f}"));
    }
}
