//! The Raft harness: a cluster of peers on labrpc, with 6.824 config.go's
//! helpers (check one leader, check terms, one(), wait(), nCommitted, ...),
//! all in virtual time.

use super::node::{RaftNode, RaftTuning, ServiceConfig};
use super::oracle::Oracle;
use crate::Test;
use crate::failure::{Failure, FailureKind};
use crate::harness::{Harness, HarnessOptions};
use crate::peers::PeerChoice;
use labsim::{MS, SEC, SimError};
use peer::{Index, Term};
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// 6.824's limit on one test, in virtual time.
pub const TEST_LIMIT_NS: u64 = 120 * SEC;

/// Encodes a test command (6.824's tests use integers).
pub fn cmd(value: u64) -> Vec<u8> {
    labrpc::encode(&value)
}

/// Decodes a test command, if it is an integer.
pub fn decode_cmd(bytes: &[u8]) -> Option<u64> {
    labrpc::decode::<u64>(bytes).ok()
}

/// Options for a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Peers.
    pub peers: usize,
    /// 6.824's `unreliable`.
    pub unreliable: bool,
    /// 6.824's `snapshot`: the service snapshots every `snapshot_interval` commands.
    pub snapshot: bool,
    /// Commands between two snapshots (6.824: 10).
    pub snapshot_interval: u64,
    /// Raft timing.
    pub tuning: RaftTuning,
    /// The Raft under test.
    pub peer: PeerChoice,
    /// Fail past this much virtual time (6.824's 120 s; exploration
    /// scenarios run without a limit).
    pub time_limit_ns: Option<u64>,
}

impl ClusterOptions {
    /// `peers` peers, reliable, no snapshots.
    pub fn new(peers: usize) -> ClusterOptions {
        ClusterOptions {
            peers,
            unreliable: false,
            snapshot: false,
            snapshot_interval: super::tests_d::SNAPSHOT_INTERVAL,
            tuning: RaftTuning::default(),
            peer: crate::peers::current(),
            time_limit_ns: Some(TEST_LIMIT_NS),
        }
    }
}

/// What a finished run reports.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// The run's trace hash.
    pub trace_hash: u64,
    /// Events processed.
    pub events: u64,
    /// Virtual time at the end.
    pub virtual_ns: u64,
    /// RPCs sent.
    pub rpcs: u64,
    /// Commands agreed: by `one`, and those clients saw commit.
    pub commands: u64,
    /// The coverage marks the run reached, with how often (`peer::coverage`).
    pub marks: std::collections::BTreeMap<&'static str, u64>,
}

/// A Raft cluster under test (6.824's `config`).
pub struct Cluster {
    h: Harness,
    commands: u64,
}

impl Deref for Cluster {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut Harness {
        &mut self.h
    }
}

impl Cluster {
    /// Builds the cluster for the run `t`.
    pub fn new(t: &Test, options: ClusterOptions) -> Cluster {
        let n = options.peers;
        let (snapshot_every, tuning) = (
            options.snapshot.then_some(options.snapshot_interval),
            options.tuning,
        );
        let harness = HarnessOptions {
            test: t.name.to_owned(),
            seed: t.seed,
            peers: n,
            unreliable: options.unreliable,
            peer: options.peer,
            time_limit_ns: options.time_limit_ns,
            node_prefix: "raft",
        };
        let h = Harness::new(harness, move |peer, oracle| {
            let service = ServiceConfig {
                snapshot_every,
                raft: tuning,
                peer: peer.clone(),
            };
            RaftNode::new(n, service, oracle)
        });
        Cluster { h, commands: 0 }
    }

    fn fail<T>(&self, what: impl Into<String>) -> Result<T, Failure> {
        Err(self.failure(FailureKind::Liveness, what))
    }

    /// Is peer `i` connected?
    pub fn connected(&self, i: usize) -> bool {
        self.sim.net().is_connected(i)
    }

    /// Is peer `i` running (not crashed)?
    pub fn alive(&self, i: usize) -> bool {
        self.sim.node::<RaftNode>(i).is_some()
    }

