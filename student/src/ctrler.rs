//! Your shard controller (6.824 lab 5A). Every function compiles and does nothing
//! useful yet.
//!
//! - **5A**: a replicated service like your KV server, on your Raft, whose state is
//!   the chain of configurations (`peer::ShardConfig`): configuration 0 has no
//!   groups; Join, Leave and Move each add one, Query reads any (`None`: the
//!   latest). After a Join or a Leave, spread the `peer::NSHARDS` shards over the
//!   groups so that the biggest holds at most one more than the smallest, moving
//!   as few shards as possible, and the same way on every replica (no iteration
//!   order left to a hash map). When the last group leaves, leave each shard
//!   with the group that had it (not on gid 0): that group holds the shard's
//!   data, and part 5B's servers take it from there when a group joins. A bad request (an existing gid, an unknown one, a
//!   shard out of range, a configuration not made yet) is answered
//!   `CtrlOutcome::Refused` with its `CtrlError`, and changes nothing; a retried
//!   request gets the answer it got the first time.

use peer::{ApplyMsg, Ctrl, CtrlArgs, CtrlReply, Index, Peer, RequestId, StateMachine};

/// One controller replica next to one Raft peer.
#[derive(Default)]
pub struct CtrlServer {
    /// Answers waiting to be sent.
    replies: Vec<(RequestId, CtrlReply)>,
    // 5A: the configurations, the duplicate table, the requests waiting by log index, ...
}

impl CtrlServer {
    /// An empty controller.
    pub fn new() -> CtrlServer {
        CtrlServer::default()
    }
}

impl StateMachine<Ctrl> for CtrlServer {
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: CtrlArgs) {
        // 5A: start the operation through Raft and answer once it is applied.
        let _ = (now_ms, args);
        let leader_hint = peer.status().leader;
        self.replies
            .push((id, CtrlReply::WrongLeader { leader_hint }));
    }

    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String> {
        // 5A: execute committed operations (skip empty commands: Raft's own entries).
        let _ = msg;
        Ok(())
    }

    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)> {
        // The controller's tests do not ask for snapshots.
        let _ = (raft_state_bytes, snapshot_index);
        None
    }

    fn poll(&mut self, peer: &dyn Peer, now_ms: u64) {
        // 5A: answer waiting requests whose leadership or term is gone.
        let _ = (peer, now_ms);
    }

    fn take_replies(&mut self) -> Vec<(RequestId, CtrlReply)> {
        std::mem::take(&mut self.replies)
    }
}
