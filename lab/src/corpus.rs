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
    let entries = match read_entries(file, only, peer) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let (mut passed, mut failed) = (0, 0);
    for (n, entry) in entries {
        let has_schedule = entry.schedule.is_some();
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
            // The seed alone does not replay a line's own schedule; the line does.
            Err(f) if has_schedule => {
                failed += 1;
                let line = format!("corpus {} --line {n}", file.display());
                let replay = tests::failure::lab_command(&line, entry.peer);
                println!("{}\nreplay: {replay}", f.headline());
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

/// The lines to replay (all, or line `only`), each with its number. Every
/// line is read before any runs: a malformed line is reported at once, not
/// after the lines before it have run.
fn read_entries(
    file: &Path,
    only: Option<usize>,
    peer: Option<&'static str>,
) -> Result<Vec<(usize, Entry)>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if let Some(k) = only {
        let lines = text.lines().count();
        match text.lines().nth(k.wrapping_sub(1)) {
            _ if k == 0 => return Err("--line counts from 1".into()),
            None => {
                return Err(format!(
                    "{} has {lines} line(s), no line {k}",
                    file.display()
                ));
            }
            Some(l) if l.trim().is_empty() => {
                return Err(format!("{}:{k} is empty", file.display()));
            }
            Some(_) => {}
        }
    }
    let mut entries = Vec::new();
    let last = text.lines().count();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim().is_empty() || only.is_some_and(|k| k != n) {
            continue;
        }
        // A last line without its newline that is not JSON was cut short as
        // it was written (a campaign killed): the lines before it still run.
        let cut_short = n == last && !text.ends_with('\n');
        if cut_short && serde_json::from_str::<Value>(line).is_err() {
            eprintln!(
                "lab: {}:{n}: cut short (not JSON, and no newline at the end): skipped",
                file.display()
            );
            continue;
        }
        let entry = parse_entry(line, peer).map_err(|e| format!("{}:{n}: {e}", file.display()))?;
        entries.push((n, entry));
    }
    Ok(entries)
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
            let scenario = schedule_scenario(name)?;
            Some(
                serde_json::from_value::<Schedule>(v.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|s| scenario.check_schedule(&s).map(|()| s))
                    .map_err(|e| format!("not a fault schedule: {e}"))?,
            )
        }
    };
    // The peer is the line's, or else its schedule's.
    let recorded = (entry["peer"].as_str()).or(schedule.as_ref().and_then(|s| s.peer.as_deref()));
    let peer = recorded_peer(explicit, recorded, "corpus line")?;
    Ok(Entry {
        target,
        seed,
        schedule,
        peer,
    })
}
