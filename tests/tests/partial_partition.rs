//! The partial partition of cockroachdb/cockroach#107060: without PreVote
//! and CheckQuorum a follower cut from the leader alone deposes it; with
//! them, the leader stays.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use tests::failure::FailureKind;
use tests::scenarios;

#[test]
fn with_pre_vote_check_quorum_or_both_the_leader_stays() {
    let s = scenarios::find("partial-partition").expect("the scenario");
    for seed in 0..20 {
        s.run(seed).unwrap_or_else(|f| panic!("{f}"));
    }
}

#[test]
fn without_them_the_cut_off_follower_deposes_the_leader() {
    let s = scenarios::find("partial-partition-unremedied").expect("the scenario");
    for seed in 0..5 {
        let f = s.run(seed).expect_err("the leader must be deposed");
        assert_eq!(f.kind, FailureKind::Liveness, "{f}");
        assert!(f.what.contains("partial partition"), "{f}");
    }
}
