//! The KV harness: 6.824's kvraft `config.go` in virtual time. Servers are
//! nodes `0..n` (a Raft peer and a KV server each), clerks are nodes added
//! as the test makes them. Every client operation goes into one history,
//! checked for linearizability when the test ends.

use super::clerk::{ClerkNode, HistoryClock, KvHistory, Workload};
use crate::Test;
use crate::budgets::CHECK_STEPS;
use crate::failure::{Failure, FailureKind};
use crate::harness::{Harness, HarnessOptions};
use crate::peers::{KvServerOptions, PeerChoice};
use crate::raft_suite::RunReport;
use crate::raft_suite::node::{PeerNode, RaftTuning, persisted_sizes};
use crate::replicated::clerk::{ClerkLink, OpLink};
use crate::replicated::server::ReplicatedService;
use labsim::{MS, NodeId, SEC};
use linearizability::{CheckOptions, CheckResult, KvModel, Limit, check, write_html};
use peer::Op;
use rand::RngExt;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::rc::Rc;

/// 6.824's electionTimeout in the KV tests.
pub const ELECTION_TIMEOUT_NS: u64 = SEC;
/// 6.824's limit on one test, in virtual time.
pub const TEST_LIMIT_NS: u64 = 120 * SEC;
/// A clerk, as the test holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ck(pub NodeId);

/// Options of a KV cluster.
#[derive(Clone, Debug)]
pub struct KvOptions {
    /// Servers.
    pub servers: usize,
    /// 6.824's `unreliable`.
    pub unreliable: bool,
    /// 6.824's `maxraftstate` (`None` for -1: never snapshot).
    pub maxraftstate: Option<u64>,
    /// The Raft (and KV server) under test.
    pub peer: PeerChoice,
    /// The Raft's timing and hints.
    pub tuning: RaftTuning,
    /// Gets by ReadIndex rather than through the log.
    pub read_index: bool,
}

impl KvOptions {
    /// `servers` servers, reliable, no snapshots, Gets through the log.
    pub fn new(servers: usize) -> KvOptions {
        KvOptions {
            servers,
            unreliable: false,
            maxraftstate: None,
            peer: crate::peers::current(),
            tuning: RaftTuning::default(),
            read_index: false,
        }
    }
}

/// Makes a new clerk's link: given the harness and the clerk's id.
type NewLink<L> = Box<dyn Fn(&mut Harness, u64) -> L>;

/// A KV service under test (6.824's kvraft `config`), its clerks running
/// their operations through links `L` (to one group by default; the sharded
/// lab's clerks find the group of each key).
pub struct KvConfig<L: OpLink = ClerkLink<peer::Kv>> {
    h: Harness,
    new_link: NewLink<L>,
    history: Rc<RefCell<KvHistory>>,
    /// Stamps the history's calls and returns in the simulator's order.
    clock: HistoryClock,
    clerks: Vec<NodeId>,
    maxraftstate: Option<u64>,
}

impl<L: OpLink> Deref for KvConfig<L> {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl<L: OpLink> DerefMut for KvConfig<L> {
    fn deref_mut(&mut self) -> &mut Harness {
        &mut self.h
    }
}

impl KvConfig {
    /// Builds the service for the run `t` (6.824's `make_config`).
    pub fn new(t: &Test, options: KvOptions) -> KvConfig {
        let n = options.servers;
        let config = KvServerOptions {
            maxraftstate: options.maxraftstate,
            read_index: options.read_index,
        };
        let tuning = options.tuning;
        let harness = HarnessOptions {
            test: t.name.to_owned(),
            seed: t.seed,
            peers: n,
            unreliable: options.unreliable,
            peer: options.peer,
            time_limit_ns: Some(TEST_LIMIT_NS),
            node_prefix: "kv",
        };
        let h = Harness::new(harness, move |peer, oracle| {
            let service = ReplicatedService::new((peer.kv_server)(&config));
            PeerNode::with_service(n, tuning, peer.clone(), service, oracle)
        });
        let new_link: NewLink<ClerkLink<peer::Kv>> =
            Box::new(|h, client_id| ClerkLink::new(client_id, h.all()));
        KvConfig::on_harness(h, new_link, options.maxraftstate)
    }

