//! 6.824's `GenericTest` and `GenericTestSpeed`, and their checks, in
//! virtual time. Client goroutines are [`Workload`]s run by clerk nodes.

use super::clerk::Workload;
use super::config::{Ck, ELECTION_TIMEOUT_NS, KvConfig, KvOptions};
use crate::Test;
use crate::failure::Failure;
use crate::raft_suite::RunReport;
use labsim::{MS, SEC, SimRng};
use peer::Op;
use rand::RngExt;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// 6.824's `checkClntAppends`: client `clnt`'s `count` appends are all in
/// `v`, once each, in order.
pub fn check_clnt_appends(clnt: usize, v: &str, count: u64) -> Result<(), String> {
    let mut last_off: Option<usize> = None;
    for j in 0..count {
        let wanted = format!("x {clnt} {j} y");
        let Some(off) = v.find(&wanted) else {
            return Err(format!(
                "{clnt} missing element {wanted:?} in Append result {v:?}"
            ));
        };
        if v.rfind(&wanted) != Some(off) {
            return Err(format!("duplicate element {wanted:?} in Append result"));
        }
        if last_off.is_some_and(|l| off <= l) {
            return Err(format!(
                "wrong order for element {wanted:?} in Append result"
            ));
        }
        last_off = Some(off);
    }
    Ok(())
}

/// 6.824's `checkConcurrentAppends`: each client `i`'s `counts[i]` appends.
pub fn check_concurrent_appends(v: &str, counts: &[u64]) -> Result<(), String> {
    for (i, &n) in counts.iter().enumerate() {
        check_clnt_appends(i, v, n)?;
    }
    Ok(())
}

/// What one generic client reports (6.824 sends `j` on its channel).
#[derive(Debug, Default)]
pub struct ClientReport {
    /// Appends (and puts) done.
    pub j: u64,
    /// True once it stopped.
    pub finished: bool,
    /// A wrong Get result it saw.
    pub failure: Option<String>,
}

/// The client loop of `GenericTest`.
struct GenericClient {
    cli: usize,
    nclients: usize,
    randomkeys: bool,
    done: Rc<Cell<bool>>,
    report: Rc<RefCell<ClientReport>>,
    /// The value the client's key must hold (when keys are not random).
    last: String,
    started: bool,
}

impl GenericClient {
    fn stop(&mut self) -> Option<Op> {
        self.report.borrow_mut().finished = true;
        None
    }
}

impl Workload for GenericClient {
    fn next(&mut self, rng: &mut SimRng, last: Option<(&Op, &str)>) -> Option<Op> {
        if let Some((Op::Get { key }, v)) = last
            && !self.randomkeys
            && v != self.last
        {
            self.report.borrow_mut().failure = Some(format!(
                "get wrong value, key {key:?}, wanted:\n{:?}\n, got\n{v:?}",
                self.last
            ));
            return self.stop();
        }
        if !self.started {
            self.started = true;
            if !self.randomkeys {
                return Some(Op::Put {
                    key: self.cli.to_string(),
                    value: String::new(),
                });
            }
        }
        if self.done.get() {
            return self.stop();
        }
        let key = if self.randomkeys {
            rng.random_range(0..self.nclients).to_string()
        } else {
            self.cli.to_string()
        };
        let j = self.report.borrow().j;
        let nv = format!("x {} {} y", self.cli, j);
        if rng.random_range(0..1000) < 500 {
            if !self.randomkeys {
                self.last.push_str(&nv);
            }
            self.report.borrow_mut().j += 1;
            Some(Op::Append { key, value: nv })
        } else if self.randomkeys && rng.random_range(0..1000) < 100 {
            self.report.borrow_mut().j += 1;
            Some(Op::Put { key, value: nv })
        } else {
            Some(Op::Get { key })
        }
    }
}

/// 6.824's `spawn_clients_and_wait`, started: `nclients` new clerks running
/// the generic client loop until `done` is set.
fn spawn_clients(
    cfg: &mut KvConfig,
    nclients: usize,
    randomkeys: bool,
    done: &Rc<Cell<bool>>,
) -> Vec<Rc<RefCell<ClientReport>>> {
    let all = cfg.all();
    (0..nclients)
        .map(|cli| {
            let ck = cfg.make_client(&all);
            let report = Rc::new(RefCell::new(ClientReport::default()));
            let client = GenericClient {
                cli,
                nclients,
                randomkeys,
                done: done.clone(),
                report: report.clone(),
                last: String::new(),
                started: false,
            };
            cfg.start_workload(ck, Box::new(client));
            report
        })
        .collect()
}

/// 6.824's partitioner: random two-way partitions of the servers, each held
/// for an election timeout plus up to 200 ms, until `done`.
fn spawn_partitioner(cfg: &mut KvConfig, done: Rc<Cell<bool>>, finished: Rc<Cell<bool>>) {
    fn step(sim: &mut labrpc::Sim, n: usize, done: Rc<Cell<bool>>, finished: Rc<Cell<bool>>) {
        if done.get() {
            finished.set(true);
            return;
        }
        let rng = sim.kernel().rng(labsim::Stream::Nemesis);
        let sides: Vec<usize> = (0..n).map(|_| rng.random_range(0..2)).collect();
        let pause = ELECTION_TIMEOUT_NS + rng.random_range(0..200) * MS;
        let p: [Vec<usize>; 2] = [0, 1].map(|side| (0..n).filter(|&i| sides[i] == side).collect());
        sim.with_net(|net, k| net.partition(k, &p).expect("servers exist"));
        let at = sim.now_ns() + pause;
        sim.schedule(at, "partitioner", move |s| step(s, n, done, finished))
            .expect("future");
    }
    let n = cfg.n();
    let now = cfg.sim.now_ns();
    cfg.sim
        .schedule(now, "partitioner", move |s| step(s, n, done, finished))
        .expect("now");
}

