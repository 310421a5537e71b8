//! A Raft peer as a simulated node: the sans-IO `raft::Raft` driven by
//! labsim timers, labrpc calls and the node's simulated disk, with the
//! [`Service`] on top: the 6.824 Raft tester's [`Applier`] (apply, and
//! snapshot every N commands; together they are [`RaftNode`]) or the KV
//! server (`kv_suite`).
//!
//! The driver is single-threaded like a real peer blocked on fsync: after an
//! input it persists the peer's Ready, syncs, and only then sends messages,
//! answers the RPC and applies. Inputs that arrive while a sync is in flight
//! wait in order.

use super::oracle::Oracle;
use labrpc::{CallId, DuplicateMethod, Method, ReplyToken, Router, RpcError, call, reply, respond};
use labsim::{MS, Node, NodeId, SyncId, Synced, TimerId};
use raft::storage::{Disk, LogStore};
use raft::{ApplyMsg, Config, Index, Message, Raft, Ready};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// The RequestVote RPC.
pub struct RequestVote;
impl Method for RequestVote {
    const NAME: &'static str = "Raft.RequestVote";
    type Args = raft::RequestVoteArgs;
    type Reply = raft::RequestVoteReply;
}

/// The AppendEntries RPC.
pub struct AppendEntries;
impl Method for AppendEntries {
    const NAME: &'static str = "Raft.AppendEntries";
    type Args = raft::AppendEntriesArgs;
    type Reply = raft::AppendEntriesReply;
}

/// The InstallSnapshot RPC.
pub struct InstallSnapshot;
impl Method for InstallSnapshot {
    const NAME: &'static str = "Raft.InstallSnapshot";
    type Args = raft::InstallSnapshotArgs;
    type Reply = raft::InstallSnapshotReply;
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    RequestVote,
    AppendEntries,
    InstallSnapshot,
}

/// How the tester's service behaves (6.824's applier vs applierSnap).
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Snapshot after every this many applied commands (6.824: 10), or never.
    pub snapshot_every: Option<u64>,
    /// Template for the peer's Raft configuration (id and seed are set per peer).
    pub raft: RaftTuning,
}

/// Raft timing knobs.
#[derive(Clone, Copy, Debug)]
pub struct RaftTuning {
    /// Election timeout range.
    pub election_timeout_min_ms: u64,
    /// Election timeout range.
    pub election_timeout_max_ms: u64,
    /// Heartbeat interval.
    pub heartbeat_interval_ms: u64,
    /// A deliberate bug (tests of the testers only).
    pub injected_bug: Option<raft::InjectedBug>,
}

impl Default for RaftTuning {
    fn default() -> Self {
        let c = Config::new(0, 1, 0);
        RaftTuning {
            election_timeout_min_ms: c.election_timeout_min_ms,
            election_timeout_max_ms: c.election_timeout_max_ms,
            heartbeat_interval_ms: c.heartbeat_interval_ms,
            injected_bug: None,
        }
    }
}

enum Input {
    Request {
        from: NodeId,
        msg: Message,
        token: ReplyToken,
    },
    Reply {
        from: NodeId,
        msg: Message,
    },
    Tick,
}

/// The simulated disk as Raft's `Disk`.
struct SimDisk<'a, 'b>(&'a mut labrpc::Ctx<'b>);

impl Disk for SimDisk<'_, '_> {
    fn read(&self, file: &str) -> Option<&[u8]> {
        self.0.storage().read(file)
    }
    fn write(&mut self, file: &str, data: &[u8]) {
        self.0.write(file, data);
    }
    fn append(&mut self, file: &str, data: &[u8]) {
        self.0.append(file, data);
    }
    fn truncate(&mut self, file: &str, len: u64) {
        self.0.truncate(file, len);
    }
}

/// Encodes the tester's snapshot: the last included index and the digest
/// chain of every command applied through it.
pub fn encode_snapshot(index: Index, digest: u64) -> Vec<u8> {
    labrpc::encode(&(index, digest))
}

/// Decodes the tester's snapshot.
pub fn decode_snapshot(data: &[u8]) -> Result<(Index, u64), String> {
    labrpc::decode::<(Index, u64)>(data).map_err(|e| e.to_string())
}

/// What a service next to the Raft peer sees when it applies.
pub struct ApplyEnv<'a, 'b> {
    /// The node's context (to answer requests, read the disk size).
    pub ctx: &'a mut labrpc::Ctx<'b>,
    /// The peer (to snapshot).
    pub raft: &'a mut Raft,
    /// The safety oracle, to report applied state to.
    pub oracle: &'a RefCell<Oracle>,
    /// True while a leader's InstallSnapshot is being handled.
    pub installing: bool,
}

