//! The sans-IO server: client and group requests, the log, the calls a leader
//! makes to move through configurations, and snapshots.

use std::collections::BTreeMap;

use kvraft::{Pending, Waiter, next_to_apply};
use peer::{
    Answer, ApplyMsg, CallArgs, CallReply, CallTo, ConfigNum, CtrlArgs, CtrlOp, CtrlOutcome, Gid,
    GroupArgs, GroupReply, Index, Peer, Reply, RequestId, ShardKvArgs, ShardKvValue,
    ShardStateMachine, key2shard,
};
use serde::{Deserialize, Serialize};

use crate::machine::{Entry, Machine, ShardState};

/// How a server behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardServerConfig {
    /// Its group.
    pub gid: Gid,
    /// Servers of the shard controller.
    pub ctrlers: usize,
    /// Snapshot when the persisted Raft state reaches this many bytes; `None`: never.
    pub maxraftstate: Option<u64>,
    /// A client request whose operation has not applied this long after it
    /// arrived is answered `Timeout`.
    pub request_timeout_ms: u64,
    /// How often a leader asks the controller for the next configuration.
    pub poll_interval_ms: u64,
}

impl ShardServerConfig {
    /// Defaults for a server of group `gid` with `ctrlers` controller servers.
    pub fn new(gid: Gid, ctrlers: usize) -> ShardServerConfig {
        ShardServerConfig {
            gid,
            ctrlers,
            maxraftstate: None,
            request_timeout_ms: 1000,
            poll_interval_ms: 100,
        }
    }
}

/// Group requests wait as clients do, named by this caller id and their
/// configuration number.
const GROUP_CALLER: u64 = u64::MAX;

/// What an outgoing call was for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Purpose {
    /// The next configuration.
    Query,
    /// Shards of `config_num` from group `gid`.
    Pull { gid: Gid, config_num: ConfigNum },
    /// Group `gid` may drop its copies of these shards of `config_num`.
    Delete {
        gid: Gid,
        config_num: ConfigNum,
        shards: Vec<usize>,
    },
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    last_applied: Index,
    machine: Machine,
}

/// One replica of a group, next to its Raft peer. See
/// [`peer::ShardStateMachine`] for how to drive it.
pub struct ShardServer {
    config: ShardServerConfig,
    machine: Machine,
    last_applied: Index,
    clients: Pending,
    groups: Pending,
    client_replies: Vec<(RequestId, Reply<ShardKvValue>)>,
    group_replies: Vec<(RequestId, Reply<GroupReply>)>,
    answers: Vec<(RequestId, Answer)>,
    calls: Vec<peer::OutCall>,
    next_call_no: u64,
    /// Calls in flight, and what each is for.
    in_flight: BTreeMap<u64, Purpose>,
    /// Which server of the controller, and of each group, to ask next.
    turn: BTreeMap<Gid, usize>,
    /// No call of a purpose before this time (after a failure or a "not yet").
    next_try_ms: BTreeMap<Gid, u64>,
    query_seq: u64,
    /// The last term this server, as leader, appended an empty entry in.
    noop_term: u64,
}

/// The controller's key in `turn` and `next_try_ms` (no group has gid 0).
const CTRLER: Gid = 0;

impl ShardServer {
    /// An empty server of group `config.gid`.
    pub fn new(config: ShardServerConfig) -> ShardServer {
        ShardServer {
            machine: Machine::new(config.gid),
            config,
            last_applied: 0,
            clients: Pending::default(),
            groups: Pending::default(),
            client_replies: Vec::new(),
            group_replies: Vec::new(),
            answers: Vec::new(),
            calls: Vec::new(),
            next_call_no: 0,
            in_flight: BTreeMap::new(),
            turn: BTreeMap::new(),
            next_try_ms: BTreeMap::new(),
            query_seq: 0,
            noop_term: 0,
        }
    }

    /// The configuration this replica has reached.
    pub fn config_num(&self) -> ConfigNum {
        self.machine.config.num
    }

    /// The shards this replica serves now.
    pub fn serving(&self) -> Vec<usize> {
        (0..peer::NSHARDS)
            .filter(|&s| self.machine.serves(s))
            .collect()
    }

    fn start(&self, peer: &mut dyn Peer, now_ms: u64, entry: &Entry) -> Option<(Index, u64)> {
        let (index, term, started) = peer.start(now_ms, entry.encode());
        started.then_some((index, term))
    }

