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

use tests::budgets;
use tests::failure::{FailureKind, run_caught};
use tests::mutants::{Bug, MUTANTS, Mutant};
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

/// The mutants `which` picks, each on its seed: caught by the lab as CAUGHT
/// says, and the reference passing. Every mismatch is listed before the test
/// fails.
fn caught_by_the_lab(which: fn(&Mutant) -> bool) {
    let wrong: Vec<String> = (MUTANTS.iter().zip(CAUGHT))
        .filter(|(m, _)| which(m))
        .filter_map(|(m, &(_, seed, kind))| mismatch(m, seed, kind))
        .collect();
    assert!(
        wrong.is_empty(),
        "{}\n\nIf the runs changed on purpose (the nemesis's draws, the reference), pin \
         each mutant's first failing seed and its kind again in CAUGHT: \
         cargo run --release -p lab -- --peer mutant:NAME explore --seeds 0..1000 \
         --max-failures 1 --jobs 1. If not, the lab lost these bugs.{}",
        wrong.join("\n"),
        match budgets::raised() {
            raised if raised.is_empty() => String::new(),
            raised => format!(" (Budgets raised in this shell change the runs: {raised})"),
        }
    );
}

/// What is wrong with mutant `m` on `seed`, which the lab catches by `kind`.
fn mismatch(m: &Mutant, seed: u64, kind: FailureKind) -> Option<String> {
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    let peer = m.peer_name(false);
    let outcome = with_peer(peer, || run_caught(s.name, seed, || s.run(seed)));
    let why = match outcome {
        Ok(_) => format!("passed, where the lab caught it by {kind}"),
        Err(f) if f.kind != kind => format!("caught by {}, not {kind}: {f}", f.kind),
        Err(f) if THE_REFERENCE_SPEAKING.iter().any(|w| f.what.contains(w)) => {
            format!("caught by the reference itself, not the lab: {f}")
        }
        Err(_) => match with_peer("reference", || s.run(seed)) {
            Ok(_) => return None,
            Err(f) => format!("the reference fails the seed too: {f}"),
        },
    };
    Some(format!("{peer}, kv-nemesis seed {seed}: {why}"))
}

#[test]
fn the_lab_catches_the_raft_mutants() {
    caught_by_the_lab(|m| matches!(m.bug, Bug::Raft(_)));
}

#[test]
fn the_lab_catches_the_service_mutants() {
    caught_by_the_lab(|m| !matches!(m.bug, Bug::Raft(_)));
}