    /// 6.824's `connect(i)`.
    pub fn connect(&mut self, i: usize) {
        self.sim
            .with_net(|net, k| net.set_connected(k, i, true))
            .expect("peer exists");
    }

    /// 6.824's `disconnect(i)`.
    pub fn disconnect(&mut self, i: usize) {
        self.sim
            .with_net(|net, k| net.set_connected(k, i, false))
            .expect("peer exists");
    }

    /// 6.824's `crash1(i)`: disconnect, then crash (only synced state survives).
    pub fn crash(&mut self, i: usize) {
        self.disconnect(i);
        if self.alive(i) {
            self.sim.crash(i).expect("peer exists");
        }
    }

    /// 6.824's `start1(i)`: rebuild a crashed peer from its disk (it stays
    /// disconnected until `connect`). A live peer is crashed first.
    pub fn restart(&mut self, i: usize) {
        if self.alive(i) {
            self.crash(i);
        }
        self.sim.restart(i).expect("peer was crashed");
    }

    /// 6.824's `setunreliable`.
    pub fn set_unreliable(&mut self, unreliable: bool) {
        self.sim.with_net(|net, _| net.set_reliable(!unreliable));
    }

    /// 6.824's `setlongreordering`.
    pub fn set_long_reordering(&mut self, on: bool) {
        self.sim.with_net(|net, _| net.set_long_reordering(on));
    }