    /// 6.824's `makeClient(to)`: a new clerk that reaches only servers `to`.
    pub fn make_client(&mut self, to: &[usize]) -> Ck {
        let ck = self.add_client();
        self.connect_client(ck, to);
        ck
    }

    /// 6.824's `ConnectClient(ck, to)`: the clerk reaches servers `to` only.
    pub fn connect_client(&mut self, ck: Ck, to: &[usize]) {
        self.h.connect_client_node(ck.0, to);
    }
}

impl<L: OpLink> KvConfig<L> {
    /// Clients on the service of `h`, each running through the link
    /// `new_link` makes; `maxraftstate` as the servers have it.
    pub fn on_harness(h: Harness, new_link: NewLink<L>, maxraftstate: Option<u64>) -> KvConfig<L> {
        KvConfig {
            h,
            new_link,
            history: Rc::new(RefCell::new(Vec::new())),
            clock: HistoryClock::default(),
            clerks: Vec::new(),
            maxraftstate,
        }
    }

    /// 6.824's `maxraftstate`.
    pub fn maxraftstate(&self) -> Option<u64> {
        self.maxraftstate
    }

    /// Fails a test's own check.
    pub fn check_fail<T>(&self, what: impl Into<String>) -> Result<T, Failure> {
        self.h.check(what)
    }

    /// A new clerk, linked as the network's links are (every link up unless cut).
    pub fn add_client(&mut self) -> Ck {
        let client_id = self.rng().random::<u64>();
        let link = (self.new_link)(&mut self.h, client_id);
        self.add_client_linked(link)
    }

    /// A new clerk whose link `make` makes from its client id (a clerk that
    /// differs from the others, as 6.824's `makeClient(ctl1)`).
    pub fn add_client_with(&mut self, make: impl FnOnce(u64) -> L) -> Ck {
        let client_id = self.rng().random::<u64>();
        self.add_client_linked(make(client_id))
    }

    fn add_client_linked(&mut self, link: L) -> Ck {
        let client = self.clerks.len();
        let node = ClerkNode::with_link(client, link, self.history.clone(), self.clock.clone());
        let mut node = Some(node);
        let id = self.sim.add_node(format!("clerk{client}"), move |_, _| {
            Box::new(node.take().expect("clerks never restart"))
        });
        self.clerks.push(id);
        Ck(id)
    }

    /// 6.824's `LogSize`: the largest persisted Raft state of any server.
    pub fn log_size(&self) -> u64 {
        (0..self.n)
            .map(|i| persisted_sizes(&self.peer, self.n, i, self.sim.storage(i)).0)
            .max()
            .unwrap_or(0)
    }

    /// 6.824's `SnapshotSize`: the largest persisted snapshot of any server.
    pub fn snapshot_size(&self) -> u64 {
        (0..self.n)
            .map(|i| persisted_sizes(&self.peer, self.n, i, self.sim.storage(i)).1)
            .max()
            .unwrap_or(0)
    }

    /// 6.824's `make_partition`: a majority holding the leader, and the rest.
    pub fn make_partition(&mut self) -> Result<(Vec<usize>, Vec<usize>), Failure> {
        let mut leader = self.leader();
        for _ in 0..50 {
            if leader.is_some() {
                break;
            }
            self.sleep(100 * MS)?;
            leader = self.leader();
        }
        let Some(l) = leader else {
            return Err(self.failure(FailureKind::Liveness, "no leader"));
        };
        let others: Vec<usize> = (0..self.n).filter(|&i| i != l).collect();
        let m = peer::majority(self.n);
        let mut p1 = others[..m - 1].to_vec();
        p1.push(l);
        let p2 = others[m - 1..].to_vec();
        Ok((p1, p2))
    }

