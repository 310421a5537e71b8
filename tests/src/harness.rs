//! What the Raft and KV configurations (6.824's two `config.go`s) share: one
//! cluster of peers under test on a simulation, its safety oracle, virtual
//! time and the test's limit, and the failure line of the run.
//! [`crate::raft_suite::Cluster`] and [`crate::kv_suite::KvConfig`] add their
//! own helpers on top (they dereference to this).

use crate::failure::{Failure, FailureKind};
use crate::peers::PeerChoice;
use crate::raft_suite::RunReport;
use crate::raft_suite::node::{PeerNode, Service};
use crate::raft_suite::oracle::Oracle;
use labrpc::{Net, NetConfig, Sim};
use labsim::{NodeId, SEC, SimError, SimRng, Stream};
use rand::RngExt;
use std::cell::RefCell;
use std::rc::Rc;

/// Most events one run may process: far above any healthy run (a kv-nemesis
/// seed takes about 150,000, the largest graded test about 130,000), so only
/// a message storm or a peer that keeps time from moving reaches it. Counted
/// in events, so the failure is the same on every machine.
pub const EVENT_BUDGET: u64 = 5_000_000;

/// One cluster of peers under test.
pub struct Harness {
    /// The simulation.
    pub sim: Sim,
    /// Peers (nodes `0..n`).
    pub(crate) n: usize,
    pub(crate) oracle: Rc<RefCell<Oracle>>,
    pub(crate) test: String,
    pub(crate) seed: u64,
    /// The Raft under test.
    pub(crate) peer: PeerChoice,
    /// A graded test fails past this much virtual time (6.824's 120 s).
    time_limit_ns: Option<u64>,
}

/// How to build a [`Harness`].
pub struct HarnessOptions {
    /// The test or scenario, for failure lines.
    pub test: String,
    /// The run's seed.
    pub seed: u64,
    /// Peers.
    pub peers: usize,
    /// 6.824's `unreliable`.
    pub unreliable: bool,
    /// The Raft under test.
    pub peer: PeerChoice,
    /// Fail the run past this much virtual time.
    pub time_limit_ns: Option<u64>,
    /// Node names: `raft` gives raft0, raft1, ...
    pub node_prefix: &'static str,
}

impl Harness {
    /// A cluster of `options.peers` nodes, each a [`PeerNode`] made by
    /// `node`, with the oracle and every node's error as invariants.
    pub fn new<S: Service>(
        options: HarnessOptions,
        node: impl Fn(&PeerChoice, Rc<RefCell<Oracle>>) -> PeerNode<S> + Clone + 'static,
    ) -> Harness {
        let n = options.peers;
        let net = Net::new(NetConfig {
            reliable: !options.unreliable,
            ..Default::default()
        });
        let mut sim = Sim::new(options.seed, net);
        sim.set_event_budget(EVENT_BUDGET);
        // `lab` refuses a bad value before any run; a test run says so here.
        let per_node = crate::budgets::EVENT_RATE
            .get()
            .unwrap_or_else(|e| panic!("{e}"));
        sim.set_event_rate_budget(per_node);
        crate::hooks::prepare(sim.trace_mut());
        // Marks left by an earlier run on this thread are not this run's.
        peer::coverage::take_run();
        let oracle = add_group(
            &mut sim,
            "raft safety",
            n,
            options.node_prefix,
            &options.peer,
            node,
        );
        Harness {
            sim,
            n,
            oracle,
            test: options.test,
            seed: options.seed,
            peer: options.peer,
            time_limit_ns: options.time_limit_ns,
        }
    }

    /// Number of peers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The oracle, for concurrent clients.
    pub(crate) fn oracle(&self) -> Rc<RefCell<Oracle>> {
        self.oracle.clone()
    }

    /// A failure of this run, now.
    pub fn failure(&self, kind: FailureKind, what: impl Into<String>) -> Failure {
        Failure {
            test: self.test.clone(),
            peer: self.peer.name.to_owned(),
            seed: self.seed,
            at_ns: self.sim.now_ns(),
            what: what.into(),
            kind,
        }
    }

    /// Fails a test's own check (a count, a size).
    pub fn check<T>(&self, what: impl Into<String>) -> Result<T, Failure> {
        Err(self.failure(FailureKind::Check, what))
    }

    pub(crate) fn sim_err(&self, e: SimError) -> Failure {
        let mut f = Failure::from_sim(&self.test, self.seed, self.sim.now_ns(), e);
        f.peer = self.peer.name.to_owned();
        f
    }

