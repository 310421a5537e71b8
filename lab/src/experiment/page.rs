//! The experiment's page: one self-contained HTML file, both graphs of the
//! paper's Figure 16 drawn as SVG step CDFs (cumulative percent of trials
//! against time without a leader), the first on a log axis.

use super::RangeResult;
use std::fmt::Write as _;
use std::path::Path;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// Writes the page to `path` (its directory made if need be).
pub fn write(path: &Path, title: &str, results: &[RangeResult]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, html(title, results))
}

/// The paper's two graphs: the ranges that share the first range's minimum
/// (more and more randomness, log axis), then the others (shorter
/// timeouts, linear axis) with the widest of the first for reference.
fn html(title: &str, results: &[RangeResult]) -> String {
    let min = results.first().map_or(0, |r| r.range.0);
    let (top, rest): (Vec<&RangeResult>, Vec<&RangeResult>) =
        results.iter().partition(|r| r.range.0 == min);
    let mut body = String::new();
    body += &graph("Varying randomness", &top, Axis::Log);
    if !rest.is_empty() {
        let mut bottom = rest;
        if let Some(widest) = top.iter().max_by_key(|r| r.range.1 - r.range.0) {
            bottom.push(widest);
        }
        body += &graph("Varying the timeout", &bottom, Axis::Linear);
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}svg{{display:block;margin:1em 0}}\
         text{{font-size:12px}}</style></head><body><h1>{title}</h1>\
         <p>Each line is the CDF of one election timeout range: the share of trials whose \
         cluster was without a leader for at most that long after the leader crashed \
         (Figure 16 of the Raft paper). Lines that stop below 100% had trials over the \
         limit.</p>{body}</body></html>\n"
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    Log,
    Linear,
}

/// The x axis: from `lo` to `hi` ms, log or linear.
struct Scale {
    axis: Axis,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn new(axis: Axis, ranges: &[&RangeResult]) -> Scale {
        let finite = || {
            ranges
                .iter()
                .flat_map(|r| &r.downtimes_ns)
                .filter(|&&d| d != u64::MAX)
                .map(|&d| d as f64 / 1e6)
        };
        let max = finite().fold(1.0, f64::max);
        match axis {
            Axis::Log => {
                let min = finite().fold(f64::INFINITY, f64::min).max(1.0);
                Scale {
                    axis,
                    lo: 10f64.powf(min.log10().floor()),
                    hi: 10f64.powf(max.log10().ceil().max(min.log10().floor() + 1.0)),
                }
            }
            Axis::Linear => Scale {
                axis,
                lo: 0.0,
                hi: (max / 100.0).ceil().max(1.0) * 100.0,
            },
        }
    }

    fn x(&self, ms: f64) -> f64 {
        let f = match self.axis {
            Axis::Log => {
                (ms.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
            }
            Axis::Linear => (ms - self.lo) / (self.hi - self.lo),
        };
        LEFT + f.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    fn ticks(&self) -> Vec<f64> {
        match self.axis {
            Axis::Log => {
                let (a, b) = (self.lo.log10() as i32, self.hi.log10() as i32);
                (a..=b).map(|e| 10f64.powi(e)).collect()
            }
            Axis::Linear => {
                let step = nice_step(self.hi / 6.0);
                (0..)
                    .map(|i| i as f64 * step)
                    .take_while(|&t| t <= self.hi)
                    .collect()
            }
        }
    }
}

/// The smallest of 1, 2 or 5 times a power of ten at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power)
}

fn y(percent: f64) -> f64 {
    HEIGHT - BOTTOM - percent / 100.0 * (HEIGHT - TOP - BOTTOM)
}

fn graph(caption: &str, ranges: &[&RangeResult], axis: Axis) -> String {
    let scale = Scale::new(axis, ranges);
    let mut svg = format!(
        "<h2>{caption}</h2><svg width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         xmlns=\"http://www.w3.org/2000/svg\">"
    );
    svg += &axes(&scale);
    for (i, r) in ranges.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        svg += &cdf(&scale, r, color);
        let ly = TOP + 16.0 * i as f64;
        let lx = WIDTH - RIGHT + 16.0;
        let _ = write!(
            svg,
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" \
             stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{}-{}ms</text>",
            lx + 18.0,
            lx + 22.0,
            ly + 4.0,
            r.range.0,
            r.range.1
        );
    }
    svg + "</svg>"
}

fn axes(scale: &Scale) -> String {
    let (x0, x1, y0) = (LEFT, WIDTH - RIGHT, y(0.0));
    let mut s = format!(
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"black\"/>\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{}\" stroke=\"black\"/>",
        y(100.0)
    );
    for t in scale.ticks() {
        let x = scale.x(t);
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"{y0}\" x2=\"{x}\" y2=\"{}\" stroke=\"black\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{t}</text>",
            y0 + 4.0,
            y0 + 18.0
        );
    }
    for p in [0, 20, 40, 60, 80, 100] {
        let py = y(p as f64);
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{py}\" x2=\"{x1}\" y2=\"{py}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{p}%</text>",
            x0,
            x0 - 6.0,
            py + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time without leader (ms)</text>\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">\
         cumulative percent</text>",
        (x0 + x1) / 2.0,
        HEIGHT - 12.0,
        y(50.0),
        y(50.0)
    );
    s
}

/// A step line: at each trial's downtime the share of trials done rises.
fn cdf(scale: &Scale, r: &RangeResult, color: &str) -> String {
    let n = r.downtimes_ns.len().max(1) as f64;
    let mut points = vec![];
    let mut done = 0.0;
    for &d in r.downtimes_ns.iter().filter(|&&d| d != u64::MAX) {
        let x = scale.x(d as f64 / 1e6);
        points.push(format!("{x:.1},{:.1}", y(done)));
        done += 100.0 / n;
        points.push(format!("{x:.1},{:.1}", y(done)));
    }
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
        points.join(" ")
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    fn range(range: (u64, u64), ms: &[u64]) -> RangeResult {
        RangeResult {
            range,
            downtimes_ns: ms.iter().map(|m| m * 1_000_000).collect(),
            short_logs: 0,
            failures: vec![],
        }
    }

    #[test]
    fn the_page_draws_both_graphs_with_a_line_per_range() {
        let results = [
            range((150, 150), &[300, 12_000]),
            range((150, 300), &[200, 400]),
            range((12, 24), &[20, 40]),
        ];
        let page = html("t", &results);
        assert_eq!(page.matches("<svg").count(), 2);
        // Two lines on top, and on the bottom 12-24 plus 150-300 again.
        assert_eq!(page.matches("<polyline").count(), 4);
        assert_eq!(page.matches(">150-300ms<").count(), 2);
        assert!(page.contains(">10000<"), "the log axis reaches 10 s");
    }

    #[test]
    fn linear_ticks_fall_on_round_numbers() {
        assert_eq!(nice_step(6000.0 / 6.0), 1000.0);
        assert_eq!(nice_step(980.0), 1000.0);
        assert_eq!(nice_step(120.0), 200.0);
        assert_eq!(nice_step(41.0), 50.0);
    }

    #[test]
    fn a_trial_over_the_limit_leaves_its_line_below_100_percent() {
        let scale = Scale::new(Axis::Linear, &[&range((1, 2), &[100])]);
        let over = RangeResult {
            downtimes_ns: vec![100_000_000, u64::MAX],
            ..range((1, 2), &[])
        };
        let line = cdf(&scale, &over, "red");
        assert!(line.ends_with(&format!(",{:.1}\"/>", y(50.0))), "{line}");
    }
}
