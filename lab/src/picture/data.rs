//! The picture's data: a trace turned into the compact arrays the page
//! draws (roles, commits, outages, partition bands, messages, marks), with
//! every string interned once. What a line means comes from its kind and
//! its structured fields (`role`, `term`, `commit_index`, `to`, `call`,
//! `reply`, `method`, `error`); its detail text is only shown.

use super::trace::TraceLine;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A message as the picture knows it.
#[derive(Clone, Debug)]
struct Msg {
    t_send: f64,
    from: usize,
    to: usize,
    reply: bool,
    call: u64,
    method: usize,
    label: usize,
    args: Option<usize>,
    /// (time, node, fate, detail string)
    end: Option<(f64, usize, Fate, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    Delivered = 0,
    Dropped = 1,
    Unreachable = 2,
    Lost = 3,
    Late = 4,
    Pending = 5,
}

/// Interns strings for the page.
#[derive(Default)]
struct Strings {
    all: Vec<String>,
    index: HashMap<String, usize>,
}

impl Strings {
    fn id(&mut self, s: &str) -> usize {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        self.all.push(s.to_string());
        self.index.insert(s.to_string(), self.all.len() - 1);
        self.all.len() - 1
    }
}

fn ms(t_ns: u64) -> f64 {
    t_ns as f64 / 1e6
}

/// Rounds to µs so the page's JSON stays short.
fn r(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

const ROLES: [&str; 3] = ["follower", "candidate", "leader"];

/// The kinds of outage shaded on a lane.
const CRASHED: u8 = 0;
const PAUSED: u8 = 1;
const DISCONNECTED: u8 = 2;
/// Cut off by an aimed partition (`sever`) from every node but one client.
const SEVERED: u8 = 3;

/// The categories of marks, as the page draws them.
const MARK_MINOR: u8 = 0; // timers and storage: hidden unless asked for
const MARK_NODE: u8 = 1; // a node's life: crash, restart, pause, ...
const MARK_OTHER: u8 = 2; // anything else
const MARK_FAILED_CALL: u8 = 3; // a call failed at its caller

/// The page's data for `events`.
pub(super) fn build_data(title: &str, events: &[TraceLine]) -> Value {
    let t_end = events.iter().map(|e| ms(e.t_ns)).fold(0.0, f64::max);
    let event_count = events.iter().filter(|e| !e.note).count();
    let mut b = Builder::default();
    b.methods.id("reply");
    for e in events {
        b.event(e);
    }
    b.close_all(t_end);
    let mut data = b.into_json();
    data["title"] = json!(title);
    data["events"] = json!(event_count);
    data["notes"] = json!(events.len() - event_count);
    data["t_end"] = json!(r(t_end));
    data
}

/// The arrays under construction, and what is still open at this point of
/// the trace.
#[derive(Default)]
struct Builder {
    strs: Strings,
    methods: Strings,
    kinds: Strings,
    /// Each node's name (from its `add` event), by node.
    names: Vec<Option<String>>,
    /// node -> (since, role, term) of its current role.
    role_open: HashMap<usize, (f64, usize, u64)>,
    roles: Vec<Value>,
    last_commit: HashMap<usize, u64>,
    commits: Vec<Value>,
    /// `[node, t, string]`: the shards a sharded server serves, where that changes.
    shards: Vec<Value>,
    /// (node, outage kind) -> since.
    out_open: HashMap<(usize, u8), f64>,
    outs: Vec<Value>,
    /// The partition in force: (since, label).
    band_open: Option<(f64, String)>,
    bands: Vec<Value>,
    marks: Vec<Value>,
    msgs: Vec<Msg>,
    /// (reply, call) -> index in msgs of the latest send.
    by_call: HashMap<(bool, u64), usize>,
    /// node -> (to, args string) of the latest `rpc` note.
    pending_args: HashMap<usize, (usize, usize)>,
}

impl Builder {
    /// Takes in one line of the trace.
    fn event(&mut self, e: &TraceLine) {
        let t = ms(e.t_ns);
        if let Some(n) = e.node {
            self.see(n);
        }
        match (e.kind.as_str(), e.node) {
            ("add", Some(n)) => {
                if !e.detail.is_empty() {
                    self.names[n] = Some(e.detail.clone());
                }
            }
            ("role", Some(n)) => self.role(e, n, t),
            ("commit", Some(n)) => self.commit(e, n, t),
            ("shards", Some(n)) => {
                let d = self.strs.id(&e.detail);
                self.shards.push(json!([n, r(t), d]));
            }
            ("crash" | "crash-process", Some(n)) => {
                self.close_role(n, t);
                self.close_out(n, PAUSED, t);
                self.open_out(n, CRASHED, t);
                self.last_commit.remove(&n);
                self.mark(e, t, MARK_NODE);
            }
            ("restart", Some(n)) => self.node_change(e, t, n, CRASHED, false),
            ("pause", Some(n)) => self.node_change(e, t, n, PAUSED, true),
            ("resume", Some(n)) => self.node_change(e, t, n, PAUSED, false),
            ("disconnect", Some(n)) => self.node_change(e, t, n, DISCONNECTED, true),
            ("connect", Some(n)) => self.node_change(e, t, n, DISCONNECTED, false),
            ("sever", Some(n)) => self.node_change(e, t, n, SEVERED, true),
            ("mend", Some(n)) => self.node_change(e, t, n, SEVERED, false),
            ("partition" | "cut-one-way", None) => self.partition(e, t),
            ("heal", None) => {
                if let Some((t0, old)) = self.band_open.take() {
                    self.bands.push(json!([r(t0), r(t), old]));
                }
                self.mark(e, t, MARK_OTHER);
            }
            ("rpc", Some(n)) => self.rpc(e, n),
            ("send", Some(n)) => self.send(e, n, t),
            ("deliver" | "drop" | "unreachable" | "lost" | "reply-late", Some(n)) => {
                self.message_end(e, n, t)
            }
            ("timer" | "write" | "append" | "truncate" | "remove" | "sync", Some(_)) => {
                self.mark(e, t, MARK_MINOR)
            }
            _ => self.mark(e, t, MARK_OTHER),
        }
    }

    /// Makes room for node `n`'s lane.
    fn see(&mut self, n: usize) {
        if self.names.len() <= n {
            self.names.resize(n + 1, None);
        }
    }

    /// A mark on the event's lane (or on the sim band), its detail on hover.
    fn mark(&mut self, e: &TraceLine, t: f64, category: u8) {
        let k = self.kinds.id(&e.kind);
        let d = self.strs.id(&e.detail);
        let node = e.node.map_or(-1, |n| n as i64);
        self.marks.push(json!([r(t), node, k, d, category]));
    }

    /// The node's role and term from now on (fields `role`, `term`).
    fn role(&mut self, e: &TraceLine, n: usize, t: f64) {
        self.close_role(n, t);
        let role = e.text("role").unwrap_or("");
        let role = ROLES.iter().position(|&x| x == role).unwrap_or(0);
        let term = e.uint("term").unwrap_or(0);
        self.role_open.insert(n, (t, role, term));
    }

    fn close_role(&mut self, n: usize, t: f64) {
        if let Some((t0, role, term)) = self.role_open.remove(&n) {
            self.roles.push(json!([n, r(t0), r(t), role, term]));
        }
    }

    /// The commit index (field `commit_index`) where it changes.
    fn commit(&mut self, e: &TraceLine, n: usize, t: f64) {
        let Some(c) = e.uint("commit_index") else {
            return self.mark(e, t, MARK_OTHER);
        };
        if self.last_commit.get(&n) != Some(&c) {
            self.last_commit.insert(n, c);
            self.commits.push(json!([n, r(t), c]));
        }
    }

    /// An outage of `kind` starts (`begins`) or ends at node `n`; a mark.
    fn node_change(&mut self, e: &TraceLine, t: f64, n: usize, kind: u8, begins: bool) {
        if begins {
            self.open_out(n, kind, t);
        } else {
            self.close_out(n, kind, t);
        }
        self.mark(e, t, MARK_NODE);
    }

    fn open_out(&mut self, n: usize, kind: u8, t: f64) {
        self.out_open.entry((n, kind)).or_insert(t);
    }

    fn close_out(&mut self, n: usize, kind: u8, t: f64) {
        if let Some(t0) = self.out_open.remove(&(n, kind)) {
            self.outs.push(json!([n, r(t0), r(t), kind]));
        }
    }

    /// A new partition (or a link cut one way, added to the one in force).
    fn partition(&mut self, e: &TraceLine, t: f64) {
        let cut = e.kind == "cut-one-way";
        let label = match self.band_open.take() {
            Some((t0, old)) => {
                self.bands.push(json!([r(t0), r(t), old.clone()]));
                if cut {
                    format!("{old}; cut {}", e.detail)
                } else {
                    e.detail.clone()
                }
            }
            None if cut => format!("cut {}", e.detail),
            None => e.detail.clone(),
        };
        self.band_open = Some((t, label));
        self.mark(e, t, MARK_OTHER);
    }

    /// A peer's view of the message it is about to send (to the node in
    /// field `to`): kept for the send.
    fn rpc(&mut self, e: &TraceLine, n: usize) {
        if let Some(to) = e.node_field("to") {
            let a = self.strs.id(&e.detail);
            self.pending_args.insert(n, (to, a));
        }
    }

    /// A message leaves node `n` (fields `to`, `call`, `reply`, `method`).
    fn send(&mut self, e: &TraceLine, n: usize, t: f64) {
        let (Some(to), Some(call), Some(reply)) =
            (e.node_field("to"), e.uint("call"), e.flag("reply"))
        else {
            return self.mark(e, t, MARK_OTHER);
        };
        self.see(to);
        let args = match self.pending_args.remove(&n) {
            Some((at, a)) if at == to && !reply => Some(a),
            Some(other) if reply => {
                self.pending_args.insert(n, other);
                None
            }
            _ => None,
        };
        let method = if reply {
            0
        } else {
            let m = e.text("method").unwrap_or("");
            self.methods.id(m.rsplit('.').next().unwrap_or(m))
        };
        let label = self.strs.id(&e.detail);
        self.by_call.insert((reply, call), self.msgs.len());
        self.msgs.push(Msg {
            t_send: t,
            from: n,
            to,
            reply,
            call,
            method,
            label,
            args,
            end: None,
        });
    }

    /// A message's fate: delivered, dropped, unreachable, lost or late
    /// (fields `call`, `reply`, and `error` for a failed reply).
    fn message_end(&mut self, e: &TraceLine, n: usize, t: f64) {
        let kind = e.kind.as_str();
        let fate = match kind {
            "deliver" => Fate::Delivered,
            "drop" => Fate::Dropped,
            "unreachable" => Fate::Unreachable,
            "lost" => Fate::Lost,
            _ => Fate::Late,
        };
        let found = match (e.flag("reply"), e.uint("call")) {
            (Some(reply), Some(call)) => self.by_call.get(&(reply, call)).copied(),
            _ => None,
        };
        // A failed reply is made up by the network at the caller: no
        // send matches it. Show it as a mark.
        let synthetic = kind == "deliver" && e.text("error").is_some();
        match found {
            Some(m) if !synthetic => {
                let d = self.strs.id(&format!("{kind}: {}", e.detail));
                if self.msgs[m].end.is_none() {
                    self.msgs[m].end = Some((t, n, fate, d));
                } else {
                    // A duplicate's second delivery.
                    let mut again = self.msgs[m].clone();
                    again.end = Some((t, n, fate, d));
                    self.msgs.push(again);
                }
            }
            _ => self.mark(
                e,
                t,
                if synthetic {
                    MARK_FAILED_CALL
                } else {
                    MARK_OTHER
                },
            ),
        }
    }

    /// Ends every role, outage and partition still open at the end.
    fn close_all(&mut self, t_end: f64) {
        for n in 0..self.names.len() {
            self.close_role(n, t_end);
            for kind in [CRASHED, PAUSED, DISCONNECTED] {
                self.close_out(n, kind, t_end);
            }
        }
        if let Some((t0, old)) = self.band_open.take() {
            self.bands.push(json!([r(t0), r(t_end), old]));
        }
    }

    /// The arrays, in the page's JSON.
    fn into_json(mut self) -> Value {
        self.msgs.sort_by(|a, b| a.t_send.total_cmp(&b.t_send));
        let msgs: Vec<Value> = self.msgs.iter().map(msg_json).collect();
        let nodes: Vec<Value> = (self.names.iter().enumerate())
            .map(|(i, n)| json!([i, n.clone().unwrap_or_else(|| format!("node {i}"))]))
            .collect();
        json!({
            "nodes": nodes,
            "roles": self.roles,
            "commits": self.commits,
            "shards": self.shards,
            "outs": self.outs,
            "bands": self.bands,
            "msgs": msgs,
            "marks": self.marks,
            "kinds": self.kinds.all,
            "methods": self.methods.all,
            "strs": self.strs.all,
        })
    }
}

/// `[t_send, from, t_end, end_node, reply, fate, method, call, label, args,
/// fate_detail, to]`; -1 for no args or no fate detail.
fn msg_json(m: &Msg) -> Value {
    let (te, en, fate, fd) = m
        .end
        .unwrap_or((m.t_send, m.from, Fate::Pending, usize::MAX));
    json!([
        r(m.t_send),
        m.from,
        r(te),
        en,
        m.reply as u8,
        fate as u8,
        m.method,
        m.call,
        m.label,
        m.args.map_or(-1, |a| a as i64),
        if fd == usize::MAX { -1 } else { fd as i64 },
        m.to
    ])
}
