//! The picture of a run: a self-contained HTML page (inline CSS and JS, no
//! network) drawn from a run's trace as JSON lines.
//!
//! The page is a space-time diagram: one horizontal lane per node, virtual
//! time in ms along x. Along each lane, the peer's role and term as coloured
//! segments and its commit index where it changes; crashes, pauses and
//! disconnections shaded; partitions as a band above the lanes. Messages are
//! arrows from the send on the sender's lane to the delivery on the
//! receiver's lane (requests solid, replies dashed); dropped, unreachable and
//! lost ones end in an X. Clicking a message shows its content (the `rpc`
//! note's arguments when there is one) in a side panel. Unknown kinds are
//! small marks on their lane (or on the "sim" band), detail on hover.
//!
//! The parsing happens here; the page gets compact arrays and draws only
//! what is in its time window on a canvas.

use serde_json::{Value, json};
use std::collections::HashMap;

/// Options for [`render_run_html`]: what goes under the title.
#[derive(Clone, Debug, Default)]
pub struct PictureOptions<'a> {
    /// A link shown under the title (e.g. to a linearizability picture).
    pub link: Option<&'a str>,
    /// The text of that link; the link itself if `None`.
    pub link_text: Option<&'a str>,
}

/// Renders the picture of a run from its trace (JSON lines), with an
/// optional link (e.g. to the page of a linearizability failure) under the
/// title. Returns an error naming the line for malformed input.
pub fn render_run_html(
    title: &str,
    trace_jsonl: &str,
    options: &PictureOptions<'_>,
) -> Result<String, String> {
    let events = parse_trace(trace_jsonl)?;
    let data = build_data(title, &events);
    let link_html = match options.link {
        Some(href) => format!(
            "<a id=\"link\" href=\"{}\">{}</a>",
            escape_html(href),
            escape_html(options.link_text.unwrap_or(href))
        ),
        None => String::new(),
    };
    let data_json = serde_json::to_string(&data)
        .map_err(|e| format!("cannot encode the picture's data: {e}"))?;
    Ok(TEMPLATE
        .replace("__TITLE__", &escape_html(title))
        .replace("__LINK__", &link_html)
        .replace("__DATA__", &escape_script(&data_json)))
}

