//! Gets by ReadIndex under the nemesis: linearizable, confirmed without the
//! log, and a ReadIndex that skips its heartbeat round is caught.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use tests::peers::with_peer;
use tests::scenarios;

#[test]
fn kv_nemesis_with_read_index_stays_linearizable_and_confirms_reads() {
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    for seed in 1..=3 {
        let mut schedule = (s.schedule)(seed);
        schedule.tuning.as_mut().expect("a drawn tuning").read_index = true;
        let report = s
            .run_with(seed, &schedule)
            .unwrap_or_else(|f| panic!("{f}"));
        let confirmed = report.marks.get(peer::coverage::READ_INDEX_CONFIRMED);
        assert!(
            confirmed.is_some_and(|&n| n > 10),
            "seed {seed}: {confirmed:?}"
        );
    }
}

#[test]
fn the_default_scenario_catches_a_read_index_without_its_round_within_300_seeds() {
    let s = scenarios::find("kv-nemesis").expect("the default scenario");
    let caught = with_peer("mutant:read-index-without-round", || {
        (0..300).find(|&seed| s.run(seed).is_err())
    });
    assert!(caught.is_some(), "not caught in 300 seeds");
}

/// A KV server asked to read by ReadIndex on a peer without it refuses the
/// Get with a clear error (nothing applied), and the cluster serves writes
/// as before.
#[test]
fn a_read_mode_the_peer_lacks_is_refused_clearly() {
    with_peer("raft-rs", || {
        let t = tests::Test {
            name: "read-index-unsupported",
            seed: 1,
        };
        let options = tests::kv_suite::KvOptions {
            read_index: true,
            ..tests::kv_suite::KvOptions::new(3)
        };
        let mut cfg = tests::kv_suite::KvConfig::new(&t, options);
        let all = cfg.all();
        let ck = cfg.make_client(&all);
        cfg.put(ck, "k", "v").unwrap();
        let e = cfg.get(ck, "k").unwrap_err().to_string();
        assert!(
            e.contains("refused") && e.contains("has no ReadIndex"),
            "{e}"
        );
        let other = cfg.make_client(&all);
        cfg.append(other, "k", "w").unwrap();
        assert_eq!(cfg.ops(), 2, "the refused Get is in no history");
    });
}
