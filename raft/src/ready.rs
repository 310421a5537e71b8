//! The output of a peer: what the driver must do after each input.

use crate::{ApplyMsg, Entry, HardState, Message, PeerId, Snapshot};
use peer::ReadState;

/// Everything the driver must do after an input, in this order:
/// 1. persist `hard_state`, then `snapshot`, then `entries`, and sync them;
/// 2. send `messages`;
/// 3. hand `applies` to the service.
///
/// The driver feeds the next input only after all that, so everything from earlier
/// Readies is durable whenever the peer runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Set when current_term or voted_for changed.
    pub hard_state: Option<HardState>,
    /// Entries to append. If `entries[0].index` is at or below the last persisted index,
    /// the persisted log is first truncated from `entries[0].index`.
    pub entries: Vec<Entry>,
    /// A new snapshot: persist it and drop persisted entries at or below its index (all of
    /// them if the persisted log lacks an entry with its index and term). Applied before
    /// `entries`.
    pub snapshot: Option<Snapshot>,
    /// Messages to send, as (destination, message).
    pub messages: Vec<(PeerId, Message)>,
    /// Committed entries and installed snapshots for the service, in order.
    pub applies: Vec<ApplyMsg>,
    /// Reads confirmed (ReadIndex), for the service after `applies`.
    pub read_states: Vec<ReadState>,
}

impl Ready {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        !self.must_persist()
            && self.messages.is_empty()
            && self.applies.is_empty()
            && self.read_states.is_empty()
    }

    /// True when something must be written (and synced) before sending or applying.
    pub fn must_persist(&self) -> bool {
        self.hard_state.is_some() || !self.entries.is_empty() || self.snapshot.is_some()
    }
}
