//! Parsers for the two text formats described in the module documentation.
//! Malformed input gives a [`ParseError`] naming the line; nothing here panics.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::history::{NEVER, Operation};
use super::kv::{KvInput, KvOutput};
use super::register::{RegisterInput, RegisterOutput};

/// Why a history could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The file, when reading one.
    pub path: Option<PathBuf>,
    /// The 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            path: None,
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}:", path.display())?;
        }
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        } else if self.path.is_some() {
            write!(f, " ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a Porcupine/Jepsen KV history (see the module docs).
pub fn parse_kv(text: &str) -> Result<Vec<Operation<KvInput, KvOutput>>, ParseError> {
    let mut b = Builder::new(KvOutput::Unknown);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') {
            continue;
        }
        let map = parse_edn_map(trimmed).map_err(|m| ParseError::at(line, m))?;
        KvEvent::read(&map, line)?.apply(&mut b)?;
    }
    Ok(b.finish())
}

/// One line of a KV history, its fields checked.
struct KvEvent<'a, 'l> {
    line: usize,
    process: u64,
    /// `invoke`, `ok`, `fail` or `info`.
    kind: &'l str,
    /// `get`, `put`, `append` or `delete`.
    f: &'static str,
    key: String,
    value: &'a Edn<'l>,
}

impl<'a, 'l> KvEvent<'a, 'l> {
    fn read(map: &'a EdnMap<'l>, line: usize) -> Result<Self, ParseError> {
        let bad =
            |what: &str, other: &Edn<'_>| ParseError::at(line, format!("{what}, not {other}"));
        let process = match field(map, "process", line)? {
            Edn::Int(p) if *p >= 0 => *p as u64,
            other => return Err(bad(":process must be a natural number", other)),
        };
        let kind = match field(map, "type", line)? {
            Edn::Keyword(k) => *k,
            other => return Err(bad(":type must be a keyword", other)),
        };
        let f = match field(map, "f", line)? {
            Edn::Keyword(k) if *k == "get" => "get",
            Edn::Keyword(k) if *k == "put" => "put",
            Edn::Keyword(k) if *k == "append" => "append",
            Edn::Keyword(k) if *k == "delete" => "delete",
            other => return Err(bad(":f must be :get, :put, :append or :delete", other)),
        };
        let key = match field(map, "key", line)? {
            Edn::Str(s) => s.to_string(),
            Edn::Int(i) => i.to_string(),
            other => return Err(bad(":key must be a string", other)),
        };
        let value = map.get("value").unwrap_or(&Edn::Nil);
        Ok(KvEvent {
            line,
            process,
            kind,
            f,
            key,
            value,
        })
    }

    /// The value as a string (a number is one too).
    fn string_value(&self) -> Result<String, ParseError> {
        match self.value {
            Edn::Str(s) => Ok(s.to_string()),
            Edn::Int(i) => Ok(i.to_string()),
            other => Err(ParseError::at(
                self.line,
                format!(":value must be a string, not {other}"),
            )),
        }
    }

    /// Adds the event to the history being built.
    fn apply(self, b: &mut Builder<KvInput, KvOutput>) -> Result<(), ParseError> {
        let (line, process, f) = (self.line, self.process, self.f);
        match self.kind {
            "invoke" => {
                let input = match f {
                    "get" => KvInput::Get { key: self.key },
                    "put" => KvInput::Put {
                        value: self.string_value()?,
                        key: self.key,
                    },
                    "append" => KvInput::Append {
                        value: self.string_value()?,
                        key: self.key,
                    },
                    _ => KvInput::Delete { key: self.key },
                };
                b.invoke(line, process, f, input)
            }
            "ok" => {
                let output = match (f, self.value) {
                    ("get", Edn::Nil) => KvOutput::Value(String::new()),
                    ("get", _) => KvOutput::Value(self.string_value()?),
                    _ => KvOutput::Done,
                };
                let op = b.complete(line, process, f)?;
                if op.input.key() != self.key {
                    return Err(ParseError::at(
                        line,
                        format!(
                            "key {:?} differs from the invoked key {:?}",
                            self.key,
                            op.input.key()
                        ),
                    ));
                }
                op.output = output;
                Ok(())
            }
            "fail" => b.fail(line, process, f),
            "info" => b.info(line, process, f),
            other => Err(ParseError::at(
                line,
                format!(":type must be :invoke, :ok, :fail or :info, not :{other}"),
            )),
        }
    }
}

