//! Your key/value server (6.824 lab 4). Every function compiles and does nothing
//! useful yet.
//!
//! - **4A**: `request` hands a client's operation to Raft with `peer.start(...)` (as
//!   `args.encode()`) and remembers who waits for which log index; `apply` executes
//!   committed operations in log order, exactly once per (client_id, seq) even when a
//!   clerk retries, and answers the waiting request. A server that is not leader, or
//!   whose entry was replaced by another, answers `WrongLeader` so the clerk tries
//!   elsewhere; `poll` answers requests that can no longer succeed. Every history the
//!   tests record is checked for linearizability.
//! - **4B**: snapshots. When `raft_state_bytes` reaches `maxraftstate`,
//!   `maybe_snapshot` returns your state (the data and the duplicate table) for Raft
//!   to keep; `ApplyMsg::Snapshot` restores it (after a restart, or from a leader).

use peer::{ApplyMsg, Index, KvArgs, KvReply, Peer, RequestId, StateMachine};

/// One KV replica next to one Raft peer.
pub struct KvServer {
    /// Snapshot when the persisted Raft state reaches this many bytes (4B); `None`:
    /// never.
    maxraftstate: Option<u64>,
    /// Answers waiting to be sent.
    replies: Vec<(RequestId, KvReply)>,
    // 4A: the data, the duplicate table, the requests waiting by log index, ...
}

impl KvServer {
    /// An empty server; a restarted one is rebuilt from the snapshot Raft hands back.
    pub fn new(maxraftstate: Option<u64>) -> KvServer {
        KvServer {
            maxraftstate,
            replies: Vec::new(),
        }
    }
}

impl StateMachine for KvServer {
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: KvArgs) {
        // 4A: start the operation through Raft and answer once it is applied.
        let _ = (now_ms, args);
        let leader_hint = peer.status().leader;
        self.replies
            .push((id, KvReply::WrongLeader { leader_hint }));
    }

    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String> {
        // 4A: execute committed operations (skip empty commands: Raft's own entries);
        // 4B: install snapshots.
        let _ = msg;
        Ok(())
    }

    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)> {
        // 4B: snapshot once `raft_state_bytes` reaches `maxraftstate`.
        let _ = (raft_state_bytes, snapshot_index, self.maxraftstate);
        None
    }

    fn poll(&mut self, peer: &dyn Peer, now_ms: u64) {
        // 4A: answer waiting requests whose leadership or term is gone.
        let _ = (peer, now_ms);
    }

    fn take_replies(&mut self) -> Vec<(RequestId, KvReply)> {
        std::mem::take(&mut self.replies)
    }
}