/// The parameters of 6.824's `GenericTest`.
#[derive(Clone, Copy, Debug)]
pub struct Generic {
    /// Concurrent clients.
    pub nclients: usize,
    /// Servers.
    pub nservers: usize,
    /// Unreliable network.
    pub unreliable: bool,
    /// Crash and restart every server after each round.
    pub crash: bool,
    /// Random partitions during each round.
    pub partitions: bool,
    /// Snapshot threshold (`None`: -1).
    pub maxraftstate: Option<u64>,
    /// Clients pick keys at random (so only linearizability is checked).
    pub randomkeys: bool,
}

/// 6.824's `GenericTest`: three rounds of concurrent clients for 5 s each,
/// under the chosen faults, then the per-client append checks, the log and
/// snapshot size checks, and linearizability of the whole history.
pub fn generic_test(t: &Test, g: Generic) -> Result<RunReport, Failure> {
    let options = KvOptions {
        unreliable: g.unreliable,
        maxraftstate: g.maxraftstate,
        ..KvOptions::new(g.nservers)
    };
    let mut cfg = KvConfig::new(t, options);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    for _round in 0..3 {
        let done_clients = Rc::new(Cell::new(false));
        let done_partitioner = Rc::new(Cell::new(false));
        let partitioner_finished = Rc::new(Cell::new(false));
        let reports = spawn_clients(&mut cfg, g.nclients, g.randomkeys, &done_clients);
        if g.partitions {
            // Let the clients do some operations without interruption.
            cfg.sleep(SEC)?;
            spawn_partitioner(
                &mut cfg,
                done_partitioner.clone(),
                partitioner_finished.clone(),
            );
        }
        cfg.sleep(5 * SEC)?;
        done_clients.set(true);
        done_partitioner.set(true);
        if g.partitions {
            let f = partitioner_finished.clone();
            cfg.run_until(move |_| f.get(), 10 * SEC)?;
            // A client may have sent a request to a minority; it returns once
            // that server learns of a new term.
            cfg.connect_all();
            cfg.sleep(ELECTION_TIMEOUT_NS)?;
        }
        if g.crash {
            for i in 0..g.nservers {
                cfg.shutdown_server(i);
            }
            cfg.sleep(ELECTION_TIMEOUT_NS)?;
            for i in 0..g.nservers {
                cfg.start_server(i);
            }
            cfg.connect_all();
        }
        // Wait for the clients.
        let rs = reports.clone();
        let finished = cfg.run_until(
            move |_| rs.iter().all(|r| r.borrow().finished),
            super::config::TEST_LIMIT_NS,
        )?;
        if !finished {
            return Err(cfg.failure(
                crate::failure::FailureKind::Liveness,
                "clients did not finish",
            ));
        }
        for (i, r) in reports.iter().enumerate() {
            if let Some(f) = r.borrow().failure.clone() {
                return cfg.check_fail(f);
            }
            let j = r.borrow().j;
            let v = cfg.get(ck, &i.to_string())?;
            if !g.randomkeys
                && let Err(e) = check_clnt_appends(i, &v, j)
            {
                return cfg.check_fail(e);
            }
        }
        match g.maxraftstate {
            Some(max) => {
                // After the servers processed every request and had time to
                // checkpoint.
                let sz = cfg.log_size();
                if sz > 8 * max {
                    return cfg.check_fail(format!("logs were not trimmed ({sz} > 8*{max})"));
                }
            }
            None => {
                let ssz = cfg.snapshot_size();
                if ssz > 0 {
                    return cfg.check_fail(format!(
                        "snapshot too large ({ssz}), should not be used when maxraftstate = -1"
                    ));
                }
            }
        }
    }
    cfg.end()
}

/// 6.824's `GenericTestSpeed`: 1000 appends by one client, each within a
/// third of a heartbeat interval (33 ms) on average.
pub fn generic_test_speed(t: &Test, maxraftstate: Option<u64>) -> Result<RunReport, Failure> {
    const NUM_OPS: u64 = 1000;
    let options = KvOptions {
        maxraftstate,
        ..KvOptions::new(3)
    };
    let mut cfg = KvConfig::new(t, options);
    let all = cfg.all();
    let ck: Ck = cfg.make_client(&all);
    // Wait until the first op completes, so a leader is elected.
    cfg.get(ck, "x")?;
    let start = cfg.sim.now_ns();
    for i in 0..NUM_OPS {
        cfg.append(ck, "x", &format!("x 0 {i} y"))?;
    }
    let dur = cfg.sim.now_ns() - start;
    let v = cfg.get(ck, "x")?;
    if let Err(e) = check_clnt_appends(0, &v, NUM_OPS) {
        return cfg.check_fail(e);
    }
    // Heartbeats every ~100 ms; at least 3 operations per interval.
    let time_per_op = 100 * MS / 3;
    if dur > NUM_OPS * time_per_op {
        return cfg.check_fail(format!(
            "operations completed too slowly {} us/op > {} us/op",
            dur / NUM_OPS / 1000,
            time_per_op / 1000
        ));
    }
    cfg.end()
}
