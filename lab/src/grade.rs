//! `lab grade`: every graded test over some seeds, a line per test and a
//! table by part, as a student hands in.

use crate::campaign::{CampaignOptions, Progress, run_campaign};
use crate::common::print_failure;
use std::process::ExitCode;
use tests::seeds::Seeds;
use tests::targets::{self, Target};

/// A part's row of the table.
struct Row {
    part: &'static str,
    tests: usize,
    /// Tests that passed on every seed.
    passing: usize,
    failed_seeds: usize,
}

/// `--part`: one of the graded parts, in any case.
pub fn parse_part(text: &str) -> Result<&'static str, String> {
    let parts = targets::parts();
    let wanted = text.trim().to_ascii_uppercase();
    parts
        .iter()
        .copied()
        .find(|p| *p == wanted)
        .ok_or_else(|| format!("no part `{text}`; the parts are {}", parts.join(", ")))
}

pub fn grade(seeds: &Seeds, part: Option<&str>, jobs: usize) -> ExitCode {
    let mut rows: Vec<Row> = vec![];
    let (mut runs_total, mut failed_total) = (0, 0);
    let graded = targets::all()
        .into_iter()
        .filter(|t| t.group != "scenario" && part.is_none_or(|p| p == t.group));
    for t in graded {
        let (runs, failed) = grade_one(&t, seeds, jobs);
        runs_total += runs;
        failed_total += failed;
        match rows.iter_mut().find(|r| r.part == t.group) {
            Some(r) => {
                r.tests += 1;
                r.passing += usize::from(failed == 0);
                r.failed_seeds += failed;
            }
            None => rows.push(Row {
                part: t.group,
                tests: 1,
                passing: usize::from(failed == 0),
                failed_seeds: failed,
            }),
        }
    }
    print_table(&rows);
    println!(
        "{} passed, {} failed",
        runs_total - failed_total,
        failed_total
    );
    if failed_total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs one test over the seeds and prints its line: (runs, failed).
fn grade_one(t: &Target, seeds: &Seeds, jobs: usize) -> (usize, usize) {
    let target = *t;
    let summary = run_campaign(
        &move |seed| target.run(seed),
        CampaignOptions {
            label: t.name.to_string(),
            seeds: seeds.clone(),
            jobs,
            time_budget: None,
            max_failures: None,
            progress: Progress::for_stderr(),
            on_failure: Box::new(print_failure),
        },
    );
    let failed = summary.failures.len();
    println!(
        "{:<44} {:>4}/{:<4} {}",
        t.name,
        summary.runs as usize - failed,
        summary.runs,
        if failed == 0 { "ok" } else { "FAIL" }
    );
    (summary.runs as usize, failed)
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<8} {:>6} {:>8} {:>13}",
        "part", "tests", "passing", "failed seeds"
    );
    for r in rows {
        println!(
            "{:<8} {:>6} {:>8} {:>13}",
            r.part, r.tests, r.passing, r.failed_seeds
        );
    }
}