    fn client_request(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        id: RequestId,
        args: ShardKvArgs,
    ) {
        let status = peer.status();
        if !status.get_state().1 {
            let reply = Reply::WrongLeader {
                leader_hint: status.leader,
            };
            return self.client_replies.push((id, reply));
        }
        if !self.machine.serves(key2shard(args.op.key())) {
            let value = ShardKvValue::WrongGroup;
            return self.client_replies.push((id, Reply::Ok { value }));
        }
        if self.machine.is_duplicate(&args) {
            let value = ShardKvValue::default();
            return self.client_replies.push((id, Reply::Ok { value }));
        }
        let (client_id, seq) = (args.client_id, args.seq);
        let Some((index, term)) = self.start(peer, now_ms, &Entry::Client(args)) else {
            let reply = Reply::WrongLeader { leader_hint: None };
            return self.client_replies.push((id, reply));
        };
        let deadline_ms = now_ms + self.config.request_timeout_ms;
        let waiter = Waiter {
            id,
            term,
            client_id,
            seq,
            deadline_ms,
        };
        self.clients.wait(index, waiter, &mut self.client_replies);
    }

    fn pull_request(
        &mut self,
        peer: &dyn Peer,
        config_num: ConfigNum,
        shards: &[usize],
    ) -> GroupReply {
        if !peer.status().get_state().1 {
            return GroupReply::WrongLeader;
        }
        if self.machine.config.num != config_num {
            return GroupReply::NotReady;
        }
        let offered = shards
            .iter()
            .filter(|&&s| self.machine.states[s] == ShardState::Offering)
            .map(|&s| (s, self.machine.data[s].clone()))
            .collect();
        GroupReply::Pulled { shards: offered }
    }

    fn delete_request(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        id: RequestId,
        config_num: ConfigNum,
        shards: Vec<usize>,
    ) {
        let answer = match () {
            _ if !peer.status().get_state().1 => Some(GroupReply::WrongLeader),
            _ if config_num > self.machine.config.num => Some(GroupReply::NotReady),
            _ if config_num < self.machine.config.num => Some(GroupReply::Deleted),
            _ if shards
                .iter()
                .all(|&s| self.machine.states[s] != ShardState::Offering) =>
            {
                Some(GroupReply::Deleted)
            }
            _ => None,
        };
        if let Some(answer) = answer {
            return self.answers.push((id, Answer::Group(answer)));
        }
        let entry = Entry::Delete { config_num, shards };
        let Some((index, term)) = self.start(peer, now_ms, &entry) else {
            return self
                .answers
                .push((id, Answer::Group(GroupReply::WrongLeader)));
        };
        let deadline_ms = now_ms + self.config.request_timeout_ms;
        let waiter = Waiter {
            id,
            term,
            client_id: GROUP_CALLER,
            seq: config_num,
            deadline_ms,
        };
        self.groups.wait(index, waiter, &mut self.group_replies);
    }

    fn apply_command(&mut self, index: Index, term: u64, command: &[u8]) -> Result<(), String> {
        if !next_to_apply(self.last_applied, index)? {
            return Ok(());
        }
        self.last_applied = index;
        if command.is_empty() {
            self.clients
                .applied(index, |_| None, &mut self.client_replies);
            self.groups
                .applied(index, |_| None, &mut self.group_replies);
            return Ok(());
        }
        let entry = Entry::decode(command)
            .ok_or_else(|| format!("entry {index} is not a sharded KV entry"))?;
        let mine = match &entry {
            Entry::Client(args) => Some((args.client_id, args.seq)),
            Entry::Delete { config_num, .. } => Some((GROUP_CALLER, *config_num)),
            _ => None,
        };
        let value = self.machine.apply(entry);
        let is_mine = |w: &Waiter| w.term == term && Some((w.client_id, w.seq)) == mine;
        let client = |w: &Waiter| value.clone().filter(|_| is_mine(w));
        self.clients
            .applied(index, client, &mut self.client_replies);
        let group = |w: &Waiter| is_mine(w).then_some(GroupReply::Deleted);
        self.groups.applied(index, group, &mut self.group_replies);
        Ok(())
    }

    fn install_snapshot(&mut self, index: Index, data: &[u8]) -> Result<(), String> {
        if index <= self.last_applied {
            return Ok(());
        }
        let snapshot: Snapshot =
            bincode::serde::decode_from_slice(data, bincode::config::standard())
                .map_err(|e| format!("undecodable snapshot at index {index}: {e}"))?
                .0;
        if snapshot.last_applied != index || snapshot.machine.gid != self.config.gid {
            return Err(format!(
                "snapshot for index {index} of group {} says index {} of group {}",
                self.config.gid, snapshot.last_applied, snapshot.machine.gid
            ));
        }
        self.machine = snapshot.machine;
        self.last_applied = index;
        self.clients
            .applied(index, |_| None, &mut self.client_replies);
        self.groups
            .applied(index, |_| None, &mut self.group_replies);
        Ok(())
    }

