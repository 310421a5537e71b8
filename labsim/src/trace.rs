//! The trace: every event of a run, in order, folded into a running hash and
//! optionally streamed out as JSON lines or kept for a determinism check.

use crate::hash::TraceHasher;
use crate::time::fmt_ns;
use std::fmt::{self, Write as _};
use std::io::Write;

/// What an event carries beyond its time, node and kind.
///
/// `digest` feeds the trace hash and runs for every event, so it should be
/// cheap (absorb raw bytes, not formatted text). `describe` and `fields`
/// run only when someone reads the trace (a JSON sink, a divergence report).
pub trait Detail {
    /// Absorbs the detail into the event's digest.
    fn digest(&self, h: &mut TraceHasher);
    /// Writes a human-readable description.
    fn describe(&self, out: &mut String);
    /// Writes the detail's facts as structured fields (a message's call
    /// number, a peer's term), for programs that read the trace: they read
    /// these, never the description's text. Never hashed. None by default.
    fn fields(&self, _out: &mut Fields<'_>) {}
}

/// The value of a structured field of a trace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// A whole number: a node, a term, an index, a call.
    Uint(u64),
    /// Text.
    Str(&'a str),
    /// Yes or no.
    Bool(bool),
}

impl From<u64> for Field<'_> {
    fn from(n: u64) -> Self {
        Field::Uint(n)
    }
}

impl From<usize> for Field<'_> {
    fn from(n: usize) -> Self {
        Field::Uint(n as u64)
    }
}

impl<'a> From<&'a str> for Field<'a> {
    fn from(s: &'a str) -> Self {
        Field::Str(s)
    }
}

impl From<bool> for Field<'_> {
    fn from(b: bool) -> Self {
        Field::Bool(b)
    }
}

/// The members every JSON line has; a field may not take these names.
const LINE_KEYS: [&str; 6] = ["i", "t_ns", "node", "kind", "detail", "note"];

/// Where a [`Detail`] writes its fields: each becomes a member of the trace
/// line's JSON object, at its end (`..,"detail":"..","to":2,"call":5}`).
pub struct Fields<'a> {
    json: &'a mut String,
}

impl Fields<'_> {
    /// Adds the field `key` (not one of the line's own members: `i`, `t_ns`,
    /// `node`, `kind`, `detail`, `note`).
    pub fn add<'v>(&mut self, key: &'static str, value: impl Into<Field<'v>>) -> &mut Self {
        debug_assert!(
            !LINE_KEYS.contains(&key),
            "`{key}` names a trace line's own member"
        );
        if LINE_KEYS.contains(&key) {
            return self;
        }
        let _ = write!(self.json, ",\"{key}\":");
        match value.into() {
            Field::Uint(n) => {
                let _ = write!(self.json, "{n}");
            }
            Field::Str(s) => self
                .json
                .push_str(&serde_json::to_string(s).unwrap_or_default()),
            Field::Bool(b) => {
                let _ = write!(self.json, "{b}");
            }
        }
        self
    }
}

/// A detail with fields of its own beside another detail's: what an
/// annotation carries (see `Ctx::annotate_fields`, and a network's note of
/// a message sent to a node).
pub struct WithFields<'a> {
    /// The detail described, with its own fields.
    pub detail: &'a dyn Detail,
    /// Fields before the detail's.
    pub fields: &'a [(&'static str, Field<'a>)],
}

impl Detail for WithFields<'_> {
    fn digest(&self, h: &mut TraceHasher) {
        self.detail.digest(h);
        for (key, value) in self.fields {
            h.bytes(key.as_bytes());
            match value {
                Field::Uint(n) => h.u64(*n),
                Field::Str(s) => h.bytes(s.as_bytes()),
                Field::Bool(b) => h.u64(u64::from(*b)),
            }
        }
    }
    fn describe(&self, out: &mut String) {
        self.detail.describe(out);
    }
    fn fields(&self, out: &mut Fields<'_>) {
        for &(key, value) in self.fields {
            out.add(key, value);
        }
        self.detail.fields(out);
    }
}

impl Detail for () {
    fn digest(&self, _: &mut TraceHasher) {}
    fn describe(&self, _: &mut String) {}
}

