//! The server of a replicated service: a [`Machine`] applied from the Raft log,
//! the duplicate table, the requests waiting for their operations to commit, and
//! snapshots of it all. Written once for every protocol (the KV service, the shard
//! controller).

use std::collections::BTreeMap;

use peer::{
    ApplyMsg, ClientId, Index, Peer, Protocol, ReadState, Reply, Request, Seq, StateMachine, Term,
};
use serde::de::DeserializeOwned;

use crate::pending::{Pending, Waiter, next_to_apply};
use serde::{Deserialize, Serialize};

pub use peer::RequestId;

/// The operations of a machine's protocol.
pub type OpOf<M> = <<M as Machine>::P as Protocol>::Op;
/// The values of a machine's protocol.
pub type ValueOf<M> = <<M as Machine>::P as Protocol>::Value;

/// The application a [`Server`] replicates: its state, and what an operation
/// does to it. Deterministic: replicas that execute the same operations in the
/// same order hold the same state and return the same values.
pub trait Machine: Default + Serialize + DeserializeOwned {
    /// The protocol its clients speak.
    type P: Protocol;
    /// Executes one operation (a read changes nothing) and returns its value.
    /// Writes run once each (duplicates are filtered before); reads may run again.
    fn execute(&mut self, op: &OpOf<Self>) -> ValueOf<Self>;
}

/// How reads (a KV Get, a controller Query) are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// Through the Raft log, like writes: linearizable (the default).
    #[default]
    Log,
    /// ReadIndex (Raft thesis 6.4): the leader confirms it still leads with a
    /// round of heartbeats, then the read is served from the state applied
    /// through the commit index it had: linearizable, and nothing in the log.
    /// A peer without ReadIndex refuses every read ([`Reply::Refused`],
    /// nothing applied): a read mode is not silently swapped for another.
    ReadIndex,
    /// From the local state, at once, by any server that believes it is leader,
    /// without confirming that it still is. NOT linearizable: a deposed leader
    /// serves stale data. For tests that show the checker catches it.
    #[cfg(feature = "injected-bugs")]
    StaleLocal,
}

/// How a server behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Snapshot when the persisted Raft state reaches this many bytes; `None`: never
    /// (6.824's `maxraftstate == -1`).
    pub maxraftstate: Option<u64>,
    /// A request whose operation has not been applied this long after it arrived
    /// is answered [`Reply::Timeout`].
    pub request_timeout_ms: u64,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// A deliberate bug, for testing the testers (the mutant catalogue).
    #[cfg(feature = "injected-bugs")]
    pub injected_bug: Option<InjectedBug>,
}

/// Deliberate bugs of a KV server (the mutant catalogue's KV half).
#[cfg(feature = "injected-bugs")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedBug {
    /// Snapshots leave the duplicate table out: after a restart or an
    /// InstallSnapshot, a retried write is applied twice.
    DedupTableNotInSnapshot,
    /// A write is a duplicate only if it is the client's last one: an old
    /// request replayed late is applied again.
    DedupOnlyLastRequest,
    /// No duplicate detection at all.
    NoDedup,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            maxraftstate: None,
            request_timeout_ms: 1000,
            read_mode: ReadMode::Log,
            #[cfg(feature = "injected-bugs")]
            injected_bug: None,
        }
    }
}

/// A read waiting for its ReadIndex: confirmed (`index` set), then served once
/// the state is applied through `index`.
#[derive(Clone, Debug)]
struct Read<O> {
    id: RequestId,
    op: O,
    term: Term,
    deadline_ms: u64,
    index: Option<Index>,
}

/// A client's last write: its number and what it returned, so that a retry of
/// it gets the same answer (a controller's refusal, say) without running again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session<V> {
    seq: Seq,
    value: V,
}

/// What a snapshot holds, as written (borrowed, so taking one copies nothing).
#[derive(Serialize)]
struct SnapshotRef<'a, M, V> {
    last_applied: Index,
    machine: &'a M,
    sessions: &'a BTreeMap<ClientId, Session<V>>,
}

/// What a snapshot holds: the machine and the duplicate table, through `last_applied`.
#[derive(Deserialize)]
#[serde(bound = "M: Machine")]
struct SnapshotState<M: Machine> {
    last_applied: Index,
    machine: M,
    sessions: BTreeMap<ClientId, Session<ValueOf<M>>>,
}