    /// A new leader whose log holds entries of earlier terms not yet
    /// committed appends an empty entry of its own term (once per term):
    /// Raft commits earlier terms' entries only under one of the current term
    /// (Figure 8), and a group whose state refuses every client (a shard on
    /// its way) would otherwise append nothing and never see them applied.
    fn commit_inherited(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        term: u64,
        status: &peer::Status,
    ) {
        if status.commit_index < status.last_index && self.noop_term != term {
            self.noop_term = term;
            peer.start(now_ms, Vec::new());
        }
    }

    /// True if a call to `key` (a group, or the controller) may go now: none
    /// is in flight and it is not too early to try again.
    fn may_call(&self, now_ms: u64, key: Gid) -> bool {
        let busy = self.in_flight.values().any(|p| purpose_key(p) == key);
        !busy && self.next_try_ms.get(&key).is_none_or(|&t| now_ms >= t)
    }

    /// Sends a call for `purpose` to `to` (see [`Self::may_call`]).
    fn call(&mut self, purpose: Purpose, to: CallTo, args: CallArgs) {
        self.next_call_no += 1;
        self.in_flight.insert(self.next_call_no, purpose);
        self.calls.push(peer::OutCall {
            call_no: self.next_call_no,
            to,
            args,
        });
    }

    /// A leader's work: the next configuration when no shard is moving, else
    /// the shards to pull and the copies to let go.
    fn drive(&mut self, now_ms: u64) {
        if self.machine.steady() {
            if self.may_call(now_ms, CTRLER) {
                let turn = self.turn.get(&CTRLER).copied().unwrap_or(0) % self.config.ctrlers;
                self.query_seq += 1;
                let args = CtrlArgs {
                    client_id: GROUP_CALLER - self.config.gid,
                    seq: self.query_seq,
                    op: CtrlOp::Query {
                        num: Some(self.machine.config.num + 1),
                    },
                };
                let (to, args) = (CallTo::Ctrler(turn), CallArgs::Ctrl(args));
                self.call(Purpose::Query, to, args);
            }
            return;
        }
        let config_num = self.machine.config.num;
        for (gid, shards) in self.machine.by_old_owner(ShardState::Pulling) {
            if self.may_call(now_ms, gid) {
                let args = CallArgs::Group(GroupArgs::Pull { config_num, shards });
                self.call(Purpose::Pull { gid, config_num }, self.server_of(gid), args);
            }
        }
        for (gid, shards) in self.machine.by_old_owner(ShardState::Confirming) {
            if self.may_call(now_ms, gid) {
                let args = GroupArgs::Delete {
                    config_num,
                    shards: shards.clone(),
                };
                let purpose = Purpose::Delete {
                    gid,
                    config_num,
                    shards,
                };
                self.call(purpose, self.server_of(gid), CallArgs::Group(args));
            }
        }
    }

    /// The server of group `gid` to ask next (by the names it last had in a
    /// configuration: a group that left may still hold shards).
    fn server_of(&self, gid: Gid) -> CallTo {
        let servers = self
            .machine
            .known
            .get(&gid)
            .expect("a shard's old owner was in a configuration this group took");
        let turn = self.turn.get(&gid).copied().unwrap_or(0) % servers.len();
        CallTo::Server(servers[turn].clone())
    }

    /// A call failed or was answered "not the leader": the next server, a bit later.
    fn next_server(&mut self, key: Gid, now_ms: u64) {
        *self.turn.entry(key).or_default() += 1;
        self.later(key, now_ms);
    }

    fn later(&mut self, key: Gid, now_ms: u64) {
        self.next_try_ms
            .insert(key, now_ms + self.config.poll_interval_ms);
    }
}

fn purpose_key(p: &Purpose) -> Gid {
    match p {
        Purpose::Query => CTRLER,
        Purpose::Pull { gid, .. } | Purpose::Delete { gid, .. } => *gid,
    }
}

