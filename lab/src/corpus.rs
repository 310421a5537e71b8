//! `lab corpus`: every line of a corpus of past failures replayed as a
//! regression suite; each must pass now.

use crate::common::{fail, recorded_peer, run_seed, schedule_scenario};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;
use tests::nemesis::Schedule;
use tests::peers;
use tests::targets::{self, Target};

/// One line of a corpus, ready to replay.
struct Entry {
    target: Target,
    seed: u64,
    schedule: Option<Schedule>,
    peer: &'static str,
}

pub fn corpus(file: &Path, only: Option<usize>, peer: Option<&'static str>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", file.display())),
    };
    if let Some(k) = only {
        let lines = text.lines().count();
        match text.lines().nth(k.wrapping_sub(1)) {
            _ if k == 0 => return fail("--line counts from 1"),
            None => {
                return fail(format!(
                    "{} has {lines} line(s), no line {k}",
                    file.display()
                ));
            }
            Some(l) if l.trim().is_empty() => {
                return fail(format!("{}:{k} is empty", file.display()));
            }
            Some(_) => {}
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim().is_empty() || only.is_some_and(|k| k != n) {
            continue;
        }
        let entry = match parse_entry(line, peer) {
            Ok(e) => e,
            Err(e) => return fail(format!("{}:{n}: {e}", file.display())),
        };
        match run_seed(&entry.target, entry.seed, entry.schedule, entry.peer) {
            Ok(_) => {
                passed += 1;
                println!(
                    "passed {} seed={}{} (line {n})",
                    entry.target.name,
                    entry.seed,
                    peers::flag(entry.peer)
                );
            }
            Err(f) => {
                failed += 1;
                println!("{f}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A corpus line: scenario (or test), seed, and maybe a schedule and a peer.
fn parse_entry(line: &str, explicit: Option<&'static str>) -> Result<Entry, String> {
    let entry: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let (Some(name), Some(seed)) = (entry["scenario"].as_str(), entry["seed"].as_u64()) else {
        return Err("a corpus line needs \"scenario\" and \"seed\"".to_string());
    };
    let target = targets::find(name)?;
    let schedule = match &entry["schedule"] {
        Value::Null => None,
        v => {
            let servers = schedule_scenario(name)?.servers;
            Some(
                serde_json::from_value::<Schedule>(v.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|s| s.validate(servers).map(|()| s))
                    .map_err(|e| format!("not a fault schedule: {e}"))?,
            )
        }
    };
    let peer = recorded_peer(explicit, entry["peer"].as_str(), "corpus line")?;
    Ok(Entry {
        target,
        seed,
        schedule,
        peer,
    })
}
