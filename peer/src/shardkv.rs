//! The sharded KV service's protocol (6.824 lab 5B): clients send the KV
//! service's operations to the group that serves the key's shard; groups hand
//! shards to each other as configurations change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::service::{Protocol, Reply, Request};
use crate::{ApplyMsg, ClientId, ConfigNum, CtrlArgs, CtrlReply, Index, Op, Peer, RequestId, Seq};

/// The name on the wire of the clerk-to-group RPC.
pub const SHARDKV_COMMAND: &str = "ShardKV.Command";
/// The name on the wire of the group-to-group RPC.
pub const SHARDKV_GROUP: &str = "ShardKV.Group";

/// What a sharded KV operation returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardKvValue {
    /// It took effect; what a Get read (`""` for the others).
    Value(String),
    /// This group does not serve the key's shard (yet, or any more): nothing
    /// happened; ask the controller who does (6.824's `ErrWrongGroup`).
    WrongGroup,
}

impl Default for ShardKvValue {
    fn default() -> ShardKvValue {
        ShardKvValue::Value(String::new())
    }
}

/// The sharded KV service's protocol, as clients speak it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardKv;

impl Protocol for ShardKv {
    const METHOD: &'static str = SHARDKV_COMMAND;
    type Op = Op;
    type Value = ShardKvValue;
    fn is_read(op: &Op) -> bool {
        !op.is_write()
    }
}

/// A sharded KV client request.
pub type ShardKvArgs = Request<Op>;
/// A sharded KV server's answer to a client.
pub type ShardKvReply = Reply<ShardKvValue>;

/// One shard as it moves between groups: its keys and the duplicate table of
/// its writes (so a write retried at the new group is not applied twice).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardData {
    /// The shard's keys and values.
    pub kv: BTreeMap<String, String>,
    /// Per client, the highest sequence number of a write to this shard applied.
    pub sessions: BTreeMap<ClientId, Seq>,
}

/// One group's request to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupArgs {
    /// The shards the asking group gains in configuration `config_num`, from
    /// the group that served them in the one before.
    Pull {
        config_num: ConfigNum,
        shards: Vec<usize>,
    },
    /// The asking group has installed these shards of configuration
    /// `config_num`: their old owner may delete its copy.
    Delete {
        config_num: ConfigNum,
        shards: Vec<usize>,
    },
}

/// A group's answer to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupReply {
    /// The shards asked for.
    Pulled { shards: BTreeMap<usize, ShardData> },
    /// The copies are deleted (or were already).
    Deleted,
    /// This group has not reached that configuration yet: ask again later.
    NotReady,
    /// Not the leader: ask another server of the group.
    WrongLeader,
}

/// Where a server's outgoing call goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallTo {
    /// Server `i` of the shard controller.
    Ctrler(usize),
    /// A server of another group, by its name in the configuration.
    Server(String),
}

/// What a server's outgoing call carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallArgs {
    /// A request to the controller (a Query).
    Ctrl(CtrlArgs),
    /// A request to another group.
    Group(GroupArgs),
}

/// What came back from an outgoing call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallReply {
    /// The controller's answer.
    Ctrl(CtrlReply),
    /// The other group's answer.
    Group(GroupReply),
}

/// A call a server wants made; its reply goes back under `call_no`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutCall {
    /// Names the call for [`ShardStateMachine::call_reply`].
    pub call_no: u64,
    /// Where it goes.
    pub to: CallTo,
    /// What it carries.
    pub args: CallArgs,
}

/// Where a group's replica stands, for the lab's picture and traces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardStatus {
    /// The configuration it has reached.
    pub config_num: ConfigNum,
    /// The shards it serves.
    pub serving: Vec<usize>,
    /// The shards it has gained but not yet received.
    pub pulling: Vec<usize>,
}

/// A server's answer to a request it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// To a client.
    Client(ShardKvReply),
    /// To another group.
    Group(GroupReply),
}

/// A sharded KV server next to one peer of group `gid` (6.824 lab 5B): the
/// shards it serves, the configurations it moves through one at a time, and
/// the calls it makes (to the controller, to other groups).
///
/// ```text
/// on a client request:  server.request(peer, now_ms, id, args)
/// on a group request:   server.group_request(peer, now_ms, id, args)
/// on apply:             server.apply(apply_msg)        then maybe_snapshot as for KV
/// after inputs:         server.poll(peer, now_ms)
/// then send every (id, answer) of take_answers(), make every call of take_calls(),
/// and hand each call's reply (None if it failed) to call_reply(call_no, reply)
/// ```
pub trait ShardStateMachine {
    /// A client request; its answer comes out of `take_answers` under `id`.
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: ShardKvArgs);

    /// Another group's request; its answer comes out of `take_answers` under `id`.
    fn group_request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: GroupArgs);

    /// One committed entry or installed snapshot, in the order the peer gives them.
    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String>;

    /// The snapshot to take now, as [`crate::StateMachine::maybe_snapshot`].
    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)>;

    /// After inputs: answers requests that can no longer succeed; a leader
    /// asks for the next configuration, pulls the shards it gains and lets
    /// their old owners delete them.
    fn poll(&mut self, peer: &mut dyn Peer, now_ms: u64);

    /// Answers ready to send, each to the request it names.
    fn take_answers(&mut self) -> Vec<(RequestId, Answer)>;

    /// Calls to make.
    fn take_calls(&mut self) -> Vec<OutCall>;

    /// The reply to call `call_no`, or None if it failed.
    fn call_reply(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        call_no: u64,
        reply: Option<CallReply>,
    );

    /// Where this replica stands (drawn in the lab's picture); None: not said.
    fn status(&self) -> Option<ShardStatus> {
        None
    }
}
