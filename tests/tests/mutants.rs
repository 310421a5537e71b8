//! The lab's own checks catch every mutant of the catalogue: each fails the
//! default scenario on a known seed, caught by the oracle, the
//! linearizability checker, the liveness phase or the storm budget, never by
//! the reference refusing its own disk or asserting its own invariants (a
//! student's Raft has neither). The reference passes the same seeds.
//!
//! `lab mutants` measures how fast; this keeps the catches from being lost
//! between two of its tables.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use tests::failure::{FailureKind, run_caught};
use tests::mutants::MUTANTS;
use tests::peers::with_peer;
use tests::scenarios;

/// Each mutant's first failing kv-nemesis seed, and what caught it there.
const CAUGHT: &[(&str, u64, FailureKind)] = &[
    ("vote-without-log-check", 0, FailureKind::Safety),
    ("voted-for-not-persisted", 0, FailureKind::Safety),
    ("term-not-persisted", 6, FailureKind::Safety),
    ("reply-before-persist", 3, FailureKind::Safety),
    ("truncate-matching-suffix", 4, FailureKind::Check),
    ("commit-past-last-new-entry", 13, FailureKind::Safety),
    ("match-index-from-leader-log", 0, FailureKind::Safety),
    ("stale-replies-counted", 13, FailureKind::Safety),
    ("stale-snapshot-installed", 42, FailureKind::Safety),
    ("commit-old-term-by-counting", 29, FailureKind::Safety),
    ("timer-reset-on-refused-vote", 69, FailureKind::Liveness),
    ("append-without-prev-log-check", 13, FailureKind::Safety),
    ("append-from-stale-leader", 23, FailureKind::Safety),
    ("campaign-without-new-term", 0, FailureKind::Safety),
    ("quorum-off-by-one", 0, FailureKind::Safety),
    ("read-index-without-round", 86, FailureKind::Linearizability),
    ("stale-reads", 0, FailureKind::Linearizability),
    (
        "dedup-table-not-in-snapshot",
        52,
        FailureKind::Linearizability,
    ),
    ("dedup-only-last-request", 0, FailureKind::Linearizability),
    ("no-dedup", 0, FailureKind::Linearizability),
];

/// What only the reference itself says: a mutant caught this way would
/// escape in a student's Raft.
const THE_REFERENCE_SPEAKING: &[&str] = &["cannot start", "panicked"];

#[test]
fn every_mutant_of_the_catalogue_has_its_seed() {
    let names: Vec<&str> = MUTANTS.iter().map(|m| m.name).collect();
    let pinned: Vec<&str> = CAUGHT.iter().map(|c| c.0).collect();
    assert_eq!(names, pinned, "one line of CAUGHT per mutant, in order");
}

/// `mutants` on their seeds, each caught by the lab as CAUGHT says.
fn caught_by_the_lab(mutants: &[(&str, u64, FailureKind)]) {
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    for &(mutant, seed, kind) in mutants {
        let m = MUTANTS.iter().find(|m| m.name == mutant);
        let peer = m.expect("a mutant of the catalogue").peer_name(false);
        let failure = with_peer(peer, || run_caught(s.name, seed, || s.run(seed)))
            .err()
            .unwrap_or_else(|| {
                panic!(
                    "{peer} passed kv-nemesis seed {seed}, where the lab caught it by {kind}. \
                     If the nemesis's draws changed on purpose, pin its first failing seed \
                     again (cargo run --release -p lab -- --peer {peer} explore --seeds 0..1000 \
                     --max-failures 1 --jobs 1); if not, the lab lost this bug"
                )
            });
        assert_eq!(failure.kind, kind, "{failure}");
        for words in THE_REFERENCE_SPEAKING {
            assert!(!failure.what.contains(words), "{failure}");
        }
        with_peer("reference", || s.run(seed))
            .unwrap_or_else(|f| panic!("the reference fails seed {seed}: {f}"));
    }
}

#[test]
fn the_lab_catches_the_raft_mutants() {
    caught_by_the_lab(&CAUGHT[..15]);
}

#[test]
fn the_lab_catches_the_read_and_dedup_mutants() {
    caught_by_the_lab(&CAUGHT[15..]);
}
