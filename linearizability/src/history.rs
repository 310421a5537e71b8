//! Concurrent histories: the interval form the checker uses, and an event form.

use std::collections::BTreeMap;
use std::fmt;

/// The return time of an operation that never returned (it timed out or its
/// client crashed): it may or may not have taken effect, at any time after its call.
pub const NEVER: u64 = u64::MAX;

/// One client operation, as an interval of real time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client (process) that issued it; used for display only.
    pub client_id: usize,
    /// What the client asked for.
    pub input: I,
    /// When the call was made.
    pub call_ns: u64,
    /// What the client was told; for an operation that never returned this is the
    /// model's "unknown" output.
    pub output: O,
    /// When the answer came back, or [`NEVER`]. An operation whose return precedes
    /// its call is treated as returning at its call time.
    pub return_ns: u64,
}

/// What happened at one point of an event history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind<I, O> {
    /// A client calls, with this input.
    Call(I),
    /// The call of the same `id` returns, with this output.
    Return(O),
}

/// One call or return; `id` pairs a return with its call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<I, O> {
    /// The client (process) that called; used for display only.
    pub client_id: usize,
    /// A call or a return.
    pub kind: EventKind<I, O>,
    /// The operation's identity: unique among calls, repeated by its return.
    pub id: usize,
}

/// An event history that cannot be turned into operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    /// Position of the offending event in the list.
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event {}: {}", self.index, self.message)
    }
}

impl std::error::Error for HistoryError {}

/// Converts an event history (in real-time order; an event's position is its
/// timestamp) into operations, in order of their calls. A call without a return gets
/// return time [`NEVER`] and the output `pending(&input)` (the model's "unknown").
pub fn operations_from_events<I, O>(
    events: Vec<Event<I, O>>,
    mut pending: impl FnMut(&I) -> O,
) -> Result<Vec<Operation<I, O>>, HistoryError> {
    // id -> (position in `calls`), filled as calls arrive.
    let mut open: BTreeMap<usize, usize> = BTreeMap::new();
    // (client, input, call time) of each call, and its (output, return time) once known.
    let mut calls: Vec<(usize, I, u64)> = Vec::new();
    let mut returns: Vec<Option<(O, u64)>> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (index, event) in events.into_iter().enumerate() {
        let time = index as u64;
        match event.kind {
            EventKind::Call(input) => {
                if !seen.insert(event.id) {
                    return Err(HistoryError {
                        index,
                        message: format!("a second call with id {}", event.id),
                    });
                }
                open.insert(event.id, calls.len());
                calls.push((event.client_id, input, time));
                returns.push(None);
            }
            EventKind::Return(output) => {
                let Some(slot) = open.remove(&event.id) else {
                    return Err(HistoryError {
                        index,
                        message: format!("a return with id {} has no open call", event.id),
                    });
                };
                returns[slot] = Some((output, time));
            }
        }
    }
    Ok(calls
        .into_iter()
        .zip(returns)
        .map(|((client_id, input, call_ns), ret)| {
            let (output, return_ns) = match ret {
                Some(r) => r,
                None => (pending(&input), NEVER),
            };
            Operation {
                client_id,
                input,
                call_ns,
                output,
                return_ns,
            }
        })
        .collect())
}
