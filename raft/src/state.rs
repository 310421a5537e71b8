//! Figure 2's persistent state, as values the driver stores and gives back on restart.

use serde::{Deserialize, Serialize};

use crate::{Entry, Index, PeerId, Term};
use peer::Membership;

/// The persistent scalars of Figure 2.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub current_term: Term,
    pub voted_for: Option<PeerId>,
}

/// A service snapshot covering the log through `last_included_index`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub last_included_index: Index,
    pub last_included_term: Term,
    /// The configuration in effect at `last_included_index` (the snapshot
    /// replaces the entries that held it).
    pub membership: Membership,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Everything a peer made durable, handed back to [`crate::Raft::new`] on restart.
/// `entries` must start right after the snapshot (or at index 1 without one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// None when the disk holds a log or a snapshot but no hard state, which
    /// `Raft::new` refuses (every entry has a term, persisted before it)
    /// unless a mutant run switched the peer's assertions off.
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}