    /// Starts `op` on a free clerk; it completes in the background.
    pub fn start_op(&mut self, ck: Ck, op: Op) {
        self.sim
            .with_node::<ClerkNode<L>, _>(ck.0, |c, ctx| c.invoke(ctx, op))
            .expect("clerks are up");
    }

    /// Runs `workload` on a free clerk, in the background.
    pub fn start_workload(&mut self, ck: Ck, workload: Box<dyn Workload>) {
        self.sim
            .with_node::<ClerkNode<L>, _>(ck.0, |c, ctx| c.run(ctx, workload))
            .expect("clerks are up");
    }

    /// True when the clerk is done with its operation (and workload).
    pub fn idle(&self, ck: Ck) -> bool {
        self.sim.node::<ClerkNode<L>>(ck.0).is_none_or(|c| c.idle())
    }

    /// Waits for the clerk's operation to complete (a clerk never gives up;
    /// the test's time limit bounds the wait). Returns its result.
    pub fn wait_op(&mut self, ck: Ck) -> Result<String, Failure> {
        let done = self.run_until(
            move |s| s.node::<ClerkNode<L>>(ck.0).is_none_or(|c| c.idle()),
            TEST_LIMIT_NS,
        )?;
        if !done {
            return Err(self.failure(FailureKind::Liveness, "a client operation never completed"));
        }
        self.check_refusals(&[ck.0])?;
        Ok(self
            .sim
            .node::<ClerkNode<L>>(ck.0)
            .and_then(|c| c.last_result.clone())
            .unwrap_or_default())
    }

    /// `ck.Get(key)`, waiting for the result.
    pub fn get(&mut self, ck: Ck, key: &str) -> Result<String, Failure> {
        self.start_op(ck, Op::Get { key: key.into() });
        self.wait_op(ck)
    }

    /// `ck.Put(key, value)`, waiting for it.
    pub fn put(&mut self, ck: Ck, key: &str, value: &str) -> Result<(), Failure> {
        self.start_op(
            ck,
            Op::Put {
                key: key.into(),
                value: value.into(),
            },
        );
        self.wait_op(ck).map(|_| ())
    }

    /// `ck.Append(key, value)`, waiting for it.
    pub fn append(&mut self, ck: Ck, key: &str, value: &str) -> Result<(), Failure> {
        self.start_op(
            ck,
            Op::Append {
                key: key.into(),
                value: value.into(),
            },
        );
        self.wait_op(ck).map(|_| ())
    }

    /// 6.824's `check(cfg, t, ck, key, value)`.
    pub fn check(&mut self, ck: Ck, key: &str, value: &str) -> Result<(), Failure> {
        let v = self.get(ck, key)?;
        if v != value {
            return self.check_fail(format!(
                "Get({key:?}): expected:\n{value:?}\nreceived:\n{v:?}"
            ));
        }
        Ok(())
    }

    /// Operations completed so far.
    pub fn ops(&self) -> usize {
        self.history.borrow().len()
    }

    /// The history so far, with operations still in progress as never
    /// returning.
    pub fn history(&self) -> KvHistory {
        let mut h = self.history.borrow().clone();
        for &c in &self.clerks {
            if let Some(op) = self
                .sim
                .node::<ClerkNode<L>>(c)
                .and_then(|c| c.pending_operation())
            {
                h.push(op);
            }
        }
        h.sort_by_key(|op| op.call_ns);
        h
    }

    /// Where a linearizability failure's page goes: named by the test, the
    /// peer (unless the reference) and the seed, so that one seed's failures
    /// on two peers do not overwrite each other's page.
    pub fn html_path(&self) -> PathBuf {
        let test = self.test.replace("::", "-");
        let peer = crate::peers::file_part(&crate::peers::current_name());
        crate::artifacts::dir()
            .join("linearizability")
            .join(format!("{test}{peer}-seed{}.html", self.seed))
    }