/// One replica of a service's state machine `M`, next to one Raft peer. See the
/// crate documentation for how to drive it.
#[derive(Debug)]
pub struct Server<M: Machine> {
    config: ServerConfig,
    machine: M,
    /// Per client, its last write applied. A write at or below that number is a
    /// duplicate and is not applied again. Reads are not recorded: re-executing
    /// a retried read is linearizable (its caller is still waiting).
    sessions: BTreeMap<ClientId, Session<ValueOf<M>>>,
    last_applied: Index,
    /// Requests waiting for their entries, by log index.
    waiting: Pending,
    /// ReadIndex reads, by the ctx their read was asked with.
    reads: BTreeMap<u64, Read<OpOf<M>>>,
    next_read_ctx: u64,
    replies: Vec<(RequestId, Reply<ValueOf<M>>)>,
    snapshots_taken: u64,
}

impl<M: Machine> Server<M> {
    /// An empty server; a restarted one is rebuilt from the snapshot its Raft peer
    /// hands back through [`Server::apply`].
    pub fn new(config: ServerConfig) -> Server<M> {
        Server {
            config,
            machine: M::default(),
            sessions: BTreeMap::new(),
            last_applied: 0,
            waiting: Pending::default(),
            reads: BTreeMap::new(),
            next_read_ctx: 0,
            replies: Vec::new(),
            snapshots_taken: 0,
        }
    }

    /// A client request arrived; its answer comes out of [`Server::take_replies`]
    /// under `id`, now or once its operation is applied (the driver then processes
    /// `raft`'s Ready, since the operation may have been started).
    pub fn request(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        id: RequestId,
        args: Request<OpOf<M>>,
    ) {
        let status = peer.status();
        let (term, is_leader) = status.get_state();
        if !is_leader {
            let leader_hint = status.leader;
            self.replies.push((id, Reply::WrongLeader { leader_hint }));
            return;
        }
        let is_read = M::P::is_read(&args.op);
        if !is_read && self.is_duplicate(args.client_id, args.seq) {
            // Applied already: its answer again is the truth.
            let value = self.duplicate_value(args.client_id, args.seq);
            self.replies.push((id, Reply::Ok { value }));
            return;
        }
        if is_read && self.read_without_log(peer, now_ms, id, term, &args.op) {
            return;
        }
        let (index, entry_term, started) = peer.start(now_ms, args.encode());
        if !started {
            let leader_hint = peer.status().leader;
            self.replies.push((id, Reply::WrongLeader { leader_hint }));
            return;
        }
        debug_assert_eq!(entry_term, term);
        let waiter = Waiter {
            id,
            term: entry_term,
            client_id: args.client_id,
            seq: args.seq,
            deadline_ms: now_ms + self.config.request_timeout_ms,
        };
        self.waiting.wait(index, waiter, &mut self.replies);
    }

    /// Serves a read by the read mode, if it is not through the log: true if it
    /// was answered or waits for its ReadIndex, false to put it in the log.
    fn read_without_log(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        id: RequestId,
        term: Term,
        op: &OpOf<M>,
    ) -> bool {
        match self.config.read_mode {
            ReadMode::Log => false,
            #[cfg(feature = "injected-bugs")]
            ReadMode::StaleLocal => {
                let value = self.machine.execute(op);
                self.replies.push((id, Reply::Ok { value }));
                true
            }
            ReadMode::ReadIndex => {
                let ctx = self.next_read_ctx;
                let asked = peer.read_index(now_ms, ctx);
                if let Err(e) = &asked
                    && e.is_unsupported()
                {
                    let why = format!("read in ReadIndex mode: {e}; serve reads through the log");
                    self.replies.push((id, Reply::Refused { why }));
                    return true;
                }
                if asked.is_err() {
                    return false;
                }
                self.next_read_ctx += 1;
                let read = Read {
                    id,
                    op: op.clone(),
                    term,
                    deadline_ms: now_ms + self.config.request_timeout_ms,
                    index: None,
                };
                self.reads.insert(ctx, read);
                true
            }
        }
    }

    /// The peer confirmed these reads: each is served once the state is
    /// applied through its index (at once if it is already).
    pub fn read_states(&mut self, states: &[ReadState]) {
        for s in states {
            if let Some(read) = self.reads.get_mut(&s.ctx) {
                read.index = Some(s.index);
            }
        }
        self.serve_reads();
    }

    /// Answers the confirmed reads the applied state covers.
    fn serve_reads(&mut self) {
        let (machine, applied) = (&mut self.machine, self.last_applied);
        let replies = &mut self.replies;
        self.reads.retain(|_, r| match r.index {
            Some(index) if index <= applied => {
                let value = machine.execute(&r.op);
                replies.push((r.id, Reply::Ok { value }));
                false
            }
            _ => true,
        });
    }

