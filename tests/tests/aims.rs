//! Faults aimed at protocol moments strike where they are aimed, the
//! reference survives them, and they find a bug random faults miss.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use std::collections::BTreeSet;
use tests::aims::{Action, Aim, Moment};
use tests::nemesis::{Fault, FaultKind, Schedule, WorkloadSize};
use tests::peers::with_peer;
use tests::scenarios;

/// No random fault at all: only `aims`, struck every time.
fn only(aims: Vec<Aim>) -> Schedule {
    Schedule {
        aims,
        workload: WorkloadSize::default(),
        ..Schedule::default()
    }
}

#[test]
fn a_leader_crashed_whenever_elected_and_voters_whenever_they_vote_still_converge() {
    let aims = vec![
        Aim {
            moment: Moment::BecameLeader,
            action: Action::Crash {
                lose_unsynced: true,
                down_ms: 300,
            },
            other: false,
            per_million: 300_000,
        },
        Aim {
            moment: Moment::VoteGranted,
            action: Action::Crash {
                lose_unsynced: false,
                down_ms: 50,
            },
            other: false,
            per_million: 300_000,
        },
        Aim {
            moment: Moment::Committed,
            action: Action::Isolate { ms: 400 },
            other: false,
            per_million: 20_000,
        },
    ];
    each_passing_run(&aims, |name, seed, summaries| {
        let aimed = summaries.iter().filter(|e| e.kind == "aim").count();
        assert!(aimed > 3, "{name} seed {seed}: {aimed} aimed-fault events");
    });
}

/// Runs seeds 1 to 3 of both nemesis scenarios with only `aims`, asserts
/// each passes, and hands `check` its trace's events.
fn each_passing_run(aims: &[Aim], check: impl Fn(&str, u64, &[labsim::EventSummary])) {
    for name in ["raft-nemesis", "kv-nemesis"] {
        let s = scenarios::find(name).expect("a scenario");
        for seed in 1..=3 {
            let (report, trace) = tests::hooks::with_trace(
                |t| t.record_summaries(),
                || s.run_with(seed, &only(aims.to_vec())),
            );
            report.unwrap_or_else(|f| panic!("{name} seed {seed}: {f}"));
            check(name, seed, &trace.expect("a trace").take_summaries());
        }
    }
}

#[test]
fn the_default_scenario_catches_commit_by_counting_within_1000_seeds() {
    // Figure 8's bug: random faults alone did not catch it in 360 seeds.
    // (First caught at seed 628 since the swarm also changes membership and
    // hands leadership over, which dilutes the faults that reach it.)
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    let caught = with_peer("mutant:commit-old-term-by-counting", || {
        (0..1000).find(|&seed| s.run(seed).is_err())
    });
    assert!(caught.is_some(), "not caught in 1000 seeds");
}

#[test]
fn a_new_leaders_first_round_is_dropped_at_once_and_the_reference_recovers() {
    // Every new leader loses its first four requests: the AppendEntries of
    // its first round, sent in the very event that made it leader.
    let aims = vec![Aim {
        moment: Moment::BecameLeader,
        action: Action::DropRequests { count: 4 },
        other: false,
        per_million: 1_000_000,
    }];
    each_passing_run(&aims, |name, seed, summaries| {
        let struck: Vec<_> = summaries.iter().filter(|e| e.kind == "aim").collect();
        assert!(!struck.is_empty(), "{name} seed {seed}: no leader elected");
        for aim in struck {
            // Its next four drops are its first round, lost at the very
            // instant it won.
            let next: Vec<_> = summaries
                .iter()
                .filter(|e| e.index > aim.index && e.node == aim.node)
                .filter(|e| e.kind == "drop")
                .take(4)
                .collect();
            assert!(
                next.len() == 4 && next.iter().all(|e| e.at_ns == aim.at_ns),
                "{name} seed {seed}: after {aim}: {next:?}"
            );
        }
    });
}

