//! The shard controller's protocol (6.824 lab 5A): which replica group serves
//! which of [`NSHARDS`] shards, as a numbered chain of configurations that
//! Join, Leave and Move extend and Query reads.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::service::{Protocol, Reply, Request};

/// The name on the wire of the one clerk-to-controller RPC.
pub const CTRL_COMMAND: &str = "ShardCtrler.Command";

/// Shards the keys are split into (6.824's `NShards`).
pub const NSHARDS: usize = 10;

/// A replica group's id. 0 is no group: the owner of every shard while there
/// is no group at all.
pub type Gid = u64;

/// A configuration's number: 0 is the first (no groups), and each change adds one.
pub type ConfigNum = u64;

/// The shard that holds `key`: its first byte modulo [`NSHARDS`] (0 for `""`),
/// as 6.824's `key2shard`.
pub fn key2shard(key: &str) -> usize {
    key.as_bytes()
        .first()
        .map_or(0, |&b| usize::from(b) % NSHARDS)
}

/// One configuration (6.824's `Config`): who serves each shard, and the
/// servers of each group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardConfig {
    /// Its number in the chain.
    pub num: ConfigNum,
    /// The group of each shard: 0 before any group has joined; when the last
    /// group leaves, each shard stays with the group that had it (which
    /// holds its data until another group takes it).
    pub shards: [Gid; NSHARDS],
    /// Each group's servers, by name.
    pub groups: BTreeMap<Gid, Vec<String>>,
}

impl ShardConfig {
    /// Configuration 0: no groups, every shard on group 0.
    pub fn initial() -> ShardConfig {
        ShardConfig {
            num: 0,
            shards: [0; NSHARDS],
            groups: BTreeMap::new(),
        }
    }

    /// The shards `gid` serves, in order.
    pub fn shards_of(&self, gid: Gid) -> Vec<usize> {
        (0..NSHARDS).filter(|&s| self.shards[s] == gid).collect()
    }
}

/// One operation on the controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlOp {
    /// New groups, with their servers; the shards are rebalanced.
    Join { servers: BTreeMap<Gid, Vec<String>> },
    /// Groups that go away; their shards go to the others.
    Leave { gids: Vec<Gid> },
    /// One shard to one group, whatever the balance.
    Move { shard: usize, gid: Gid },
    /// A configuration by number; `None` for the latest (6.824's `Query(-1)`).
    Query { num: Option<ConfigNum> },
}

/// Why the controller refused an operation. A refused operation changes nothing:
/// no new configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlError {
    /// A Join of no group, or a Leave of none.
    NoGroupNamed,
    /// Gid 0 means "no group"; no group may have it.
    ReservedGid,
    /// A Join of a group that is in the configuration already.
    GroupExists(Gid),
    /// A Join of a group without servers.
    NoServers(Gid),
    /// A Leave or Move naming a group that is not in the configuration, or a
    /// Leave naming one twice.
    UnknownGroup(Gid),
    /// A Move of a shard that does not exist.
    ShardOutOfRange(usize),
    /// A Query of a configuration not made yet.
    NoSuchConfig { asked: ConfigNum, latest: ConfigNum },
}

impl fmt::Display for CtrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtrlError::NoGroupNamed => write!(f, "the operation names no group"),
            CtrlError::ReservedGid => write!(f, "gid 0 is reserved for \"no group\""),
            CtrlError::GroupExists(gid) => write!(f, "group {gid} has joined already"),
            CtrlError::NoServers(gid) => write!(f, "group {gid} has no servers"),
            CtrlError::UnknownGroup(gid) => write!(
                f,
                "group {gid} is not in the latest configuration (or is named twice)"
            ),
            CtrlError::ShardOutOfRange(s) => {
                write!(f, "shard {s} does not exist (shards are 0..{NSHARDS})")
            }
            CtrlError::NoSuchConfig { asked, latest } => write!(
                f,
                "configuration {asked} does not exist yet (the latest is {latest})"
            ),
        }
    }
}

impl std::error::Error for CtrlError {}

/// What a controller operation returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlOutcome {
    /// A Join, Leave or Move took effect (it made a new configuration).
    #[default]
    Done,
    /// What a Query read.
    Config(ShardConfig),
    /// The operation was refused; nothing changed.
    Refused(CtrlError),
}

/// The shard controller's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctrl;

impl Protocol for Ctrl {
    const METHOD: &'static str = CTRL_COMMAND;
    type Op = CtrlOp;
    type Value = CtrlOutcome;
    fn is_read(op: &CtrlOp) -> bool {
        matches!(op, CtrlOp::Query { .. })
    }
}

/// A controller request, and the command its servers put in the Raft log.
pub type CtrlArgs = Request<CtrlOp>;

/// A controller server's answer.
pub type CtrlReply = Reply<CtrlOutcome>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_in_the_shard_of_its_first_byte() {
        assert_eq!(key2shard(""), 0);
        assert_eq!(key2shard("a"), usize::from(b'a') % NSHARDS);
        assert_eq!(key2shard("0xyz"), 8, "'0' is 48");
        assert_eq!(key2shard("é"), 0xc3 % NSHARDS, "bytes, not characters");
    }
}