impl Detail for u64 {
    fn digest(&self, h: &mut TraceHasher) {
        h.u64(*self);
    }
    fn describe(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Detail for &str {
    fn digest(&self, h: &mut TraceHasher) {
        h.bytes(self.as_bytes());
    }
    fn describe(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Detail for String {
    fn digest(&self, h: &mut TraceHasher) {
        h.bytes(self.as_bytes());
    }
    fn describe(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Detail for fmt::Arguments<'_> {
    fn digest(&self, h: &mut TraceHasher) {
        let _ = h.write_fmt(*self);
    }
    fn describe(&self, out: &mut String) {
        let _ = out.write_fmt(*self);
    }
}

/// A compact record of one event: enough to name it in a divergence report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSummary {
    /// The event's position in the run, from 0.
    pub index: u64,
    /// When it happened, in virtual nanoseconds.
    pub at_ns: u64,
    /// The node it happened at, if any.
    pub node: Option<usize>,
    /// What kind of event it is (`deliver`, `timer`, `crash`, ...).
    pub kind: &'static str,
    /// The digest of its detail.
    pub digest: u64,
}

impl fmt::Display for EventSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event #{} at t={} ", self.index, fmt_ns(self.at_ns))?;
        match self.node {
            Some(n) => write!(f, "node {n}")?,
            None => write!(f, "sim")?,
        }
        write!(f, " {} (digest {:#018x})", self.kind, self.digest)
    }
}

/// Where two runs of the same scenario and seed first differ.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// Index of the first event that differs.
    pub index: u64,
    /// That event in the first run (None if the first run ended before it).
    pub first: Option<EventSummary>,
    /// That event in the second run (None if the second run ended before it).
    pub second: Option<EventSummary>,
    /// The second run's description of it.
    pub second_detail: String,
    /// The last event both runs agree on.
    pub last_common: Option<EventSummary>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runs diverge at event #{}", self.index)?;
        match &self.last_common {
            Some(e) => writeln!(f, "  last common:  {e}")?,
            None => writeln!(f, "  (no common prefix)")?,
        }
        match &self.first {
            Some(e) => writeln!(f, "  first run:    {e}")?,
            None => writeln!(f, "  first run:    (ended)")?,
        }
        match &self.second {
            Some(e) => write!(f, "  second run:   {e}, detail: {}", self.second_detail),
            None => write!(f, "  second run:   (ended)"),
        }
    }
}

/// Which events a JSON sink writes.
#[derive(Clone, Debug, Default)]
pub struct TraceFilter {
    /// Only events at this node (sim-level events are kept too).
    pub node: Option<usize>,
    /// Only events at or after this instant.
    pub from_ns: Option<u64>,
    /// Only events at or before this instant.
    pub to_ns: Option<u64>,
}

impl TraceFilter {
    fn keeps(&self, at_ns: u64, node: Option<usize>) -> bool {
        self.from_ns.is_none_or(|t| at_ns >= t)
            && self.to_ns.is_none_or(|t| at_ns <= t)
            && (self.node.is_none() || node.is_none() || node == self.node)
    }
}

enum Check {
    Off,
    Record(Vec<EventSummary>),
    Compare {
        reference: Vec<EventSummary>,
        divergence: Option<Divergence>,
    },
}

/// The running trace of one simulation.
pub struct Trace {
    hash: u64,
    events: u64,
    /// One past the highest node any event was at.
    nodes: usize,
    sink: Option<(Box<dyn Write>, TraceFilter)>,
    sink_error: Option<String>,
    check: Check,
    line: String,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    /// An empty trace that only hashes.
    pub fn new() -> Trace {
        Trace {
            hash: 0x6a09_e667_f3bc_c908,
            events: 0,
            nodes: 0,
            sink: None,
            sink_error: None,
            check: Check::Off,
            line: String::new(),
        }
    }

    /// The running hash over every event so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many events have been recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// One past the highest node any event so far was at (whatever the
    /// sink's filter kept): a `--node` at or past it matched nothing.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Streams every event that `filter` keeps to `out`, one JSON object a line:
    /// `{"i":..,"t_ns":..,"node":..,"kind":"..","detail":".."}`, then
    /// `"note":true` for an annotation, then the detail's fields, if any
    /// (see [`Detail::fields`]).
    pub fn stream_json(&mut self, out: Box<dyn Write>, filter: TraceFilter) {
        self.sink = Some((out, filter));
    }

    /// Flushes the JSON sink; reports the first write error, if any.
    pub fn flush(&mut self) -> Result<(), String> {
        if let Some((out, _)) = &mut self.sink
            && let Err(e) = out.flush()
        {
            self.sink_error.get_or_insert(e.to_string());
        }
        match &self.sink_error {
            Some(e) => Err(format!("writing the trace failed: {e}")),
            None => Ok(()),
        }
    }

    /// Keeps a summary of every event, for `compare_with` in a second run.
    pub fn record_summaries(&mut self) {
        self.check = Check::Record(Vec::new());
    }