impl ShardStateMachine for ShardServer {
    fn request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: ShardKvArgs) {
        self.client_request(peer, now_ms, id, args);
    }

    fn group_request(&mut self, peer: &mut dyn Peer, now_ms: u64, id: RequestId, args: GroupArgs) {
        match args {
            GroupArgs::Pull { config_num, shards } => {
                let answer = self.pull_request(peer, config_num, &shards);
                self.answers.push((id, Answer::Group(answer)));
            }
            GroupArgs::Delete { config_num, shards } => {
                self.delete_request(peer, now_ms, id, config_num, shards);
            }
        }
    }

    fn apply(&mut self, msg: ApplyMsg) -> Result<(), String> {
        match msg {
            ApplyMsg::Command {
                index,
                term,
                command,
            } => self.apply_command(index, term, &command),
            ApplyMsg::Snapshot { index, data, .. } => self.install_snapshot(index, &data),
        }
    }

    fn maybe_snapshot(
        &mut self,
        raft_state_bytes: u64,
        snapshot_index: Index,
    ) -> Option<(Index, Vec<u8>)> {
        let max = self.config.maxraftstate?;
        if raft_state_bytes < max || self.last_applied <= snapshot_index {
            return None;
        }
        let snapshot = Snapshot {
            last_applied: self.last_applied,
            machine: self.machine.clone(),
        };
        let bytes = bincode::serde::encode_to_vec(&snapshot, bincode::config::standard())
            .expect("bincode cannot fail on in-memory values");
        Some((self.last_applied, bytes))
    }

    fn poll(&mut self, peer: &mut dyn Peer, now_ms: u64) {
        let status = peer.status();
        let state = status.get_state();
        self.clients
            .give_up(state, status.leader, now_ms, &mut self.client_replies);
        self.groups
            .give_up(state, status.leader, now_ms, &mut self.group_replies);
        if state.1 {
            self.commit_inherited(peer, now_ms, state.0, &status);
            self.drive(now_ms);
        }
    }

    fn take_answers(&mut self) -> Vec<(RequestId, Answer)> {
        let clients = self
            .client_replies
            .drain(..)
            .map(|(id, r)| (id, Answer::Client(r)));
        let groups = self.group_replies.drain(..).map(|(id, r)| {
            let reply = match r {
                Reply::Ok { value } => value,
                Reply::WrongLeader { .. } | Reply::Refused { .. } => GroupReply::WrongLeader,
                Reply::Timeout => GroupReply::NotReady,
            };
            (id, Answer::Group(reply))
        });
        let mut out: Vec<(RequestId, Answer)> = self.answers.drain(..).collect();
        out.extend(clients);
        out.extend(groups);
        out
    }

    fn status(&self) -> Option<peer::ShardStatus> {
        let pulling = (0..peer::NSHARDS)
            .filter(|&s| self.machine.states[s] == ShardState::Pulling)
            .collect();
        Some(peer::ShardStatus {
            config_num: self.machine.config.num,
            serving: self.serving(),
            pulling,
        })
    }

    fn take_calls(&mut self) -> Vec<peer::OutCall> {
        std::mem::take(&mut self.calls)
    }

    fn call_reply(
        &mut self,
        peer: &mut dyn Peer,
        now_ms: u64,
        call_no: u64,
        reply: Option<CallReply>,
    ) {
        let Some(purpose) = self.in_flight.remove(&call_no) else {
            return;
        };
        let key = purpose_key(&purpose);
        let leader = peer.status().get_state().1;
        match (purpose, reply) {
            (Purpose::Query, Some(CallReply::Ctrl(Reply::Ok { value }))) => {
                self.later(key, now_ms);
                if let CtrlOutcome::Config(next) = value
                    && leader
                    && next.num == self.machine.config.num + 1
                {
                    self.start(peer, now_ms, &Entry::Config(next));
                }
            }
            (
                Purpose::Pull { config_num, .. },
                Some(CallReply::Group(GroupReply::Pulled { shards })),
            ) => {
                if leader && config_num == self.machine.config.num && !shards.is_empty() {
                    self.start(peer, now_ms, &Entry::Insert { config_num, shards });
                }
                self.later(key, now_ms);
            }
            (
                Purpose::Delete {
                    config_num, shards, ..
                },
                Some(CallReply::Group(GroupReply::Deleted)),
            ) => {
                if leader && config_num == self.machine.config.num {
                    self.start(peer, now_ms, &Entry::Confirmed { config_num, shards });
                }
                self.later(key, now_ms);
            }
            (_, Some(CallReply::Group(GroupReply::NotReady))) => self.later(key, now_ms),
            _ => self.next_server(key, now_ms),
        }
    }
}
