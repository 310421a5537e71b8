//! Reading a run's trace: JSON lines as labsim's trace streams them. The
//! picture reads a line's structured fields (`to`, `call`, `term`, ...),
//! never its detail's text, which it only shows.

use serde_json::{Map, Value};

/// The members every line has; the others are its fields.
const LINE_KEYS: [&str; 6] = ["i", "t_ns", "node", "kind", "detail", "note"];

/// One line of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceLine {
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
    /// The structured fields (`"to":2,"call":5`): every other member.
    pub fields: Map<String, Value>,
}

impl TraceLine {
    /// The field `key`, if it is a whole number.
    pub fn uint(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(Value::as_u64)
    }

    /// The field `key`, if it is a node number.
    pub fn node_field(&self, key: &str) -> Option<usize> {
        self.uint(key).and_then(|n| usize::try_from(n).ok())
    }

    /// The field `key`, if it is text.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// The field `key`, if it is true or false.
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.fields.get(key).and_then(Value::as_bool)
    }
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
    let Value::Object(mut obj) = v else {
        return Err("not a JSON object".into());
    };
    let uint = |key: &str| -> Result<u64, String> {
        obj.get(key)
            .ok_or(format!("no \"{key}\""))?
            .as_u64()
            .ok_or(format!("\"{key}\" is not a non-negative integer"))
    };
    uint("i")?;
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
    obj.retain(|key, _| !LINE_KEYS.contains(&key.as_str()));
    Ok(TraceLine {
        t_ns,
        node,
        kind,
        detail,
        note,
        fields: obj,
    })
}