    /// Checks the history for linearizability: `Ok` only for a linearizable
    /// verdict; a violation writes the HTML page and names it.
    pub fn check_linearizable(&self) -> Result<(), Failure> {
        check_kv_history(&self.history(), &self.html_path())
            .map_err(|(kind, what)| self.failure(kind, what))
    }

    /// Fails the run if a server refused a client's operation for good (a
    /// read mode its peer does not support): the server's reason, as is.
    fn check_refusals(&self, clerks: &[NodeId]) -> Result<(), Failure> {
        let refused = clerks.iter().find_map(|ck| {
            let node = self.sim.node::<ClerkNode<L>>(*ck)?;
            node.refused.clone().map(|why| (node.client(), why))
        });
        match refused {
            Some((client, why)) => {
                self.check_fail(format!("client {client}'s operation refused: {why}"))
            }
            None => Ok(()),
        }
    }

    /// Ends the test: a last safety check, the linearizability check, and the
    /// run's figures.
    pub fn end(&mut self) -> Result<RunReport, Failure> {
        self.end_checked_by(|cfg| cfg.check_linearizable())
    }

    /// Ends the test with `check` in place of the generic linearizability
    /// check (for a history whose shape allows an exact, cheaper check).
    pub fn end_checked_by(
        &mut self,
        check: impl FnOnce(&KvConfig<L>) -> Result<(), Failure>,
    ) -> Result<RunReport, Failure> {
        self.check_refusals(&self.clerks)?;
        let report = self.report(self.ops() as u64)?;
        check(self)?;
        Ok(report)
    }
}

fn describe(
    op: &linearizability::Operation<linearizability::KvInput, linearizability::KvOutput>,
) -> String {
    use linearizability::Model;
    KvModel.describe_operation(&op.input, &op.output)
}

/// The verdict on a KV history, worded as every KV run words it (simulated or
/// real): `Ok` only for a linearizable one. A violation writes the HTML page
/// at `html` and names it; a search over its budget is an unknown verdict,
/// never a pass.
pub fn check_kv_history(
    history: &[linearizability::Operation<linearizability::KvInput, linearizability::KvOutput>],
    html: &std::path::Path,
) -> Result<(), (FailureKind, String)> {
    let budget_steps = (CHECK_STEPS.get()).map_err(|e| (FailureKind::Check, e))?;
    let result = check(
        &KvModel,
        history,
        &CheckOptions {
            max_steps_per_partition: Some(budget_steps),
            ..CheckOptions::default()
        },
    );
    match result {
        CheckResult::Linearizable => Ok(()),
        CheckResult::Unknown(Limit::Steps) => Err((
            FailureKind::Unknown,
            format!(
                "linearizability check of {} operations ran out of its budget of {budget_steps} search steps per key, so the verdict is unknown; raise the budget with {}=STEPS",
                history.len(),
                CHECK_STEPS.var,
            ),
        )),
        CheckResult::Unknown(Limit::Memory) => Err((
            FailureKind::Unknown,
            format!(
                "linearizability check of {} operations filled its {} MiB of memory before a verdict, so the verdict is unknown: a key with this many concurrent or uncertain operations is past the checker (fewer clients, or a shorter run, keep it in reach)",
                history.len(),
                linearizability::MAX_SEARCH_BYTES >> 20,
            ),
        )),
        CheckResult::NotLinearizable(ref v) => {
            let what = format!(
                "history is not linearizable: {} operations, {} cannot be placed",
                history.len(),
                describe(&history[v.failing_op])
            );
            let page = match write_html(&KvModel, history, &result, html) {
                Ok(p) => format!("; see {}", p.display()),
                Err(e) => format!("; could not write the HTML page: {e}"),
            };
            Err((FailureKind::Linearizability, what + &page))
        }
    }
}
