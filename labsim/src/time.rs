//! Virtual time. Every instant in a simulation is a `u64` count of nanoseconds
//! since the run began; nothing here ever reads the wall clock.

/// One microsecond, in nanoseconds.
pub const US: u64 = 1_000;
/// One millisecond, in nanoseconds.
pub const MS: u64 = 1_000_000;
/// One second, in nanoseconds.
pub const SEC: u64 = 1_000_000_000;

/// Formats a virtual instant as seconds with millisecond precision, e.g. `13.402s`.
pub fn fmt_ns(at_ns: u64) -> String {
    format!("{}.{:03}s", at_ns / SEC, (at_ns % SEC) / MS)
}

/// Parses a duration such as `150ms`, `2s`, `1.5s`, `300us`, `42ns`, a sum
/// of such parts (`1h30m`, `2m 30s`) or a bare number of milliseconds, into
/// nanoseconds. Used by command-line tools.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let not = || format!("`{text}` is not a duration (try 150ms, 2s, 1.5s, 10m, 1h30m)");
    if t.is_empty() {
        return Err(not());
    }
    if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return part_ns(t, MS as f64).ok_or_else(not);
    }
    let mut total_ns: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(not)?;
        let (number, tail) = rest.split_at(number_end);
        let tail = tail.trim_start();
        let unit_end = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let unit_ns = match unit {
            "ns" => 1.0,
            "us" => US as f64,
            "ms" => MS as f64,
            "s" => SEC as f64,
            "m" => 60.0 * SEC as f64,
            "h" => 3600.0 * SEC as f64,
            _ => return Err(not()),
        };
        let ns = part_ns(number, unit_ns).ok_or_else(not)?;
        total_ns = total_ns.saturating_add(ns);
        rest = tail.trim_start();
    }
    Ok(total_ns)
}

/// `number` of a unit `unit_ns` long, in nanoseconds (saturated); none if
/// it is not a non-negative number.
fn part_ns(number: &str, unit_ns: f64) -> Option<u64> {
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * unit_ns).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(fmt_ns(13 * SEC + 402 * MS + 7), "13.402s");
        assert_eq!(parse_duration_ns("150ms"), Ok(150 * MS));
        assert_eq!(parse_duration_ns("1.5s"), Ok(1500 * MS));
        assert_eq!(parse_duration_ns("2m"), Ok(120 * SEC));
        assert_eq!(parse_duration_ns("1h"), Ok(3600 * SEC));
        assert_eq!(parse_duration_ns("7"), Ok(7 * MS));
        assert!(parse_duration_ns("soon").is_err());
        assert!(parse_duration_ns("-1s").is_err());
        assert_eq!(parse_duration_ns("1h30m"), Ok(5400 * SEC));
        assert_eq!(parse_duration_ns("2m 30s"), Ok(150 * SEC));
        assert_eq!(parse_duration_ns("1s500ms"), Ok(1500 * MS));
        assert_eq!(parse_duration_ns("5 ms"), Ok(5 * MS));
        assert_eq!(parse_duration_ns(" 1.5 s "), Ok(1500 * MS));
        for bad in ["", "s", "1x", "1h30", "1.2.3s", "30m-1s"] {
            assert!(parse_duration_ns(bad).is_err(), "{bad:?}");
        }
    }
}