/// Parses a Jepsen etcd register log (see the module docs).
pub fn parse_jepsen_register(
    text: &str,
) -> Result<Vec<Operation<RegisterInput, RegisterOutput>>, ParseError> {
    let mut b = Builder::new(RegisterOutput::Unknown);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let mut tokens = raw.split_whitespace();
        // Only `INFO jepsen.util - <process number> ...` lines are events.
        if !(raw.starts_with("INFO")
            && tokens.next() == Some("INFO")
            && tokens.next() == Some("jepsen.util")
            && tokens.next() == Some("-"))
        {
            continue;
        }
        // A nemesis's lines (`:nemesis`) are not a client's.
        let process = match tokens.next() {
            Some(p) if p.starts_with(|c: char| c.is_ascii_digit()) => p
                .parse::<u64>()
                .map_err(|_| ParseError::at(line, format!("process {p:?} is not a number")))?,
            _ => continue,
        };
        let kind = tokens.next().unwrap_or("");
        let f = tokens.next().unwrap_or("");
        let value: Vec<&str> = tokens.collect();
        let value = value.join(" ");
        let f = match f {
            ":read" => "read",
            ":write" => "write",
            ":cas" => "cas",
            other => {
                return Err(ParseError::at(
                    line,
                    format!("expected :read, :write or :cas, found {other:?}"),
                ));
            }
        };
        match kind {
            ":invoke" => {
                let input = register_input(f, &value, line)?;
                b.invoke(line, process, f, input)?;
            }
            ":ok" => {
                let output = match f {
                    "read" if value == "nil" => RegisterOutput::Read(None),
                    "read" => RegisterOutput::Read(Some(integer(&value, line)?)),
                    _ => RegisterOutput::Ok,
                };
                b.complete(line, process, f)?.output = output;
            }
            ":fail" => b.fail(line, process, f)?,
            ":info" => b.info(line, process, f)?,
            other => {
                return Err(ParseError::at(
                    line,
                    format!("expected :invoke, :ok, :fail or :info, found {other:?}"),
                ));
            }
        }
    }
    Ok(b.finish())
}

/// What a register log's `:invoke` of `f` (`read`, `write` or `cas`) asks,
/// from the rest of its line: nothing, a value, or `[FROM TO]`.
fn register_input(f: &str, value: &str, line: usize) -> Result<RegisterInput, ParseError> {
    match f {
        "read" => Ok(RegisterInput::Read),
        "write" => Ok(RegisterInput::Write(integer(value, line)?)),
        _ => {
            let not_a_pair =
                || ParseError::at(line, format!("expected [FROM TO], found {value:?}"));
            let inner = (value.strip_prefix('['))
                .and_then(|v| v.strip_suffix(']'))
                .ok_or_else(not_a_pair)?;
            let parts: Vec<&str> = inner.split_whitespace().collect();
            let [from, to] = parts[..] else {
                return Err(not_a_pair());
            };
            Ok(RegisterInput::Cas {
                from: integer(from, line)?,
                to: integer(to, line)?,
            })
        }
    }
}

fn integer(s: &str, line: usize) -> Result<i64, ParseError> {
    s.parse::<i64>()
        .map_err(|_| ParseError::at(line, format!("expected an integer, found {s:?}")))
}

fn field<'a, 'l>(map: &'a EdnMap<'l>, name: &str, line: usize) -> Result<&'a Edn<'l>, ParseError> {
    map.get(name)
        .ok_or_else(|| ParseError::at(line, format!("missing :{name}")))
}

