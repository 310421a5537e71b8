//! `lab real-nemesis`: a real local cluster under faults drawn from a seed,
//! in the manner of Jepsen. Nodes are `lab serve` processes on 127.0.0.1;
//! every node reaches every other through a TCP proxy of its own
//! (`realnet::Proxy`), so a partition of any of the simulator's shapes is a
//! set of proxies cut. Crashes are `kill -9` (and a restart from the node's
//! directory), pauses SIGSTOP and SIGCONT. Clients run the lab's clerk;
//! their history is judged by the simulator's checker, with its verdict line
//! and its HTML page.
//!
//! A real run is not a pure function of its seed: the seed fixes the faults
//! and their times, not the interleavings. The faults are saved as a
//! simulator schedule (`schedule.json`), so the same faults can be replayed,
//! deterministically, with `lab replay kv-nemesis --schedule`.

use super::{NodeSpec, entropy, free_ports, signal};
use crate::common::parse_wall;
use linearizability::{KvInput, KvOutput, NEVER, Operation};
use rand::RngExt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::kv_suite::clerk::{Mixed, Workload, to_input};
use tests::nemesis::{Fault, FaultKind, Schedule, links};
use tokio::time::Instant;

/// What `lab real-nemesis` is told.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
lab real-nemesis                               5 nodes, 60 s of faults, a random seed\n  \
lab real-nemesis --nodes 3 --time 10m --seed 7\n  \
lab real-nemesis --peer raft-rs --time 2m\n\
Everything stays on 127.0.0.1 and stops by itself; the nodes die with this command.")]
pub struct Args {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// How long faults are injected (wall time, e.g. 60s, 10m).
    #[arg(long, value_parser = parse_wall, default_value = "60s")]
    time: Duration,
    /// The seed the faults are drawn from [default: a random one, printed].
    #[arg(long)]
    seed: Option<u64>,
    /// Apply this fault schedule (the simulator's JSON, as `lab schedule` prints
    /// it) instead of drawing one: partitions, crashes and pauses only, one
    /// at a time, in order (a fault starts once the one before has ended).
    #[arg(long, conflicts_with = "no_faults")]
    schedule: Option<PathBuf>,
    /// No faults at all: the workload alone, for throughput and latency.
    #[arg(long)]
    no_faults: bool,
    /// Aim each crash, pause, isolation and one-way cut at whichever node
    /// leads when it starts (the saved schedule names the node hit).
    #[arg(long)]
    target_leader: bool,
    /// Clients, each one operation at a time.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Operations per second each client starts at most (Jepsen's clients are
    /// staggered too); 0: back to back, for throughput. The history's check
    /// needs memory that grows with the square of the operations on one key,
    /// so an unlimited run of minutes is more than the checker can hold.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// After the heal, every client must complete a new operation within this long.
    #[arg(long, value_parser = parse_wall, default_value = "20s")]
    liveness: Duration,
    /// Snapshot once a node's Raft state reaches this many bytes.
    #[arg(long, default_value_t = 64 << 10)]
    maxraftstate: u64,
    /// Where the nodes' state and logs, the schedule and the history's page go
    /// (emptied first, if a previous run made it).
    #[arg(long, default_value = "lab-out/real-nemesis")]
    dir: PathBuf,
}

/// A marker: the directory is one this command made, safe to empty.
const MARKER: &str = "real-nemesis.txt";
/// Kinds of fault a real cluster can suffer: process crashes, pauses, and
/// the simulator's partition shapes.
const KINDS: usize = 7;

/// Runs the whole thing; exit 0 on a linearizable, live run.
pub fn real_nemesis(args: Args, peer: &'static str) -> ExitCode {
    match run(args, peer) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => crate::common::fail(e),
    }
}

