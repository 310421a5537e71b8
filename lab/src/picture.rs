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
//! The work happens here (`trace` reads the lines, `data` turns them into
//! compact arrays); the page (`picture.html`) draws only what is in its
//! time window on a canvas.

mod data;
mod trace;

use data::build_data;
use trace::parse_trace;

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
    crate::common::write_file(path, html)
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
    use super::data::Fate;
    use super::*;
    use serde_json::{Value, json};

    fn render(title: &str, trace_jsonl: &str) -> Result<String, String> {
        render_run_html(title, trace_jsonl, &PictureOptions::default())
    }

    const TINY: &str = r#"{"i":0,"t_ns":0,"node":0,"kind":"add","detail":"raft0"}
{"i":0,"t_ns":0,"node":0,"kind":"role","detail":"follower term 0","note":true,"role":"follower","term":0}
{"i":1,"t_ns":0,"node":1,"kind":"add","detail":"raft1"}
{"i":2,"t_ns":0,"node":2,"kind":"add","detail":"raft2"}
{"i":3,"t_ns":300000000,"node":0,"kind":"timer","detail":"0"}
{"i":3,"t_ns":300000000,"node":0,"kind":"role","detail":"candidate term 1","note":true,"role":"candidate","term":1}
{"i":3,"t_ns":300000000,"node":0,"kind":"rpc","detail":"Raft.RequestVote RequestVoteArgs { term: 1, candidate: 0 }","note":true,"to":1}
{"i":3,"t_ns":300000000,"node":0,"kind":"send","detail":"request #5 Raft.RequestVote (4 bytes)","note":true,"to":1,"call":5,"reply":false,"method":"Raft.RequestVote","bytes":4}
{"i":3,"t_ns":300000000,"node":0,"kind":"send","detail":"request #7 Raft.RequestVote (4 bytes)","note":true,"to":2,"call":7,"reply":false,"method":"Raft.RequestVote","bytes":4}
{"i":4,"t_ns":300000000,"node":0,"kind":"drop","detail":"request #7 Raft.RequestVote (4 bytes)","call":7,"reply":false,"method":"Raft.RequestVote","bytes":4}
{"i":5,"t_ns":312000000,"node":1,"kind":"deliver","detail":"from 0: request #5 Raft.RequestVote (4 bytes)","from":0,"call":5,"reply":false,"method":"Raft.RequestVote","bytes":4}
{"i":5,"t_ns":312000000,"node":1,"kind":"send","detail":"reply #5 ok (2 bytes)","note":true,"to":0,"call":5,"reply":true,"bytes":2}
{"i":6,"t_ns":325000000,"node":0,"kind":"deliver","detail":"from 1: reply #5 ok (2 bytes)","from":1,"call":5,"reply":true,"bytes":2}
{"i":6,"t_ns":325000000,"node":0,"kind":"role","detail":"leader term 1","note":true,"role":"leader","term":1}
{"i":6,"t_ns":325000000,"node":0,"kind":"commit","detail":"3","note":true,"commit_index":3}
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

    #[test]
    fn reads_the_fields_never_the_text() {
        // The details say one thing, the fields another: the fields win.
        let t = r#"{"i":0,"t_ns":0,"node":0,"kind":"role","detail":"follower term 9","note":true,"role":"leader","term":2}
{"i":0,"t_ns":0,"node":0,"kind":"commit","detail":"x","note":true,"commit_index":7}
{"i":0,"t_ns":0,"node":0,"kind":"send","detail":"hello","note":true,"to":1,"call":3,"reply":false,"method":"Raft.AppendEntries"}
{"i":1,"t_ns":1000000,"node":1,"kind":"deliver","detail":"world","from":0,"call":3,"reply":false}
{"i":2,"t_ns":2000000,"node":0,"kind":"send","detail":"to 1: request #4 Raft.RequestVote (4 bytes)","note":true}
"#;
        let data = data_of(&render("t", t).unwrap());
        assert_eq!(data["roles"], json!([[0, 0.0, 2.0, 2, 2]]));
        assert_eq!(data["commits"], json!([[0, 0.0, 7]]));
        let msgs = data["msgs"].as_array().unwrap();
        assert_eq!(msgs.len(), 1, "a send without fields is a mark: {msgs:?}");
        let m = &msgs[0];
        assert_eq!(
            (&m[1], &m[3], &m[5], &m[7]),
            (&json!(0), &json!(1), &json!(0), &json!(3))
        );
        assert_eq!(
            data["methods"][m[6].as_u64().unwrap() as usize],
            "AppendEntries"
        );
        assert_eq!(data["strs"][m[8].as_u64().unwrap() as usize], "hello");
        assert_eq!(data["marks"].as_array().unwrap().len(), 1);
    }
}
