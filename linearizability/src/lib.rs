//! Linearizability checking, in the manner of Porcupine (Wing & Gong's search
//! with Lowe's memoisation, per P-compositional partition).
//!
//! # Pieces
//! - [`Model`]: the sequential specification a service plugs in.
//! - [`Operation`] / [`Event`]: a concurrent history (interval form / event form).
//! - [`check`]: the checker, with three verdicts in [`CheckResult`]; budgets of
//!   steps and memory in [`CheckOptions`] (counted, so the same on every
//!   machine) turn an over-long search into [`CheckResult::Unknown`], never
//!   into a pass.
//! - [`KvModel`] (get/put/append/delete, partitioned by key; its per-key state
//!   [`KvState`] is a shared-prefix rope, so an append costs the appended piece, not
//!   the whole value) and [`RegisterModel`] (read, write, compare-and-set), the two
//!   models shipped here.
//! - [`parse_kv`], [`parse_jepsen_register`] and [`check_file`]: reading histories
//!   from text.
//! - [`render_html`] / [`write_html`]: a self-contained page that draws a history
//!   and, on a violation, the longest partial linearization and the operation that
//!   breaks it.
//!
//! # Example
//!
//! Porcupine's second register example: client 0 writes 200 while clients 1 and 2
//! read. Client 2 reads the old value after client 1 has read the new one, which no
//! order of the three operations allows.
//!
//! ```
//! use linearizability::{CheckOptions, CheckResult, Operation, RegisterModel, check};
//! use linearizability::{RegisterInput::*, RegisterOutput};
//!
//! let op = |client_id, input, call_ns, output, return_ns| Operation {
//!     client_id,
//!     input,
//!     call_ns,
//!     output,
//!     return_ns,
//! };
//! let history = vec![
//!     op(0, Write(200), 0, RegisterOutput::Ok, 100),
//!     op(1, Read, 10, RegisterOutput::Read(Some(200)), 30),
//!     op(2, Read, 40, RegisterOutput::Read(None), 90),
//! ];
//! let CheckResult::NotLinearizable(violation) =
//!     check(&RegisterModel, &history, &CheckOptions::default())
//! else {
//!     panic!("not linearizable")
//! };
//! assert_eq!(violation.failing_op, 2);
//! ```
//!
//! # Text formats
//!
//! **KV (Porcupine / Jepsen EDN-like), [`ModelKind::Kv`].** One event per line, the
//! line order is the real-time order and the (1-based) line number is the timestamp:
//!
//! ```text
//! {:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}
//! {:process 1, :type :invoke, :f :get, :key "9", :value nil}
//! {:process 9, :type :ok, :f :append, :key "0", :value "x 9 0 y"}
//! {:process 1, :type :ok, :f :get, :key "9", :value "x 5 0 y"}
//! ```
//!
//! `:f` is one of `:get`, `:put`, `:append`, `:delete`; a get's invoke carries
//! `:value nil` and its `:ok` carries the value read (`nil` reads as `""`, the value of
//! a missing key). Strings may use `\"` and `\\` escapes. `:type` is `:invoke`, `:ok`,
//! `:fail` (the operation did not happen: it is dropped) or `:info` (it may or may not
//! have happened: it never returns and its output is unknown). An invoke that never
//! gets an answer is treated like `:info`. Blank lines and lines starting with `;` are
//! skipped; any other line must be such a map, else a [`ParseError`] names the line.
//!
//! **Jepsen etcd register log, [`ModelKind::Register`].** Only lines of the form
//! `INFO <ws> jepsen.util <ws> - <ws> PROCESS <ws> :TYPE <ws> :F <ws> VALUE` are events
//! (whitespace is tabs or spaces); every other line is skipped, as Porcupine's parser
//! does. Examples (the fields are tab-separated in Jepsen's logs):
//!
//! ```text
//! INFO  jepsen.util - 2  :invoke  :cas  [3 0]
//! INFO  jepsen.util - 2  :ok  :cas  [3 0]
//! INFO  jepsen.util - 0  :invoke  :read  nil
//! INFO  jepsen.util - 0  :ok  :read  3
//! INFO  jepsen.util - 1  :fail  :cas  [0 3]
//! INFO  jepsen.util - 7  :info  :write  :timed-out
//! INFO  jepsen.util - 5  :fail  :read  :timed-out
//! ```
//!
//! `:F` is `:read` (value `nil` on invoke; `nil` or an integer on `:ok`), `:write N` or
//! `:cas [FROM TO]`. Jepsen semantics: `:fail` means the operation did not happen and
//! it is dropped; `:info` (for instance `:timed-out`) and a missing return mean it may
//! or may not have happened, so it returns "never" with an output that matches anything.
//! Timestamps are line numbers, as for KV.

#![warn(missing_docs)]

mod checker;
mod file;
mod hash;
mod history;
mod html;
mod kv;
mod model;
mod parse;
mod register;

pub use checker::{CheckOptions, CheckResult, Limit, MAX_SEARCH_BYTES, Violation, check};
pub use file::{ModelKind, Report, check_file};
pub use history::{Event, EventKind, HistoryError, NEVER, Operation, operations_from_events};
pub use html::{render_html, write_html};
pub use kv::{KvInput, KvModel, KvOutput, KvState};
pub use model::Model;
pub use parse::{ParseError, parse_jepsen_register, parse_kv};
pub use register::{RegisterInput, RegisterModel, RegisterOutput};
