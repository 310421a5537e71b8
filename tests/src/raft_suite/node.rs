//! A Raft peer as a simulated node: any sans-IO [`peer::Peer`] driven by
//! labsim timers, labrpc messages and the node's simulated disk, with the
//! [`Service`] on top: the 6.824 Raft tester's [`Applier`] (apply, and
//! snapshot every N commands; together they are [`RaftNode`]) or the KV
//! server (`kv_suite`).
//!
//! The driver is single-threaded like a real peer blocked on fsync: after an
//! input it persists the peer's Ready, syncs, and only then sends messages,
//! answers the RPC and applies. Inputs that arrive while a sync is in flight
//! wait in order.

use super::oracle::Oracle;
use crate::aims::Moment;
use crate::peers::PeerChoice;
use labrpc::{CallId, DuplicateMethod, Incoming, Packet, ReplyToken, Router, RpcError, respond};
use labsim::{MS, Node, NodeId, SyncId, Synced, TimerId};
use peer::{ApplyMsg, Disk, Index, Kind, Peer, PeerConfig, PeerId, Ready, Wire};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// How the tester's service behaves (6.824's applier vs applierSnap).
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Snapshot after every this many applied commands (6.824: 10), or never.
    pub snapshot_every: Option<u64>,
    /// Template for the peer's Raft configuration (id and seed are set per peer).
    pub raft: RaftTuning,
    /// The Raft under test.
    pub peer: PeerChoice,
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
    /// PreVote on or off (`None`: the peer's default).
    pub pre_vote: Option<bool>,
    /// Most entries per AppendEntries (`None`: the peer's default).
    pub max_entries_per_append: Option<usize>,
    /// CheckQuorum on or off (`None`: the peer's default).
    pub check_quorum: Option<bool>,
    /// Lease reads on or off (`None`: the peer's default).
    pub lease_reads: Option<bool>,
    /// How a leader backs up nextIndex (`None`: the peer's default).
    pub backtracking: Option<peer::Backtracking>,
    /// The voters the cluster starts with (`None`: every server); the
    /// others wait as spares until a membership change adds them.
    pub voters: Option<peer::PeerSet>,
}

impl Default for RaftTuning {
    fn default() -> Self {
        let c = PeerConfig::new(0, 1, 0);
        RaftTuning {
            election_timeout_min_ms: c.election_timeout_min_ms,
            election_timeout_max_ms: c.election_timeout_max_ms,
            heartbeat_interval_ms: c.heartbeat_interval_ms,
            pre_vote: c.pre_vote,
            max_entries_per_append: c.max_entries_per_append,
            check_quorum: c.check_quorum,
            lease_reads: c.lease_reads,
            backtracking: c.backtracking,
            voters: c.voters,
        }
    }
}

enum Input {
    /// An RPC request, answered with `token` once its Ready is durable.
    Request {
        from: NodeId,
        msg: Wire,
        token: ReplyToken,
    },
    /// A reply to one of our requests, or a one-way message.
    Message {
        from: NodeId,
        msg: Wire,
    },
    Tick,
}

/// The simulated disk as a peer's `Disk`.
struct SimDisk<'a, 'b>(&'a mut labrpc::Ctx<'b>);

/// The simulated disk, read-only (to measure what a peer persisted).
struct ReadOnly<'a>(&'a labsim::Storage);

impl Disk for ReadOnly<'_> {
    fn read(&self, file: &str) -> Option<&[u8]> {
        self.0.read(file)
    }
    fn write(&mut self, _: &str, _: &[u8]) {
        unreachable!("a read-only disk")
    }
    fn append(&mut self, _: &str, _: &[u8]) {
        unreachable!("a read-only disk")
    }
    fn truncate(&mut self, _: &str, _: u64) {
        unreachable!("a read-only disk")
    }
}

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
    /// The peer's id.
    pub id: PeerId,
    /// The peer (to snapshot).
    pub peer: &'a mut dyn Peer,
    /// The safety oracle, to report applied state to.
    pub oracle: &'a RefCell<Oracle>,
    /// True while a leader's InstallSnapshot is being handled.
    pub installing: bool,
}

impl ApplyEnv<'_, '_> {
    /// Bytes of persisted Raft state (6.824's `RaftStateSize`).
    pub fn raft_state_bytes(&self) -> u64 {
        self.peer.raft_state_bytes(&ReadOnly(self.ctx.storage()))
    }
}