    fn is_duplicate(&self, client_id: ClientId, seq: Seq) -> bool {
        let last = self.sessions.get(&client_id).map(|s| s.seq);
        if last.is_some_and(|s| seq < s) {
            peer::coverage::mark(peer::coverage::STALE_DUPLICATE_WRITE);
        }
        #[cfg(feature = "injected-bugs")]
        match self.config.injected_bug {
            Some(InjectedBug::NoDedup) => return false,
            Some(InjectedBug::DedupOnlyLastRequest) => return last == Some(seq),
            _ => {}
        }
        last.is_some_and(|s| seq <= s)
    }

    /// What a duplicate write returns: its first answer if it is the client's
    /// last write, else nothing (the client has moved on; nobody waits for it).
    fn duplicate_value(&self, client_id: ClientId, seq: Seq) -> ValueOf<M> {
        match self.sessions.get(&client_id) {
            Some(s) if s.seq == seq => s.value.clone(),
            _ => ValueOf::<M>::default(),
        }
    }

    /// Applies one committed entry or installed snapshot, in the order Raft gives
    /// them. An error means the log or snapshot holds something this server did not
    /// write (a bug or a corrupt disk).
    pub fn apply(&mut self, msg: ApplyMsg) -> Result<(), String> {
        match msg {
            ApplyMsg::Command {
                index,
                term,
                command,
            } => self.apply_command(index, term, &command),
            ApplyMsg::Snapshot { index, data, .. } => self.install_snapshot(index, &data),
        }
    }

    fn apply_command(&mut self, index: Index, term: Term, command: &[u8]) -> Result<(), String> {
        if !next_to_apply(self.last_applied, index)? {
            return Ok(());
        }
        self.last_applied = index;
        if command.is_empty() {
            // The peer's own entry (a new leader's no-op): nothing to execute, and
            // whatever waited for this index lost its entry.
            self.answer_waiting(index, |_| None);
            self.serve_reads();
            return Ok(());
        }
        let args = Request::<OpOf<M>>::decode(command)
            .ok_or_else(|| format!("entry {index} is not a command of {}", M::P::METHOD))?;
        let value = self.execute(&args);
        self.answer_waiting(index, |w| {
            let mine = w.term == term && w.client_id == args.client_id && w.seq == args.seq;
            mine.then(|| value.clone())
        });
        self.serve_reads();
        Ok(())
    }

    /// Answers the requests waiting at or below `index` (see [`Pending::applied`]).
    fn answer_waiting(&mut self, index: Index, result: impl Fn(&Waiter) -> Option<ValueOf<M>>) {
        self.waiting.applied(index, result, &mut self.replies);
    }

    fn install_snapshot(&mut self, index: Index, data: &[u8]) -> Result<(), String> {
        if index <= self.last_applied {
            return Ok(());
        }
        let state: SnapshotState<M> =
            bincode::serde::decode_from_slice(data, bincode::config::standard())
                .map_err(|e| format!("undecodable snapshot at index {index}: {e}"))?
                .0;
        if state.last_applied != index {
            return Err(format!(
                "snapshot for index {index} says it is for {}",
                state.last_applied
            ));
        }
        self.machine = state.machine;
        self.sessions = state.sessions;
        self.last_applied = index;
        self.answer_waiting(index, |_| None);
        self.serve_reads();
        Ok(())
    }

    /// Executes one operation unless it is a duplicate write; returns its value.
    fn execute(&mut self, args: &Request<OpOf<M>>) -> ValueOf<M> {
        if M::P::is_read(&args.op) {
            return self.machine.execute(&args.op);
        }
        if self.is_duplicate(args.client_id, args.seq) {
            peer::coverage::mark(peer::coverage::DUPLICATE_WRITE);
            return self.duplicate_value(args.client_id, args.seq);
        }
        let value = self.machine.execute(&args.op);
        let session = Session {
            seq: args.seq,
            value: value.clone(),
        };
        self.sessions.insert(args.client_id, session);
        value
    }

