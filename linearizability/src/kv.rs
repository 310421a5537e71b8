//! A key/value store with get, put, append and delete, partitioned by key.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::history::Operation;
use super::model::Model;

/// A KV request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the fields: a key, and the value written
pub enum KvInput {
    /// Reads `key`'s value (`""` if missing).
    Get { key: String },
    /// Sets `key` to `value`.
    Put { key: String, value: String },
    /// Appends `value` to `key`'s value.
    Append { key: String, value: String },
    /// Removes `key`: it reads `""` again.
    Delete { key: String },
}

impl KvInput {
    /// The key the request is about.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key }
            | KvInput::Put { key, .. }
            | KvInput::Append { key, .. }
            | KvInput::Delete { key } => key,
        }
    }
}

/// A KV answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput {
    /// What a get read (`""` for a missing key).
    Value(String),
    /// A put, append or delete was acknowledged.
    Done,
    /// No answer came (timeout, crash): matches anything.
    Unknown,
}

/// The value of one key, as the checker sees it: an immutable rope of the
/// appended pieces (a put starts a new one). States share their prefixes, so an
/// append costs the size of the appended piece, not of the whole value, and so does
/// hashing (the content hash is kept incrementally). Equality and hashing are by
/// content: how a value was built does not matter.
///
/// The pieces are shared with `Rc`, not `Arc`: a search creates, clones and drops
/// its states on one thread, and the atomic counts cost about 8% of the check of
/// c50-ok. So a `KvState` is neither `Send` nor `Sync`.
#[derive(Clone, Default)]
pub struct KvState(Option<Rc<Piece>>);

struct Piece {
    prev: Option<Rc<Piece>>,
    text: Text,
    /// Length and polynomial hash of the whole value up to and including `text`.
    len: usize,
    hash: u64,
}

/// A piece's bytes. Short ones (the usual append: one client's token, such as
/// `x 3 7 y`) are kept inside the piece, so a new state costs one allocation, not
/// two; the piece stays 48 bytes either way.
enum Text {
    Short { len: u8, bytes: [u8; SHORT_TEXT] },
    Long(Box<str>),
}

const SHORT_TEXT: usize = 22;

impl Text {
    /// A short text of no bytes, for [`Text::set`] to fill.
    const EMPTY: Text = Text::Short {
        len: 0,
        bytes: [0; SHORT_TEXT],
    };

    /// Sets the text, in place in its new piece. A short text built on the stack
    /// and then moved into the piece had the move read back bytes just stored by a
    /// narrower copy (a store-forwarding stall: a quarter of `append`'s samples).
    fn set(&mut self, text: &str) {
        match self {
            Text::Short { len, bytes } if text.len() <= SHORT_TEXT => {
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                *len = text.len() as u8;
            }
            _ => *self = Text::Long(text.into()),
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Short { len, bytes } => &bytes[..*len as usize],
            Text::Long(s) => s.as_bytes(),
        }
    }
}

const POLY: u64 = 0x100_0000_01b3; // the FNV prime: odd, well spread

impl KvState {
    /// The empty value (missing key).
    pub fn new() -> Self {
        KvState(None)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.len)
    }

    /// True for `""`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hash(&self) -> u64 {
        self.0.as_ref().map_or(0, |p| p.hash)
    }

    /// This value followed by `text`.
    pub fn append(&self, text: &str) -> KvState {
        if text.is_empty() {
            return self.clone();
        }
        let hash = text
            .bytes()
            .fold(self.hash(), |h, b| h.wrapping_mul(POLY) ^ b as u64);
        let mut piece = Rc::new(Piece {
            prev: self.0.clone(),
            text: Text::EMPTY,
            len: self.len() + text.len(),
            hash,
        });
        Rc::get_mut(&mut piece)
            .expect("a new Rc is not shared")
            .text
            .set(text);
        KvState(Some(piece))
    }

    /// The pieces, last first.
    fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::successors(self.0.as_deref(), |p| p.prev.as_deref()).map(|p| p.text.as_bytes())
    }

    /// Compares with a plain string without building one.
    pub fn equals_str(&self, s: &str) -> bool {
        if self.len() != s.len() {
            return false;
        }
        let mut end = s.len();
        for piece in self.pieces() {
            let start = end - piece.len();
            if s.as_bytes()[start..end] != *piece {
                return false;
            }
            end = start;
        }
        true
    }
}

impl std::fmt::Display for KvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes: Vec<u8> = Vec::with_capacity(self.len());
        let pieces: Vec<&[u8]> = self.pieces().collect();
        pieces.iter().rev().for_each(|p| bytes.extend_from_slice(p));
        // Whole pieces are whole appended strings, so their concatenation is UTF-8.
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

