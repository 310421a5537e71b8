//! `lab check-history`: a history recorded elsewhere, checked for
//! linearizability. Exit 0 linearizable, 1 not, 3 unknown, 2 unreadable (or
//! holding no operation).

use crate::common::{default_jobs, fail};
use linearizability::{CheckOptions, CheckResult, Limit, ModelKind, check_file};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn check_history(file: &Path, model: &str, max_steps: u64, html: Option<PathBuf>) -> ExitCode {
    let kind: ModelKind = match model.parse() {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    if let Some(Err(e)) = html.as_deref().map(crate::common::can_write) {
        return fail(e);
    }
    let options = CheckOptions {
        max_steps_per_partition: Some(max_steps),
        threads: default_jobs(),
        ..CheckOptions::default()
    };
    let report = match check_file(file, kind, &options) {
        Ok(r) => r,
        Err(e) => {
            let other = match kind {
                ModelKind::Kv => "register",
                ModelKind::Register => "kv",
            };
            return fail(format!(
                "{e}\n(read as a {model} history; if it is a {other} one, add --model {other})"
            ));
        }
    };
    // A file of another format (or the other model's) parses to nothing: a
    // verdict of "linearizable" on it would say nothing.
    if report.operations == 0 {
        return fail(format!(
            "{} holds no operation to check as a {model} history (see --model, and the formats in --help)",
            file.display()
        ));
    }
    println!("{}", report.summary());
    if let Some(path) = &html {
        match report.write_html(path) {
            Ok(p) => println!("picture: {}", p.display()),
            Err(e) => return fail(format!("cannot write {}: {e}", path.display())),
        }
    }
    match report.result {
        CheckResult::Linearizable => ExitCode::SUCCESS,
        CheckResult::NotLinearizable(_) => ExitCode::from(1),
        CheckResult::Unknown(Limit::Steps) => {
            println!("the step budget: {max_steps} per key; raise it with --max-steps");
            ExitCode::from(3)
        }
        CheckResult::Unknown(Limit::Memory) => {
            println!(
                "the search's memory: {} MiB for all the keys, shared by their needs; \
                 more steps cannot help the key that filled its share: the history is past \
                 the checker's reach",
                linearizability::MAX_SEARCH_BYTES >> 20
            );
            ExitCode::from(3)
        }
    }
}