    /// The snapshot to take now, if the persisted Raft state (`raft_state_bytes`,
    /// 6.824's `RaftStateSize`) has reached `maxraftstate` and this server has
    /// applied past the peer's snapshot (`snapshot_index`): the index it covers and
    /// its bytes, for [`peer::Peer::snapshot`]. Call after applying.
    pub fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)> {
        let max = self.config.maxraftstate?;
        if raft_state_bytes < max || self.last_applied <= snapshot_index {
            return None;
        }
        self.snapshots_taken += 1;
        Some((self.last_applied, self.snapshot_bytes()))
    }

    fn snapshot_bytes(&self) -> Vec<u8> {
        let empty = BTreeMap::new();
        let state = SnapshotRef {
            last_applied: self.last_applied,
            machine: &self.machine,
            sessions: match self.dedup_table_left_out() {
                true => &empty,
                false => &self.sessions,
            },
        };
        bincode::serde::encode_to_vec(&state, bincode::config::standard())
            .expect("bincode cannot fail on in-memory values")
    }

    /// True for the mutant whose snapshots leave the duplicate table out.
    fn dedup_table_left_out(&self) -> bool {
        #[cfg(feature = "injected-bugs")]
        return self.config.injected_bug == Some(InjectedBug::DedupTableNotInSnapshot);
        #[cfg(not(feature = "injected-bugs"))]
        false
    }

    /// Answers the requests that can no longer be answered by their entries: all of
    /// them when this server is no longer leader or its term moved on, and those
    /// past their timeout. Call after every input (a leader's heartbeat timer makes
    /// that at least every heartbeat interval).
    pub fn poll(&mut self, peer: &dyn Peer, now_ms: u64) {
        if self.waiting.is_empty() && self.reads.is_empty() {
            return;
        }
        let status = peer.status();
        let (term, is_leader) = status.get_state();
        let leader_hint = status.leader;
        let replies = &mut self.replies;
        // The answer to a request that lost its leader or ran out of time.
        let give_up = |lost: bool, deadline_ms: u64| match lost {
            true => Some(Reply::WrongLeader { leader_hint }),
            false => (now_ms >= deadline_ms).then_some(Reply::Timeout),
        };
        // A confirmed read stands even if leadership moved on since: it was
        // linearized when confirmed. An unconfirmed one never will be.
        self.reads.retain(|_, r| {
            let lost = r.index.is_none() && (!is_leader || r.term != term);
            let reply = give_up(lost, r.deadline_ms);
            reply.map(|reply| replies.push((r.id, reply))).is_none()
        });
        self.waiting
            .give_up((term, is_leader), leader_hint, now_ms, replies);
    }

    /// The answers ready to send, each to the request it names.
    pub fn take_replies(&mut self) -> Vec<(RequestId, Reply<ValueOf<M>>)> {
        std::mem::take(&mut self.replies)
    }

    /// The replicated state, for tests.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The last log index applied.
    pub fn last_applied(&self) -> Index {
        self.last_applied
    }

    /// Snapshots taken by this server since it started.
    pub fn snapshots_taken(&self) -> u64 {
        self.snapshots_taken
    }

    /// Requests waiting for their entries or their reads.
    pub fn waiting(&self) -> usize {
        self.waiting.len() + self.reads.len()
    }
}