    /// Compares every event, as it happens, with a first run's summaries.
    pub fn compare_with(&mut self, reference: Vec<EventSummary>) {
        self.check = Check::Compare {
            reference,
            divergence: None,
        };
    }

    /// The summaries kept by `record_summaries`.
    pub fn take_summaries(&mut self) -> Vec<EventSummary> {
        match std::mem::replace(&mut self.check, Check::Off) {
            Check::Record(v) => v,
            _ => Vec::new(),
        }
    }

    /// The first divergence found by `compare_with`, including a run that
    /// ended early or went on past the reference's end.
    pub fn divergence(&self) -> Option<Divergence> {
        match &self.check {
            Check::Compare {
                reference,
                divergence,
            } => divergence.clone().or_else(|| {
                if (reference.len() as u64) > self.events {
                    let i = self.events as usize;
                    Some(Divergence {
                        index: self.events,
                        first: Some(reference[i].clone()),
                        second: None,
                        second_detail: String::new(),
                        last_common: i.checked_sub(1).map(|j| reference[j].clone()),
                    })
                } else {
                    None
                }
            }),
            _ => None,
        }
    }

    /// True if a JSON sink is attached: annotations are worth building.
    pub fn is_streaming(&self) -> bool {
        self.sink.is_some()
    }

    /// Writes an annotation to the JSON sink: a note for readers (a message's
    /// content, a role change) that is not an event. It does not count, does
    /// not enter the hash, and is dropped when nothing streams, so tracing a
    /// run never changes its hash. It carries the index of the event during
    /// which it was made.
    pub fn annotate(
        &mut self,
        at_ns: u64,
        node: Option<usize>,
        kind: &'static str,
        detail: &dyn Detail,
    ) {
        let index = self.events.saturating_sub(1);
        self.write_line(index, at_ns, node, kind, detail, true);
    }

    /// Writes one JSON line to the sink, if there is one and its filter keeps it.
    fn write_line(
        &mut self,
        index: u64,
        at_ns: u64,
        node: Option<usize>,
        kind: &'static str,
        detail: &dyn Detail,
        note: bool,
    ) {
        let Some((out, filter)) = &mut self.sink else {
            return;
        };
        if !filter.keeps(at_ns, node) || self.sink_error.is_some() {
            return;
        }
        self.line.clear();
        detail.describe(&mut self.line);
        let node_json = node.map_or("null".to_string(), |n| n.to_string());
        let detail_json = serde_json::to_string(&self.line).unwrap_or_default();
        let note = if note { ",\"note\":true" } else { "" };
        self.line.clear();
        detail.fields(&mut Fields {
            json: &mut self.line,
        });
        let fields = &self.line;
        if let Err(e) = writeln!(
            out,
            "{{\"i\":{index},\"t_ns\":{at_ns},\"node\":{node_json},\"kind\":\"{kind}\",\"detail\":{detail_json}{note}{fields}}}"
        ) {
            self.sink_error = Some(e.to_string());
        }
    }

    /// Records one event.
    pub fn record(
        &mut self,
        at_ns: u64,
        node: Option<usize>,
        kind: &'static str,
        detail: &dyn Detail,
    ) {
        let mut h = TraceHasher::new();
        detail.digest(&mut h);
        let digest = h.finish();
        let mut e = TraceHasher::new();
        e.u64(at_ns);
        e.u64(node.map_or(0, |n| n as u64 + 1));
        e.bytes(kind.as_bytes());
        e.u64(digest);
        let event_hash = e.finish();
        self.hash = crate::rng::splitmix64(self.hash ^ event_hash.rotate_left(7));
        let index = self.events;
        self.events += 1;
        if let Some(n) = node {
            self.nodes = self.nodes.max(n + 1);
        }

        self.write_line(index, at_ns, node, kind, detail, false);
        match &mut self.check {
            Check::Off => {}
            Check::Record(v) => v.push(EventSummary {
                index,
                at_ns,
                node,
                kind,
                digest,
            }),
            Check::Compare {
                reference,
                divergence,
            } => {
                if divergence.is_none() {
                    let here = EventSummary {
                        index,
                        at_ns,
                        node,
                        kind,
                        digest,
                    };
                    let there = reference.get(index as usize);
                    if there != Some(&here) {
                        let mut text = String::new();
                        detail.describe(&mut text);
                        *divergence = Some(Divergence {
                            index,
                            first: there.cloned(),
                            second: Some(here),
                            second_detail: text,
                            last_common: index
                                .checked_sub(1)
                                .and_then(|j| reference.get(j as usize).cloned()),
                        });
                    }
                }
            }
        }
    }
}