impl std::fmt::Debug for KvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl PartialEq for KvState {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() || self.hash() != other.hash() {
            return false;
        }
        // Compare from the end, slice against slice, until both sides reach the same
        // piece at a piece boundary: from there on the values share their prefix.
        let (mut a, mut b) = (self.0.as_deref(), other.0.as_deref());
        let (mut a_rest, mut b_rest): (&[u8], &[u8]) = (&[], &[]);
        loop {
            if a_rest.is_empty() && b_rest.is_empty() {
                match (a, b) {
                    (None, None) => return true,
                    (Some(x), Some(y)) if std::ptr::eq(x, y) => return true,
                    _ => {}
                }
            }
            if a_rest.is_empty() {
                let Some(p) = a else { return false };
                (a_rest, a) = (p.text.as_bytes(), p.prev.as_deref());
            }
            if b_rest.is_empty() {
                let Some(p) = b else { return false };
                (b_rest, b) = (p.text.as_bytes(), p.prev.as_deref());
            }
            let k = a_rest.len().min(b_rest.len());
            let (a_head, a_tail) = a_rest.split_at(a_rest.len() - k);
            let (b_head, b_tail) = b_rest.split_at(b_rest.len() - k);
            if a_tail != b_tail {
                return false;
            }
            (a_rest, b_rest) = (a_head, b_head);
        }
    }
}

/// Unlinks a long chain iteratively: the default recursive drop could overflow the
/// stack on a key with very many appends.
impl Drop for Piece {
    fn drop(&mut self) {
        let mut prev = self.prev.take();
        while let Some(rc) = prev {
            match Rc::try_unwrap(rc) {
                Ok(mut piece) => prev = piece.prev.take(),
                Err(_) => break,
            }
        }
    }
}

impl Eq for KvState {}

impl std::hash::Hash for KvState {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash());
    }
}

/// The KV sequential specification. Each partition holds one key, so the state is
/// just that key's value: a missing key and a deleted key read as `""`, and an
/// append to either appends to `""`, so `""` stands for both.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        KvState::new()
    }

    fn step(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> Option<KvState> {
        match (input, output) {
            (KvInput::Get { .. }, KvOutput::Value(v)) => state.equals_str(v).then(|| state.clone()),
            (KvInput::Get { .. }, KvOutput::Unknown) => Some(state.clone()),
            (KvInput::Get { .. }, KvOutput::Done) => None,
            (_, KvOutput::Value(_)) => None,
            (KvInput::Put { value, .. }, _) => Some(KvState::new().append(value)),
            (KvInput::Append { value, .. }, _) => Some(state.append(value)),
            (KvInput::Delete { .. }, _) => Some(KvState::new()),
        }
    }

    /// The newest piece, which is the state's own: the rest is shared with the
    /// state it was appended to. (A put's state is one piece too.)
    fn state_bytes(&self, state: &KvState) -> usize {
        state.0.as_ref().map_or(0, |piece| {
            let text = match &piece.text {
                Text::Short { .. } => 0,
                Text::Long(s) => s.len(),
            };
            // The `Rc`'s two counts, then the piece.
            2 * size_of::<usize>() + size_of::<Piece>() + text
        })
    }

    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }

    fn describe_operation(&self, input: &KvInput, output: &KvOutput) -> String {
        let out = match output {
            KvOutput::Value(v) => format!(" -> {v:?}"),
            KvOutput::Done => String::new(),
            KvOutput::Unknown => " -> ?".to_string(),
        };
        match input {
            KvInput::Get { key } => format!("get({key:?}){out}"),
            KvInput::Put { key, value } => format!("put({key:?}, {value:?}){out}"),
            KvInput::Append { key, value } => format!("append({key:?}, {value:?}){out}"),
            KvInput::Delete { key } => format!("delete({key:?}){out}"),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        format!("{state:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn kv_state_compares_by_content() {
        let hash = |s: &KvState| crate::hash::FxBuild::default().hash_one(s);
        let a = KvState::new().append("ab").append("cd").append("e");
        let b = KvState::new().append("a").append("bcde");
        let c = KvState::new().append("abcde");
        let d = KvState::new().append("abcdf");
        for (x, y) in [(&a, &b), (&a, &c), (&b, &c)] {
            assert_eq!(x, y);
            assert_eq!(hash(x), hash(y));
        }
        assert_ne!(a, d);
        assert_ne!(a, KvState::new().append("abcd"));
        assert_eq!(KvState::new(), KvState::new().append(""));
        assert!(a.equals_str("abcde") && !a.equals_str("abcdd") && !a.equals_str("abcd"));
        assert!(KvState::new().equals_str(""));
        let long = "x".repeat(2000);
        assert!(KvModel.state_bytes(&a.append(&long)) > 2000);
        assert!(KvModel.state_bytes(&a.append("y")) < 100);
        assert_eq!(KvModel.state_bytes(&KvState::new()), 0);
        assert_eq!(a.to_string(), "abcde");
        assert_eq!(format!("{a:?}"), "\"abcde\"");
    }

    #[test]
    fn a_long_chain_drops_without_overflowing_the_stack() {
        let mut s = KvState::new();
        for _ in 0..1_000_000 {
            s = s.append("x");
        }
        assert_eq!(s.len(), 1_000_000);
        drop(s);
    }
}
