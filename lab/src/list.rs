//! `lab list`: every scenario and graded test by name, or every peer.

use std::process::ExitCode;
use tests::{peers, targets};

pub fn list(peers: bool) -> ExitCode {
    if peers {
        list_peers();
    } else {
        list_targets();
    }
    ExitCode::SUCCESS
}

/// The Raft implementations `--peer` can name.
fn list_peers() {
    println!(
        "Peers (lab --peer NAME; cargo test: {}=NAME)",
        peers::PEER_ENV
    );
    for p in peers::PEERS {
        let default = if p.name == peers::DEFAULT_PEER {
            " (default)"
        } else {
            ""
        };
        println!("  {:<12} {}{default}", p.name, p.about);
    }
    // A handout (without the reference) has no mutants.
    if !tests::mutants::MUTANTS.is_empty() {
        println!(
            "  {:<12} the reference with one classic bug (lab mutants --list)",
            "mutant:NAME"
        );
    }
}

/// Scenarios and graded tests, a heading per group.
fn list_targets() {
    let all = targets::all();
    // The widest name sets the column, so every description lines up.
    let width = all.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut group = "";
    for t in all {
        if t.group != group {
            let title = match t.group {
                "scenario" => "Scenarios (lab explore NAME)".to_string(),
                part => format!("Graded tests, part {part} (lab run NAME)"),
            };
            // A blank line between groups, none before the first.
            let gap = if group.is_empty() { "" } else { "\n" };
            println!("{gap}{title}");
            group = t.group;
        }
        println!("  {:<width$} {}", t.name, t.about);
    }
}
