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
}

/// Scenarios and graded tests, a heading per group.
fn list_targets() {
    let mut group = "";
    for t in targets::all() {
        if t.group != group {
            group = t.group;
            let title = match group {
                "scenario" => "Scenarios (lab explore NAME)".to_string(),
                part => format!("Graded tests, part {part} (lab run NAME)"),
            };
            println!("\n{title}");
        }
        println!("  {:<42} {}", t.name, t.about);
    }
}