fn run(args: Args, peer: &'static str) -> Result<bool, String> {
    if !(1..=peer::MAX_PEERS).contains(&args.nodes) {
        return Err(format!(
            "--nodes {}: 1 to {} nodes",
            args.nodes,
            peer::MAX_PEERS
        ));
    }
    if args.clients == 0 || args.clients > tests::nemesis::MAX_CLIENTS {
        return Err(format!(
            "--clients {}: 1 to {}",
            args.clients,
            tests::nemesis::MAX_CLIENTS
        ));
    }
    tests::peers::PeerChoice::named(peer)?;
    let seed = args.seed.unwrap_or_else(entropy);
    let schedule = match &args.schedule {
        None if args.no_faults => Schedule::default(),
        Some(path) => read_schedule(path, args.nodes)?,
        None => draw(seed, args.nodes, args.time.as_millis() as u64),
    };
    // After the schedule is read: it may be the previous run's, in this
    // directory, which a run empties.
    prepare_dir(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    eprintln!(
        "real-nemesis: {} nodes of peer `{peer}`, {} clients, {} faults over {:?}, seed {seed}; state and logs in {}",
        args.nodes,
        args.clients,
        schedule.faults.len(),
        args.time,
        args.dir.display()
    );
    eprintln!("this run is real: its seed fixes the faults, not the interleavings");
    runtime.block_on(async {
        let mut cluster = RealCluster::start(&args, peer).await?;
        let outcome = cluster.nemesis(&args, schedule, seed).await;
        cluster.stop();
        outcome
    })
}

/// The schedule file `path` (`--schedule`), checked for `nodes` real nodes.
fn read_schedule(path: &Path, nodes: usize) -> Result<Schedule, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let s = Schedule::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    s.validate(nodes)
        .and_then(|()| check_real(&s))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(s)
}

/// Refuses a schedule with faults a real cluster cannot suffer, naming them.
fn check_real(schedule: &Schedule) -> Result<(), String> {
    let unreal: Vec<String> = (schedule.faults.iter().enumerate())
        .filter(|(_, f)| match &f.kind {
            FaultKind::Crash { lose_unsynced, .. } => *lose_unsynced,
            FaultKind::Pause { .. } => false,
            kind => links(kind, 2).is_none(),
        })
        .map(|(i, f)| format!("fault {i} ({:?})", f.kind))
        .collect();
    if !unreal.is_empty() {
        return Err(format!(
            "a real cluster suffers only process crashes (lose_unsynced false), pauses and partitions; \
             remove {} from the schedule",
            unreal.join(", ")
        ));
    }
    if !schedule.aims.is_empty() || schedule.tuning.is_some() {
        eprintln!("real-nemesis: the schedule's aims and tuning are for the simulator; ignored");
    }
    Ok(())
}

fn prepare_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .next()
            .is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(format!(
                "{} holds files this command did not make; name another --dir",
                dir.display()
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "made by lab real-nemesis; emptied by its next run\n",
    )
    .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
}

/// Faults one at a time, each undone before the next: every 0.5 to 2.5 s a
/// crash, a pause or a partition of one of the simulator's shapes, lasting
/// 0.5 to 3 s, over `span_ms`.
fn draw(seed: u64, n: usize, span_ms: u64) -> Schedule {
    let mut rng = labsim::derive_stream(seed, labsim::Stream::Nemesis);
    let mut faults = Vec::new();
    let mut at_ms = 1000;
    loop {
        let duration_ms = rng.random_range(500..3000);
        if at_ms + duration_ms > span_ms {
            break;
        }
        let node = rng.random_range(0..n);
        let rotate = rng.random_range(0..n);
        let kind = match rng.random_range(0..KINDS) {
            0 => FaultKind::Crash {
                node,
                lose_unsynced: false,
                torn: false,
            },
            1 => FaultKind::Pause { node },
            2 => FaultKind::Isolate { node },
            3 => FaultKind::MajorityMinority { rotate },
            4 => FaultKind::Bridge { rotate },
            5 => FaultKind::MajoritiesRing { rotate },
            _ => FaultKind::OneWay {
                from: vec![node],
                to: (0..n).filter(|&o| o != node).collect(),
            },
        };
        faults.push(Fault {
            at_ms,
            duration_ms,
            kind,
        });
        at_ms += duration_ms + rng.random_range(500..2500);
    }
    Schedule {
        swarm: vec![format!(
            "real-nemesis seed {seed}: crashes, pauses and partitions, one at a time"
        )],
        faults,
        ..Schedule::default()
    }
}