impl<M: Machine> StateMachine<M::P> for Server<M> {
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: Request<OpOf<M>>) {
        Server::request(self, peer, now_ms, id, args)
    }
    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String> {
        Server::apply(self, msg)
    }
    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)> {
        Server::maybe_snapshot(self, raft_state_bytes, snapshot_index)
    }
    fn poll(&mut self, peer: &dyn Peer, now_ms: u64) {
        Server::poll(self, peer, now_ms)
    }
    fn take_replies(&mut self) -> Vec<(RequestId, Reply<ValueOf<M>>)> {
        Server::take_replies(self)
    }
    fn read_states(&mut self, states: &[ReadState]) {
        Server::read_states(self, states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KvServer;
    use peer::{KvArgs, KvReply, Op};
    use peer::{MemDisk, PeerConfig};
    use raft::ReferencePeer;

    fn peer(id: usize, peers: usize) -> ReferencePeer {
        ReferencePeer::new(
            ReferencePeer::config(&PeerConfig::new(id, peers, 7)),
            &MemDisk::default(),
            0,
        )
        .unwrap()
    }

    fn leader() -> ReferencePeer {
        let mut raft = peer(0, 1);
        raft.tick(10_000);
        assert!(
            raft.status().get_state().1,
            "a one-peer cluster elects itself"
        );
        raft.ready(&mut MemDisk::default());
        raft
    }

    fn args(client_id: u64, seq: u64, op: Op) -> KvArgs {
        KvArgs { client_id, seq, op }
    }

    fn commit_all(raft: &mut ReferencePeer, kv: &mut KvServer) {
        while raft.has_ready() {
            let ready = raft.ready(&mut MemDisk::default());
            for a in ready.applies {
                kv.apply(a).unwrap();
            }
            kv.read_states(&ready.read_states);
        }
    }

    #[test]
    fn a_read_index_get_reads_the_applied_state_and_writes_nothing_to_the_log() {
        let mut raft = leader();
        let config = ServerConfig {
            read_mode: ReadMode::ReadIndex,
            ..ServerConfig::default()
        };
        let mut kv = KvServer::new(config);
        let put = Op::Put {
            key: "x".into(),
            value: "1".into(),
        };
        kv.request(&mut raft, 0, 1, args(9, 1, put));
        commit_all(&mut raft, &mut kv);
        let last = raft.status().last_index;
        kv.request(&mut raft, 0, 2, args(9, 2, Op::Get { key: "x".into() }));
        assert_eq!(kv.waiting(), 1, "waits for its read to be confirmed");
        commit_all(&mut raft, &mut kv);
        let value = "1".to_string();
        assert_eq!(kv.take_replies().pop(), Some((2, KvReply::Ok { value })));
        assert_eq!(raft.status().last_index, last, "a read is not in the log");
    }

    #[test]
    fn duplicates_apply_once_and_survive_a_snapshot() {
        let mut raft = leader();
        let mut kv = KvServer::new(ServerConfig::default());
        let append = |v: &str| Op::Append {
            key: "k".into(),
            value: v.into(),
        };
        kv.request(&mut raft, 0, 1, args(9, 1, append("a")));
        kv.request(&mut raft, 0, 2, args(9, 1, append("a")));
        commit_all(&mut raft, &mut kv);
        assert_eq!(kv.value("k"), Some("a"));
        let replies = kv.take_replies();
        assert_eq!(replies.len(), 2);
        assert!(replies.iter().all(|(_, r)| matches!(r, KvReply::Ok { .. })));

        let data = kv.snapshot_bytes();
        let mut restored = KvServer::new(ServerConfig::default());
        restored
            .apply(ApplyMsg::Snapshot {
                index: kv.last_applied(),
                term: 1,
                data,
            })
            .unwrap();
        let again = args(9, 1, append("a")).encode();
        restored
            .apply(ApplyMsg::Command {
                index: kv.last_applied() + 1,
                term: 1,
                command: again,
            })
            .unwrap();
        assert_eq!(restored.value("k"), Some("a"));
    }

    #[test]
    fn a_write_older_than_its_clients_last_is_marked_and_not_applied_again() {
        use peer::coverage::{STALE_DUPLICATE_WRITE as STALE, take};
        let mut raft = leader();
        let mut kv = KvServer::new(ServerConfig::default());
        let put = |v: &str| Op::Put {
            key: "k".into(),
            value: v.into(),
        };
        kv.request(&mut raft, 0, 1, args(9, 1, put("a")));
        commit_all(&mut raft, &mut kv);
        kv.request(&mut raft, 0, 2, args(9, 1, put("a")));
        assert_eq!(take(STALE), 0, "a retry of the last write is not older");
        kv.request(&mut raft, 0, 3, args(9, 2, put("b")));
        commit_all(&mut raft, &mut kv);
        kv.request(&mut raft, 0, 4, args(9, 1, put("a")));
        assert_eq!(take(STALE), 1, "a late request, met at submission");
        // The same late request already in the log, met when applied.
        let late = args(9, 1, put("a")).encode();
        let index = kv.last_applied() + 1;
        kv.apply(ApplyMsg::Command {
            index,
            term: 1,
            command: late,
        })
        .unwrap();
        assert_eq!(take(STALE), 1, "a late request, met when applied");
        assert_eq!(kv.value("k"), Some("b"), "neither applied again");
    }

    #[test]
    fn a_follower_answers_wrong_leader_at_once() {
        let mut raft = peer(1, 3);
        let mut kv = KvServer::new(ServerConfig::default());
        kv.request(&mut raft, 0, 5, args(1, 1, Op::Get { key: "x".into() }));
        assert_eq!(
            kv.take_replies(),
            vec![(5, KvReply::WrongLeader { leader_hint: None })]
        );
    }

    #[test]
    fn a_waiting_request_times_out() {
        let mut raft = peer(0, 3);
        raft.tick(10_000); // a candidate, not a leader
        let mut kv = KvServer::new(ServerConfig::default());
        kv.waiting.wait(
            1,
            Waiter {
                id: 3,
                term: raft.status().term,
                client_id: 1,
                seq: 1,
                deadline_ms: 5,
            },
            &mut kv.replies,
        );
        kv.poll(&raft, 1);
        assert_eq!(kv.take_replies().len(), 1, "not leader: answered at once");
    }
}
