//! Concurrent clients of the Raft tests (6.824's goroutines that call
//! `one()` or `Start()` while the test goes on), as state machines that the
//! simulation steps at their virtual times.

use super::cluster::Cluster;
use super::node::RaftNode;
use super::oracle::Oracle;
use labrpc::Sim;
use labsim::{MS, SEC, Stream};
use peer::Index;
use rand::RngExt;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

fn start_on(sim: &mut Sim, peer: usize, command: &[u8]) -> Option<(Index, u64, bool)> {
    sim.with_node::<RaftNode, _>(peer, |n, ctx| n.start(ctx, command.to_vec()))
}

/// How a background `one()` ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Still trying.
    Running,
    /// Committed at this index.
    Done(Index),
    /// Gave up, with 6.824's message.
    Failed(String),
}

struct OneTask {
    command: Vec<u8>,
    expected: usize,
    t0_ns: u64,
    next_peer: usize,
    attempt: Option<(Index, u64)>,
    state: Rc<RefCell<TaskState>>,
}

/// Runs 6.824's `one(cmd, expected, true)` concurrently with the test.
pub fn spawn_one(cfg: &mut Cluster, command: Vec<u8>, expected: usize) -> Rc<RefCell<TaskState>> {
    let state = Rc::new(RefCell::new(TaskState::Running));
    let task = OneTask {
        command,
        expected,
        t0_ns: cfg.sim.now_ns(),
        next_peer: 0,
        attempt: None,
        state: state.clone(),
    };
    let oracle = cfg.oracle();
    let n = cfg.n();
    let now = cfg.sim.now_ns();
    cfg.sim
        .schedule(now, "one", move |s| one_step(s, task, oracle, n))
        .expect("now is not in the past");
    state
}

fn one_step(sim: &mut Sim, mut task: OneTask, oracle: Rc<RefCell<Oracle>>, n: usize) {
    let now = sim.now_ns();
    if let Some((index, since)) = task.attempt {
        let committed = {
            let o = oracle.borrow();
            let (count, c) = o.n_committed(index);
            count > 0 && count >= task.expected && c == Some(task.command.as_slice())
        };
        if committed {
            *task.state.borrow_mut() = TaskState::Done(index);
            return;
        }
        if now - since < 2 * SEC {
            return sim
                .schedule(now + 20 * MS, "one", move |s| one_step(s, task, oracle, n))
                .expect("future");
        }
        task.attempt = None;
    }
    if now - task.t0_ns >= 10 * SEC {
        *task.state.borrow_mut() = TaskState::Failed("one() failed to reach agreement".into());
        return;
    }
    for _ in 0..n {
        task.next_peer = (task.next_peer + 1) % n;
        if sim.net().is_connected(task.next_peer)
            && let Some((index, _, true)) = start_on(sim, task.next_peer, &task.command)
        {
            task.attempt = Some((index, now));
            break;
        }
    }
    let delay = if task.attempt.is_some() {
        20 * MS
    } else {
        50 * MS
    };
    sim.schedule(now + delay, "one", move |s| one_step(s, task, oracle, n))
        .expect("future");
}

/// A churn client (6.824's `cfn` in internalChurn): keeps starting random
/// commands on whoever accepts them, and remembers those it saw commit.
pub struct ChurnClient {
    me: u64,
    stop: Rc<Cell<bool>>,
    /// Commands it may still start (`None`: no limit).
    ops_left: Option<u64>,
    /// Values this client saw committed.
    pub values: Vec<u64>,
    /// True once it noticed the stop flag.
    pub done: bool,
}

/// Starts a churn client; set `stop` to end it.
pub fn spawn_churn(cfg: &mut Cluster, me: u64, stop: Rc<Cell<bool>>) -> Rc<RefCell<ChurnClient>> {
    spawn_churn_limited(cfg, me, stop, None)
}

/// Starts a churn client that stops by itself after starting `max_ops`
/// commands (or when `stop` is set, whichever comes first).
pub fn spawn_churn_limited(
    cfg: &mut Cluster,
    me: u64,
    stop: Rc<Cell<bool>>,
    max_ops: Option<u64>,
) -> Rc<RefCell<ChurnClient>> {
    let client = Rc::new(RefCell::new(ChurnClient {
        me,
        stop,
        ops_left: max_ops,
        values: vec![],
        done: false,
    }));
    let (c, oracle, n) = (client.clone(), cfg.oracle(), cfg.n());
    let now = cfg.sim.now_ns();
    cfg.sim
        .schedule(now, "churn", move |s| churn_step(s, c, oracle, n))
        .expect("now");
    client
}

fn churn_step(
    sim: &mut Sim,
    client: Rc<RefCell<ChurnClient>>,
    oracle: Rc<RefCell<Oracle>>,
    n: usize,
) {
    {
        let mut c = client.borrow_mut();
        if c.stop.get() || c.ops_left == Some(0) {
            c.done = true;
            return;
        }
        if let Some(left) = c.ops_left.as_mut() {
            *left -= 1;
        }
    }
    let x: u64 = sim.kernel().rng(Stream::Workload).random_range(0..1 << 62);
    let command = super::cmd(x);
    let mut index = None;
    // Try them all; maybe one of them is a leader.
    for i in 0..n {
        if let Some((i1, _, true)) = start_on(sim, i, &command) {
            index = Some(i1);
        }
    }
    let now = sim.now_ns();
    match index {
        // Maybe the leader will commit our value, maybe not; don't wait forever.
        Some(index) => churn_poll(sim, client, oracle, n, index, x, 0),
        None => {
            let me = client.borrow().me;
            let at = now + (79 + me * 17) * MS;
            sim.schedule(at, "churn", move |s| churn_step(s, client, oracle, n))
                .expect("future");
        }
    }
}

fn churn_poll(
    sim: &mut Sim,
    client: Rc<RefCell<ChurnClient>>,
    oracle: Rc<RefCell<Oracle>>,
    n: usize,
    index: Index,
    x: u64,
    round: usize,
) {
    const WAITS_MS: [u64; 5] = [10, 20, 50, 100, 200];
    let committed = {
        let o = oracle.borrow();
        let (count, c) = o.n_committed(index);
        (count > 0).then(|| c.map(<[u8]>::to_vec))
    };
    let now = sim.now_ns();
    if let Some(c) = committed {
        if c.as_deref().and_then(super::decode_cmd) == Some(x) {
            client.borrow_mut().values.push(x);
        }
        // Committed in the very instant it was started (a lone voter with
        // an instant disk): a real client's next call takes some time, and
        // here none would pass at all, so it waits a millisecond.
        let next_ns = if round == 0 { now + MS } else { now };
        return sim
            .schedule(next_ns, "churn", move |s| churn_step(s, client, oracle, n))
            .expect("now or later");
    }
    if round == WAITS_MS.len() {
        return sim
            .schedule(now, "churn", move |s| churn_step(s, client, oracle, n))
            .expect("now");
    }
    let at = now + WAITS_MS[round] * MS;
    sim.schedule(at, "churn", move |s| {
        churn_poll(s, client, oracle, n, index, x, round + 1)
    })
    .expect("future");
}
