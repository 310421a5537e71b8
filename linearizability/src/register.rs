//! A compare-and-set register (Jepsen's etcd test): read, write, cas.

use super::model::Model;

/// A register request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// Reads the value.
    Read,
    /// Sets the value.
    Write(i64),
    /// Set to `to` if the value is `from`.
    Cas {
        /// The value expected.
        from: i64,
        /// The value set if it was.
        to: i64,
    },
}

/// A register answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// What a read saw; `None` if the register was never written (etcd's `nil`).
    Read(Option<i64>),
    /// A write, or a cas that took effect, was acknowledged.
    Ok,
    /// A cas whose comparison definitely failed (the value was not `from`). Jepsen's
    /// `:fail` means "did not happen", so the parser drops such cas instead; this
    /// output is for histories that know the comparison failed.
    CasFailed,
    /// No answer came (`:info`, timeout): matches anything.
    Unknown,
}

/// The register's sequential specification; the state is `None` until written.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type State = Option<i64>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &RegisterInput,
        output: &RegisterOutput,
    ) -> Option<Option<i64>> {
        use RegisterOutput as O;
        match (*input, *output) {
            (RegisterInput::Read, O::Read(v)) => (v == *state).then_some(*state),
            (RegisterInput::Read, O::Unknown) => Some(*state),
            (RegisterInput::Read, _) => None,
            (RegisterInput::Write(v), O::Ok | O::Unknown) => Some(Some(v)),
            (RegisterInput::Write(_), _) => None,
            (RegisterInput::Cas { from, to }, O::Ok) => (*state == Some(from)).then_some(Some(to)),
            (RegisterInput::Cas { from, .. }, O::CasFailed) => {
                (*state != Some(from)).then_some(*state)
            }
            // An unknown cas took effect if the comparison held, else changed nothing.
            (RegisterInput::Cas { from, to }, O::Unknown) => Some(if *state == Some(from) {
                Some(to)
            } else {
                *state
            }),
            (RegisterInput::Cas { .. }, O::Read(_)) => None,
        }
    }

    fn describe_operation(&self, input: &RegisterInput, output: &RegisterOutput) -> String {
        let out = match output {
            RegisterOutput::Read(Some(v)) => format!(" -> {v}"),
            RegisterOutput::Read(None) => " -> nil".to_string(),
            RegisterOutput::Ok => String::new(),
            RegisterOutput::CasFailed => " -> fail".to_string(),
            RegisterOutput::Unknown => " -> ?".to_string(),
        };
        match input {
            RegisterInput::Read => format!("read(){out}"),
            RegisterInput::Write(v) => format!("write({v}){out}"),
            RegisterInput::Cas { from, to } => format!("cas({from}, {to}){out}"),
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        match state {
            Some(v) => v.to_string(),
            None => "nil".to_string(),
        }
    }
}