/// The nodes as child processes, and the proxies between them.
struct RealCluster {
    specs: Vec<NodeSpec>,
    children: Vec<Option<Child>>,
    /// `proxies[a][b]`: how node `a` reaches node `b` (`None` for a == b).
    proxies: Vec<Vec<Option<realnet::Proxy>>>,
    addrs: Vec<SocketAddr>,
    paused: Vec<bool>,
    start: Instant,
}

impl RealCluster {
    async fn start(args: &Args, peer: &str) -> Result<RealCluster, String> {
        let n = args.nodes;
        let addrs = free_ports(n)?;
        let mut proxies = Vec::new();
        for a in 0..n {
            let mut row = Vec::new();
            for (b, &target) in addrs.iter().enumerate() {
                row.push(match a == b {
                    true => None,
                    false => Some(
                        realnet::Proxy::start(target)
                            .await
                            .map_err(|e| e.to_string())?,
                    ),
                });
            }
            proxies.push(row);
        }
        let name = format!("real-nemesis-{:08x}", entropy() as u32);
        let specs: Vec<NodeSpec> = (0..n)
            .map(|id| NodeSpec {
                id,
                listen: addrs[id],
                peers: (0..n)
                    .map(|b| proxies[id][b].as_ref().map_or(addrs[b], |p| p.addr()))
                    .collect(),
                dir: args.dir.join(format!("node-{id}")),
                cluster: name.clone(),
                peer: peer.to_owned(),
                maxraftstate: args.maxraftstate,
                log: args.dir.join(format!("node-{id}.log")),
            })
            .collect();
        let mut cluster = RealCluster {
            children: (0..n).map(|_| None).collect(),
            specs,
            proxies,
            addrs,
            paused: vec![false; n],
            start: Instant::now(),
        };
        for id in 0..n {
            cluster.children[id] = Some(cluster.specs[id].spawn(true)?);
        }
        Ok(cluster)
    }

    fn ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The node that says it leads in the highest term, and that term.
    async fn leader(&self) -> Option<(usize, u64)> {
        super::leader(&self.addrs, STATUS_TIMEOUT).await
    }

    /// Waits for a leader of a term above `after` (0: any leader).
    async fn wait_for_leader(&mut self, limit: Duration, after: u64) -> Option<(usize, u64)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some((l, term)) = self.leader().await
                && term > after
            {
                return Some((l, term));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.children[node].take() {
            let _ = child.kill(); // SIGKILL: kill -9
            let _ = child.wait();
        }
        self.paused[node] = false;
    }

    fn restart(&mut self, node: usize) -> Result<(), String> {
        if self.children[node].is_none() {
            self.children[node] = Some(self.specs[node].spawn(true)?);
        }
        Ok(())
    }

    fn pause(&mut self, node: usize, paused: bool) {
        if let Some(child) = &self.children[node] {
            signal(
                child.id(),
                if paused { libc::SIGSTOP } else { libc::SIGCONT },
            );
            self.paused[node] = paused;
        }
    }

    fn set_links(&self, links: &[Vec<bool>]) {
        for (a, row) in self.proxies.iter().enumerate() {
            for (b, proxy) in row.iter().enumerate() {
                if let Some(p) = proxy {
                    p.set_linked(links[a][b]);
                }
            }
        }
    }

    fn heal(&mut self) -> Result<(), String> {
        let n = self.addrs.len();
        self.set_links(&vec![vec![true; n]; n]);
        for node in 0..n {
            if self.paused[node] {
                self.pause(node, false);
            }
            self.restart(node)?;
        }
        Ok(())
    }