/// Writes the page to `path`.
pub fn write_run_html(
    path: &std::path::Path,
    title: &str,
    trace_jsonl: &str,
    options: &PictureOptions<'_>,
) -> Result<(), String> {
    let html = render_run_html(title, trace_jsonl, options)?;
    std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One line of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceLine {
    /// The event's index.
    pub i: u64,
    /// Virtual time, ns.
    pub t_ns: u64,
    /// The node, if any.
    pub node: Option<usize>,
    /// The kind (`deliver`, `role`, ...).
    pub kind: String,
    /// The detail text.
    pub detail: String,
    /// True for annotations.
    pub note: bool,
}

/// Parses a trace (JSON lines; blank lines are skipped). The error names the
/// first bad line (1-based).
pub fn parse_trace(trace_jsonl: &str) -> Result<Vec<TraceLine>, String> {
    let mut out = Vec::new();
    for (n, line) in trace_jsonl.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_line(line).map_err(|e| {
            let shown: String = line.chars().take(80).collect();
            let more = if line.chars().count() > 80 { "..." } else { "" };
            format!("trace line {}: {e}: {shown}{more}", n + 1)
        })?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<TraceLine, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let uint = |key: &str| -> Result<u64, String> {
        obj.get(key)
            .ok_or(format!("no \"{key}\""))?
            .as_u64()
            .ok_or(format!("\"{key}\" is not a non-negative integer"))
    };
    let i = uint("i")?;
    let t_ns = uint("t_ns")?;
    let node = match obj.get("node") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|&n| n < 1 << 20)
                .ok_or("\"node\" is neither null nor a small non-negative integer")?
                as usize,
        ),
    };
    let kind = obj
        .get("kind")
        .ok_or("no \"kind\"")?
        .as_str()
        .ok_or("\"kind\" is not a string")?
        .to_string();
    let detail = match obj.get("detail") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let note = obj.get("note").and_then(Value::as_bool).unwrap_or(false);
    Ok(TraceLine {
        i,
        t_ns,
        node,
        kind,
        detail,
        note,
    })
}

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
enum Fate {
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

/// `request #123 Raft.AppendEntries (57 bytes)` or `reply #123 ok (9 bytes)`:
/// (is reply, call number, method).
fn parse_packet(s: &str) -> Option<(bool, u64, &str)> {
    let (reply, rest) = if let Some(r) = s.strip_prefix("request #") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("reply #") {
        (true, r)
    } else {
        return None;
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let call = rest[..end].parse().ok()?;
    let after = rest[end..].trim_start();
    let method = if reply {
        ""
    } else {
        after.split_whitespace().next().unwrap_or("")
    };
    Some((reply, call, method))
}

/// `to 2: rest` / `from 1: rest` -> (2, rest).
fn split_peer<'a>(s: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let rest = s.strip_prefix(prefix)?;
    let (n, rest) = rest.split_once(": ")?;
    Some((n.trim().parse().ok()?, rest))
}

fn ms(t_ns: u64) -> f64 {
    t_ns as f64 / 1e6
}

/// Rounds to µs so the page's JSON stays short.
fn r(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

const ROLES: [&str; 3] = ["follower", "candidate", "leader"];

fn build_data(title: &str, events: &[TraceLine]) -> Value {
    let mut strs = Strings::default();
    let mut methods = Strings::default();
    let mut kinds = Strings::default();
    methods.id("reply");

    let mut names: Vec<Option<String>> = Vec::new();
    let see = |names: &mut Vec<Option<String>>, n: usize| {
        if names.len() <= n {
            names.resize(n + 1, None);
        }
    };
    let t_end = events.iter().map(|e| ms(e.t_ns)).fold(0.0, f64::max);
    let event_count = events.iter().filter(|e| !e.note).count();
    let note_count = events.len() - event_count;

    // Per-node open intervals.
    let mut role_open: HashMap<usize, (f64, usize, u64)> = HashMap::new();
    let mut roles: Vec<Value> = Vec::new();
    let mut last_commit: HashMap<usize, String> = HashMap::new();
    let mut commits: Vec<Value> = Vec::new();
    // (node, kind) -> start; kinds 0 crashed, 1 paused, 2 disconnected.
    let mut out_open: HashMap<(usize, u8), f64> = HashMap::new();
    let mut outs: Vec<Value> = Vec::new();
    let mut band_open: Option<(f64, String)> = None;
    let mut bands: Vec<Value> = Vec::new();
    let mut marks: Vec<Value> = Vec::new();
    let mut msgs: Vec<Msg> = Vec::new();
    // (reply, call) -> index in msgs of the latest send.
    let mut by_call: HashMap<(bool, u64), usize> = HashMap::new();
    // node -> (to, args string) of the latest `rpc` note.
    let mut pending_args: HashMap<usize, (usize, usize)> = HashMap::new();

    let close_role = |role_open: &mut HashMap<usize, (f64, usize, u64)>,
                      roles: &mut Vec<Value>,
                      n: usize,
                      t: f64| {
        if let Some((t0, role, term)) = role_open.remove(&n) {
            roles.push(json!([n, r(t0), r(t), role, term]));
        }
    };
    let open_out = |out_open: &mut HashMap<(usize, u8), f64>, n: usize, k: u8, t: f64| {
        out_open.entry((n, k)).or_insert(t);
    };
    let close_out = |out_open: &mut HashMap<(usize, u8), f64>,
                     outs: &mut Vec<Value>,
                     n: usize,
                     k: u8,
                     t: f64| {
        if let Some(t0) = out_open.remove(&(n, k)) {
            outs.push(json!([n, r(t0), r(t), k]));
        }
    };

    for e in events {
        let t = ms(e.t_ns);
        if let Some(n) = e.node {
            see(&mut names, n);
        }
        let node = e.node;
        let mut mark = |cat: u8, kinds: &mut Strings, strs: &mut Strings| {
            let k = kinds.id(&e.kind);
            let d = strs.id(&e.detail);
            marks.push(json!([r(t), node.map_or(-1, |n| n as i64), k, d, cat]));
        };
        match (e.kind.as_str(), node) {
            ("add", Some(n)) => {
                if !e.detail.is_empty() {
                    names[n] = Some(e.detail.clone());
                }
            }
            ("role", Some(n)) => {
                close_role(&mut role_open, &mut roles, n, t);
                let mut words = e.detail.split_whitespace();
                let role = words.next().unwrap_or("");
                let role = ROLES.iter().position(|&x| x == role).unwrap_or(0);
                let term = match (words.next(), words.next()) {
                    (Some("term"), Some(x)) => x.parse().unwrap_or(0),
                    _ => 0,
                };
                role_open.insert(n, (t, role, term));
            }
            ("commit", Some(n)) => {
                if last_commit.get(&n) != Some(&e.detail) {
                    last_commit.insert(n, e.detail.clone());
                    let c = strs.id(&e.detail);
                    commits.push(json!([n, r(t), c]));
                }
            }
            ("crash" | "crash-process", Some(n)) => {
                close_role(&mut role_open, &mut roles, n, t);
                close_out(&mut out_open, &mut outs, n, 1, t);
                open_out(&mut out_open, n, 0, t);
                last_commit.remove(&n);
                mark(1, &mut kinds, &mut strs);
            }
            ("restart", Some(n)) => {
                close_out(&mut out_open, &mut outs, n, 0, t);
                mark(1, &mut kinds, &mut strs);
            }
            ("pause", Some(n)) => {
                open_out(&mut out_open, n, 1, t);
                mark(1, &mut kinds, &mut strs);
            }
            ("resume", Some(n)) => {
                close_out(&mut out_open, &mut outs, n, 1, t);
                mark(1, &mut kinds, &mut strs);
            }
            ("disconnect", Some(n)) => {
                open_out(&mut out_open, n, 2, t);
                mark(1, &mut kinds, &mut strs);
            }
            ("connect", Some(n)) => {
                close_out(&mut out_open, &mut outs, n, 2, t);
                mark(1, &mut kinds, &mut strs);
            }
            ("partition" | "cut-one-way", None) => {
                let label = match band_open.take() {
                    Some((t0, old)) => {
                        bands.push(json!([r(t0), r(t), old.clone()]));
                        if e.kind == "cut-one-way" {
                            format!("{old}; cut {}", e.detail)
                        } else {
                            e.detail.clone()
                        }
                    }
                    None if e.kind == "cut-one-way" => format!("cut {}", e.detail),
                    None => e.detail.clone(),
                };
                band_open = Some((t, label));
                mark(2, &mut kinds, &mut strs);
            }
            ("heal", None) => {
                if let Some((t0, old)) = band_open.take() {
                    bands.push(json!([r(t0), r(t), old]));
                }
                mark(2, &mut kinds, &mut strs);
            }
            ("rpc", Some(n)) => {
                if let Some((to, rest)) = split_peer(&e.detail, "to ") {
                    let a = strs.id(rest);
                    pending_args.insert(n, (to, a));
                }
            }
            ("send", Some(n)) => {
                let parsed = split_peer(&e.detail, "to ")
                    .and_then(|(to, rest)| parse_packet(rest).map(|p| (to, rest, p)));
                match parsed {
                    Some((to, rest, (reply, call, method))) => {
                        see(&mut names, to);
                        let args = match pending_args.remove(&n) {
                            Some((at, a)) if at == to && !reply => Some(a),
                            Some(other) if reply => {
                                pending_args.insert(n, other);
                                None
                            }
                            _ => None,
                        };
                        let method = if reply {
                            0
                        } else {
                            methods.id(method.rsplit('.').next().unwrap_or(method))
                        };
                        let label = strs.id(rest);
                        by_call.insert((reply, call), msgs.len());
                        msgs.push(Msg {
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
                    None => mark(2, &mut kinds, &mut strs),
                }
            }
            (kind @ ("deliver" | "drop" | "unreachable" | "lost" | "reply-late"), Some(n)) => {
                let text = if matches!(kind, "deliver" | "lost") {
                    split_peer(&e.detail, "from ").map_or(e.detail.as_str(), |(_, rest)| rest)
                } else {
                    e.detail.as_str()
                };
                let fate = match kind {
                    "deliver" => Fate::Delivered,
                    "drop" => Fate::Dropped,
                    "unreachable" => Fate::Unreachable,
                    "lost" => Fate::Lost,
                    _ => Fate::Late,
                };
                let found = parse_packet(text)
                    .and_then(|(reply, call, _)| by_call.get(&(reply, call)).copied());
                // A failed reply is made up by the network at the caller: no
                // send matches it. Show it as a mark.
                let synthetic = kind == "deliver" && text.contains(" failed");
                match found {
                    Some(m) if !synthetic => {
                        let d = strs.id(&format!("{kind}: {}", e.detail));
                        if msgs[m].end.is_none() {
                            msgs[m].end = Some((t, n, fate, d));
                        } else {
                            // A duplicate's second delivery.
                            let mut again = msgs[m].clone();
                            again.end = Some((t, n, fate, d));
                            msgs.push(again);
                        }
                    }
                    _ => mark(if synthetic { 3 } else { 2 }, &mut kinds, &mut strs),
                }
            }
            ("duplicate", Some(_)) => mark(2, &mut kinds, &mut strs),
            ("timer" | "write" | "append" | "truncate" | "remove" | "sync", Some(_)) => {
                mark(0, &mut kinds, &mut strs)
            }
            _ => mark(2, &mut kinds, &mut strs),
        }
    }
    let n_nodes = names.len();
    for n in 0..n_nodes {
        close_role(&mut role_open, &mut roles, n, t_end);
        for k in 0..3 {
            close_out(&mut out_open, &mut outs, n, k, t_end);
        }
    }
    if let Some((t0, old)) = band_open.take() {
        bands.push(json!([r(t0), r(t_end), old]));
    }

    // [t_send, from, t_end, end_node, reply, fate, method, call, label, args, fate_detail, to]
    msgs.sort_by(|a, b| a.t_send.total_cmp(&b.t_send));
    let msgs_json: Vec<Value> = msgs
        .iter()
        .map(|m| {
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
        })
        .collect();
    let nodes: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!([i, n.clone().unwrap_or_else(|| format!("node {i}"))]))
        .collect();
    json!({
        "title": title,
        "events": event_count,
        "notes": note_count,
        "t_end": r(t_end),
        "nodes": nodes,
        "roles": roles,
        "commits": commits,
        "outs": outs,
        "bands": bands,
        "msgs": msgs_json,
        "marks": marks,
        "kinds": kinds.all,
        "methods": methods.all,
        "strs": strs.all,
    })
}

/// Makes JSON safe inside a `<script>` element.
fn escape_script(json: &str) -> String {
    json.replace("</", "<\\/")
        .replace("<!--", "<\\!--")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Escapes text for HTML content and attribute values (newlines too, so a
/// `title` attribute keeps them).
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

const TEMPLATE: &str = include_str!("picture.html");

#[cfg(test)]
mod tests {
    use super::*;

    fn render(title: &str, trace_jsonl: &str) -> Result<String, String> {
        render_run_html(title, trace_jsonl, &PictureOptions::default())
    }

    const TINY: &str = r#"{"i":0,"t_ns":0,"node":0,"kind":"add","detail":"raft0"}
{"i":0,"t_ns":0,"node":0,"kind":"role","detail":"follower term 0","note":true}
{"i":1,"t_ns":0,"node":1,"kind":"add","detail":"raft1"}
{"i":2,"t_ns":0,"node":2,"kind":"add","detail":"raft2"}
{"i":3,"t_ns":300000000,"node":0,"kind":"timer","detail":"0"}
{"i":3,"t_ns":300000000,"node":0,"kind":"role","detail":"candidate term 1","note":true}
{"i":3,"t_ns":300000000,"node":0,"kind":"rpc","detail":"to 1: Raft.RequestVote RequestVoteArgs { term: 1, candidate: 0 }","note":true}
{"i":3,"t_ns":300000000,"node":0,"kind":"send","detail":"to 1: request #5 Raft.RequestVote (4 bytes)","note":true}
{"i":3,"t_ns":300000000,"node":0,"kind":"send","detail":"to 2: request #7 Raft.RequestVote (4 bytes)","note":true}
{"i":4,"t_ns":300000000,"node":0,"kind":"drop","detail":"request #7 Raft.RequestVote (4 bytes)"}
{"i":5,"t_ns":312000000,"node":1,"kind":"deliver","detail":"from 0: request #5 Raft.RequestVote (4 bytes)"}
{"i":5,"t_ns":312000000,"node":1,"kind":"send","detail":"to 0: reply #5 ok (2 bytes)","note":true}
{"i":6,"t_ns":325000000,"node":0,"kind":"deliver","detail":"from 1: reply #5 ok (2 bytes)"}
{"i":6,"t_ns":325000000,"node":0,"kind":"role","detail":"leader term 1","note":true}
{"i":6,"t_ns":325000000,"node":0,"kind":"commit","detail":"3","note":true}
{"i":7,"t_ns":400000000,"node":null,"kind":"partition","detail":"[[0, 1], [2]]"}
{"i":8,"t_ns":450000000,"node":2,"kind":"crash","detail":""}
{"i":9,"t_ns":480000000,"node":1,"kind":"op-invoke","detail":"put x 1"}
{"i":10,"t_ns":500000000,"node":null,"kind":"nemesis-strike","detail":"skew clocks"}
{"i":11,"t_ns":600000000,"node":2,"kind":"restart","detail":""}
{"i":12,"t_ns":700000000,"node":null,"kind":"heal","detail":""}
"#;

    fn data_of(html: &str) -> Value {
        let start = html.find("id=\"data\"").expect("data element");
        let start = start + html[start..].find('>').unwrap() + 1;
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end].replace("<\\/", "</")).expect("data is JSON")
    }

    #[test]
    fn tiny_trace_renders() {
        let html = render("tiny <run>", TINY).expect("renders");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("tiny &lt;run&gt;"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no network"
        );
        let data = data_of(&html);
        assert_eq!(data["events"], 13);
        assert_eq!(data["t_end"], 700.0);
    }

    #[test]
    fn one_lane_per_node() {
        let data = data_of(&render("t", TINY).unwrap());
        let nodes = data["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[2], json!([2, "raft2"]));
        // Node 0: follower, candidate, leader.
        let roles: Vec<_> = data["roles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[0] == 0)
            .map(|r| r[3].as_u64().unwrap())
            .collect();
        assert_eq!(roles, vec![0, 1, 2]);
        // Node 2 crashed from 450 to 600 ms.
        assert_eq!(data["outs"], json!([[2, 450.0, 600.0, 0]]));
        assert_eq!(data["bands"], json!([[400.0, 700.0, "[[0, 1], [2]]"]]));
    }

    #[test]
    fn contains_the_messages() {
        let data = data_of(&render("t", TINY).unwrap());
        let msgs = data["msgs"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        let strs = data["strs"].as_array().unwrap();
        let find = |reply: u64, call: u64| {
            msgs.iter()
                .find(|m| m[4] == reply && m[7] == call)
                .unwrap_or_else(|| panic!("message {reply} #{call}"))
        };
        // The request #5 went 0 -> 1 and carries its arguments.
        let req = find(0, 5);
        assert_eq!(
            (req[1].as_u64(), req[3].as_u64(), req[5].as_u64()),
            (Some(0), Some(1), Some(0))
        );
        let args = strs[req[9].as_u64().unwrap() as usize].as_str().unwrap();
        assert!(args.contains("RequestVoteArgs { term: 1"), "{args}");
        // Its reply came back.
        let rep = find(1, 5);
        assert_eq!(
            (rep[1].as_u64(), rep[3].as_u64(), rep[2].as_f64()),
            (Some(1), Some(0), Some(325.0))
        );
        // The request #7 was dropped at its sender.
        let dropped = find(0, 7);
        assert_eq!(dropped[5], Fate::Dropped as u8);
        assert_eq!(dropped[9], -1);
        // Unknown kinds become marks, never errors.
        let kinds = data["kinds"].as_array().unwrap();
        assert!(kinds.contains(&json!("op-invoke")) && kinds.contains(&json!("nemesis-strike")));
    }

    #[test]
    fn malformed_line_is_named() {
        let bad = format!("{TINY}{{\"i\":13,\"t_ns\":1,\"node\":0,\"kind\":\"x\"\n");
        let err = render("t", &bad).unwrap_err();
        assert!(err.contains("line 22"), "{err}");
        let err = render("t", "{\"i\":0,\"node\":0,\"kind\":\"x\",\"detail\":\"\"}\n").unwrap_err();
        assert!(err.contains("line 1") && err.contains("t_ns"), "{err}");
        let err = render("t", "\n[1,2]\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = render("t", "{\"i\":0,\"t_ns\":0,\"node\":-1,\"kind\":\"x\"}").unwrap_err();
        assert!(err.contains("line 1") && err.contains("node"), "{err}");
    }

    #[test]
    fn empty_trace_and_link() {
        let options = PictureOptions {
            link: Some("lin.html"),
            link_text: None,
        };
        let html = render_run_html("empty", "", &options).unwrap();
        assert!(html.contains("href=\"lin.html\""));
        let data = data_of(&html);
        assert_eq!(data["nodes"], json!([]));
    }

    #[test]
    fn script_is_not_closed_by_details() {
        let t = r#"{"i":0,"t_ns":0,"node":null,"kind":"call","detail":"</script><b>x"}"#;
        let html = render("t", t).unwrap();
        assert_eq!(html.matches("</script>").count(), 3);
        assert!(
            data_of(&html)["strs"]
                .as_array()
                .unwrap()
                .contains(&json!("</script><b>x"))
        );
    }
}
