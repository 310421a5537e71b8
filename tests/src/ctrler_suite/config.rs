//! The shard controller's harness: 6.824's shardctrler `config.go` in virtual
//! time. Servers are nodes `0..n` (a Raft peer and a controller server each),
//! clerks are nodes added as the test makes them.

use super::clerk::CtrlClerkNode;
use crate::Test;
use crate::failure::{Failure, FailureKind};
use crate::harness::{Harness, HarnessOptions};
use crate::raft_suite::RunReport;
use crate::raft_suite::node::{PeerNode, RaftTuning};
use crate::replicated::clerk::Settled;
use crate::replicated::server::ReplicatedService;
use labsim::{NodeId, SEC};
use peer::{ConfigNum, CtrlOp, CtrlOutcome, Gid, NSHARDS, ShardConfig};
use rand::RngExt;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// 6.824's limit on one test, in virtual time.
pub const TEST_LIMIT_NS: u64 = 120 * SEC;

/// A controller clerk, as the test holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtrlCk(pub NodeId);

/// A shard controller under test (6.824's shardctrler `config`).
pub struct CtrlConfig {
    h: Harness,
    clerks: Vec<NodeId>,
    /// Operations completed by every clerk.
    ops: u64,
}

impl Deref for CtrlConfig {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl DerefMut for CtrlConfig {
    fn deref_mut(&mut self) -> &mut Harness {
        &mut self.h
    }
}

impl CtrlConfig {
    /// Builds the controller for the run `t` (6.824's `make_config(t, n, unreliable)`),
    /// on the peer under test.
    pub fn new(t: &Test, servers: usize, unreliable: bool) -> CtrlConfig {
        let harness = HarnessOptions {
            test: t.name.to_owned(),
            seed: t.seed,
            peers: servers,
            unreliable,
            peer: crate::peers::current(),
            time_limit_ns: Some(TEST_LIMIT_NS),
            node_prefix: "ctrler",
        };
        let h = Harness::new(harness, move |peer, oracle| {
            let service = ReplicatedService::new((peer.ctrler)());
            PeerNode::with_service(
                servers,
                RaftTuning::default(),
                peer.clone(),
                service,
                oracle,
            )
        });
        CtrlConfig {
            h,
            clerks: Vec::new(),
            ops: 0,
        }
    }

    /// 6.824's `makeClient(to)`: a new clerk that reaches only servers `to`.
    pub fn make_client(&mut self, to: &[usize]) -> CtrlCk {
        let client = self.clerks.len();
        let client_id = self.rng().random::<u64>();
        let mut node = Some(CtrlClerkNode::new(client_id, self.all()));
        let id = self
            .sim
            .add_node(format!("ctrlclerk{client}"), move |_, _| {
                Box::new(node.take().expect("clerks never restart"))
            });
        self.clerks.push(id);
        self.connect_client_node(id, to);
        CtrlCk(id)
    }

    /// Runs `ops` on `ck`, in order, in the background (a client goroutine).
    pub fn start_ops(&mut self, ck: CtrlCk, ops: Vec<CtrlOp>) {
        self.sim
            .with_node::<CtrlClerkNode, _>(ck.0, |c, ctx| c.run(ctx, ops))
            .expect("clerks are up");
    }

    /// Waits until every clerk of `cks` has run all it was given; the
    /// outcomes, per clerk, of what they ran since the last wait.
    pub fn wait(&mut self, cks: &[CtrlCk]) -> Result<Vec<Vec<CtrlOutcome>>, Failure> {
        let ids: Vec<NodeId> = cks.iter().map(|c| c.0).collect();
        let all = wait_clerks(&mut self.h, &ids)?;
        self.ops += all.iter().map(|o| o.len() as u64).sum::<u64>();
        Ok(all)
    }

    /// Runs one operation on `ck` and waits for what it returned.
    pub fn call(&mut self, ck: CtrlCk, op: CtrlOp) -> Result<CtrlOutcome, Failure> {
        self.ops += 1;
        call_on(&mut self.h, ck.0, op)
    }

    /// Runs a change that must take effect.
    fn change(&mut self, ck: CtrlCk, op: CtrlOp) -> Result<(), Failure> {
        match self.call(ck, op.clone())? {
            CtrlOutcome::Done => Ok(()),
            other => self.check(format!("{op:?} returned {other:?}")),
        }
    }

    /// `ck.Query(num)`: configuration `num`, the latest if `num` is -1.
    pub fn query(&mut self, ck: CtrlCk, num: i64) -> Result<ShardConfig, Failure> {
        let num = ConfigNum::try_from(num).ok();
        match self.call(ck, CtrlOp::Query { num })? {
            CtrlOutcome::Config(c) => Ok(c),
            other => self.check(format!("Query({num:?}) returned {other:?}")),
        }
    }

