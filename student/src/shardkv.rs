//! Your sharded key/value server (6.824 lab 5B). Every function compiles and
//! does nothing useful yet.
//!
//! - **5B**: a group's servers serve the shards the controller's configuration
//!   gives their group (`gid`), and answer `ShardKvValue::WrongGroup` for the
//!   others. The leader asks the controller for the next configuration (a
//!   `CallTo::Ctrler` call of a `CtrlOp::Query`), and the group moves to it
//!   through its own log, one configuration at a time, in order. A shard it
//!   gains comes from its old owner (`GroupArgs::Pull`), with the duplicate
//!   table of its writes; until it has come, its keys are refused. Challenges:
//!   the old owner deletes a shard once its new owner has it
//!   (`GroupArgs::Delete`), and shards not moving are served throughout.

use peer::{
    Answer, ApplyMsg, CallReply, GroupArgs, GroupReply, Index, OutCall, Peer, RequestId,
    ShardKvArgs, ShardKvReply, ShardStateMachine,
};

/// One replica of a group, next to one Raft peer.
#[derive(Default)]
pub struct ShardServer {
    /// Answers waiting to be sent.
    answers: Vec<(RequestId, Answer)>,
    // 5B: the configuration, each shard's state and data, the calls in flight, ...
}

impl ShardServer {
    /// An empty server of group `gid`, with a controller of `ctrlers` servers.
    pub fn new(gid: u64, ctrlers: usize, maxraftstate: Option<u64>) -> ShardServer {
        let _ = (gid, ctrlers, maxraftstate);
        ShardServer::default()
    }
}

impl ShardStateMachine for ShardServer {
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: ShardKvArgs) {
        // 5B: serve the key's shard if this group has it, through Raft.
        let _ = (now_ms, args);
        let leader_hint = peer.status().leader;
        let reply = ShardKvReply::WrongLeader { leader_hint };
        self.answers.push((id, Answer::Client(reply)));
    }

    fn group_request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: GroupArgs) {
        // 5B: hand over the shards asked for; challenge 1: delete them.
        let _ = (peer, now_ms, args);
        self.answers
            .push((id, Answer::Group(GroupReply::WrongLeader)));
    }

    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String> {
        let _ = msg;
        Ok(())
    }

    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)> {
        let _ = (raft_state_bytes, snapshot_index);
        None
    }

    fn poll(&mut self, peer: &mut dyn Peer, now_ms: u64) {
        // 5B: as leader, ask for the next configuration; pull shards.
        let _ = (peer, now_ms);
    }

    fn take_answers(&mut self) -> Vec<(RequestId, Answer)> {
        std::mem::take(&mut self.answers)
    }

    fn take_calls(&mut self) -> Vec<OutCall> {
        Vec::new()
    }

    fn call_reply(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        call_no: u64,
        reply: Option<CallReply>,
    ) {
        let _ = (peer, now_ms, call_no, reply);
    }
}