/// Pairs completions with invocations, per process, with Jepsen's meaning of each
/// completion type.
struct Builder<I, O> {
    /// `None` once dropped (a `:fail`).
    ops: Vec<Option<Operation<I, O>>>,
    /// process -> (index in `ops`, line of the invoke, function name).
    pending: BTreeMap<u64, (usize, usize, &'static str)>,
    unknown: O,
}

impl<I, O: Clone> Builder<I, O> {
    fn new(unknown: O) -> Self {
        Builder {
            ops: Vec::new(),
            pending: BTreeMap::new(),
            unknown,
        }
    }

    fn invoke(
        &mut self,
        line: usize,
        process: u64,
        f: &'static str,
        input: I,
    ) -> Result<(), ParseError> {
        if let Some((_, at, _)) = self.pending.get(&process) {
            return Err(ParseError::at(
                line,
                format!(
                    "process {process} invokes again while its call on line {at} is still open"
                ),
            ));
        }
        self.pending.insert(process, (self.ops.len(), line, f));
        self.ops.push(Some(Operation {
            client_id: process as usize,
            input,
            call_ns: line as u64,
            output: self.unknown.clone(),
            return_ns: NEVER,
        }));
        Ok(())
    }

    /// Closes the open call of `process`, returning its index in `ops`.
    fn close(&mut self, line: usize, process: u64, f: &str) -> Result<usize, ParseError> {
        let Some((index, at, invoked)) = self.pending.remove(&process) else {
            return Err(ParseError::at(
                line,
                format!("process {process} has no open call to complete"),
            ));
        };
        if invoked != f {
            return Err(ParseError::at(
                line,
                format!("completes :{f} but process {process} invoked :{invoked} on line {at}"),
            ));
        }
        Ok(index)
    }

    /// `:ok`: the operation happened; the caller fills in the output.
    fn complete(
        &mut self,
        line: usize,
        process: u64,
        f: &str,
    ) -> Result<&mut Operation<I, O>, ParseError> {
        let index = self.close(line, process, f)?;
        let op = self.ops[index]
            .as_mut()
            .expect("open calls are never dropped");
        op.return_ns = line as u64;
        Ok(op)
    }

    /// `:fail`: the operation definitely did not happen, so it is left out.
    fn fail(&mut self, line: usize, process: u64, f: &str) -> Result<(), ParseError> {
        let index = self.close(line, process, f)?;
        self.ops[index] = None;
        Ok(())
    }

    /// `:info`: it may or may not have happened; it stays open forever.
    fn info(&mut self, line: usize, process: u64, f: &str) -> Result<(), ParseError> {
        self.close(line, process, f).map(|_| ())
    }