    /// `ck.Join(servers)`.
    pub fn join(&mut self, ck: CtrlCk, servers: BTreeMap<Gid, Vec<String>>) -> Result<(), Failure> {
        self.change(ck, CtrlOp::Join { servers })
    }

    /// `ck.Leave(gids)`.
    pub fn leave(&mut self, ck: CtrlCk, gids: &[Gid]) -> Result<(), Failure> {
        let gids = gids.to_vec();
        self.change(ck, CtrlOp::Leave { gids })
    }

    /// `ck.Move(shard, gid)`.
    pub fn move_shard(&mut self, ck: CtrlCk, shard: usize, gid: Gid) -> Result<(), Failure> {
        self.change(ck, CtrlOp::Move { shard, gid })
    }

    /// 6.824's `check(t, groups, ck)`: the latest configuration has exactly
    /// `groups`, every shard on one of them, and a balanced split.
    pub fn check_groups(&mut self, ck: CtrlCk, groups: &[Gid]) -> Result<(), Failure> {
        let c = self.query(ck, -1)?;
        if c.groups.len() != groups.len() {
            return self.check(format!(
                "wanted {} groups, got {}",
                groups.len(),
                c.groups.len()
            ));
        }
        if let Some(g) = groups.iter().find(|g| !c.groups.contains_key(g)) {
            return self.check(format!("missing group {g}"));
        }
        if !groups.is_empty()
            && let Some(s) = (0..NSHARDS).find(|&s| !c.groups.contains_key(&c.shards[s]))
        {
            return self.check(format!("shard {s} -> invalid group {}", c.shards[s]));
        }
        let counts: Vec<usize> = c.groups.keys().map(|&g| c.shards_of(g).len()).collect();
        let (min, max) = (counts.iter().min(), counts.iter().max());
        if let (Some(min), Some(max)) = (min, max)
            && max > &(min + 1)
        {
            return self.check(format!("max {max} too much larger than min {min}"));
        }
        Ok(())
    }

    /// 6.824's `check_same_config`.
    pub fn check_same_config(&self, c1: &ShardConfig, c2: &ShardConfig) -> Result<(), Failure> {
        match c1 == c2 {
            true => Ok(()),
            false => self.check(format!("configurations differ: {c1:?} and {c2:?}")),
        }
    }

    /// Ends the test: a last safety check and the run's figures.
    pub fn end(&mut self) -> Result<RunReport, Failure> {
        self.h.report(self.ops)
    }
}

/// Waits until every controller clerk of `cks` has run all it was given; the
/// outcomes, per clerk, of what they ran since the last wait.
pub fn wait_clerks(h: &mut Harness, cks: &[NodeId]) -> Result<Vec<Vec<CtrlOutcome>>, Failure> {
    let ids = cks.to_vec();
    let idle = move |s: &labrpc::Sim| {
        ids.iter()
            .all(|&id| s.node::<CtrlClerkNode>(id).is_none_or(|c| c.idle()))
    };
    // At most until the test's limit: an operation that never completes is
    // this failure, at the limit, whenever the wait started.
    let timeout_ns = h.time_left_ns().unwrap_or(TEST_LIMIT_NS).min(TEST_LIMIT_NS);
    if !h.run_until(idle, timeout_ns)? {
        let what = "a controller operation never completed";
        return Err(h.failure(FailureKind::Liveness, what));
    }
    let mut all = Vec::new();
    for &ck in cks {
        let taken = h
            .sim
            .with_node::<CtrlClerkNode, _>(ck, |c, _| std::mem::take(&mut c.outcomes))
            .expect("clerks are up");
        let mut outcomes = Vec::new();
        for settled in taken {
            match settled {
                Settled::Done(outcome) => outcomes.push(outcome),
                Settled::Refused(why) => {
                    return h.check(format!("controller operation refused: {why}"));
                }
            }
        }
        all.push(outcomes);
    }
    Ok(all)
}

/// Runs one operation on the controller clerk `ck` and waits for what it returned.
pub fn call_on(h: &mut Harness, ck: NodeId, op: CtrlOp) -> Result<CtrlOutcome, Failure> {
    h.sim
        .with_node::<CtrlClerkNode, _>(ck, |c, ctx| c.run(ctx, vec![op]))
        .expect("clerks are up");
    let outcome = wait_clerks(h, &[ck])?.pop().and_then(|mut o| o.pop());
    Ok(outcome.expect("one operation, one outcome"))
}