/// The service a [`PeerNode`] runs on top of its Raft peer.
pub trait Service: Sized + 'static {
    /// Adds the service's own RPC methods to the peer's router.
    fn routes(router: Router<PeerNode<Self>>) -> Result<Router<PeerNode<Self>>, DuplicateMethod> {
        Ok(router)
    }

    /// One committed command or installed snapshot, in order. The driver has
    /// already reported commands to the oracle; snapshots are the service's
    /// to report. An error stops the run (it becomes the node's `error`).
    fn apply(&mut self, env: &mut ApplyEnv<'_, '_>, apply: ApplyMsg) -> Result<(), String>;

    /// After the applies of one Ready (a place to snapshot).
    fn after_applies(&mut self, _env: &mut ApplyEnv<'_, '_>) -> Result<(), String> {
        Ok(())
    }

    /// After the inputs so far have been processed (role or term may have changed).
    fn after_inputs(&mut self, _ctx: &mut labrpc::Ctx<'_>, _raft: &Raft) {}
}

/// The 6.824 Raft tester's service (applier / applierSnap): applies every
/// command and snapshots every N commands. Its state is the count of
/// commands applied and their digest chain (6.824 keeps every command; the
/// digest checks the same thing against the oracle at a fraction of the cost).
pub struct Applier {
    snapshot_every: Option<u64>,
    applied: Index,
    digest: u64,
}

impl Service for Applier {
    fn apply(&mut self, env: &mut ApplyEnv<'_, '_>, apply: ApplyMsg) -> Result<(), String> {
        let id = env.raft.id();
        match apply {
            ApplyMsg::Command { index, command, .. } => {
                if self.applied + 1 == index {
                    self.applied = index;
                    self.digest = super::oracle::chain(self.digest, &command);
                }
                if let Some(every) = self.snapshot_every
                    && (index + 1) % every == 0
                    && self.applied == index
                {
                    let data = encode_snapshot(index, self.digest);
                    env.raft
                        .snapshot(index, data)
                        .expect("the service snapshots only applied indices");
                }
                Ok(())
            }
            ApplyMsg::Snapshot { index, data, .. } => match decode_snapshot(&data) {
                Ok((at, digest)) if at == index => {
                    env.oracle
                        .borrow_mut()
                        .apply_snapshot(id, index, digest, env.installing);
                    self.applied = index;
                    self.digest = digest;
                    Ok(())
                }
                Ok((at, _)) => Err(format!("snapshot for index {index} says it is for {at}")),
                Err(e) => Err(format!("undecodable snapshot at index {index}: {e}")),
            },
        }
    }
}

/// A Raft peer with the Raft tester's service, as a labsim node.
pub type RaftNode = PeerNode<Applier>;

impl PeerNode<Applier> {
    /// A peer of a cluster of `peers`, reporting to `oracle`. It reads its
    /// state from disk when it starts.
    pub fn new(peers: usize, service: ServiceConfig, oracle: Rc<RefCell<Oracle>>) -> RaftNode {
        let applier = Applier {
            snapshot_every: service.snapshot_every,
            applied: 0,
            digest: super::oracle::empty_chain(),
        };
        PeerNode::with_service(peers, service.raft, applier, oracle)
    }
}

/// One Raft peer and a service, as a labsim node.
pub struct PeerNode<S: Service> {
    peers: usize,
    tuning: RaftTuning,
    /// The service on top of the peer.
    pub service: S,
    raft: Option<Raft>,
    store: LogStore,
    router: Rc<Router<PeerNode<S>>>,
    oracle: Rc<RefCell<Oracle>>,
    calls: BTreeMap<CallId, Kind>,
    timer: Option<(TimerId, u64)>,
    syncing: Option<(SyncId, Ready, Option<ReplyToken>)>,
    inbox: VecDeque<Input>,
    /// Last log index on disk, to tell an overwrite from an append.
    persisted_last: Index,
    /// An InstallSnapshot request is being handled.
    installing: bool,
    /// Role, term and commit index last written to the trace.
    last_seen: Option<(raft::Role, u64, Index)>,
    /// Why the peer could not start (a corrupt disk), if it could not.
    pub error: Option<String>,
}