#[test]
fn overlapping_aimed_isolations_of_a_node_hold_it_until_the_last_ends() {
    // Every new leader isolated twice at once, for 300 ms and for 900 ms:
    // it is connected again 900 ms later, not when the shorter one ends.
    // (raft-nemesis's heal, at 20 s, connects every server.)
    let isolate = |ms| Aim {
        moment: Moment::BecameLeader,
        action: Action::Isolate { ms },
        other: false,
        per_million: 1_000_000,
    };
    each_passing_run(&[isolate(300), isolate(900)], |name, seed, summaries| {
        let cut: Vec<_> = summaries
            .iter()
            .filter(|e| e.kind == "disconnect" && e.at_ns < 19 * labsim::SEC)
            .collect();
        assert!(!cut.is_empty(), "{name} seed {seed}: no leader isolated");
        for d in cut {
            let back = summaries
                .iter()
                .find(|e| e.index > d.index && e.node == d.node && e.kind == "connect")
                .unwrap_or_else(|| panic!("{name} seed {seed}: {d} never connected again"));
            assert_eq!(
                back.at_ns - d.at_ns,
                900 * labsim::MS,
                "{name} seed {seed}: {d}, then {back}"
            );
        }
    });
}

#[test]
fn the_default_swarm_draws_every_aimed_action() {
    // An action no seed draws is a hazard no campaign meets: the partition
    // that leaves a leader one client (Jepsen's stale-read setup) was once
    // drawn only by kv-lease, never by the swarm.
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    let drawn: BTreeSet<&str> = (0..200)
        .flat_map(|seed| (s.schedule)(seed).aims)
        .map(|aim| match aim.action {
            Action::Crash { .. } => "crash",
            Action::Isolate { .. } => "isolate",
            Action::Partition { .. } => "partition",
            Action::DropRequests { .. } => "drop-requests",
        })
        .collect();
    let every = BTreeSet::from(["crash", "isolate", "partition", "drop-requests"]);
    assert_eq!(drawn, every);
}

#[test]
fn an_aimed_partition_leaves_the_swarms_partition_in_force() {
    // The majority's leader severed from the other servers at every commit,
    // and a majority and a minority apart from 1 s to 4 s, so that cuts are
    // in force when the split starts and when it ends. The aim severs and
    // mends the leader's links over the partitions: it never reshapes the
    // network, so the one partition the trace shows is the swarm's.
    let mut schedule = only(vec![Aim {
        moment: Moment::Committed,
        action: Action::Partition { ms: 200 },
        other: false,
        per_million: 1_000_000,
    }]);
    schedule.faults.push(Fault {
        at_ms: 1_000,
        duration_ms: 3_000,
        kind: FaultKind::MajorityMinority { rotate: 0 },
    });
    for name in ["raft-nemesis", "kv-nemesis"] {
        let s = scenarios::find(name).expect("a scenario");
        for seed in 1..=3 {
            let (report, trace) =
                tests::hooks::with_trace(|t| t.record_summaries(), || s.run_with(seed, &schedule));
            report.unwrap_or_else(|f| panic!("{name} seed {seed}: {f}"));
            let summaries = trace.expect("a trace").take_summaries();
            let count = |kind: &str| summaries.iter().filter(|e| e.kind == kind).count();
            assert!(
                count("aim") > 3,
                "{name} seed {seed}: {} struck",
                count("aim")
            );
            // (The scenario's own heal, at the end of the 20 s of faults,
            // links everyone again with a partition of one group.)
            let partitions = summaries
                .iter()
                .filter(|e| e.kind == "partition" && e.at_ns < 19_000_000_000)
                .count();
            assert_eq!(partitions, 1, "{name} seed {seed}");
            assert_eq!(count("sever"), count("aim"), "{name} seed {seed}");
        }
    }
}

#[test]
fn a_stale_leaders_appends_are_caught_by_the_oracle_not_by_the_peers_log() {
    // A guided hunt's failure, shrunk to no timed fault at all: a leader cut
    // off from the other servers at its commits. The mutant appends a stale
    // leader's entries; with the reference's own assertions off (as a
    // student's Raft has none) the harness's oracle must catch it. The log
    // once asserted monotonic terms itself, so the run panicked first.
    let schedule = Schedule::from_json(
        r#"{"faults": [], "workload": {"max_ops_per_client": 7},
        "tuning": {"pre_vote": false, "max_entries_per_append": 8,
          "heartbeat_interval_ms": 44, "election_timeout_min_ms": 172,
          "election_timeout_max_ms": 342, "snapshot_interval": 1,
          "maxraftstate_bytes": 300, "sync_latency_ms": 10,
          "check_quorum": false, "backtracking": "leader-term"},
        "aims": [{"moment": "committed", "action": {"do": "partition", "ms": 1295},
          "per_million": 407313}]}"#,
    )
    .expect("a schedule");
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    let failure = with_peer("mutant:append-from-stale-leader", || {
        s.run_with(11, &schedule)
    })
    .expect_err("the mutant is caught");
    assert!(
        failure.what.starts_with("log matching:"),
        "{}",
        failure.what
    );
}
