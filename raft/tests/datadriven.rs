//! Interaction tests of the reference Raft, in the style of etcd-io/raft's datadriven
//! tests: each file in `tests/testdata/` is a transcript of commands and, under each
//! command, the exact output it produces. A reader learns the protocol from them; the
//! commands are listed in `interaction/mod.rs`.
//!
//! A transcript is a sequence of blocks:
//!
//! ```text
//! # comments and blank lines are kept as they are
//! command pos1 pos2 key=value
//! ----
//! expected output, up to the next blank line
//! ```
//!
//! `REWRITE=1 cargo test --release -p raft --test datadriven` writes each command's actual
//! output back into the files (review the change with `git diff`). A normal run fails at
//! the first command whose output differs, with a diff and the command's file:line.

mod interaction;

use std::fs;
use std::path::{Path, PathBuf};

use interaction::Env;

/// One command of a transcript and the output written under it.
struct Case {
    /// 1-based line of the command in its file.
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// A transcript line outside any case (a comment or a blank line), or a case.
enum Item {
    Text(String),
    Case(Case),
}

/// Splits a transcript into its items. Panics (at `path:line`) on a command without
/// its `----` line.
fn parse(path: &Path, text: &str) -> Vec<Item> {
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            items.push(Item::Text(line.to_string()));
            i += 1;
            continue;
        }
        assert!(
            lines.get(i + 1) == Some(&"----"),
            "{}:{}: a command must be followed by a line \"----\"",
            shown(path).display(),
            i + 1
        );
        let start = i + 2;
        let end = (start..lines.len())
            .find(|&j| lines[j].trim().is_empty())
            .unwrap_or(lines.len());
        items.push(Item::Case(Case {
            line: i + 1,
            command: line.trim().to_string(),
            expected: lines[start..end].iter().map(|l| l.to_string()).collect(),
        }));
        i = end;
    }
    items
}

/// A line diff of `expected` against `actual` (longest common subsequence), as lines
/// starting with `-` (only expected), `+` (only actual) or ` ` (both).
fn diff(expected: &[String], actual: &[String]) -> String {
    let (n, m) = (expected.len(), actual.len());
    // lcs[i][j]: the longest common subsequence of expected[i..] and actual[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            out += &format!("  {}\n", expected[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", expected[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", actual[j]);
            j += 1;
        }
    }
    out
}

/// `path` from the workspace's root, as a reader would open it.
fn shown(path: &Path) -> &Path {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    path.strip_prefix(workspace).unwrap_or(path)
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata")
}

/// Runs every command of `path` on a fresh [`Env`]. Returns the transcript with the
/// actual outputs, and the first difference from the expected ones (if any).
fn run_transcript(path: &Path) -> (String, Option<String>) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut env = Env::default();
    let mut rewritten = String::new();
    let mut failure = None;
    for item in parse(path, &text) {
        let case = match item {
            Item::Text(line) => {
                rewritten += &format!("{line}\n");
                continue;
            }
            Item::Case(case) => case,
        };
        let at = format!("{}:{}", shown(path).display(), case.line);
        let actual = env
            .run(&case.command)
            .unwrap_or_else(|e| panic!("{at}: {}: {e}", case.command));
        assert!(
            actual.iter().all(|l| !l.trim().is_empty()),
            "{at}: the output has a blank line, which would end the block"
        );
        rewritten += &format!("{}\n----\n", case.command);
        for line in &actual {
            rewritten += &format!("{line}\n");
        }
        if failure.is_none() && actual != case.expected {
            let diff = diff(&case.expected, &actual);
            failure = Some(format!(
                "{at}: {}\noutput differs (- expected, + actual):\n{diff}",
                case.command
            ));
        }
    }
    (rewritten, failure)
}

/// Runs one transcript: rewrites it under `REWRITE`, else fails on the first difference.
fn run(name: &str) {
    let path = testdata().join(name);
    let (rewritten, failure) = run_transcript(&path);
    if std::env::var_os("REWRITE").is_some() {
        if failure.is_some() {
            fs::write(&path, rewritten).unwrap();
        }
        return;
    }
    if let Some(failure) = failure {
        panic!(
            "{failure}\n(if the new output is right: REWRITE=1 cargo test --release -p raft \
             --test datadriven, then review git diff)"
        );
    }
}

/// One test per transcript, and a check that every file in `testdata/` is one of them.
macro_rules! transcripts {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(concat!(stringify!($name), ".txt"));
            }
        )*

        #[test]
        fn every_transcript_has_a_test() {
            let listed = [$(concat!(stringify!($name), ".txt")),*];
            for entry in fs::read_dir(testdata()).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(
                    !name.ends_with(".txt") || listed.contains(&name.as_str()),
                    "testdata/{name} is not listed in transcripts! (tests/datadriven.rs)"
                );
            }
        }
    };
}

transcripts!(
    campaign,
    prevote,
    propose,
    read_index,
    transfer_leader,
    check_quorum,
    snapshot,
    lease,
    confchange_add_learner,
    confchange_joint,
    confchange_refusals,
    confchange_rollback,
    backtracking,
);

#[test]
fn the_diff_marks_what_changed() {
    let lines = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let d = diff(&lines("a b c d"), &lines("a x c d e"));
    assert_eq!(d, "  a\n- b\n+ x\n  c\n  d\n+ e\n");
}