/// What a service keeps for the oracle: the last index it applied and the digest
/// chain of the commands through it. A service's snapshot carries the digest, so
/// the oracle checks state-machine safety across snapshots too.
#[derive(Clone, Copy, Debug)]
pub struct AppliedDigest {
    /// The last index applied.
    pub applied: Index,
    /// The digest chain of every command through `applied`.
    pub digest: u64,
}

impl Default for AppliedDigest {
    fn default() -> Self {
        AppliedDigest {
            applied: 0,
            digest: super::oracle::empty_chain(),
        }
    }
}

impl AppliedDigest {
    /// The command at `index` was applied (the driver reports it to the oracle).
    pub fn command(&mut self, index: Index, command: &[u8]) {
        if self.applied + 1 == index {
            self.applied = index;
            self.digest = super::oracle::chain(self.digest, command);
        }
    }

    /// A snapshot through `index` whose commands chain to `digest` was loaded:
    /// the oracle checks it against what was committed.
    pub fn snapshot(&mut self, env: &ApplyEnv<'_, '_>, index: Index, digest: u64) {
        env.oracle
            .borrow_mut()
            .apply_snapshot(env.id, index, digest, env.installing);
        self.applied = index;
        self.digest = digest;
    }
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

    /// After the inputs so far have been processed (role or term may have
    /// changed). Entries the service starts here are processed at once.
    fn after_inputs(&mut self, _ctx: &mut labrpc::Ctx<'_>, _peer: &mut dyn Peer) {}

    /// Why the service broke its contract, if it did: the run stops with it.
    fn broken(&self) -> Option<&str> {
        None
    }

    /// True if `call` is one the service made (its completion goes to
    /// [`Service::completion`]).
    fn awaits(&self, _call: CallId) -> bool {
        false
    }

    /// A call the service made came back (or failed); the peer's Ready is
    /// processed after.
    fn completion(
        &mut self,
        _ctx: &mut labrpc::Ctx<'_>,
        _peer: &mut dyn Peer,
        _completion: labrpc::Completion,
    ) {
    }

    /// Reads the peer confirmed (ReadIndex), after the applies of their Ready.
    fn read_states(&mut self, _ctx: &mut labrpc::Ctx<'_>, _states: &[peer::ReadState]) {}
}

/// The 6.824 Raft tester's service (applier / applierSnap): applies every
/// command and snapshots every N commands. Its state is the count of
/// commands applied and their digest chain (6.824 keeps every command; the
/// digest checks the same thing against the oracle at a fraction of the cost).
pub struct Applier {
    snapshot_every: Option<u64>,
    oracle: AppliedDigest,
    /// The reads this peer confirmed (ReadIndex), in the order it did.
    pub reads: Vec<peer::ReadState>,
}

impl Service for Applier {
    fn apply(&mut self, env: &mut ApplyEnv<'_, '_>, apply: ApplyMsg) -> Result<(), String> {
        match apply {
            ApplyMsg::Command { index, command, .. } => {
                self.oracle.command(index, &command);
                if let Some(every) = self.snapshot_every
                    && (index + 1) % every == 0
                    && self.oracle.applied == index
                {
                    let data = encode_snapshot(index, self.oracle.digest);
                    env.peer
                        .snapshot(index, data)
                        .map_err(|e| format!("the peer refused a snapshot at {index}: {e}"))?;
                }
                Ok(())
            }
            ApplyMsg::Snapshot { index, data, .. } => match decode_snapshot(&data) {
                Ok((at, digest)) if at == index => {
                    self.oracle.snapshot(env, index, digest);
                    Ok(())
                }
                Ok((at, _)) => Err(format!("snapshot for index {index} says it is for {at}")),
                Err(e) => Err(format!("undecodable snapshot at index {index}: {e}")),
            },
        }
    }

    fn read_states(&mut self, _ctx: &mut labrpc::Ctx<'_>, states: &[peer::ReadState]) {
        self.reads.extend_from_slice(states);
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
            oracle: AppliedDigest::default(),
            reads: Vec::new(),
        };
        PeerNode::with_service(peers, service.raft, service.peer, applier, oracle)
    }
}

/// One Raft peer and a service, as a labsim node.
pub struct PeerNode<S: Service> {
    /// This peer's id in its group (set when it starts): its node id less `base`.
    id: PeerId,
    peers: usize,
    /// The node id of the group's peer 0: peers of a group are the nodes
    /// `base..base + peers` (0 for the only group of most tests).
    base: NodeId,
    tuning: RaftTuning,
    choice: PeerChoice,
    /// The service on top of the peer.
    pub service: S,
    peer: Option<Box<dyn Peer>>,
    /// The service's own methods (the peer's are the peer's business).
    router: Rc<Router<PeerNode<S>>>,
    oracle: Rc<RefCell<Oracle>>,
    /// Requests this peer made that await a reply, by method.
    calls: BTreeMap<CallId, &'static str>,
    timer: Option<(TimerId, u64)>,
    /// A Ready waiting for its sync, its reply token, and whether it came of a
    /// message from another peer (see `installing`).
    syncing: Option<(SyncId, Ready, Option<ReplyToken>, bool, Promise)>,
    inbox: VecDeque<Input>,
    /// Last log index on disk, to tell an overwrite from an append.
    persisted_last: Index,
    /// A message from another peer is being handled (so a snapshot applied now
    /// was installed by a leader, not restored from disk).
    installing: bool,
    /// Role, term and commit index last written to the trace.
    last_seen: Option<(peer::Role, u64, Index)>,
    /// Role and commit index at the last observation, for the moments aimed
    /// faults strike at.
    last_observed: (peer::Role, Index),
    /// The highest term the peer reported in this incarnation: a term never
    /// goes back.
    highest_term: u64,
    /// Why the peer could not go on (a corrupt disk, a broken promise), if so.
    pub error: Option<String>,
    /// Ticks run at one virtual instant: (that instant in ms, how many, up to
    /// [`MAX_TICKS_AT_ONE_INSTANT`]).
    ticks_now: (u64, u32),
}

/// More ticks than this at one virtual instant is a peer that would hang the run.
const MAX_TICKS_AT_ONE_INSTANT: u32 = 1000;
/// More Readies than this without a new input is a peer whose `has_ready()` never
/// turns false.
const MAX_READIES_AT_ONCE: u32 = 10_000;
/// Rounds of "the service started entries after the inputs: pump them" per
/// pump; a service that starts an entry every time is stopped here.
const MAX_SERVICE_ROUNDS: u32 = 16;
/// A timer never waits longer than this (a deadline of `u64::MAX` means none); it
/// simply fires and is armed again.
const MAX_TIMER_MS: u64 = 3_600_000;

/// The term and vote a Ready persisted, which its messages promise.
type Promise = (peer::Term, Option<PeerId>);

fn now_ms(ctx: &labrpc::Ctx<'_>) -> u64 {
    ctx.now_ns() / MS
}

impl<S: Service> PeerNode<S> {
    /// A peer (`choice`) of a cluster of `peers` running `service`, reporting
    /// to `oracle`. It reads its state from disk when it starts.
    pub fn with_service(
        peers: usize,
        tuning: RaftTuning,
        choice: PeerChoice,
        service: S,
        oracle: Rc<RefCell<Oracle>>,
    ) -> PeerNode<S> {
        let router = S::routes(Router::new())
            .expect("each service method is routed once")
            .build();
        PeerNode {
            id: 0,
            peers,
            base: 0,
            tuning,
            choice,
            service,
            peer: None,
            router,
            oracle,
            calls: BTreeMap::new(),
            timer: None,
            syncing: None,
            inbox: VecDeque::new(),
            persisted_last: 0,
            installing: false,
            last_seen: None,
            last_observed: (peer::Role::Follower, 0),
            highest_term: 0,
            error: None,
            ticks_now: (0, 0),
        }
    }

