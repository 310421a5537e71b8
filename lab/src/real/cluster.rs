//! `lab cluster`: a local cluster of real nodes on 127.0.0.1, started,
//! inspected and stopped.

use super::{CLUSTER_FILE, ClusterFile, NodeSpec, entropy, free_ports, node_alive, signal};
use crate::common::fail;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A local cluster of real nodes.
#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Start a cluster (or restart a stopped one from its directory): one
    /// `lab serve` process per node on free ports of 127.0.0.1, logs in
    /// DIR/node-I.log, state in DIR/node-I/. Returns once a leader is elected.
    Up {
        /// Nodes (ignored when DIR already holds a cluster).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// The cluster's directory.
        #[arg(long, default_value = super::DEFAULT_DIR)]
        dir: PathBuf,
        /// Snapshot once a node's Raft state reaches this many bytes.
        #[arg(long, default_value_t = 1 << 20)]
        maxraftstate: u64,
    },
    /// Each node's role, term, leader and commit index; exit status 1 when
    /// no node answers (the cluster is down).
    Status {
        /// The cluster's directory.
        #[arg(long, default_value = super::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Stop every node (SIGTERM, then SIGKILL after 5 s). Their state stays
    /// in DIR: `lab cluster up --dir DIR` brings the cluster back.
    Down {
        /// The cluster's directory.
        #[arg(long, default_value = super::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

/// Runs one cluster command.
pub fn cluster(command: ClusterCommand, peer: &'static str) -> ExitCode {
    let result = match command {
        ClusterCommand::Up {
            nodes,
            dir,
            maxraftstate,
        } => up(nodes, &dir, maxraftstate, peer),
        ClusterCommand::Status { dir } => match status(&dir) {
            Ok(0) => return ExitCode::from(1),
            other => other.map(|_| ()),
        },
        ClusterCommand::Down { dir } => down(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn node_dir(dir: &Path, id: usize) -> PathBuf {
    dir.join(format!("node-{id}"))
}

/// The cluster's nodes still running, as (id, pid).
fn running<'a>(cluster: &'a ClusterFile, dir: &'a Path) -> impl Iterator<Item = (usize, u32)> + 'a {
    let pids = cluster.pids.iter().enumerate();
    pids.filter_map(move |(id, pid)| {
        pid.filter(|&p| node_alive(p, &node_dir(dir, id)))
            .map(|p| (id, p))
    })
}

fn spec(cluster: &ClusterFile, dir: &Path, id: usize) -> NodeSpec {
    NodeSpec {
        id,
        listen: cluster.addrs[id],
        peers: cluster.addrs.clone(),
        dir: node_dir(dir, id),
        cluster: cluster.name.clone(),
        peer: cluster.peer.clone(),
        maxraftstate: cluster.maxraftstate,
        log: dir.join(format!("node-{id}.log")),
    }
}

fn up(nodes: usize, dir: &Path, maxraftstate: u64, peer: &str) -> Result<(), String> {
    let mut cluster = open_or_create(nodes, dir, maxraftstate, peer)?;
    let mut children = Vec::new();
    for id in 0..cluster.addrs.len() {
        let child = spec(&cluster, dir, id).spawn(false)?;
        cluster.pids[id] = Some(child.id());
        children.push(child);
    }
    cluster.write(dir)?;
    let leader = match wait_for_leader(&cluster, &mut children, dir, Duration::from_secs(10)) {
        Ok(leader) => leader,
        Err(e) => {
            // Half a cluster left running would hold its ports and its files.
            for child in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            cluster.pids = vec![None; cluster.addrs.len()];
            cluster.write(dir)?;
            return Err(e);
        }
    };
    print_up(&cluster, dir, leader);
    Ok(())
}

/// The cluster in `dir` if there is one (and it is not running), or a new
/// one of `nodes` nodes on free ports.
fn open_or_create(
    nodes: usize,
    dir: &Path,
    maxraftstate: u64,
    peer: &str,
) -> Result<ClusterFile, String> {
    if dir.join(CLUSTER_FILE).exists() {
        let c = ClusterFile::read(dir)?;
        if running(&c, dir).next().is_some() {
            return Err(format!(
                "the cluster in {} is running; `lab cluster down --dir {}` first",
                dir.display(),
                dir.display()
            ));
        }
        eprintln!(
            "restarting the {}-node cluster in {} from its state",
            c.addrs.len(),
            dir.display()
        );
        return Ok(c);
    }
    if !(1..=peer::MAX_PEERS).contains(&nodes) {
        return Err(format!(
            "--nodes {nodes}: a cluster has 1 to {} nodes",
            peer::MAX_PEERS
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(ClusterFile {
        name: format!("raftlab-{:08x}", entropy() as u32),
        peer: peer.to_owned(),
        addrs: free_ports(nodes)?,
        pids: vec![None; nodes],
        maxraftstate,
    })
}

/// Says what is up, where, and what to try next.
fn print_up(cluster: &ClusterFile, dir: &Path, leader: usize) {
    println!(
        "cluster {} is up: {} nodes of peer `{}`, node {leader} leads",
        cluster.name,
        cluster.addrs.len(),
        cluster.peer
    );
    for (id, addr) in cluster.addrs.iter().enumerate() {
        println!(
            "  node {id}: {addr}  log {}",
            dir.join(format!("node-{id}.log")).display()
        );
    }
    let d = dir.display();
    println!("try:  lab kv --dir {d} put x 1 && lab kv --dir {d} get x");
    println!("      lab cluster status --dir {d}");
    println!("stop: lab cluster down --dir {d}");
}

/// Waits for a node to report itself leader; an error if a node died (its
/// log says why) or none leads in time.
fn wait_for_leader(
    cluster: &ClusterFile,
    children: &mut [std::process::Child],
    dir: &Path,
    limit: Duration,
) -> Result<usize, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    while start.elapsed() < limit {
        for (id, child) in children.iter_mut().enumerate() {
            if !matches!(child.try_wait(), Ok(None)) {
                let log = dir.join(format!("node-{id}.log"));
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let last = tail.lines().last().unwrap_or("(empty log)");
                return Err(format!("node {id} exited: {last}"));
            }
        }
        let asked = super::leader(&cluster.addrs, Duration::from_millis(300));
        if let Some((id, _)) = runtime.block_on(asked) {
            return Ok(id);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "no leader within {limit:?}; see the logs in {}",
        dir.display()
    ))
}

/// Prints each node's state; returns how many nodes answered.
fn status(dir: &Path) -> Result<usize, String> {
    let cluster = ClusterFile::read(dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    println!(
        "cluster {} ({} nodes, peer `{}`)",
        cluster.name,
        cluster.addrs.len(),
        cluster.peer
    );
    let mut answered = 0;
    for (id, &addr) in cluster.addrs.iter().enumerate() {
        match runtime.block_on(realnet::status(addr, Duration::from_secs(1))) {
            Ok(s) => {
                answered += 1;
                println!(
                    "  node {id} {addr}: {} in term {}, leader {}, commit index {}",
                    s.role,
                    s.term,
                    s.leader.map_or("unknown".to_owned(), |l| l.to_string()),
                    s.commit_index
                )
            }
            Err(e) => println!("  node {id} {addr}: down ({e})"),
        }
    }
    if answered == 0 {
        println!(
            "no node answered: the cluster is down (`lab cluster up --dir {}` starts it again)",
            dir.display()
        );
    }
    Ok(answered)
}

fn down(dir: &Path) -> Result<(), String> {
    let mut cluster = ClusterFile::read(dir)?;
    let stopped = stop(&mut cluster, dir)?;
    println!(
        "stopped {stopped} nodes of cluster {}; its state stays in {}",
        cluster.name,
        dir.display()
    );
    Ok(())
}

/// Stops the cluster's running nodes (SIGTERM, then SIGKILL after 5 s) and
/// records them stopped; returns how many there were.
fn stop(cluster: &mut ClusterFile, dir: &Path) -> Result<usize, String> {
    let pids: Vec<u32> = running(cluster, dir).map(|(_, pid)| pid).collect();
    for &pid in &pids {
        signal(pid, libc::SIGTERM);
    }
    let start = Instant::now();
    while running(cluster, dir).next().is_some() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for (_, pid) in running(cluster, dir) {
        signal(pid, libc::SIGKILL);
    }
    cluster.pids = vec![None; cluster.addrs.len()];
    cluster.write(dir)?;
    Ok(pids.len())
}
