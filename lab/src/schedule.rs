//! `lab schedule`: the fault schedule a scenario's seed generates, as JSON
//! to edit and pass back to `lab replay --schedule`.

use crate::common::fail;
use std::process::ExitCode;
use tests::nemesis::Schedule;
use tests::{peers, scenarios};

pub fn schedule(name: &str, seed: u64) -> ExitCode {
    let Some(scenario) = scenarios::find(name) else {
        return fail(format!("no scenario named `{name}`; `lab list` shows them"));
    };
    let schedule = Schedule {
        peer: Some(peers::current_name()),
        ..(scenario.schedule)(seed)
    };
    println!("{}", schedule.to_json());
    ExitCode::SUCCESS
}