    /// The peer (None if it failed to start).
    pub fn peer(&self) -> Option<&dyn Peer> {
        self.peer.as_deref()
    }

    /// 6.824's `Start`: never blocks.
    pub fn start(&mut self, ctx: &mut labrpc::Ctx<'_>, command: Vec<u8>) -> (Index, u64, bool) {
        let now = now_ms(ctx);
        let Some(peer) = self.peer.as_mut() else {
            return (0, 0, false);
        };
        let r = peer.start(now, command);
        self.pump(ctx);
        r
    }

    /// Runs `f` on the peer alone with the time now (a membership change, a
    /// leadership transfer), then drives its Ready. None if it is not running.
    pub fn with_peer<R>(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        f: impl FnOnce(&mut dyn Peer, u64) -> R,
    ) -> Option<R> {
        let now = now_ms(ctx);
        self.with_service_and_peer(ctx, |_, peer, _| f(peer, now))
    }

    /// Runs `f` on the service and the peer (a client request, say), then
    /// drives the peer's Ready. None if the peer is not running.
    pub fn with_service_and_peer<R>(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        f: impl FnOnce(&mut S, &mut dyn Peer, &mut labrpc::Ctx<'_>) -> R,
    ) -> Option<R> {
        let peer = self.peer.as_deref_mut()?;
        let r = f(&mut self.service, peer, ctx);
        self.pump(ctx);
        Some(r)
    }

    /// A request for the service (`token` to answer it): `f` runs on the
    /// service and the peer, then the peer's Ready is driven; a crashed
    /// server's caller is told so at once.
    pub fn serve_request(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        token: ReplyToken,
        f: impl FnOnce(&mut S, &mut dyn Peer, &mut labrpc::Ctx<'_>, ReplyToken),
    ) {
        if self.peer.is_none() {
            return respond(ctx, token, Err(RpcError::ServerCrashed));
        }
        self.with_service_and_peer(ctx, |svc, peer, ctx| f(svc, peer, ctx, token));
    }

    fn input(&mut self, ctx: &mut labrpc::Ctx<'_>, input: Input) {
        if self.peer.is_none() {
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
        let peer = self.peer.as_mut().expect("handle runs on a started peer");
        match input {
            Input::Request { from, msg, token } => {
                self.installing = true;
                if let Err(e) = peer.step(now, from, msg) {
                    respond(ctx, token, Err(RpcError::Refused(e.to_string())));
                    self.installing = false;
                    return;
                }
                self.count_marks(ctx);
                // The reply to this request is in this Ready: it goes out
                // with the token once the Ready is durable.
                let peer = self.peer.as_mut().expect("started");
                let ready = peer.ready(&mut SimDisk(ctx));
                self.process(ctx, ready, Some(token));
                self.installing = false;
            }
            Input::Message { from, msg } => {
                self.installing = true;
                let stepped = peer.step(now, from, msg);
                self.observe_role(ctx);
                self.count_marks(ctx);
                if let Err(e) = stepped {
                    ctx.annotate("refused", || format!("from {from}: {e}"));
                }
                // Snapshots it installs come out in the Ready pumped next.
                self.pump_ready(ctx);
                self.installing = false;
            }
            Input::Tick => {
                peer.tick(now);
                self.ticks_now = match self.ticks_now {
                    (at, n) if at == now => (now, (n + 1).min(MAX_TICKS_AT_ONE_INSTANT)),
                    _ => (now, 1),
                };
                self.observe_role(ctx);
            }
        }
    }

    /// Shows the oracle the peer's role now. Called after every input and
    /// every Ready, not once per batch: a peer that is leader for one input
    /// and steps down at the next is still seen. Changes of role and a
    /// leader's commits are moments aimed faults can strike at.
    /// Returns the status it observed.
    fn observe_role(&mut self, ctx: &mut labrpc::Ctx<'_>) -> Option<peer::Status> {
        let peer = self.peer.as_ref()?;
        let status = peer.status();
        let (term, is_leader) = status.get_state();
        if term < self.highest_term {
            let e = format!(
                "peer {} reported term {term} after term {} (a term never goes back: Figure 2)",
                self.id, self.highest_term
            );
            self.report_error(e);
        }
        self.highest_term = self.highest_term.max(term);
        self.oracle.borrow_mut().observe_role(
            self.id,
            term,
            is_leader,
            status.voted_for,
            status.membership,
        );
        let (role, commit) = (status.role, status.commit_index);
        let (was, committed) = std::mem::replace(&mut self.last_observed, (role, commit));
        let moment = match role {
            _ if role != was && role == peer::Role::Candidate => Moment::BecameCandidate,
            peer::Role::Leader if was != peer::Role::Leader => Moment::BecameLeader,
            peer::Role::Leader if commit > committed => Moment::Committed,
            _ => return Some(status),
        };
        crate::aims::reached(ctx, ctx.id(), moment);
        Some(status)
    }

    /// A vote granted (the peer's coverage mark) is a moment aimed faults can
    /// strike at.
    fn count_marks(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        if peer::coverage::take(peer::coverage::VOTE_GRANTED) > 0 {
            crate::aims::reached(ctx, ctx.id(), Moment::VoteGranted);
        }
    }

    /// Processes one Ready if the peer has one.
    fn pump_ready(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        if self.syncing.is_none()
            && let Some(peer) = self.peer.as_mut()
            && peer.has_ready()
        {
            let ready = peer.ready(&mut SimDisk(ctx));
            self.process(ctx, ready, None);
        }
    }

    /// Processes Readies, then waiting inputs one at a time (each one's
    /// Ready made durable before the next runs), until there is nothing to
    /// do or a sync blocks the peer.
    fn pump(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        // The service may start entries after the inputs (a sharded server's
        // own entries): their Readies are pumped too, a bounded number of times.
        for _ in 0..MAX_SERVICE_ROUNDS {
            self.pump_inputs(ctx);
            let Some(peer) = self.peer.as_mut() else {
                break;
            };
            self.service.after_inputs(ctx, peer.as_mut());
            let idle = self.syncing.is_some() || self.error.is_some();
            if idle || !self.peer.as_ref().is_some_and(|p| p.has_ready()) {
                break;
            }
        }
        self.arm_timer(ctx);
        self.report(ctx);
    }

    /// Processes Readies, then waiting inputs one at a time, as [`Self::pump`].
    fn pump_inputs(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        let mut readies = 0;
        while self.syncing.is_none() && self.error.is_none() {
            let Some(peer) = self.peer.as_mut() else {
                return;
            };
            if peer.has_ready() {
                readies += 1;
                if readies > MAX_READIES_AT_ONCE {
                    let e = format!(
                        "peer {} ({}) still has_ready() after {MAX_READIES_AT_ONCE} Readies in a row",
                        self.id, self.choice.name
                    );
                    self.report_error(e);
                    break;
                }
                let ready = peer.ready(&mut SimDisk(ctx));
                self.process(ctx, ready, None);
            } else if let Some(input) = self.inbox.pop_front() {
                self.handle(ctx, input);
            } else {
                break;
            }
        }
    }

    fn process(&mut self, ctx: &mut labrpc::Ctx<'_>, ready: Ready, token: Option<ReplyToken>) {
        // What this Ready persisted: its messages leave on it.
        let status = self.observe_role(ctx).expect("started");
        let promise = (status.term, status.voted_for);
        if ready.snapshot.is_some() {
            crate::aims::reached(ctx, ctx.id(), Moment::SnapshotTaken);
        }
        self.observe_entries(&ready);
        if ready.must_sync
            && let Synced::Later(id) = ctx.sync()
        {
            self.syncing = Some((id, ready, token, self.installing, promise));
            return;
        }
        self.release(ctx, ready, token, promise);
    }

    fn observe_entries(&mut self, ready: &Ready) {
        if let Some((index, _)) = ready.snapshot {
            self.persisted_last = self.persisted_last.max(index);
        }
        let (Some(first), Some(last)) = (ready.entries.first(), ready.entries.last()) else {
            return;
        };
        let contiguous = ready
            .entries
            .windows(2)
            .all(|w| w[1].index == w[0].index + 1);
        if first.index == 0 || !contiguous {
            let e = format!(
                "peer {} wrote entries {}..={} that are not one run of indices from 1 up",
                self.id, first.index, last.index
            );
            self.report_error(e);
            return;
        }
        let truncated = first.index <= self.persisted_last;
        self.persisted_last = last.index;
        let peer = self.peer.as_ref().expect("started");
        let Some(prev_term) = peer.term_at(first.index - 1) else {
            if first.index - 1 > peer.status().snapshot_index {
                let e = format!(
                    "peer {}: term_at({}) is None, but it just wrote the entries after it",
                    self.id,
                    first.index - 1
                );
                self.report_error(e);
            }
            return;
        };
        self.oracle.borrow_mut().observe_entries(
            self.id,
            prev_term,
            ready
                .entries
                .iter()
                .map(|e| (e.index, e.term, e.command.as_slice())),
            truncated,
        );
    }

    /// The Ready is durable: send, answer, apply.
    fn release(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        ready: Ready,
        mut token: Option<ReplyToken>,
        (term, voted_for): Promise,
    ) {
        if !ready.messages.is_empty() {
            self.oracle.borrow_mut().promise(self.id, term, voted_for);
        }
        for (to, msg) in ready.messages {
            self.send(ctx, &mut token, to, msg);
        }
        if let Some(token) = token {
            // A peer promises a reply to every request; if it broke that, fail
            // the call rather than leave it hanging.
            self.report_error(format!(
                "peer {} ({}) sent no reply to a request from peer {} (every request gets exactly one reply, in the Ready that follows it)",
                self.id,
                self.choice.name,
                token.caller().wrapping_sub(self.base)
            ));
            respond(ctx, token, Err(RpcError::ServerCrashed));
        }
        if !ready.applies.is_empty() {
            self.apply_all(ctx, ready.applies);
        }
        if !ready.read_states.is_empty() {
            self.service.read_states(ctx, &ready.read_states);
        }
    }

    /// Hands one Ready's applies to the service, then lets it snapshot.
    fn apply_all(&mut self, ctx: &mut labrpc::Ctx<'_>, applies: Vec<ApplyMsg>) {
        for apply in applies {
            self.apply(ctx, apply);
        }
        let Some(peer) = self.peer.as_deref_mut() else {
            return;
        };
        let mut env = ApplyEnv {
            ctx,
            id: self.id,
            peer,
            oracle: &self.oracle,
            installing: self.installing,
        };
        if let Err(e) = self.service.after_applies(&mut env) {
            self.report_error(e);
        }
    }

    /// The same node in a group whose peer 0 is node `base` (one of several
    /// Raft groups of one simulation).
    pub fn in_group_at(mut self, base: NodeId) -> PeerNode<S> {
        self.base = base;
        self
    }

    /// The peer id of node `node`, if it is a peer of this group.
    fn peer_of(&self, node: NodeId) -> Option<PeerId> {
        node.checked_sub(self.base).filter(|&p| p < self.peers)
    }

    fn report_error(&mut self, e: String) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn send(
        &mut self,
        ctx: &mut labrpc::Ctx<'_>,
        token: &mut Option<ReplyToken>,
        to: NodeId,
        msg: Wire,
    ) {
        if to >= self.peers || to == self.id {
            let e = match to == self.id {
                true => format!("peer {} sent a message to itself", self.id),
                false => format!(
                    "peer {} sent a message to {to}, but its peers are 0..{}",
                    self.id, self.peers
                ),
            };
            self.report_error(e);
            return;
        }
        let peer = self.peer.as_ref().expect("started");
        let declared = peer.methods().iter().find(|(m, _)| *m == msg.method);
        let fits = match (msg.kind, declared) {
            (Kind::Reply, Some((_, Kind::Request))) => true,
            (kind, Some((_, declared))) => kind != Kind::Reply && kind == *declared,
            (_, None) => false,
        };
        if !fits {
            let e = format!(
                "peer {} sent a {:?} of `{}`, which its methods() do not declare so",
                self.id, msg.kind, msg.method
            );
            self.report_error(e);
            return;
        }
        let to_node = self.base + to;
        if ctx.is_streaming() {
            let fields = [("to", to_node.into())];
            ctx.annotate_fields("rpc", &fields, || peer.describe(&msg));
        }
        match msg.kind {
            Kind::Reply => match token.take() {
                Some(t) if t.caller() == to_node => respond(ctx, t, Ok(msg.bytes)),
                other => {
                    let e = match &other {
                        None => format!(
                            "peer {} sent a second reply to {to}, or a reply to a request it did not get in this step (one reply per request)",
                            self.id
                        ),
                        Some(t) => format!(
                            "peer {} sent a reply to {to}, but the request it answers came from {}",
                            self.id,
                            t.caller().wrapping_sub(self.base)
                        ),
                    };
                    *token = other;
                    self.report_error(e);
                }
            },
            Kind::Request => {
                let method = msg.method;
                let call = send_packet(ctx, to_node, msg);
                self.calls.insert(call, method);
            }
            Kind::OneWay => {
                send_packet(ctx, to_node, msg);
            }
        }
    }

    fn apply(&mut self, ctx: &mut labrpc::Ctx<'_>, apply: ApplyMsg) {
        let peer = self.peer.as_deref_mut().expect("started");
        if let ApplyMsg::Command { index, command, .. } = &apply {
            self.oracle.borrow_mut().apply(self.id, *index, command);
        }
        let mut env = ApplyEnv {
            ctx,
            id: self.id,
            peer,
            oracle: &self.oracle,
            installing: self.installing,
        };
        if let Err(e) = self.service.apply(&mut env, apply) {
            self.report_error(e);
        }
    }

    fn report(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        self.observe_role(ctx);
        let Some(peer) = &self.peer else { return };
        let status = peer.status();
        let term = status.term;
        // For readers of the trace (the picture): role, term and commit
        // index as they change. Annotations never enter the hash.
        let seen = (status.role, term, status.commit_index);
        if ctx.is_streaming() && self.last_seen != Some(seen) {
            if self
                .last_seen
                .is_none_or(|(r, t, _)| (r, t) != (seen.0, seen.1))
            {
                let role = format!("{:?}", seen.0).to_lowercase();
                let fields = [("role", role.as_str().into()), ("term", term.into())];
                ctx.annotate_fields("role", &fields, || format!("{role} term {term}"));
            }
            if self.last_seen.is_none_or(|(_, _, c)| c != seen.2) {
                let fields = [("commit_index", seen.2.into())];
                ctx.annotate_fields("commit", &fields, || seen.2.to_string());
            }
            self.last_seen = Some(seen);
        }
    }

    fn arm_timer(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        let Some(peer) = &self.peer else { return };
        let mut deadline = peer.next_deadline_ms();
        let now = now_ms(ctx);
        // Virtual time stands still while a peer that was just ticked asks to
        // be ticked again at once: a peer that always does would hang the run.
        if deadline <= now && self.ticks_now == (now, MAX_TICKS_AT_ONE_INSTANT) {
            let e = format!(
                "peer {} ({}) asked to be ticked again at the same instant {} times: \
                     next_deadline_ms() must move past the time tick() was given",
                self.id, self.choice.name, MAX_TICKS_AT_ONE_INSTANT
            );
            self.report_error(e);
            deadline = now + 1;
        }
        if let Some((timer, at)) = self.timer {
            if at <= deadline {
                return; // fires early, then re-arms
            }
            ctx.cancel_timer(timer);
        }
        let timer = ctx.set_timer(deadline.saturating_sub(now).min(MAX_TIMER_MS) * MS, 0);
        self.timer = Some((timer, deadline));
    }

    /// A request packet for the peer (not the service): an RPC request waits
    /// for the peer's reply; a one-way message is acknowledged at once, so the
    /// network ends its call, and handed to the peer.
    fn peer_request(&mut self, ctx: &mut labrpc::Ctx<'_>, request: labrpc::Request) {
        let Some(from) = self.peer_of(request.from) else {
            let why = format!(
                "{} from node {}, outside the group",
                request.method, request.from
            );
            respond(ctx, request.token, Err(RpcError::UnknownMethod(why)));
            return;
        };
        let kind = self
            .peer
            .as_ref()
            .and_then(|p| p.methods().iter().find(|(m, _)| *m == request.method))
            .map(|(_, k)| *k);
        let msg = |kind| Wire {
            kind,
            method: request.method,
            bytes: request.args,
        };
        match kind {
            Some(Kind::OneWay) => {
                respond(ctx, request.token, Ok(Vec::new()));
                let msg = msg(Kind::OneWay);
                self.input(ctx, Input::Message { from, msg });
            }
            Some(_) => {
                let token = request.token;
                self.input(
                    ctx,
                    Input::Request {
                        from,
                        msg: msg(Kind::Request),
                        token,
                    },
                );
            }
            None if self.peer.is_none() => {
                respond(ctx, request.token, Err(RpcError::ServerCrashed));
            }
            None => {
                let m = request.method.to_owned();
                respond(ctx, request.token, Err(RpcError::UnknownMethod(m)));
            }
        }
    }
}

/// Bytes of Raft state and of the snapshot that `choice`'s peer persisted on
/// `storage` (6.824's `RaftStateSize` and `SnapshotSize`), read by a peer
/// restored from that disk alone, so a crashed node's disk counts too.
pub fn persisted_sizes(
    choice: &PeerChoice,
    peers: usize,
    id: PeerId,
    storage: &labsim::Storage,
) -> (u64, u64) {
    let disk = ReadOnly(storage);
    match (choice.factory)(PeerConfig::new(id, peers, 0), &disk, 0) {
        Ok(p) => (p.raft_state_bytes(&disk), p.snapshot_bytes(&disk)),
        // The node itself fails to restart from this disk, and says so.
        Err(_) => (0, 0),
    }
}

/// Sends `msg` to `to` as a labrpc request; returns its call.
fn send_packet(ctx: &mut labrpc::Ctx<'_>, to: NodeId, msg: Wire) -> CallId {
    let call = ctx.unique_id();
    let packet = Packet::Request {
        call,
        method: msg.method,
        args: msg.bytes,
    };
    ctx.send(to, packet);
    call
}

impl<S: Service> Node<labrpc::Net> for PeerNode<S> {
    fn on_start(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        let id = self
            .peer_of(ctx.id())
            .expect("a peer node is one of its group");
        self.id = id;
        let tuning = self.tuning;
        let config = PeerConfig {
            election_timeout_min_ms: tuning.election_timeout_min_ms,
            election_timeout_max_ms: tuning.election_timeout_max_ms,
            heartbeat_interval_ms: tuning.heartbeat_interval_ms,
            pre_vote: tuning.pre_vote,
            max_entries_per_append: tuning.max_entries_per_append,
            check_quorum: tuning.check_quorum,
            lease_reads: tuning.lease_reads,
            backtracking: tuning.backtracking,
            voters: tuning.voters,
            ..PeerConfig::new(id, self.peers, rand::RngExt::random(ctx.rng()))
        };
        self.oracle.borrow_mut().restarted(id);
        let now = now_ms(ctx);
        let made = (self.choice.factory)(config, &ReadOnly(ctx.storage()), now);
        match made {
            Ok(peer) => {
                let status = peer.status();
                self.oracle
                    .borrow_mut()
                    .restored(id, status.term, status.voted_for);
                self.persisted_last = status.last_index;
                self.peer = Some(peer);
                self.pump(ctx);
            }
            Err(e) => {
                let name = self.choice.name;
                self.error = Some(format!("peer {id} ({name}) cannot start: {e}"));
            }
        }
    }

    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: Packet) {
        match labrpc::incoming(ctx, from, packet) {
            Incoming::Request(r) if self.router.handles(r.method) => {
                let router = self.router.clone();
                router.dispatch(self, ctx, r);
            }
            Incoming::Request(r) => self.peer_request(ctx, r),
            Incoming::Completion(c) => {
                // Completions of one-way messages and failed calls need
                // nothing: a peer retries on its own schedule. Calls that are
                // not the peer's are the service's.
                let Some(method) = self.calls.remove(&c.call) else {
                    if self.service.awaits(c.call) {
                        self.with_service_and_peer(ctx, |svc, peer, ctx| {
                            svc.completion(ctx, peer, c)
                        });
                    }
                    return;
                };
                let from = self
                    .peer_of(c.server)
                    .expect("calls go to peers of the group");
                if let Ok(bytes) = c.outcome {
                    let msg = Wire {
                        kind: Kind::Reply,
                        method,
                        bytes,
                    };
                    self.input(ctx, Input::Message { from, msg });
                }
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
        let Some((id, ready, token, installing, promise)) = self.syncing.take() else {
            return;
        };
        if id != sync {
            self.syncing = Some((id, ready, token, installing, promise));
            return;
        }
        self.installing = installing;
        self.release(ctx, ready, token, promise);
        self.installing = false;
        self.pump(ctx);
    }
}

/// Runs `f` on the peer of server `node` (a Raft tester's, a KV server's or
/// a shard controller's) with the time now, then drives its Ready: how the
/// nemesis and the suites reach a peer without knowing the service on top.
/// None if it is not up.
pub fn with_any_peer<R>(
    sim: &mut labrpc::Sim,
    node: NodeId,
    f: impl FnOnce(&mut dyn Peer, u64) -> R,
) -> Option<R> {
    use crate::replicated::{CtrlNode, KvNode};
    use crate::shardkv_suite::server::ShardKvNode;
    if sim.node::<RaftNode>(node).is_some() {
        return sim.with_node::<RaftNode, _>(node, |n, ctx| n.with_peer(ctx, f))?;
    }
    if sim.node::<KvNode>(node).is_some() {
        return sim.with_node::<KvNode, _>(node, |n, ctx| n.with_peer(ctx, f))?;
    }
    if sim.node::<CtrlNode>(node).is_some() {
        return sim.with_node::<CtrlNode, _>(node, |n, ctx| n.with_peer(ctx, f))?;
    }
    sim.with_node::<ShardKvNode, _>(node, |n, ctx| n.with_peer(ctx, f))?
}

/// The peer of server `node`, whatever the service on top; None if it is not up.
fn any_peer(sim: &labrpc::Sim, node: NodeId) -> Option<&dyn Peer> {
    use crate::replicated::{CtrlNode, KvNode};
    use crate::shardkv_suite::server::ShardKvNode;
    let raft = || sim.node::<RaftNode>(node).and_then(|n| n.peer());
    let kv = || sim.node::<KvNode>(node).and_then(|n| n.peer());
    let ctrl = || sim.node::<CtrlNode>(node).and_then(|n| n.peer());
    let shardkv = || sim.node::<ShardKvNode>(node).and_then(|n| n.peer());
    raft().or_else(kv).or_else(ctrl).or_else(shardkv)
}

/// The status of server `node`'s peer, whatever the service on top.
pub fn any_status(sim: &labrpc::Sim, node: NodeId) -> Option<peer::Status> {
    any_peer(sim, node).map(|p| p.status())
}