    /// RPCs received by peer `i`.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.sim.net().rpc_count(i)
    }

    /// RPCs sent in all.
    pub fn rpc_total(&self) -> u64 {
        self.sim.net().total_rpcs()
    }

    /// Bytes sent in all.
    pub fn bytes_total(&self) -> u64 {
        self.sim.net().total_bytes()
    }

    /// Bytes of persisted Raft state of peer `i` (6.824's `RaftStateSize`).
    pub fn raft_state_size(&self, i: usize) -> u64 {
        super::node::persisted_sizes(&self.peer, self.n, i, self.sim.storage(i)).0
    }

    /// `rf.Start(cmd)` on peer `i`; None if it is crashed.
    pub fn start(
        &mut self,
        i: usize,
        command: Vec<u8>,
    ) -> Result<Option<(Index, Term, bool)>, Failure> {
        let r = self
            .sim
            .with_node::<RaftNode, _>(i, |node, ctx| node.start(ctx, command));
        if let Some(v) = self.sim.violation() {
            return Err(self.sim_err(SimError::Violation(v.clone())));
        }
        Ok(r)
    }

    /// Asks peer `i` to hand its leadership to `to` (thesis 3.10). The outer
    /// error is the run's; the inner one the peer's refusal (not the leader,
    /// no such peer, no such feature). A crashed peer refuses.
    pub fn transfer_leadership(
        &mut self,
        i: usize,
        to: usize,
    ) -> Result<Result<(), String>, Failure> {
        self.ask(i, |peer, now_ms| peer.transfer_leadership(now_ms, to))
    }

    /// Asks peer `i` to move the cluster to `target` (thesis chapter 4) and
    /// returns the index of the configuration entry. Errors as for
    /// [`Cluster::transfer_leadership`] (a refusal: not the leader, a change
    /// under way, no voters, no such feature).
    pub fn change_membership(
        &mut self,
        i: usize,
        target: peer::Membership,
    ) -> Result<Result<Index, String>, Failure> {
        self.ask(i, |peer, now_ms| peer.change_membership(now_ms, target))
    }

    /// Asks peer `i` to confirm a read tagged `ctx` by ReadIndex (thesis
    /// 6.4) and waits up to `limit_ns` for its ReadState: the index the read
    /// may be served at, or None if none came in time. Errors as for
    /// [`Cluster::transfer_leadership`] (a refusal: not the leader, no such
    /// feature).
    pub fn read_index(
        &mut self,
        i: usize,
        ctx: u64,
        limit_ns: u64,
    ) -> Result<Result<Option<Index>, String>, Failure> {
        if let Err(e) = self.ask(i, |peer, now_ms| peer.read_index(now_ms, ctx))? {
            return Ok(Err(e));
        }
        self.run_until(|sim| confirmed_read(sim, i, ctx).is_some(), limit_ns)?;
        Ok(Ok(confirmed_read(&self.sim, i, ctx)))
    }

    /// Runs one of the peer's optional inputs on peer `i`: the run's error
    /// outside, the peer's refusal inside.
    fn ask<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut dyn peer::Peer, u64) -> Result<R, peer::PeerError>,
    ) -> Result<Result<R, String>, Failure> {
        let r = super::node::with_any_peer(&mut self.sim, i, f);
        if let Some(v) = self.sim.violation() {
            return Err(self.sim_err(SimError::Violation(v.clone())));
        }
        Ok(match r {
            Some(r) => r.map_err(|e| e.to_string()),
            None => Err(format!("peer {i} is not running")),
        })
    }

    /// The configuration peer `i` follows (None if crashed or if its peer
    /// does not report one).
    pub fn membership(&self, i: usize) -> Option<peer::Membership> {
        super::node::any_status(&self.sim, i).and_then(|s| s.membership)
    }

    /// `rf.GetState()` of peer `i`; None if crashed.
    pub fn get_state(&self, i: usize) -> Option<(Term, bool)> {
        self.sim
            .node::<RaftNode>(i)
            .and_then(|n| n.peer())
            .map(|p| p.status().get_state())
    }

    /// 6.824's `checkOneLeader`: a connected leader within ~5 s.
    pub fn check_one_leader(&mut self) -> Result<usize, Failure> {
        for _ in 0..10 {
            let ms = 450 + self.rand(100);
            self.sleep(ms * MS)?;
            let mut leaders: std::collections::BTreeMap<Term, Vec<usize>> = Default::default();
            for i in 0..self.n {
                if self.connected(i)
                    && let Some((term, true)) = self.get_state(i)
                {
                    leaders.entry(term).or_default().push(i);
                }
            }
            for (term, ls) in &leaders {
                if ls.len() > 1 {
                    return Err(self.failure(
                        FailureKind::Safety,
                        format!("term {term} has {} leaders {ls:?}", ls.len()),
                    ));
                }
            }
            if let Some((_, ls)) = leaders.last_key_value() {
                return Ok(ls[0]);
            }
        }
        self.fail("expected one leader, got none")
    }

    /// 6.824's `checkTerms`: connected peers agree on the term.
    pub fn check_terms(&self) -> Result<Term, Failure> {
        let mut term = None;
        for i in 0..self.n {
            if self.connected(i)
                && let Some((t, _)) = self.get_state(i)
            {
                match term {
                    None => term = Some(t),
                    Some(t0) if t0 != t => {
                        return self.fail(format!("servers disagree on term ({t0} vs {t})"));
                    }
                    _ => {}
                }
            }
        }
        Ok(term.unwrap_or(0))
    }

    /// 6.824's `checkNoLeader`: no connected peer thinks it leads.
    pub fn check_no_leader(&self) -> Result<(), Failure> {
        for i in 0..self.n {
            if self.connected(i) && self.get_state(i).is_some_and(|(_, l)| l) {
                return self.fail(format!(
                    "expected no leader among connected servers, but {i} claims to be leader"
                ));
            }
        }
        Ok(())
    }

    /// 6.824's `nCommitted`: how many peers applied `index`, and its command.
    pub fn n_committed(&self, index: Index) -> (usize, Option<Vec<u8>>) {
        let o = self.oracle.borrow();
        let (n, c) = o.n_committed(index);
        (n, c.map(<[u8]>::to_vec))
    }

    fn committed_pred(
        oracle: &Rc<RefCell<Oracle>>,
        index: Index,
        expected: usize,
        command: &[u8],
    ) -> bool {
        let o = oracle.borrow();
        let (n, c) = o.n_committed(index);
        n > 0 && n >= expected && c == Some(command)
    }

    /// 6.824's `one(cmd, expectedServers, retry)`: gets `command` committed
    /// by at least `expected` peers within 10 s (2 s per leader tried).
    pub fn one(
        &mut self,
        command: Vec<u8>,
        expected: usize,
        retry: bool,
    ) -> Result<Index, Failure> {
        let agreed = self.agree_within(&command, expected, retry, 10 * SEC)?;
        match agreed {
            Some(index) => Ok(index),
            None => self.fail(format!("one({}) failed to reach agreement", show(&command))),
        }
    }

    /// `one()` with its own limit: `command` committed by `expected` peers
    /// within `limit_ns` (2 s per leader tried, never past the limit), or
    /// `None`. Each try at a leader ends at the limit, so the limit is exact.
    pub fn agree_within(
        &mut self,
        command: &[u8],
        expected: usize,
        retry: bool,
        limit_ns: u64,
    ) -> Result<Option<Index>, Failure> {
        let deadline_ns = self.sim.now_ns() + limit_ns;
        let mut starts = 0;
        while self.sim.now_ns() < deadline_ns {
            let left_ns = deadline_ns - self.sim.now_ns();
            let mut index = None;
            for _ in 0..self.n {
                starts = (starts + 1) % self.n;
                if self.connected(starts)
                    && let Some((i, _, true)) = self.start(starts, command.to_vec())?
                {
                    index = Some(i);
                    break;
                }
            }
            match index {
                Some(index) => {
                    let oracle = self.oracle.clone();
                    let agreed = self.run_until(
                        |_| Self::committed_pred(&oracle, index, expected, command),
                        left_ns.min(2 * SEC),
                    )?;
                    if agreed {
                        self.commands += 1;
                        return Ok(Some(index));
                    }
                    if !retry {
                        return Ok(None);
                    }
                }
                None => self.sleep(left_ns.min(50 * MS))?,
            }
            self.check_time()?;
        }
        Ok(None)
    }

    /// 6.824's `wait(index, n, startTerm)`: waits (with backoff, ~30 s at
    /// most) for `n` peers to apply `index`; None if some peer's term moved
    /// past `start_term` first.
    pub fn wait(
        &mut self,
        index: Index,
        n: usize,
        start_term: Option<Term>,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let mut to = 10 * MS;
        for _ in 0..30 {
            if self.n_committed(index).0 >= n {
                break;
            }
            self.sleep(to)?;
            if to < SEC {
                to *= 2;
            }
            if let Some(st) = start_term {
                for i in 0..self.n {
                    if self.get_state(i).is_some_and(|(t, _)| t > st) {
                        return Ok(None);
                    }
                }
            }
        }
        let (got, c) = self.n_committed(index);
        if got < n {
            return self.fail(format!("only {got} decided for index {index}; wanted {n}"));
        }
        Ok(c)
    }

    /// The highest index applied by anyone.
    pub fn max_index(&self) -> Index {
        self.oracle.borrow().max_index()
    }

    /// What peer `i` applied at `index` (6.824's `cfg.logs[i][index]`).
    pub fn applied_at(&self, i: usize, index: Index) -> Option<Vec<u8>> {
        self.oracle
            .borrow()
            .applied_at(i, index)
            .map(<[u8]>::to_vec)
    }

    /// Counts `n` commands that clients of the test's own saw commit.
    pub fn count_commands(&mut self, n: u64) {
        self.commands += n;
    }

    /// Ends the run: a last safety check, the time limit (if any), and the
    /// run's figures.
    pub fn end(&mut self) -> Result<RunReport, Failure> {
        self.report(self.commands)
    }
}

/// The index at which peer `i` (as it runs now) confirmed the read `ctx`.
fn confirmed_read(sim: &labrpc::Sim, i: usize, ctx: u64) -> Option<Index> {
    let reads = &sim.node::<RaftNode>(i)?.service.reads;
    reads.iter().find(|r| r.ctx == ctx).map(|r| r.index)
}

fn show(command: &[u8]) -> String {
    decode_cmd(command).map_or_else(|| format!("<{} bytes>", command.len()), |v| v.to_string())
}
