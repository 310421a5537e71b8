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

/// Parses a duration such as `150ms`, `2s`, `1.5s`, `300us`, `42ns` or a bare
/// number of milliseconds, into nanoseconds. Used by command-line tools.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit_ns) = if let Some(n) = t.strip_suffix("ns") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, US as f64)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, MS as f64)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, SEC as f64)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0 * SEC as f64)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0 * SEC as f64)
    } else {
        (t, MS as f64)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 150ms, 2s, 1.5s, 10m, 1h)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{text}` is not a non-negative duration"));
    }
    Ok((value * unit_ns).round() as u64)
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
    }
}