fn router<S: Service>() -> Rc<Router<PeerNode<S>>> {
    Router::new()
        .route::<RequestVote>(|n: &mut PeerNode<S>, ctx, from, args, token| {
            n.input(
                ctx,
                Input::Request {
                    from,
                    msg: Message::RequestVote(args),
                    token,
                },
            )
        })
        .and_then(|r| {
            r.route::<AppendEntries>(|n: &mut PeerNode<S>, ctx, from, args, token| {
                n.input(
                    ctx,
                    Input::Request {
                        from,
                        msg: Message::AppendEntries(args),
                        token,
                    },
                )
            })
        })
        .and_then(|r| {
            r.route::<InstallSnapshot>(|n: &mut PeerNode<S>, ctx, from, args, token| {
                n.input(
                    ctx,
                    Input::Request {
                        from,
                        msg: Message::InstallSnapshot(args),
                        token,
                    },
                )
            })
        })
        .and_then(S::routes)
        .expect("each method is routed once")
        .build()
}

fn now_ms(ctx: &labrpc::Ctx<'_>) -> u64 {
    ctx.now_ns() / MS
}

impl<S: Service> PeerNode<S> {
    /// A peer of a cluster of `peers` running `service`, reporting to
    /// `oracle`. It reads its state from disk when it starts.
    pub fn with_service(
        peers: usize,
        tuning: RaftTuning,
        service: S,
        oracle: Rc<RefCell<Oracle>>,
    ) -> PeerNode<S> {
        PeerNode {
            peers,
            tuning,
            service,
            raft: None,
            store: LogStore::default(),
            router: router(),
            oracle,
            calls: BTreeMap::new(),
            timer: None,
            syncing: None,
            inbox: VecDeque::new(),
            persisted_last: 0,
            installing: false,
            last_seen: None,
            error: None,
        }
    }

    /// The Raft peer (None if it failed to start).
    pub fn raft(&self) -> Option<&Raft> {
        self.raft.as_ref()
    }

    /// 6.824's `Start`: never blocks.
    pub fn start(&mut self, ctx: &mut labrpc::Ctx<'_>, command: Vec<u8>) -> (Index, u64, bool) {
        let now = now_ms(ctx);
        let Some(raft) = self.raft.as_mut() else {
            return (0, 0, false);
        };
        let r = raft.start(now, command);
        self.pump(ctx);
        r
    }

