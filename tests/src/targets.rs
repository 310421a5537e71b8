//! Everything `lab` can run by name: graded tests and exploration scenarios.

use crate::Test;
use crate::failure::Failure;
use crate::raft_suite::RunReport;
use crate::scenarios::Scenario;

/// A named thing that runs on a seed.
#[derive(Clone, Copy)]
pub struct Target {
    /// Its name (`raft::figure8`, `raft-nemesis`).
    pub name: &'static str,
    /// Its group: a graded part (`3A`..`3D`, `4A`, `4B`, `5A`, `5B` as 6.824 numbers
    /// them, and `3E`, Raft's other half) or `scenario`.
    pub group: &'static str,
    /// One line about it.
    pub about: &'static str,
    body: Body,
}

/// What runs.
#[derive(Clone, Copy)]
enum Body {
    Graded(fn(&Test) -> Result<RunReport, Failure>),
    Scenario(&'static Scenario),
}

impl Target {
    /// Runs it on `seed` (a scenario under its seed's schedule, or the one
    /// [`crate::scenarios::with_schedule`] set).
    pub fn run(&self, seed: u64) -> Result<RunReport, Failure> {
        match self.body {
            Body::Graded(body) => body(&Test {
                name: self.name,
                seed,
            }),
            Body::Scenario(s) => s.run(seed),
        }
    }
}

/// Every graded test and scenario, graded tests first in 6.824's order.
pub fn all() -> Vec<Target> {
    let mut v: Vec<Target> = crate::raft_suite::TESTS
        .iter()
        .map(|t| Target {
            name: t.name,
            group: t.part,
            // 3E is Raft's other half, which 6.824 does not grade.
            about: match t.part {
                "3E" => "graded Raft test (past 6.824: Raft's other half)",
                _ => "graded Raft test (6.824)",
            },
            body: Body::Graded(t.body),
        })
        .collect();
    v.extend(crate::kv_suite::TESTS.iter().map(|t| Target {
        name: t.name,
        group: t.part,
        about: "graded KV test (6.824)",
        body: Body::Graded(t.body),
    }));
    v.extend(crate::ctrler_suite::TESTS.iter().map(|t| Target {
        name: t.name,
        group: t.part,
        about: "graded shard controller test (6.824)",
        body: Body::Graded(t.body),
    }));
    v.extend(crate::shardkv_suite::TESTS.iter().map(|t| Target {
        name: t.name,
        group: t.part,
        about: "graded sharded KV test (6.824)",
        body: Body::Graded(t.body),
    }));
    v.extend(crate::scenarios::SCENARIOS.iter().map(|s| Target {
        name: s.name,
        group: "scenario",
        about: s.about,
        body: Body::Scenario(s),
    }));
    v
}

/// The graded parts, in 6.824's order.
pub fn parts() -> Vec<&'static str> {
    let mut parts: Vec<&'static str> = Vec::new();
    for t in all().iter().filter(|t| t.group != "scenario") {
        if !parts.contains(&t.group) {
            parts.push(t.group);
        }
    }
    parts
}

/// Finds a target by its full name, or a graded test by its short name.
pub fn find(name: &str) -> Result<Target, String> {
    let all = all();
    if let Some(t) = all
        .iter()
        .find(|t| t.name == name || t.name.split("::").nth(1) == Some(name))
    {
        return Ok(*t);
    }
    let hint = did_you_mean(all.iter().map(|t| t.name), name);
    Err(format!(
        "no test or scenario named `{name}`{hint}; `lab list` shows them all"
    ))
}

/// ` (did you mean A, B?)` for the `names` that contain `name` or that it
/// contains; empty if none does.
pub fn did_you_mean<'a>(names: impl Iterator<Item = &'a str>, name: &str) -> String {
    let close: Vec<&str> = names
        .filter(|n| n.contains(name) || name.contains(*n))
        .collect();
    match close.is_empty() {
        true => String::new(),
        false => format!(" (did you mean {}?)", close.join(", ")),
    }
}
