//! `lab run`: a graded test (or a scenario) over many seeds.

use crate::ManySeeds;
use crate::campaign::{CampaignOptions, Progress, run_campaign};
use crate::common::{fail, finish, print_failure, shard};
use std::process::ExitCode;

pub fn run(name: &str, many: ManySeeds) -> ExitCode {
    let target = match crate::common::target(name) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let seeds = shard(many.seeds, many.shard);
    crate::interrupt::catch();
    let mut summary = run_campaign(
        &move |seed| target.run(seed),
        CampaignOptions {
            label: target.name.to_string(),
            seeds,
            jobs: many.jobs,
            time_budget: many.time_budget,
            max_failures: many.max_failures,
            progress: Progress::for_stderr(),
            on_failure: Box::new(print_failure),
        },
    );
    summary.count_unreached = tests::scenarios::find(target.name).is_none();
    finish(&summary)
}
