//! `lab schedule`: the fault schedule a scenario's seed generates, as JSON
//! to edit and pass back to `lab replay --schedule`.

use crate::common::fail;
use std::process::ExitCode;
use tests::nemesis::Schedule;
use tests::peers;

pub fn schedule(name: &str, seed: u64) -> ExitCode {
    let scenario = match crate::common::scheduled_scenario(name) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let schedule = Schedule {
        peer: Some(peers::current_name()),
        ..(scenario.schedule)(seed)
    };
    println!("{}", schedule.to_json());
    ExitCode::SUCCESS
}
