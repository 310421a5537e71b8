//! Gets by ReadIndex under the nemesis: linearizable, confirmed without the
//! log, and a ReadIndex that skips its heartbeat round is caught.

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
