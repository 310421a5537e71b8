//! The sequential specification a checked service provides.

use std::hash::Hash;

use super::history::Operation;

/// A sequential specification: a state machine that says, for a state and an
/// operation (input and the output the client saw), whether that output is possible
/// and what state follows.
///
/// The checker keeps states interned (each distinct state once) and may call
/// [`Model::step`] again for a (state, operation) pair it has tried before, so
/// `step` should be cheap when it rejects an output; `State` should be cheap to
/// hash and compare.
pub trait Model {
    /// The abstract state. `Hash` must be deterministic (no per-process seeds) for
    /// results to be reproducible; the derived impls are.
    type State: Clone + Eq + Hash;
    /// What a client asked for.
    type Input;
    /// What the client was told (possibly "unknown", if the model has such a value).
    type Output;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state`; `None` if `output` is impossible from `state`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// The heap bytes `state` holds that the state it was stepped from does not
    /// share with it (beyond `size_of::<State>()`): the checker counts them
    /// against [`CheckOptions::max_search_bytes`](crate::CheckOptions). The
    /// default, 0, suits states without a heap.
    fn state_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// Splits a history into independent sub-histories (P-compositionality: the
    /// whole is linearizable iff every part is), as lists of indices into `history`,
    /// each in increasing order. The default keeps the history whole.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// A short human description of one operation, e.g. `get("x") -> "1"`.
    fn describe_operation(&self, input: &Self::Input, output: &Self::Output) -> String;

    /// A short human description of a state.
    fn describe_state(&self, state: &Self::State) -> String;
}
