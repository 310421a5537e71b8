//! The lab's peers for real: nodes as processes on 127.0.0.1 (`serve`), a
//! client (`kv`), a local cluster (`cluster`) and a Jepsen-style run judged
//! by the simulator's checker (`nemesis`). What they share: a node's command
//! line, free ports, signals, and the cluster file.

pub mod cluster;
pub mod kv;
pub mod nemesis;
pub mod serve;

pub use realnet::entropy;

use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The file `lab cluster up` writes in its directory.
pub const CLUSTER_FILE: &str = "cluster.json";

/// Where `lab cluster` keeps a cluster, and `lab kv` looks for one, unless
/// told otherwise.
pub const DEFAULT_DIR: &str = "lab-out/cluster";

/// A cluster as `lab cluster up` leaves it: enough to reach, stop and
/// restart it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterFile {
    /// The cluster's name (its nodes refuse nodes of other names).
    pub name: String,
    /// The peer every node runs.
    pub peer: String,
    /// Each node's address, by id.
    pub addrs: Vec<SocketAddr>,
    /// Each node's process id, while it runs.
    pub pids: Vec<Option<u32>>,
    /// 6.824's maxraftstate of every node.
    pub maxraftstate: u64,
}

impl ClusterFile {
    /// The cluster file in `dir`, or an error that says what to do.
    pub fn read(dir: &Path) -> Result<ClusterFile, String> {
        let path = dir.join(CLUSTER_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let up = match dir == Path::new(DEFAULT_DIR) {
                true => "`lab cluster up`".to_string(),
                false => format!("`lab cluster up --dir {}`", dir.display()),
            };
            match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("no cluster in {}: start one with {up}", dir.display())
                }
                _ => format!(
                    "cannot read {}: {e} (start a cluster with {up})",
                    path.display()
                ),
            }
        })?;
        let not = |e: String| format!("{} is not a cluster file: {e}", path.display());
        let cluster: ClusterFile = serde_json::from_str(&text).map_err(|e| not(e.to_string()))?;
        cluster.check().map_err(not)?;
        Ok(cluster)
    }

    /// Refuses a file `lab cluster up` could not have written (edited by
    /// hand): every command indexes nodes by id in both lists.
    fn check(&self) -> Result<(), String> {
        let nodes = self.addrs.len();
        if nodes == 0 || nodes > peer::MAX_PEERS {
            return Err(format!(
                "it lists {nodes} addresses; a cluster has 1 to {}",
                peer::MAX_PEERS
            ));
        }
        if self.pids.len() != nodes {
            return Err(format!(
                "{nodes} addresses but {} process ids",
                self.pids.len()
            ));
        }
        Ok(())
    }

    /// Writes it into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(CLUSTER_FILE);
        let text = serde_json::to_string_pretty(self).expect("plain data");
        std::fs::write(&path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// How to start one node process.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub id: usize,
    /// Where it listens.
    pub listen: SocketAddr,
    /// How it reaches each node (through proxies, maybe).
    pub peers: Vec<SocketAddr>,
    pub dir: PathBuf,
    pub cluster: String,
    pub peer: String,
    pub maxraftstate: u64,
    /// Its stderr and stdout go here (appended: a restart keeps the story).
    pub log: PathBuf,
}

