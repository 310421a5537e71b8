//! A self-contained HTML picture of a history and of the checker's verdict.
//!
//! One section per partition, the failing one first and open. Each client is a row;
//! each operation a bar from its call to its return (x positions are the ranks of
//! the event times, so order is exact and long gaps do not squash the picture;
//! hovering a bar shows the real times). On a violation, the bars of the longest
//! linearizable prefix are numbered in linearization order (hover: the state after
//! that step), the operation that cannot be placed is red, and a table lists the
//! steps with their states.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::checker::{CheckResult, Limit};
use super::history::{NEVER, Operation};
use super::model::Model;

/// Pixels between two consecutive event times.
const STEP_PX: u64 = 14;
const ROW_PX: u64 = 22;

/// Renders the page as a string.
pub fn render_html<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    result: &CheckResult,
    title: &str,
) -> String {
    let partitions = model.partition(history);
    let violation = match result {
        CheckResult::NotLinearizable(v) => Some(v),
        _ => None,
    };
    let verdict = match result {
        CheckResult::Linearizable => "linearizable".to_string(),
        CheckResult::Unknown(Limit::Steps) => {
            "unknown (the search used up its step budget)".to_string()
        }
        CheckResult::Unknown(Limit::Memory) => "unknown (the search filled its memory)".to_string(),
        CheckResult::NotLinearizable(v) => format!(
            "NOT linearizable: in partition {}, {} cannot be placed after a prefix of {} operation(s)",
            v.partition,
            describe(model, &history[v.failing_op]),
            v.longest_prefix.len()
        ),
    };

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body>\
         <h1>{t}</h1><p class=\"{cls}\">{} operations, {} partition(s): {}</p>\
         <p class=\"legend\"><span class=\"op\">operation</span> <span class=\"op lin\">#k: k-th step of the longest \
         linearizable prefix</span> <span class=\"op bad\">cannot be placed</span> <span class=\"op never\">never returned</span> \
         (hover for details)</p>",
        history.len(),
        partitions.len(),
        escape_html(&verdict),
        t = escape_html(title),
        cls = if violation.is_some() {
            "verdict badv"
        } else {
            "verdict"
        },
    );

    // The failing partition first.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    if let Some(v) = violation {
        order.sort_by_key(|&p| p != v.partition);
    }
    for p in order {
        let failing = violation.filter(|v| v.partition == p);
        render_partition(
            &mut out,
            model,
            history,
            p,
            &partitions[p],
            failing.map(|v| (v.longest_prefix.as_slice(), v.failing_op)),
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// Renders the page and writes it to `path`; returns the path written (absolute
/// when it can be made so), for a failure message to name.
pub fn write_html<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    result: &CheckResult,
    path: &Path,
) -> io::Result<PathBuf> {
    let title = format!(
        "linearizability: {}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render_html(model, history, result, &title))?;
    Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

fn describe<M: Model>(model: &M, op: &Operation<M::Input, M::Output>) -> String {
    model.describe_operation(&op.input, &op.output)
}

fn render_partition<M: Model>(
    out: &mut String,
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    p: usize,
    part: &[usize],
    failing: Option<(&[usize], usize)>,
) {
    let axis = TimeAxis::new(history, part);
    let mut clients: Vec<usize> = part.iter().map(|&i| history[i].client_id).collect();
    clients.sort_unstable();
    clients.dedup();
    let (steps, table) = match failing {
        Some((prefix, bad)) => prefix_table(model, history, prefix, bad),
        None => (vec![None; history.len()], String::new()),
    };
    let _ = write!(
        out,
        "<details{}><summary>partition {p}: {} operations, {} clients{}</summary><div class=\"tl\"><div class=\"rows\" style=\"width:{}px\">",
        if failing.is_some() { " open" } else { "" },
        part.len(),
        clients.len(),
        if failing.is_some() {
            " <b class=\"badv\">(violation)</b>"
        } else {
            ""
        },
        axis.width_px(),
    );
    for &c in &clients {
        let _ = write!(
            out,
            "<div class=\"row\" style=\"height:{ROW_PX}px\"><span class=\"client\">client {c}</span>"
        );
        for &i in part.iter().filter(|&&i| history[i].client_id == c) {
            let bad = failing.is_some_and(|(_, bad)| bad == i);
            render_operation(out, model, &history[i], &axis, steps[i].as_ref(), bad);
        }
        out.push_str("</div>");
    }
    out.push_str("</div></div>");
    if !table.is_empty() {
        let _ = write!(
            out,
            "<table><tr><th>step</th><th>client</th><th>operation</th><th>state after</th></tr>{table}</table>"
        );
    }
    out.push_str("</details>");
}

/// A partition's time axis: the ranks of its distinct finite event times,
/// one step apart, so that short and long gaps take the same room.
struct TimeAxis {
    times: Vec<u64>,
}

impl TimeAxis {
    fn new<I, O>(history: &[Operation<I, O>], part: &[usize]) -> TimeAxis {
        let mut times: Vec<u64> = part
            .iter()
            .flat_map(|&i| [history[i].call_ns, history[i].return_ns])
            .filter(|&t| t != NEVER)
            .collect();
        times.sort_unstable();
        times.dedup();
        TimeAxis { times }
    }

    /// Where `t` lies; a return that never came lies past every event.
    fn x_px(&self, t: u64) -> u64 {
        if t == NEVER {
            (self.times.len() as u64 + 2) * STEP_PX
        } else {
            self.times.partition_point(|&u| u < t) as u64 * STEP_PX
        }
    }

    fn width_px(&self) -> u64 {
        (self.times.len() as u64 + 4) * STEP_PX
    }
}

/// The longest linearizable prefix as table rows, then the operation that
/// cannot follow it; and, per operation of the prefix, its step number and
/// the state after it.
fn prefix_table<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    prefix: &[usize],
    bad: usize,
) -> (Vec<Option<(usize, String)>>, String) {
    let mut steps: Vec<Option<(usize, String)>> = vec![None; history.len()];
    let mut table = String::new();
    // A state the model could not reach is shown as "?".
    let show = |state: &Option<M::State>| {
        (state.as_ref()).map_or("?".to_string(), |s| model.describe_state(s))
    };
    let mut state = Some(model.init());
    for (k, &i) in prefix.iter().enumerate() {
        let op = &history[i];
        state = state.and_then(|s| model.step(&s, &op.input, &op.output));
        let shown = show(&state);
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            k + 1,
            op.client_id,
            escape_html(&describe(model, op)),
            escape_html(&shown)
        );
        steps[i] = Some((k + 1, shown));
    }
    let op = &history[bad];
    let from = show(&state);
    let _ = write!(
        table,
        "<tr class=\"badrow\"><td>&#10007;</td><td>{}</td><td>{}</td><td>impossible from state {}</td></tr>",
        op.client_id,
        escape_html(&describe(model, op)),
        escape_html(&from)
    );
    (steps, table)
}

/// One operation as a bar from its call to its return, marked if it is a
/// step of the linearizable prefix (`step`: its number and the state after)
/// or the operation that cannot follow it (`bad`).
fn render_operation<M: Model>(
    out: &mut String,
    model: &M,
    op: &Operation<M::Input, M::Output>,
    axis: &TimeAxis,
    step: Option<&(usize, String)>,
    bad: bool,
) {
    let left = axis.x_px(op.call_ns);
    let w = axis
        .x_px(op.return_ns.max(op.call_ns))
        .saturating_sub(left)
        .max(STEP_PX / 2);
    let text = describe(model, op);
    let mut class = String::from("op");
    let mut label = escape_html(&text);
    let ret = if op.return_ns == NEVER {
        "never".to_string()
    } else {
        op.return_ns.to_string()
    };
    let mut tip = format!("{text}\ncall {} / return {ret}", op.call_ns);
    if op.return_ns == NEVER {
        class.push_str(" never");
    }
    if let Some((k, state)) = step {
        class.push_str(" lin");
        label = format!("#{k} {label}");
        let _ = write!(
            tip,
            "\nstep {k} of the longest linearizable prefix; state after: {state}"
        );
    }
    if bad {
        class.push_str(" bad");
        tip.push_str("\ncannot be linearized after the prefix");
    }
    let _ = write!(
        out,
        "<div class=\"{class}\" style=\"left:{left}px;width:{w}px\" title=\"{}\">{label}</div>",
        escape_html(&tip)
    );
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

const CSS: &str = "body{font:13px sans-serif;margin:1em}h1{font-size:16px}\
.verdict{font-weight:bold}.badv{color:#c00}\
summary{cursor:pointer;font-weight:bold;margin:.6em 0}\
.tl{overflow-x:auto;border:1px solid #ccc;padding:4px 0}\
.rows{position:relative;padding-left:80px}\
.row{position:relative;border-bottom:1px dotted #eee}\
.client{position:sticky;left:0;display:inline-block;width:76px;margin-left:-80px;background:#fff;z-index:2;color:#555}\
.op{position:absolute;top:2px;height:17px;line-height:17px;overflow:hidden;white-space:nowrap;\
font-size:11px;background:#dde6f3;border:1px solid #8aa4c8;border-radius:3px;padding:0 2px;box-sizing:border-box}\
.legend .op{position:static;display:inline-block;padding:0 4px}\
.op:hover{overflow:visible;z-index:3;background:#fff8c0}\
.op.never{border-right:2px dashed #888}\
.op.lin{background:#c9efc9;border-color:#3a9a3a}\
.op.bad{background:#f7b6b6;border:2px solid #c00;color:#800;font-weight:bold}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}\
.badrow td{background:#f7b6b6;color:#800}";