    pub(crate) fn check_time(&self) -> Result<(), Failure> {
        match self.time_limit_ns {
            Some(limit) if self.sim.now_ns() > limit => Err(self.failure(
                FailureKind::Liveness,
                format!("test took longer than {} seconds", limit / SEC),
            )),
            _ => Ok(()),
        }
    }

    /// Virtual time until the test's limit (`None`: it has none). A wait
    /// bounded by it ends at the limit with its own failure, not past it as
    /// "took longer than".
    pub fn time_left_ns(&self) -> Option<u64> {
        self.time_limit_ns
            .map(|limit| limit.saturating_sub(self.sim.now_ns()))
    }

    /// The test's own random stream (6.824's `rand` calls in tests).
    pub fn rng(&mut self) -> &mut SimRng {
        self.sim.kernel().rng(Stream::Workload)
    }

    /// A random integer in `0..n` from the test's stream.
    pub fn rand(&mut self, n: u64) -> u64 {
        self.rng().random_range(0..n)
    }

    /// Lets `duration_ns` of virtual time pass.
    pub fn sleep(&mut self, duration_ns: u64) -> Result<(), Failure> {
        self.sim.run_for(duration_ns).map_err(|e| self.sim_err(e))?;
        self.check_time()
    }

    /// Runs until `done` holds or `timeout_ns` passes; true if it held.
    pub fn run_until(
        &mut self,
        done: impl FnMut(&Sim) -> bool,
        timeout_ns: u64,
    ) -> Result<bool, Failure> {
        let deadline = self.sim.now_ns() + timeout_ns;
        let held = self
            .sim
            .run_until(done, deadline)
            .map_err(|e| self.sim_err(e))?;
        self.check_time()?;
        Ok(held)
    }

    /// Ends the run: the last safety check, the time limit, and the figures
    /// (with `commands` agreed or operations done).
    pub fn report(&self, commands: u64) -> Result<RunReport, Failure> {
        if let Some(v) = self.sim.violation() {
            return Err(self.sim_err(SimError::Violation(v.clone())));
        }
        self.check_time()?;
        Ok(RunReport {
            trace_hash: self.sim.trace_hash(),
            events: self.sim.events(),
            virtual_ns: self.sim.now_ns(),
            rpcs: self.sim.net().total_rpcs(),
            commands,
            marks: peer::coverage::take_run(),
        })
    }
}

impl Harness {
    /// Adds another Raft group of `peers` nodes, after every node so far, each
    /// a [`PeerNode`] made by `node` and told its group's first node id, with
    /// its own oracle (its safety is checked apart from every other group's).
    /// Returns the node id of its peer 0; its nodes are named `prefix0`, ...
    pub fn add_group<S: Service>(
        &mut self,
        peers: usize,
        prefix: &str,
        node: impl Fn(&PeerChoice, Rc<RefCell<Oracle>>) -> PeerNode<S> + Clone + 'static,
    ) -> NodeId {
        let base = self.sim.node_count();
        let safety = format!("raft safety of {prefix}");
        let place = move |choice: &PeerChoice, oracle| node(choice, oracle).in_group_at(base);
        add_group(&mut self.sim, &safety, peers, prefix, &self.peer, place);
        base
    }
}

/// Adds `n` peer nodes made by `node` after every node so far, their oracle,
/// and an invariant named `safety` that checks it and the nodes' errors.
fn add_group<S: Service>(
    sim: &mut Sim,
    safety: &str,
    n: usize,
    prefix: &str,
    peer: &PeerChoice,
    node: impl Fn(&PeerChoice, Rc<RefCell<Oracle>>) -> PeerNode<S> + Clone + 'static,
) -> Rc<RefCell<Oracle>> {
    let base = sim.node_count();
    let oracle = Rc::new(RefCell::new(Oracle::new(n)));
    for i in 0..n {
        let (make, oracle, peer) = (node.clone(), oracle.clone(), peer.clone());
        sim.add_node(format!("{prefix}{i}"), move |_, _| {
            Box::new(make(&peer, oracle.clone()))
        });
    }
    let o = oracle.clone();
    sim.add_invariant(safety, move |s: &Sim| {
        if let Some(v) = o.borrow().violation() {
            return Err(v.to_owned());
        }
        for i in base..base + n {
            let node = s.node::<PeerNode<S>>(i);
            let error = node.and_then(|r| r.error.as_deref().or(r.service.broken()));
            if let Some(e) = error {
                return Err(e.to_owned());
            }
        }
        Ok(())
    });
    oracle
}

impl Drop for Harness {
    fn drop(&mut self) {
        crate::hooks::finished(self.sim.trace_mut());
    }
}