    /// Runs `f` on the service and the peer (a client request, say), then
    /// drives the peer's Ready. None if the peer is not running.
    pub fn with_service_and_raft<R>(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        f: impl FnOnce(&mut S, &mut Raft, &mut labrpc::Ctx<'_>) -> R,
    ) -> Option<R> {
        let raft = self.raft.as_mut()?;
        let r = f(&mut self.service, raft, ctx);
        self.pump(ctx);
        Some(r)
    }

    /// Bytes of persisted Raft state (6.824's `RaftStateSize`).
    pub fn raft_state_size(storage: &labsim::Storage) -> u64 {
        struct ReadOnly<'a>(&'a labsim::Storage);
        impl Disk for ReadOnly<'_> {
            fn read(&self, file: &str) -> Option<&[u8]> {
                self.0.read(file)
            }
            fn write(&mut self, _: &str, _: &[u8]) {
                unreachable!("sizes are read-only")
            }
            fn append(&mut self, _: &str, _: &[u8]) {
                unreachable!("sizes are read-only")
            }
            fn truncate(&mut self, _: &str, _: u64) {
                unreachable!("sizes are read-only")
            }
        }
        LogStore::raft_state_size(&ReadOnly(storage))
    }

    fn input(&mut self, ctx: &mut labrpc::Ctx<'_>, input: Input) {
        if self.raft.is_none() {
            if let Input::Request { token, .. } = input {
                respond(ctx, token, Err(RpcError::ServerCrashed));
            }
            return;
        }
        if self.syncing.is_some() {
            self.inbox.push_back(input);
            return;
        }
        self.handle(ctx, input);
        self.pump(ctx);
    }

    fn handle(&mut self, ctx: &mut labrpc::Ctx<'_>, input: Input) {
        let now = now_ms(ctx);
        let raft = self.raft.as_mut().expect("handle runs on a started peer");
        match input {
            Input::Request { from, msg, token } => {
                self.installing = matches!(msg, Message::InstallSnapshot(_));
                let refusals = raft.stale_log_refusals();
                if let Err(e) = raft.step(now, from, msg) {
                    respond(ctx, token, Err(RpcError::Decode(e.to_string())));
                    return;
                }
                let refused = raft.stale_log_refusals() - refusals;
                if refused > 0 {
                    self.oracle.borrow_mut().stats.stale_log_refusals += refused;
                }
                // The reply to this request is in this Ready: it goes out
                // with the token once the Ready is durable.
                let ready = raft.ready();
                self.process(ctx, ready, Some(token));
                self.installing = false;
            }
            Input::Reply { from, msg } => {
                // A reply from a peer id we do not know is a harness bug.
                raft.step(now, from, msg)
                    .expect("a reply from a cluster peer");
            }
            Input::Tick => raft.tick(now),
        }
    }

    /// Processes Readies, then waiting inputs one at a time (each one's
    /// Ready made durable before the next runs), until there is nothing to
    /// do or a sync blocks the peer.
    fn pump(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        while self.syncing.is_none() {
            let Some(raft) = self.raft.as_mut() else {
                return;
            };
            if raft.has_ready() {
                let ready = raft.ready();
                self.process(ctx, ready, None);
            } else if let Some(input) = self.inbox.pop_front() {
                self.handle(ctx, input);
            } else {
                break;
            }
        }
        if let Some(raft) = &self.raft {
            self.service.after_inputs(ctx, raft);
        }
        self.arm_timer(ctx);
        self.report(ctx);
    }

    fn process(&mut self, ctx: &mut labrpc::Ctx<'_>, ready: Ready, token: Option<ReplyToken>) {
        if ready.must_persist() {
            self.observe_entries(&ready);
            self.store.persist(&mut SimDisk(ctx), &ready);
            if let Synced::Later(id) = ctx.sync() {
                self.syncing = Some((id, ready, token));
                return;
            }
        }
        self.release(ctx, ready, token);
    }

    fn observe_entries(&mut self, ready: &Ready) {
        if let Some(snapshot) = &ready.snapshot {
            self.persisted_last = self.persisted_last.max(snapshot.last_included_index);
        }
        let (Some(first), Some(last)) = (ready.entries.first(), ready.entries.last()) else {
            return;
        };
        let truncated = first.index <= self.persisted_last;
        self.persisted_last = last.index;
        let raft = self.raft.as_ref().expect("started");
        let Some(prev_term) = raft.term_at(first.index - 1) else {
            return;
        };
        self.oracle.borrow_mut().observe_entries(
            raft.id(),
            prev_term,
            ready
                .entries
                .iter()
                .map(|e| (e.index, e.term, e.command.as_slice())),
            truncated,
        );
    }

    /// The Ready is durable: send, answer, apply.
    fn release(&mut self, ctx: &mut labrpc::Ctx<'_>, ready: Ready, mut token: Option<ReplyToken>) {
        for (to, msg) in ready.messages {
            match msg {
                Message::RequestVoteReply(r) => answer::<RequestVote>(ctx, &mut token, to, &r),
                Message::AppendEntriesReply(r) => answer::<AppendEntries>(ctx, &mut token, to, &r),
                Message::InstallSnapshotReply(r) => {
                    answer::<InstallSnapshot>(ctx, &mut token, to, &r)
                }
                Message::RequestVote(a) => self.send::<RequestVote>(ctx, to, &a, Kind::RequestVote),
                Message::AppendEntries(a) => {
                    self.send::<AppendEntries>(ctx, to, &a, Kind::AppendEntries)
                }
                Message::InstallSnapshot(a) => {
                    self.send::<InstallSnapshot>(ctx, to, &a, Kind::InstallSnapshot)
                }
            }
        }
        if let Some(token) = token {
            // Raft promises a reply to every request; if it broke that, fail
            // the call rather than leave it hanging.
            debug_assert!(false, "a request produced no reply");
            respond(ctx, token, Err(RpcError::ServerCrashed));
        }
        if ready.applies.is_empty() {
            return;
        }
        for apply in ready.applies {
            self.apply(ctx, apply);
        }
        let Some(raft) = self.raft.as_mut() else {
            return;
        };
        let mut env = ApplyEnv {
            ctx,
            raft,
            oracle: &self.oracle,
            installing: self.installing,
        };
        if let Err(e) = self.service.after_applies(&mut env)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    fn send<M: Method>(&mut self, ctx: &mut labrpc::Ctx<'_>, to: NodeId, args: &M::Args, kind: Kind)
    where
        M::Args: std::fmt::Debug,
    {
        ctx.annotate("rpc", || {
            format!("to {to}: {} {}", M::NAME, summarize(args))
        });
        let id = call::<M>(ctx, to, args).expect("peers address cluster members");
        self.calls.insert(id, kind);
    }

    fn apply(&mut self, ctx: &mut labrpc::Ctx<'_>, apply: ApplyMsg) {
        let raft = self.raft.as_mut().expect("started");
        if let ApplyMsg::Command { index, command, .. } = &apply {
            self.oracle.borrow_mut().apply(raft.id(), *index, command);
        }
        let mut env = ApplyEnv {
            ctx,
            raft,
            oracle: &self.oracle,
            installing: self.installing,
        };
        if let Err(e) = self.service.apply(&mut env, apply)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    fn report(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        let Some(raft) = &self.raft else { return };
        let (term, is_leader) = raft.get_state();
        self.oracle
            .borrow_mut()
            .observe_role(raft.id(), term, is_leader);
        // For readers of the trace (the picture): role, term and commit
        // index as they change. Annotations never enter the hash.
        let seen = (raft.role(), term, raft.commit_index());
        if ctx.is_streaming() && self.last_seen != Some(seen) {
            if self
                .last_seen
                .is_none_or(|(r, t, _)| (r, t) != (seen.0, seen.1))
            {
                ctx.annotate("role", || {
                    format!("{:?} term {term}", seen.0).to_lowercase()
                });
            }
            if self.last_seen.is_none_or(|(_, _, c)| c != seen.2) {
                ctx.annotate("commit", || seen.2.to_string());
            }
            self.last_seen = Some(seen);
        }
    }

    fn arm_timer(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        let Some(raft) = &self.raft else { return };
        let deadline = raft.next_deadline_ms();
        if let Some((timer, at)) = self.timer {
            if at <= deadline {
                return; // fires early, then re-arms
            }
            ctx.cancel_timer(timer);
        }
        let now = now_ms(ctx);
        let timer = ctx.set_timer(deadline.saturating_sub(now) * MS, 0);
        self.timer = Some((timer, deadline));
    }
}

fn answer<M: Method>(
    ctx: &mut labrpc::Ctx<'_>,
    token: &mut Option<ReplyToken>,
    to: NodeId,
    r: &M::Reply,
) {
    match token.take() {
        Some(t) if t.caller() == to => reply::<M>(ctx, t, r),
        other => {
            *token = other;
            debug_assert!(false, "a reply without a request to answer");
        }
    }
}

impl<S: Service> Node<labrpc::Net> for PeerNode<S> {
    fn on_start(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        let id = ctx.id();
        let restored = match LogStore::restore(&SimDisk(ctx)) {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(format!("peer {id} cannot start: {e}"));
                return;
            }
        };
        let (store, restored) = restored;
        let tuning = self.tuning;
        let mut config = Config::new(id, self.peers, rand::RngExt::random(ctx.rng()));
        config.election_timeout_min_ms = tuning.election_timeout_min_ms;
        config.election_timeout_max_ms = tuning.election_timeout_max_ms;
        config.heartbeat_interval_ms = tuning.heartbeat_interval_ms;
        config.injected_bug = tuning.injected_bug;
        self.oracle.borrow_mut().restarted(id);
        match Raft::new(config, restored, now_ms(ctx)) {
            Ok(raft) => {
                self.persisted_last = raft.last_index();
                self.raft = Some(raft);
                self.store = store;
                self.pump(ctx);
            }
            Err(e) => self.error = Some(format!("peer {id} cannot start: {e}")),
        }
    }

    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: labrpc::Packet) {
        if let Some(c) = Router::serve(self.router.clone(), self, ctx, from, packet) {
            let Some(kind) = self.calls.remove(&c.call) else {
                return;
            };
            let msg = match kind {
                Kind::RequestVote => c.decode::<RequestVote>().map(Message::RequestVoteReply),
                Kind::AppendEntries => c.decode::<AppendEntries>().map(Message::AppendEntriesReply),
                Kind::InstallSnapshot => c
                    .decode::<InstallSnapshot>()
                    .map(Message::InstallSnapshotReply),
            };
            // A failed call needs nothing: Raft retries on its own schedule.
            if let Ok(msg) = msg {
                self.input(
                    ctx,
                    Input::Reply {
                        from: c.server,
                        msg,
                    },
                );
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut labrpc::Ctx<'_>, timer: TimerId, _tag: u64) {
        if self.timer.is_some_and(|(t, _)| t == timer) {
            self.timer = None;
            self.input(ctx, Input::Tick);
        }
    }

    fn on_sync(&mut self, ctx: &mut labrpc::Ctx<'_>, sync: SyncId) {
        let Some((id, ready, token)) = self.syncing.take() else {
            return;
        };
        if id != sync {
            self.syncing = Some((id, ready, token));
            return;
        }
        self.release(ctx, ready, token);
        self.pump(ctx);
    }
}

/// A short description of RPC arguments for the trace: entries and snapshot
/// data are summarised, not dumped.
fn summarize<T: std::fmt::Debug>(args: &T) -> String {
    let text = format!("{args:?}");
    if text.len() > 240 {
        format!(
            "{}...",
            &text[..text.char_indices().nth(240).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}
