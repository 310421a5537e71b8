//! Checking a history file end to end (for `lab check-history`).

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::checker::{CheckOptions, CheckResult, Limit, check};
use super::history::Operation;
use super::html::write_html;
use super::kv::{KvInput, KvModel, KvOutput};
use super::model::Model;
use super::parse::{ParseError, parse_jepsen_register, parse_kv};
use super::register::{RegisterInput, RegisterModel, RegisterOutput};

/// Which model (and file format) a history file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Porcupine/Jepsen KV text, checked with [`KvModel`].
    Kv,
    /// Jepsen etcd log, checked with [`RegisterModel`].
    Register,
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kv" => Ok(ModelKind::Kv),
            "register" | "etcd" => Ok(ModelKind::Register),
            other => Err(format!("unknown model {other:?} (expected kv or register)")),
        }
    }
}

/// The outcome of [`check_file`].
#[derive(Clone, Debug)]
pub struct Report {
    /// The file checked.
    pub path: PathBuf,
    /// The model it was checked against.
    pub kind: ModelKind,
    /// Operations checked (after dropping `:fail`ed ones).
    pub operations: usize,
    /// The verdict.
    pub result: CheckResult,
    history: History,
}

#[derive(Clone, Debug)]
enum History {
    Kv(Vec<Operation<KvInput, KvOutput>>),
    Register(Vec<Operation<RegisterInput, RegisterOutput>>),
}

/// Reads, parses and checks a history file.
pub fn check_file(
    path: &Path,
    kind: ModelKind,
    options: &CheckOptions,
) -> Result<Report, ParseError> {
    let text = std::fs::read_to_string(path).map_err(|e| ParseError {
        path: Some(path.to_path_buf()),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    let with_path = |mut e: ParseError| {
        e.path = Some(path.to_path_buf());
        e
    };
    let (operations, result, history) = match kind {
        ModelKind::Kv => {
            let ops = parse_kv(&text).map_err(with_path)?;
            let result = check(&KvModel, &ops, options);
            (ops.len(), result, History::Kv(ops))
        }
        ModelKind::Register => {
            let ops = parse_jepsen_register(&text).map_err(with_path)?;
            let result = check(&RegisterModel, &ops, options);
            (ops.len(), result, History::Register(ops))
        }
    };
    Ok(Report {
        path: path.to_path_buf(),
        kind,
        operations,
        result,
        history,
    })
}

impl Report {
    /// One line for a person: the file, the size and the verdict (with the failing
    /// operation on a violation).
    pub fn summary(&self) -> String {
        let verdict = match &self.result {
            CheckResult::Linearizable => "linearizable".to_string(),
            CheckResult::Unknown(Limit::Steps) => {
                "UNKNOWN (the search used up its step budget; not a pass)".to_string()
            }
            CheckResult::Unknown(Limit::Memory) => {
                "UNKNOWN (the search filled its memory; not a pass)".to_string()
            }
            CheckResult::NotLinearizable(v) => {
                let op = match &self.history {
                    History::Kv(h) => describe(&KvModel, &h[v.failing_op]),
                    History::Register(h) => describe(&RegisterModel, &h[v.failing_op]),
                };
                format!(
                    "NOT linearizable: {op} cannot be placed after a linearizable prefix of {} operation(s)",
                    v.longest_prefix.len()
                )
            }
        };
        format!(
            "{}: {} operations: {verdict}",
            self.path.display(),
            self.operations
        )
    }

    /// Writes the HTML picture of this history and verdict; returns its path.
    pub fn write_html(&self, path: &Path) -> io::Result<PathBuf> {
        match &self.history {
            History::Kv(h) => write_html(&KvModel, h, &self.result, path),
            History::Register(h) => write_html(&RegisterModel, h, &self.result, path),
        }
    }
}

fn describe<M: Model>(model: &M, op: &Operation<M::Input, M::Output>) -> String {
    let who = format!(" (client {}, call {})", op.client_id, op.call_ns);
    model.describe_operation(&op.input, &op.output) + &who
}