    fn finish(self) -> Vec<Operation<I, O>> {
        // Calls still open at the end never returned: they keep NEVER and `unknown`.
        self.ops.into_iter().flatten().collect()
    }
}

/// The EDN values the KV format uses, borrowed from the line where they can be
/// (a string with no escapes, a keyword): parsing allocates little.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Edn<'l> {
    Nil,
    Int(i64),
    Keyword(&'l str),
    Str(Cow<'l, str>),
}

/// One line's map, in the order written: a handful of entries, so a list beats a
/// tree. A key written twice means its last value, as with a map insert.
struct EdnMap<'l>(Vec<(&'l str, Edn<'l>)>);

impl<'l> EdnMap<'l> {
    fn get(&self, key: &str) -> Option<&Edn<'l>> {
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

type Chars<'l> = std::iter::Peekable<std::str::CharIndices<'l>>;

/// Where the next character starts (the end of the line if there is none).
fn offset(chars: &mut Chars<'_>, line: &str) -> usize {
    chars.peek().map_or(line.len(), |&(at, _)| at)
}

/// A bare word (keyword name, number, `nil`): up to whitespace, `,`, `}` or `"`.
fn symbol<'l>(chars: &mut Chars<'l>, line: &'l str) -> &'l str {
    let start = offset(chars, line);
    while chars
        .next_if(|&(_, c)| !(c.is_whitespace() || c == ',' || c == '}' || c == '"'))
        .is_some()
    {}
    &line[start..offset(chars, line)]
}

/// The rest of a string whose opening quote was just read; borrowed from the line
/// unless it has escapes.
fn string<'l>(chars: &mut Chars<'l>, line: &'l str, key: &str) -> Result<Cow<'l, str>, String> {
    let start = offset(chars, line);
    let mut owned: Option<String> = None;
    loop {
        match chars.next() {
            None => return Err(format!("unterminated string in :{key}")),
            Some((end, '"')) => {
                return Ok(owned.map_or(Cow::Borrowed(&line[start..end]), Cow::Owned));
            }
            Some((at, '\\')) => {
                let s = owned.get_or_insert_with(|| line[start..at].to_string());
                match chars.next() {
                    Some((_, 'n')) => s.push('\n'),
                    Some((_, 't')) => s.push('\t'),
                    Some((_, c @ ('"' | '\\'))) => s.push(c),
                    _ => return Err(format!("bad escape in string of :{key}")),
                }
            }
            Some((_, c)) => {
                if let Some(s) = &mut owned {
                    s.push(c);
                }
            }
        }
    }
}

impl fmt::Display for Edn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edn::Nil => write!(f, "nil"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Parses `{:k v, :k v ...}` with keyword keys and scalar values.
fn parse_edn_map(line: &str) -> Result<EdnMap<'_>, String> {
    let mut chars = line.char_indices().peekable();
    let skip = |chars: &mut Chars<'_>| {
        while chars
            .next_if(|&(_, c)| c.is_whitespace() || c == ',')
            .is_some()
        {}
    };
    if chars.next().map(|(_, c)| c) != Some('{') {
        return Err("expected an event map {:process .., :type .., :f .., ...}".into());
    }
    let mut map = EdnMap(Vec::with_capacity(5));
    loop {
        skip(&mut chars);
        match chars.next() {
            None => return Err("unterminated map: missing '}'".into()),
            Some((_, '}')) => break,
            Some((_, ':')) => {}
            Some((at, c)) => {
                return Err(format!(
                    "expected a :keyword at column {}, found {c:?}",
                    at + 1
                ));
            }
        }
        let key = symbol(&mut chars, line);
        if key.is_empty() {
            return Err("empty keyword".into());
        }
        skip(&mut chars);
        let value = match chars.peek().copied() {
            None => return Err(format!("missing value for :{key}")),
            Some((_, '"')) => {
                chars.next();
                Edn::Str(string(&mut chars, line, key)?)
            }
            Some((_, ':')) => {
                chars.next();
                Edn::Keyword(symbol(&mut chars, line))
            }
            Some((at, _)) => {
                let word = symbol(&mut chars, line);
                if word == "nil" {
                    Edn::Nil
                } else if let Ok(i) = word.parse::<i64>() {
                    Edn::Int(i)
                } else {
                    return Err(format!(
                        "unsupported value {word:?} for :{key} at column {}",
                        at + 1
                    ));
                }
            }
        };
        map.0.push((key, value));
    }
    if let Some((at, _)) = chars.find(|&(_, c)| !c.is_whitespace()) {
        return Err(format!(
            "unexpected text after the map at column {}",
            at + 1
        ));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_roundtrip() {
        let text = "{:process 1, :type :invoke, :f :put, :key \"k\", :value \"a\\\"b\"}\n\
                    {:process 2, :type :invoke, :f :get, :key \"k\", :value nil}\n\
                    {:process 1, :type :ok, :f :put, :key \"k\", :value \"a\\\"b\"}\n\
                    {:process 2, :type :ok, :f :get, :key \"k\", :value \"a\\\"b\"}\n\
                    {:process 3, :type :invoke, :f :append, :key \"k\", :value \"c\"}\n\
                    {:process 4, :type :invoke, :f :append, :key \"k\", :value \"d\"}\n\
                    {:process 4, :type :fail, :f :append, :key \"k\", :value \"d\"}\n";
        let ops = parse_kv(text).unwrap();
        assert_eq!(ops.len(), 3, "the failed append is dropped");
        assert_eq!(
            ops[0].input,
            KvInput::Put {
                key: "k".into(),
                value: "a\"b".into()
            }
        );
        assert_eq!((ops[0].call_ns, ops[0].return_ns), (1, 3));
        assert_eq!(ops[1].output, KvOutput::Value("a\"b".into()));
        assert_eq!(ops[2].return_ns, NEVER);
        assert_eq!(ops[2].output, KvOutput::Unknown);
    }

    #[test]
    fn kv_errors_name_the_line() {
        let cases = [
            (
                "{:process 1, :type :invoke, :f :get, :key \"k\", :value nil}\n{:process 1, :type :ok, :f :get",
                2,
            ),
            (
                "\n\n{:process x, :type :invoke, :f :get, :key \"k\", :value nil}",
                3,
            ),
            (
                "{:process 1, :type :ok, :f :get, :key \"k\", :value \"\"}",
                1,
            ),
            (
                "{:process 1, :type :invoke, :f :get, :key \"k\", :value nil}\n\
              {:process 1, :type :invoke, :f :get, :key \"k\", :value nil}",
                2,
            ),
            (
                "{:process 1, :type :invoke, :f :cas, :key \"k\", :value nil}",
                1,
            ),
            ("garbage", 1),
            (
                "{:process 1, :type :invoke, :f :put, :key \"k\", :value \"unterminated}",
                1,
            ),
        ];
        for (text, line) in cases {
            let err = parse_kv(text).expect_err(text);
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
            assert!(
                err.to_string().starts_with(&format!("line {line}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn register_variants() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    some other log line\n\
                    INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
                    INFO  jepsen.util - 1   :invoke :cas    [1 2]\n\
                    INFO  jepsen.util - 1   :fail   :cas    [1 2]\n\
                    INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
                    INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n\
                    INFO  jepsen.util - 4\t:invoke\t:cas\t[4 5]\n\
                    INFO  jepsen.util - 4\t:ok\t:cas\t[4 5]\n\
                    INFO  jepsen.util - 5\t:invoke\t:read\tnil\n";
        let ops = parse_jepsen_register(text).unwrap();
        let got: Vec<_> = ops
            .iter()
            .map(|o| (o.input, o.output, o.call_ns, o.return_ns))
            .collect();
        assert_eq!(
            got,
            vec![
                (RegisterInput::Read, RegisterOutput::Read(None), 1, 3),
                (RegisterInput::Write(4), RegisterOutput::Unknown, 6, NEVER),
                (
                    RegisterInput::Cas { from: 4, to: 5 },
                    RegisterOutput::Ok,
                    10,
                    11
                ),
                (RegisterInput::Read, RegisterOutput::Unknown, 12, NEVER),
            ]
        );
    }

    #[test]
    fn register_errors_name_the_line() {
        let cases = [
            ("INFO  jepsen.util - 0\t:invoke\t:cas\t[1]", 1),
            ("x\nINFO  jepsen.util - 0\t:invoke\t:write\tfoo", 2),
            ("INFO  jepsen.util - 0\t:ok\t:read\t3", 1),
            ("INFO  jepsen.util - 0\t:invoke\t:frob\t3", 1),
            // A process number out of range is a bad line, not a nemesis's.
            (
                "INFO  jepsen.util - 99999999999999999999\t:invoke\t:read\tnil",
                1,
            ),
            (
                "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:write\t1",
                2,
            ),
        ];
        for (text, line) in cases {
            let err = parse_jepsen_register(text).expect_err(text);
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
        }
    }
}
