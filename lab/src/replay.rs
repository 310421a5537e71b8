//! `lab replay`: one seed re-run, its outcome and trace hash printed, its
//! trace written (filtered by node and time) and maybe drawn as a picture.
//!
//! The steps: find the target and its schedule, open the trace, run with
//! the trace streaming, say how the run went, say what the trace holds,
//! draw the picture.

use crate::ReplayArgs;
use crate::common::{fail, load_schedule, run_seed, schedule_peer, schedule_scenario};
use crate::picture::{PictureOptions, write_run_html};
use labsim::{Trace, TraceFilter};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tests::failure::Failure;
use tests::nemesis::Schedule;
use tests::raft_suite::RunReport;
use tests::targets::{self, Target};
use tests::{hooks, peers};

pub fn replay(args: ReplayArgs, peer: Option<&'static str>) -> ExitCode {
    replay_or_refuse(args, peer).unwrap_or_else(fail)
}

fn replay_or_refuse(args: ReplayArgs, peer: Option<&'static str>) -> Result<ExitCode, String> {
    let ReplayArgs {
        name,
        seed,
        schedule,
        trace,
        node,
        from,
        to,
        html,
    } = args;
    let target = targets::find(&name)?;
    let filter = TraceFilter {
        node,
        from_ns: from,
        to_ns: to,
    };
    check_filter(&filter, trace.is_some() || html.is_some())?;
    html.as_deref().map(crate::common::can_write).transpose()?;
    let schedule_path = schedule.clone();
    let schedule = schedule.map(|p| replay_schedule(&target, &p)).transpose()?;
    let peer = schedule_peer(peer, schedule.as_ref())?;
    crate::common::runs_on(target.name, peer)?;
    // The picture is drawn from the trace: the file's, or one kept in memory.
    let kept = Kept::default();
    let sink = match (&trace, &html) {
        (Some(path), _) => Some(open_trace(path)?),
        (None, Some(_)) => Some(Box::new(kept.clone()) as Box<dyn Write>),
        (None, None) => None,
    };
    let (outcome, finished) = run_traced(&target, seed, schedule, peer, sink, filter);
    let code = print_outcome(&target, seed, peer, &outcome, schedule_path.as_deref());
    let nodes = print_trace(finished, trace.as_deref())?;
    let end_ns = outcome.as_ref().map_or_else(|f| f.at_ns, |r| r.virtual_ns);
    if from.is_some_and(|from| from > end_ns) {
        eprintln!(
            "lab: --from is after the run's end (t={}): the trace holds no event of the run",
            labsim::fmt_ns(end_ns)
        );
    }
    if let (Some(node), Some(nodes)) = (node, nodes)
        && node >= nodes
    {
        let known = match nodes {
            0 => "no event of the run was at a node".to_string(),
            n => format!("the run's nodes are 0 to {}", n - 1),
        };
        eprintln!("lab: --node {node}: {known}; the trace holds only the simulation's own events");
    }
    if let Some(page) = &html {
        let text = match &trace {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read back the trace {}: {e}", path.display()))?,
            None => kept.text(),
        };
        draw(page, &text, &target, seed, &outcome)?;
        println!("picture: {}", page.display());
    }
    Ok(code)
}

/// Refuses a filter with nothing to filter, or a window that holds nothing.
fn check_filter(filter: &TraceFilter, traced: bool) -> Result<(), String> {
    let filtering = filter.node.is_some() || filter.from_ns.is_some() || filter.to_ns.is_some();
    if filtering && !traced {
        return Err(
            "--node, --from and --to filter the trace: add --trace FILE (or --html)".into(),
        );
    }
    match (filter.from_ns, filter.to_ns) {
        (Some(from), Some(to)) if from > to => {
            Err("--from is after --to: the window holds no event".into())
        }
        _ => Ok(()),
    }
}

/// The schedule to replay a scenario under; graded tests take none.
fn replay_schedule(target: &Target, path: &Path) -> Result<Schedule, String> {
    load_schedule(path, schedule_scenario(target.name)?)
}

/// A trace kept in memory, for a picture asked without `--trace`: no file
/// the user did not name is written.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<u8>>>);

impl Kept {
    fn text(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().expect("no panics while locked"));
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("no panics while locked")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn open_trace(path: &Path) -> Result<Box<dyn Write>, String> {
    crate::common::create_parent(path)?;
    match std::fs::File::create(path) {
        Ok(f) => Ok(Box::new(std::io::BufWriter::new(f))),
        Err(e) => Err(format!("cannot write the trace to {}: {e}", path.display())),
    }
}

/// Runs the seed with its trace streaming to `sink` (if any); the outcome,
/// and the trace handed back at the end.
fn run_traced(
    target: &Target,
    seed: u64,
    schedule: Option<Schedule>,
    peer: &'static str,
    mut sink: Option<Box<dyn Write>>,
    filter: TraceFilter,
) -> (Result<RunReport, Failure>, Option<Trace>) {
    hooks::with_trace(
        move |t| {
            if let Some(out) = sink.take() {
                t.stream_json(out, filter.clone());
            }
        },
        || run_seed(target, seed, schedule, peer),
    )
}

/// `PASSED ...` (exit 0) or the failure line and its replay command (exit 1).
fn print_outcome(
    target: &Target,
    seed: u64,
    peer: &str,
    outcome: &Result<RunReport, Failure>,
    schedule: Option<&Path>,
) -> ExitCode {
    match outcome {
        Ok(report) => {
            println!(
                "PASSED {}{} seed={seed}: {} events, {:.3} s virtual, {} RPCs, {} commands",
                target.name,
                peers::label(peer),
                report.events,
                report.virtual_ns as f64 / 1e9,
                report.rpcs,
                report.commands
            );
            ExitCode::SUCCESS
        }
        Err(f) => {
            match schedule {
                Some(path) => println!("{}", f.with_schedule(path)),
                None => println!("{f}"),
            }
            ExitCode::from(1)
        }
    }
}

/// Flushes the trace and prints its hash and where it went: the nodes its
/// events were at, when the run handed it back.
fn print_trace(finished: Option<Trace>, path: Option<&Path>) -> Result<Option<usize>, String> {
    let Some(mut t) = finished else {
        eprintln!("lab: the run did not hand back its trace");
        return Ok(None);
    };
    t.flush()?;
    println!("trace-hash: {:#018x} ({} events)", t.hash(), t.events());
    let nodes = t.nodes();
    drop(t);
    if let Some(path) = path {
        println!("trace: {}", path.display());
    }
    Ok(Some(nodes))
}

/// The page's title (a failure's own line) and what it links to: a
/// linearizability failure names its own page.
fn title_and_link(
    target: &Target,
    seed: u64,
    outcome: &Result<RunReport, Failure>,
) -> (String, Option<String>) {
    match outcome {
        Ok(_) => (format!("{} seed={seed}: passed", target.name), None),
        Err(f) => {
            let link = f
                .what
                .split_whitespace()
                .find(|w| w.ends_with(".html"))
                .map(str::to_owned);
            (f.headline(), link)
        }
    }
}

/// Draws the page from the trace's text.
fn draw(
    page: &Path,
    text: &str,
    target: &Target,
    seed: u64,
    outcome: &Result<RunReport, Failure>,
) -> Result<(), String> {
    let (title, link) = title_and_link(target, seed, outcome);
    let options = PictureOptions {
        link: link.as_deref(),
        link_text: link.as_ref().map(|_| "the linearizability failure"),
    };
    write_run_html(page, &title, text, &options)
}