    /// Stops every node (SIGKILL: their state does not matter any more).
    fn stop(&mut self) {
        for node in 0..self.children.len() {
            self.kill(node);
        }
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long an aimed fault waits for a leader to aim at.
const AIM_WAIT: Duration = Duration::from_secs(5);
/// How long a node may take to answer a status query during a fault.
const STATUS_TIMEOUT: Duration = Duration::from_millis(100);

/// The clients' history, shared between their tasks.
#[derive(Default)]
struct History {
    ops: Vec<Operation<KvInput, KvOutput>>,
    /// A server refused an operation for good: a broken server.
    refused: Option<String>,
}

type Shared = Arc<Mutex<History>>;

/// One client: an operation at a time until told to stop; the one in
/// flight then is recorded as pending (it may or may not take effect).
async fn client(
    c: usize,
    mut clerk: realnet::RealClerk,
    seed: u64,
    history: Shared,
    mut stop: tokio::sync::watch::Receiver<bool>,
    t0: Instant,
    period: Option<Duration>,
) {
    let mut rng = labsim::derive_stream(seed ^ (c as u64 + 1) << 32, labsim::Stream::Workload);
    let mut workload = Mixed { client: c, n: 0 };
    let mut next_at = Instant::now();
    loop {
        if let Some(period) = period {
            // Paced: the next start is a period after the last, or now if
            // the last operation took longer (no burst to catch up).
            tokio::select! {
                _ = tokio::time::sleep_until(next_at) => {}
                _ = stop.changed() => return,
            }
            next_at = (next_at + period).max(Instant::now());
        }
        if *stop.borrow() {
            return;
        }
        let op = workload.next(&mut rng, None).expect("Mixed never stops");
        let call_ns = t0.elapsed().as_nanos() as u64;
        let outcome = tokio::select! {
            r = clerk.run(op.clone()) => Some(r),
            _ = stop.changed() => None,
        };
        let return_ns = t0.elapsed().as_nanos() as u64;
        let (output, return_ns) = match &outcome {
            Some(Ok(_)) if op.is_write() => (KvOutput::Done, return_ns),
            Some(Ok(v)) => (KvOutput::Value(v.clone()), return_ns),
            Some(Err(_)) | None => (KvOutput::Unknown, NEVER),
        };
        let mut h = history.lock().expect("no client panics holding it");
        h.ops.push(Operation {
            client_id: c,
            input: to_input(&op),
            call_ns,
            output,
            return_ns,
        });
        match outcome {
            Some(Err(why)) => h.refused = Some(format!("client {c}'s {op:?} refused: {why}")),
            None => return,
            Some(Ok(_)) => {}
        }
    }
}

/// What a run saw, for its summary.
#[derive(Default)]
struct Seen {
    faults: Vec<Fault>,
    /// Faults that took the leader away (killed, paused, cut off from a majority).
    leader_losses: usize,
    /// Leader failovers: from a fault that took the leader away to a node
    /// leading in a later term, when that happened before the fault ended.
    failovers_ms: Vec<u64>,
}

/// How a run went.
struct Outcome {
    seen: Seen,
    history: History,
    /// Every client completed a new operation after the heal.
    live: bool,
    /// When the clients stopped, since the first leader.
    end_ns: u64,
}

impl RealCluster {
    async fn nemesis(
        &mut self,
        args: &Args,
        schedule: Schedule,
        seed: u64,
    ) -> Result<bool, String> {
        let Some((first, _)) = self.wait_for_leader(Duration::from_secs(10), 0).await else {
            return Err(format!(
                "no leader within 10 s of the start; see the logs in {}",
                args.dir.display()
            ));
        };
        eprintln!("{:>7} ms  node {first} leads", self.ms());
        let t0 = Instant::now();
        let history: Shared = Arc::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let base_id = entropy();
        let clients: Vec<_> = (0..args.clients)
            .map(|c| {
                let clerk =
                    realnet::RealClerk::new(self.addrs.clone(), base_id.wrapping_add(c as u64));
                let period = (args.rate > 0).then(|| Duration::from_secs(1) / args.rate);
                let history = history.clone();
                tokio::spawn(client(c, clerk, seed, history, stopped.clone(), t0, period))
            })
            .collect();
        let seen = self.run_faults(&schedule, args.target_leader, t0).await?;
        tokio::time::sleep_until(t0 + args.time.max(Duration::from_millis(schedule.end_ms())))
            .await;
        self.heal()?;
        let heal_ns = t0.elapsed().as_nanos() as u64;
        eprintln!(
            "{:>7} ms  healed: every link up, every node running",
            self.ms()
        );
        let live = live_after(&history, args.clients, heal_ns, args.liveness).await;
        let _ = stop.send(true);
        for c in clients {
            let _ = c.await;
        }
        let end_ns = t0.elapsed().as_nanos() as u64;
        let history = std::mem::take(&mut *history.lock().expect("clients are done"));
        let outcome = Outcome {
            seen,
            history,
            live,
            end_ns,
        };
        self.report(args, schedule, seed, &outcome)
    }

    /// Injects the schedule's faults one at a time, each undone at its end.
    async fn run_faults(
        &mut self,
        schedule: &Schedule,
        target_leader: bool,
        t0: Instant,
    ) -> Result<Seen, String> {
        let mut seen = Seen::default();
        for fault in schedule.faults.clone() {
            tokio::time::sleep_until(t0 + Duration::from_millis(fault.at_ms)).await;
            let mut fault = self.inject(fault, target_leader, &mut seen).await?;
            // The time it really started (an aimed fault waits for a leader).
            fault.at_ms = fault.at_ms.max(t0.elapsed().as_millis() as u64);
            let end = fault.at_ms + fault.duration_ms;
            tokio::time::sleep_until(t0 + Duration::from_millis(end)).await;
            self.undo(&fault)?;
            seen.faults.push(fault);
        }
        Ok(seen)
    }

    /// Saves the faults as a simulator schedule, prints the figures and the
    /// verdict line; true for a pass.
    fn report(
        &self,
        args: &Args,
        schedule: Schedule,
        seed: u64,
        outcome: &Outcome,
    ) -> Result<bool, String> {
        let Outcome {
            seen,
            history,
            live,
            end_ns,
        } = outcome;
        let peer = self.specs[0].peer.clone();
        let saved = Schedule {
            faults: seen.faults.clone(),
            peer: Some(peer.clone()),
            ..schedule
        };
        let path = args.dir.join("schedule.json");
        std::fs::write(&path, saved.to_json() + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        summarize(&history.ops, seen, *end_ns);
        let verdict = verdict(history, *live, args);
        let who = match peer.as_str() {
            tests::peers::REFERENCE => String::new(),
            other => format!(" peer={other}"),
        };
        let name = format!("real-nemesis nodes={}{who} seed={seed}", args.nodes);
        match &verdict {
            Ok(line) => println!("PASSED {name}: {line}"),
            Err(line) => println!("FAILED {name}: {line}"),
        }
        let servers = tests::scenarios::SERVERS;
        let numbering = match args.nodes == servers {
            true => String::new(),
            false => format!(
                " (its {servers} servers; the faults name nodes 0..{})",
                args.nodes
            ),
        };
        println!(
            "faults saved to {}; the same faults in the simulator{numbering}: lab replay kv-nemesis --seed {seed} --schedule {}",
            path.display(),
            path.display()
        );
        Ok(verdict.is_ok())
    }

    /// Starts `fault` (aimed at the leader if asked); returns it as applied.
    async fn inject(
        &mut self,
        mut fault: Fault,
        at_leader: bool,
        seen: &mut Seen,
    ) -> Result<Fault, String> {
        let leader = match at_leader {
            // Aimed at the leader: wait (boundedly) for one if none leads now.
            true => self.wait_for_leader(AIM_WAIT, 0).await,
            false => self.leader().await,
        };
        if at_leader && let Some((l, _)) = leader {
            match &mut fault.kind {
                FaultKind::Crash { node, .. }
                | FaultKind::Pause { node }
                | FaultKind::Isolate { node } => *node = l,
                FaultKind::OneWay { from, to } => {
                    *from = vec![l];
                    *to = (0..self.addrs.len()).filter(|&o| o != l).collect();
                }
                _ => {}
            }
        }
        let n = self.addrs.len();
        let cut_off = match &fault.kind {
            FaultKind::Crash { node, .. } => {
                self.kill(*node);
                Some(*node)
            }
            FaultKind::Pause { node } => {
                self.pause(*node, true);
                Some(*node)
            }
            kind => {
                let Some(links) = links(kind, n) else {
                    return Err(format!(
                        "a real cluster cannot suffer {kind:?}: only crashes, pauses and partitions"
                    ));
                };
                self.set_links(&links);
                // The leader is cut off if it cannot reach a majority.
                leader
                    .map(|(l, _)| l)
                    .filter(|&l| links[l].iter().filter(|&&up| up).count() < peer::majority(n))
            }
        };
        eprintln!(
            "{:>7} ms  {:?} for {} ms",
            self.ms(),
            fault.kind,
            fault.duration_ms
        );
        if let Some((_, term)) = leader.filter(|(l, _)| cut_off == Some(*l)) {
            seen.leader_losses += 1;
            let started = Instant::now();
            let span = Duration::from_millis(fault.duration_ms);
            if let Some((new, _)) = self.wait_for_leader(span, term).await {
                let ms = started.elapsed().as_millis() as u64;
                eprintln!(
                    "{:>7} ms  node {new} leads, {ms} ms after the leader was lost",
                    self.ms()
                );
                seen.failovers_ms.push(ms);
            }
        }
        Ok(fault)
    }

    fn undo(&mut self, fault: &Fault) -> Result<(), String> {
        match fault.kind {
            FaultKind::Crash { node, .. } => self.restart(node)?,
            FaultKind::Pause { node } => self.pause(node, false),
            _ => self.set_links(&vec![vec![true; self.addrs.len()]; self.addrs.len()]),
        }
        Ok(())
    }
}

/// Waits until every client has completed an operation it called after the
/// heal; false if one has not within `limit`.
async fn live_after(history: &Shared, clients: usize, heal_ns: u64, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        let done = {
            let h = history.lock().expect("no client panics holding it");
            (0..clients).all(|c| {
                h.ops
                    .iter()
                    .any(|o| o.client_id == c && o.call_ns >= heal_ns && o.return_ns != NEVER)
            })
        };
        if done {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The verdict line: a broken server, a cluster that did not recover, or the
/// checker's word on the history.
fn verdict(history: &History, live: bool, args: &Args) -> Result<String, String> {
    if let Some(why) = &history.refused {
        return Err(why.clone());
    }
    if !live {
        return Err(format!(
            "liveness: not every client completed a new operation within {:?} of the heal",
            args.liveness
        ));
    }
    // As in the simulator, the page is drawn for a violation only: a passing
    // history of a long run is tens of megabytes of nothing to see.
    let page = args.dir.join("history.html");
    tests::kv_suite::config::check_kv_history(&history.ops, &page).map_err(|(_, what)| what)?;
    Ok(format!("{} operations, linearizable", history.ops.len()))
}

/// The latency at quantile `q` of `sorted`, in ms (0 for none), by the
/// experiments' nearest rank.
fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    match sorted.is_empty() {
        true => 0.0,
        false => crate::experiment::quantile(sorted, q) as f64 / 1e6,
    }
}

/// Completed operations per second, and p50 and p99 latency in ms, of `ops`.
fn figures(ops: &[&Operation<KvInput, KvOutput>], secs: f64) -> String {
    let mut latencies: Vec<u64> = ops.iter().map(|o| o.return_ns - o.call_ns).collect();
    latencies.sort_unstable();
    format!(
        "{} ({:.0}/s, p50 {:.2} ms, p99 {:.2} ms)",
        ops.len(),
        ops.len() as f64 / secs,
        quantile_ms(&latencies, 0.5),
        quantile_ms(&latencies, 0.99),
    )
}

fn summarize(ops: &[Operation<KvInput, KvOutput>], seen: &Seen, end_ns: u64) {
    let secs = end_ns as f64 / 1e9;
    let done: Vec<_> = ops.iter().filter(|o| o.return_ns != NEVER).collect();
    let (gets, writes): (Vec<_>, Vec<_>) = done
        .iter()
        .partition(|o| matches!(o.input, KvInput::Get { .. }));
    println!(
        "in {secs:.1} s: {} operations completed; gets {}, writes {}; {} pending at the end",
        done.len(),
        figures(&gets, secs),
        figures(&writes, secs),
        ops.len() - done.len(),
    );
    let count = |f: fn(&FaultKind) -> bool| seen.faults.iter().filter(|x| f(&x.kind)).count();
    let crashes = count(|k| matches!(k, FaultKind::Crash { .. }));
    let pauses = count(|k| matches!(k, FaultKind::Pause { .. }));
    let mut failovers = seen.failovers_ms.clone();
    failovers.sort_unstable();
    println!(
        "faults: {crashes} kill -9, {pauses} pauses, {} partitions; leader lost {} times, a new leader within the fault {} times, after (ms) {:?}",
        seen.faults.len() - crashes - pauses,
        seen.leader_losses,
        failovers.len(),
        failovers
    );
}
