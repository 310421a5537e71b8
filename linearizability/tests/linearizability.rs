//! The linearizability checker against Porcupine's reference histories, plus
//! parser, budget, picture and property tests.

use std::path::PathBuf;

use linearizability::{
    CheckOptions, CheckResult, KvInput, KvModel, KvOutput, Limit, ModelKind, NEVER, Operation,
    RegisterInput, RegisterModel, RegisterOutput, check, check_file, parse_jepsen_register,
    parse_kv, render_html, write_html,
};
use proptest::prelude::*;

/// Porcupine's histories, copied into the crate (see testdata/porcupine/README.md).
fn porcupine_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/porcupine"))
}

fn verdict_name(r: &CheckResult) -> &'static str {
    match r {
        CheckResult::Linearizable => "linearizable",
        CheckResult::NotLinearizable(_) => "not linearizable",
        CheckResult::Unknown(_) => "unknown",
    }
}

#[test]
fn porcupine_kv_histories_get_the_expected_verdict() {
    let dir = porcupine_dir().join("kv");
    for clients in ["c01", "c10", "c50"] {
        for (suffix, want) in [("ok", true), ("bad", false)] {
            let path = dir.join(format!("{clients}-{suffix}.txt"));
            let report = check_file(&path, ModelKind::Kv, &CheckOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let ok = match &report.result {
                CheckResult::Linearizable => true,
                CheckResult::NotLinearizable(v) => {
                    assert!(
                        v.partition_ops.contains(&v.failing_op),
                        "{}",
                        report.summary()
                    );
                    assert!(v.longest_prefix.iter().all(|i| v.partition_ops.contains(i)));
                    false
                }
                CheckResult::Unknown(_) => panic!("{}: unknown without a budget", path.display()),
            };
            assert_eq!(ok, want, "{}", report.summary());
        }
    }
}

#[test]
fn porcupine_etcd_logs_get_the_verdicts_of_verdicts_txt() {
    let dir = porcupine_dir().join("jepsen");
    let verdicts = std::fs::read_to_string(dir.join("VERDICTS.txt")).expect("read VERDICTS.txt");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for line in verdicts
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.split_whitespace();
        let number: u32 = fields.next().and_then(|n| n.parse().ok()).expect(line);
        let want: bool = fields.next().and_then(|v| v.parse().ok()).expect(line);
        let path = dir.join(format!("etcd_{number:03}.log"));
        let report = check_file(&path, ModelKind::Register, &CheckOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        checked += 1;
        let got = verdict_name(&report.result);
        let expected = if want {
            "linearizable"
        } else {
            "not linearizable"
        };
        if got != expected {
            wrong.push(format!(
                "{}: expected {expected}, got {got}",
                path.display()
            ));
        }
    }
    assert_eq!(checked, 102, "VERDICTS.txt should list 102 logs");
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn a_tiny_budget_gives_unknown_on_c50_ok() {
    let path = porcupine_dir().join("kv/c50-ok.txt");
    let report = check_file(&path, ModelKind::Kv, &CheckOptions::with_max_steps(1)).unwrap();
    assert_eq!(
        report.result,
        CheckResult::Unknown(Limit::Steps),
        "{}",
        report.summary()
    );
    assert!(!report.result.is_linearizable());
}

/// The budget is enforced inside the search, not only between partitions: a history
/// whose search space is astronomically large must still come back, as Unknown.
#[test]
fn the_budget_stops_a_search_that_would_never_end() {
    let result = check(
        &KvModel,
        &endless(),
        &CheckOptions::with_max_steps(1_000_000),
    );
    assert_eq!(result, CheckResult::Unknown(Limit::Steps));
}

/// Without a step budget, the same search stops when its tables fill the
/// memory bound: an unknown verdict that says so, not a process killed for
/// its memory (it once grew past 20 GB).
#[test]
fn a_search_without_a_step_budget_stops_at_its_memory_bound() {
    let options = CheckOptions {
        max_steps_per_partition: None,
        threads: 2,
        max_search_bytes: 32 << 20,
    };
    let result = check(&KvModel, &endless(), &options);
    assert_eq!(result, CheckResult::Unknown(Limit::Memory));
}

/// All keys are searched at once, so the memory bound is for them all: a key
/// that fits in it alone does not fit beside a long one, which takes its
/// share (and fits in it).
#[test]
fn the_keys_share_the_memory_bound() {
    let options = |threads| CheckOptions {
        max_steps_per_partition: None,
        threads,
        max_search_bytes: 4 << 20,
    };
    let alone = reversed("k", 7);
    let mut beside = alone.clone();
    beside.extend((0..2000).map(|i| Operation {
        client_id: 100,
        input: KvInput::Put {
            key: "other".into(),
            value: i.to_string(),
        },
        call_ns: 2000 + 2 * i,
        output: KvOutput::Done,
        return_ns: 2001 + 2 * i,
    }));
    let others = &beside[alone.len()..];
    for threads in [1, 2] {
        assert_eq!(
            check(&KvModel, &alone, &options(threads)),
            CheckResult::Linearizable
        );
        assert_eq!(
            check(&KvModel, others, &options(threads)),
            CheckResult::Linearizable
        );
        let crowded = check(&KvModel, &beside, &options(threads));
        assert_eq!(crowded, CheckResult::Unknown(Limit::Memory));
    }
}

/// Appends that every order places, and reads that no order can explain.
fn endless() -> Vec<Operation<KvInput, KvOutput>> {
    let mut history = concurrent_appends("k", 40);
    // Reads no prefix of any order can produce, each concurrent with all appends.
    for j in 0..4 {
        history.push(read_during("k", 40 + j, format!("<{j}><{j}>")));
    }
    history
}

/// `n` concurrent appends read back in reverse order: linearizable, but the
/// search tries most orders first.
fn reversed(key: &str, n: usize) -> Vec<Operation<KvInput, KvOutput>> {
    let mut history = concurrent_appends(key, n);
    let value = (0..n).rev().map(|i| format!("<{i}>")).collect();
    history.push(read_during(key, n, value));
    history
}

fn concurrent_appends(key: &str, n: usize) -> Vec<Operation<KvInput, KvOutput>> {
    (0..n)
        .map(|i| Operation {
            client_id: i,
            input: KvInput::Append {
                key: key.into(),
                value: format!("<{i}>"),
            },
            call_ns: 0,
            output: KvOutput::Done,
            return_ns: 1000,
        })
        .collect()
}

/// A read concurrent with [`concurrent_appends`].
fn read_during(key: &str, client_id: usize, value: String) -> Operation<KvInput, KvOutput> {
    Operation {
        client_id,
        input: KvInput::Get { key: key.into() },
        call_ns: 1,
        output: KvOutput::Value(value),
        return_ns: 1001,
    }
}

#[test]
fn parse_errors_name_the_line() {
    let kv = "{:process 1, :type :invoke, :f :put, :key \"a\", :value \"1\"}\n\
              {:process 1, :type :ok, :f :put, :key \"a\", :value \"1\"}\n\
              {:process 2, :type :invoke, :f :get, :key \"a\" :value nil\n";
    let err = parse_kv(kv).unwrap_err();
    assert_eq!(err.line, Some(3), "{err}");
    assert!(err.to_string().contains("line 3"), "{err}");

    let reg = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
               INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
               INFO  jepsen.util - 0\t:invoke\t:cas\t[1 x]\n";
    let err = parse_jepsen_register(reg).unwrap_err();
    assert_eq!(err.line, Some(3), "{err}");

    let missing = porcupine_dir().join("kv/no-such-file.txt");
    let err = check_file(&missing, ModelKind::Kv, &CheckOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no-such-file.txt"), "{err}");
}

fn op<I, O>(
    client_id: usize,
    input: I,
    call_ns: u64,
    output: O,
    return_ns: u64,
) -> Operation<I, O> {
    Operation {
        client_id,
        input,
        call_ns,
        output,
        return_ns,
    }
}

/// The two register examples of Porcupine's README (from 6.824's 2017 quiz 2).
#[test]
fn register_examples() {
    use RegisterInput::*;
    use RegisterOutput as O;
    let ok = vec![
        op(0, Write(100), 0, O::Ok, 100),
        op(1, Read, 25, O::Read(Some(100)), 75),
        op(2, Read, 30, O::Read(None), 60),
    ];
    assert_eq!(
        check(&RegisterModel, &ok, &CheckOptions::default()),
        CheckResult::Linearizable
    );

    let bad = vec![
        op(0, Write(200), 0, O::Ok, 100),
        op(1, Read, 10, O::Read(Some(200)), 30),
        op(2, Read, 40, O::Read(None), 90),
    ];
    let CheckResult::NotLinearizable(v) = check(&RegisterModel, &bad, &CheckOptions::default())
    else {
        panic!("expected a violation")
    };
    assert_eq!(v.longest_prefix, vec![0, 1]);
    assert_eq!(v.failing_op, 2);

    // A cas that timed out may have happened, or not.
    let maybe = |read| {
        vec![
            op(0, Write(1), 0, O::Ok, 1),
            op(1, Cas { from: 1, to: 2 }, 2, O::Unknown, NEVER),
            op(2, Read, 10, O::Read(Some(read)), 11),
        ]
    };
    for read in [1, 2] {
        assert!(check(&RegisterModel, &maybe(read), &CheckOptions::default()).is_linearizable());
    }
    assert!(!check(&RegisterModel, &maybe(3), &CheckOptions::default()).is_linearizable());
}

#[test]
fn event_histories_convert_to_operations() {
    use RegisterInput::*;
    use RegisterOutput as O;
    use linearizability::{Event, EventKind::*, operations_from_events};
    let e = |client_id, kind, id| Event {
        client_id,
        kind,
        id,
    };
    let events = vec![
        e(0, Call(Write(100)), 0),
        e(1, Call(Read), 1),
        e(2, Call(Read), 2),
        e(2, Return(O::Read(None)), 2),
        e(1, Return(O::Read(Some(100))), 1),
        e(0, Return(O::Ok), 0),
        e(3, Call(Write(7)), 3),
    ];
    let ops = operations_from_events(events, |_| O::Unknown).unwrap();
    assert_eq!(ops.len(), 4);
    assert_eq!((ops[2].call_ns, ops[2].return_ns), (2, 3));
    assert_eq!((ops[3].output, ops[3].return_ns), (O::Unknown, NEVER));
    assert!(check(&RegisterModel, &ops, &CheckOptions::default()).is_linearizable());

    let unmatched = vec![e(0, Return(O::Ok), 5)];
    let err = operations_from_events(unmatched, |_| O::Unknown).unwrap_err();
    assert_eq!(err.index, 0);
}

#[test]
fn kv_missing_and_deleted_keys_read_empty() {
    use KvInput::*;
    let k = || "k".to_string();
    let h = vec![
        op(0, Get { key: k() }, 0, KvOutput::Value(String::new()), 1),
        op(
            0,
            Append {
                key: k(),
                value: "a".into(),
            },
            2,
            KvOutput::Done,
            3,
        ),
        op(
            0,
            Append {
                key: k(),
                value: "b".into(),
            },
            4,
            KvOutput::Done,
            5,
        ),
        op(0, Get { key: k() }, 6, KvOutput::Value("ab".into()), 7),
        op(0, Delete { key: k() }, 8, KvOutput::Done, 9),
        op(0, Get { key: k() }, 10, KvOutput::Value(String::new()), 11),
        op(
            0,
            Append {
                key: k(),
                value: "c".into(),
            },
            12,
            KvOutput::Done,
            13,
        ),
        op(0, Get { key: k() }, 14, KvOutput::Value("c".into()), 15),
    ];
    assert!(check(&KvModel, &h, &CheckOptions::default()).is_linearizable());
    let mut wrong = h.clone();
    wrong[7].output = KvOutput::Value("abc".into());
    assert!(!check(&KvModel, &wrong, &CheckOptions::default()).is_linearizable());
}

#[test]
fn parallel_checking_gives_the_same_verdicts() {
    let dir = porcupine_dir().join("kv");
    let options = CheckOptions {
        threads: 2,
        ..CheckOptions::default()
    };
    for (name, want) in [("c50-ok", true), ("c50-bad", false), ("c10-bad", false)] {
        let report = check_file(&dir.join(format!("{name}.txt")), ModelKind::Kv, &options).unwrap();
        assert_eq!(
            report.result.is_linearizable(),
            want,
            "{}",
            report.summary()
        );
        assert!(!matches!(report.result, CheckResult::Unknown(_)));
    }
}

/// c10-bad has several violating keys. Which one is reported must not
/// depend on the threads, or on which of them got there first (a race that
/// a hundred tries on four threads used to lose).
#[test]
fn the_violation_reported_is_the_same_on_any_number_of_threads() {
    let text = std::fs::read_to_string(porcupine_dir().join("kv/c10-bad.txt")).unwrap();
    let history = parse_kv(&text).unwrap();
    let report = |threads| {
        let options = CheckOptions {
            threads,
            ..CheckOptions::default()
        };
        match check(&KvModel, &history, &options) {
            CheckResult::NotLinearizable(v) => v,
            other => panic!("c10-bad is not linearizable, not {}", verdict_name(&other)),
        }
    };
    let one = report(1);
    for threads in [2, 3, 4, 8] {
        for _ in 0..100 {
            assert_eq!(report(threads), one, "{threads} threads");
        }
    }
}

#[test]
fn the_html_picture_marks_the_failing_operation() {
    let path = porcupine_dir().join("kv/c01-bad.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let history = parse_kv(&text).unwrap();
    let result = check(&KvModel, &history, &CheckOptions::default());
    let CheckResult::NotLinearizable(v) = &result else {
        panic!("c01-bad must fail")
    };

    let out = std::env::temp_dir().join(format!("raftlab-lin-{}/c01-bad.html", std::process::id()));
    let written = write_html(&KvModel, &history, &result, &out).unwrap();
    let page = std::fs::read_to_string(&written).unwrap();
    let _ = std::fs::remove_dir_all(out.parent().unwrap());

    use linearizability::Model as _;
    let failing = &history[v.failing_op];
    let desc = KvModel.describe_operation(&failing.input, &failing.output);
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let escaped = escape(&desc);
    // Each bar is `<div class="op[ never][ lin][ bad]" ... title="...">label</div>`.
    let bars: Vec<&str> = page.split("<div class=\"op").skip(1).collect();
    let classes = |bar: &str| bar[..bar.find('"').unwrap()].to_string();
    let bad: Vec<&&str> = bars.iter().filter(|b| classes(b).contains("bad")).collect();
    assert_eq!(bad.len(), 1, "exactly one failing bar");
    assert!(
        bad[0].contains(&escaped),
        "the red bar should show {desc}: {}",
        bad[0]
    );
    let lin = bars.iter().filter(|b| classes(b).contains("lin")).count();
    assert_eq!(lin, v.longest_prefix.len());
    assert!(page.contains("state after"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );

    // Also on request, for a passing history.
    let fine = render_html(&KvModel, &history[..1], &CheckResult::Linearizable, "ok");
    assert!(fine.contains("linearizable") && !fine.contains(" bad\" style"));
    let first = KvModel.describe_operation(&history[0].input, &history[0].output);
    assert!(fine.contains(&escape(&first)));
}

// ---- property tests -------------------------------------------------------------

/// One abstract step of a sequential KV execution: (kind, key, call jitter,
/// return jitter, timed out).
type Step = (u8, u8, u64, u64, bool);

/// Runs `steps` one after the other (step i takes effect at time 100 + 10 i) and
/// records each as an interval around that instant: intervals overlap their
/// neighbours, but the sequential order is a valid linearization. A timed-out
/// write took effect but its client never heard back.
fn sequential_history(steps: &[Step]) -> Vec<Operation<KvInput, KvOutput>> {
    let mut store = std::collections::BTreeMap::<String, String>::new();
    let mut ops = Vec::new();
    let mut clients_free_at: Vec<u64> = Vec::new();
    for (i, &(kind, key, jc, jr, timed_out)) in steps.iter().enumerate() {
        let key = format!("k{key}");
        let at = 100 + 10 * i as u64;
        let value = format!("v{i}.");
        let current = store.get(&key).cloned().unwrap_or_default();
        let (input, output) = match kind {
            0 => (KvInput::Get { key: key.clone() }, KvOutput::Value(current)),
            1 => {
                store.insert(key.clone(), value.clone());
                (KvInput::Put { key, value }, KvOutput::Done)
            }
            2 => {
                store.insert(key.clone(), current + &value);
                (KvInput::Append { key, value }, KvOutput::Done)
            }
            // kind 3 is a put of a fixed marker, for the violation test below
            3 => {
                store.insert(key.clone(), "marker".into());
                (
                    KvInput::Put {
                        key,
                        value: "marker".into(),
                    },
                    KvOutput::Done,
                )
            }
            _ => {
                store.remove(&key);
                (KvInput::Delete { key }, KvOutput::Done)
            }
        };
        let call_ns = at - jc;
        let (output, return_ns) = if timed_out && kind != 0 {
            (KvOutput::Unknown, NEVER)
        } else {
            (output, at + jr)
        };
        // Any client whose previous operation has returned may issue this one.
        let client = match clients_free_at.iter().position(|&t| t < call_ns) {
            Some(c) => c,
            None => {
                clients_free_at.push(0);
                clients_free_at.len() - 1
            }
        };
        clients_free_at[client] = return_ns;
        ops.push(Operation {
            client_id: client,
            input,
            call_ns,
            output,
            return_ns,
        });
    }
    ops
}

fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            prop_oneof![Just(0u8), Just(0u8), Just(1), Just(2), Just(2), Just(4)],
            0u8..3,
            0u64..25,
            0u64..25,
            prop::bool::weighted(0.1),
        ),
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn sequential_executions_are_linearizable(steps in steps(60)) {
        let history = sequential_history(&steps);
        let result = check(&KvModel, &history, &CheckOptions::default());
        prop_assert_eq!(result, CheckResult::Linearizable);
    }

    /// g1 reads k0 before p puts a marker nobody else writes, g2 reads it right
    /// after; swapping the two reads' results makes g1 see the marker before it
    /// was written, which no linearization allows.
    #[test]
    fn swapping_a_read_across_its_write_is_caught(
        steps in steps(40),
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
    ) {
        let (a, b) = {
            let x = (a * steps.len() as f64) as usize;
            let y = (b * steps.len() as f64) as usize;
            (x.min(y), x.max(y))
        };
        let tight = |kind| (kind, 0u8, 0u64, 1u64, false);
        let mut all: Vec<Step> = steps.iter().map(|&(k, key, jc, jr, t)| {
            // No other writer of the marker.
            (if k == 3 { 1 } else { k }, key, jc, jr, t)
        }).collect();
        all.insert(a, tight(0));
        all.insert(b + 1, tight(3));
        all.insert(b + 2, tight(0));
        let (g1, p, g2) = (a, b + 1, b + 2);
        let mut history = sequential_history(&all);
        prop_assert!(history[g1].return_ns < history[p].call_ns);
        prop_assert!(history[p].return_ns < history[g2].call_ns);
        prop_assert_eq!(&history[g2].output, &KvOutput::Value("marker".into()));
        prop_assert!(check(&KvModel, &history, &CheckOptions::default()).is_linearizable());

        let (x, y) = (history[g1].output.clone(), history[g2].output.clone());
        history[g1].output = y;
        history[g2].output = x;
        match check(&KvModel, &history, &CheckOptions::default()) {
            CheckResult::NotLinearizable(v) => {
                prop_assert!(v.partition_ops.contains(&g1));
                prop_assert!(v.partition_ops.contains(&v.failing_op));
            }
            other => prop_assert!(false, "expected a violation, got {:?}", other),
        }
    }
}

#[test]
fn a_step_budget_gives_the_same_verdict_on_every_machine() {
    let dir = porcupine_dir().join("kv");
    let history = parse_kv(&std::fs::read_to_string(dir.join("c50-ok.txt")).unwrap()).unwrap();
    let tight = CheckOptions::with_max_steps(1);
    let roomy = CheckOptions {
        max_steps_per_partition: Some(1 << 40),
        threads: 2,
        ..CheckOptions::default()
    };
    for _ in 0..3 {
        assert_eq!(
            check(&KvModel, &history, &tight),
            CheckResult::Unknown(Limit::Steps)
        );
        assert_eq!(check(&KvModel, &history, &roomy), CheckResult::Linearizable);
    }
}