impl NodeSpec {
    /// Starts the node: `lab serve` in a child process. With `die_with_parent`,
    /// the kernel kills it when this process dies, however it dies.
    pub fn spawn(&self, die_with_parent: bool) -> Result<Child, String> {
        // This very binary. If a rebuild has replaced the file since it
        // started, its path names nothing ("... (deleted)"): the kernel's
        // link to the running image still starts it.
        let exe = std::env::current_exe()
            .ok()
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("cannot open {}: {e}", self.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let addrs: Vec<String> = self.peers.iter().map(|a| a.to_string()).collect();
        let mut command = Command::new(exe);
        command
            .args(["--peer", &self.peer, "serve", "--id", &self.id.to_string()])
            .args([
                "--addrs",
                &addrs.join(","),
                "--listen",
                &self.listen.to_string(),
            ])
            .args([
                "--cluster",
                &self.cluster,
                "--maxraftstate",
                &self.maxraftstate.to_string(),
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        if die_with_parent {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; nothing else runs between
            // fork and exec.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        } else {
            use std::os::unix::process::CommandExt;
            // Its own process group: a Ctrl-C at `lab cluster up` does not reach it.
            command.process_group(0);
        }
        command
            .spawn()
            .map_err(|e| format!("cannot start node {}: {e}", self.id))
    }
}

/// A node's address as `--addrs` and `--listen` take it: `IP:PORT`, or
/// `HOST:PORT` (`localhost:7000`) resolved once, here, so that every process
/// of a cluster means the same socket. IPv4 first: `lab cluster` listens on
/// 127.0.0.1, and `localhost` often also names `::1`.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let bad = |why: String| {
        format!("`{text}` is not an address ({why}): write HOST:PORT, e.g. 127.0.0.1:7000")
    };
    let resolved: Vec<SocketAddr> = (text.to_socket_addrs())
        .map_err(|e| bad(e.to_string()))?
        .collect();
    let first = resolved.iter().find(|a| a.is_ipv4()).or(resolved.first());
    first
        .copied()
        .ok_or_else(|| bad("it names no address".into()))
}

/// Refuses a list of nodes' addresses that names one socket twice (two ids
/// for one node: it would count itself twice toward every majority).
pub fn distinct_addrs(addrs: &[SocketAddr]) -> Result<(), String> {
    for (j, b) in addrs.iter().enumerate() {
        if let Some(i) = addrs[..j].iter().position(|a| a == b) {
            return Err(format!(
                "--addrs names {b} twice (nodes {i} and {j}): each node needs its own address"
            ));
        }
    }
    Ok(())
}

/// `n` ports of 127.0.0.1 free right now. They are released before the nodes
/// bind them, so another program may take one first; the node then says so
/// and exits.
pub fn free_ports(n: usize) -> Result<Vec<SocketAddr>, String> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map_err(|e| e.to_string()))
        .collect()
}

/// Sends `signal` to process `pid`; false if there is no such process.
pub fn signal(pid: u32, signal: i32) -> bool {
    // SAFETY: kill(2) has no memory effects.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// True while process `pid` is the node whose directory is `node_dir`
/// (not some other process that reused its pid).
pub fn node_alive(pid: u32, node_dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let dir = node_dir.as_os_str().as_encoded_bytes();
    cmdline.split(|&b| b == 0).any(|arg| arg == dir)
}

/// The node that says it leads in the highest term, and that term, if any
/// answers so: every node asked at once, so a paused one does not hold up
/// the rest, and an ex-leader cut off in an older term loses to the new one.
pub async fn leader(addrs: &[SocketAddr], timeout: std::time::Duration) -> Option<(usize, u64)> {
    let mut asks = tokio::task::JoinSet::new();
    for &addr in addrs {
        asks.spawn(realnet::status(addr, timeout));
    }
    let mut best: Option<(u64, usize)> = None;
    while let Some(answer) = asks.join_next().await {
        if let Ok(Ok(s)) = answer
            && s.role == "Leader"
            && best.is_none_or(|(t, _)| s.term > t)
        {
            best = Some((s.term, s.id));
        }
    }
    best.map(|(term, id)| (id, term))
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    #[test]
    fn an_address_may_name_a_host() {
        assert_eq!(
            parse_addr("127.0.0.1:7000").unwrap().to_string(),
            "127.0.0.1:7000"
        );
        assert_eq!(parse_addr("[::1]:7000").unwrap().to_string(), "[::1]:7000");
        // localhost resolves to its IPv4 address, as every node binds it.
        assert_eq!(
            parse_addr("localhost:7001").unwrap().to_string(),
            "127.0.0.1:7001"
        );
        for bad in ["localhost", "127.0.0.1", "localhost:x", ":7000", ""] {
            let err = parse_addr(bad).unwrap_err();
            assert!(
                err.contains("write HOST:PORT, e.g. 127.0.0.1:7000"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_node_has_one_address() {
        let addrs: Vec<_> = ["127.0.0.1:7000", "127.0.0.1:7001", "localhost:7000"]
            .map(|a| parse_addr(a).unwrap())
            .into();
        assert_eq!(super::distinct_addrs(&addrs[..2]), Ok(()));
        let err = super::distinct_addrs(&addrs).unwrap_err();
        assert_eq!(
            err,
            "--addrs names 127.0.0.1:7000 twice (nodes 0 and 2): each node needs its own address"
        );
    }
}
