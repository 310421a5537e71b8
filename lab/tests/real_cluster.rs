//! Real clusters on loopback: `lab` nodes as processes, TCP between them,
//! their state in files. Real time is allowed here and only here: each test
//! is bounded, and kills every process it started, also when it fails.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const LAB: &str = env!("CARGO_BIN_EXE_lab");

mod support;
use support::Scratch;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Processes whose command line names `dir`: what a test must leave none of.
fn processes_in(dir: &Path) -> Vec<u32> {
    let dir = dir.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(dir.len()).any(|w| w == dir) {
            found.push(pid);
        }
    }
    found
}

/// Kills every process whose command line names `dir` when dropped.
struct Reaper(PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in processes_in(&self.0) {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// Runs `lab args`, killed (with the nodes it started, which die with it)
/// if it has not ended within `limit`.
fn lab_within(args: &[&str], limit: Duration) -> Output {
    lab_in(Path::new("."), args, limit)
}

/// `lab_within`, run in the directory `cwd`.
fn lab_in(cwd: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child: Child = Command::new(LAB)
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lab runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("lab {args:?} still running after {limit:?}:\n{}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

const SCHEDULE: &str = r#"{"faults": [
  {"at_ms": 1500, "duration_ms": 1500, "kind": {"fault": "crash", "node": 0, "lose_unsynced": false}},
  {"at_ms": 4000, "duration_ms": 1500, "kind": {"fault": "isolate", "node": 0}}
]}"#;

/// Runs real-nemesis on 3 nodes of `peer` under SCHEDULE, aimed at the
/// leader, and checks what every peer must show; returns the run's directory.
fn survives_kill_9_and_a_partition(peer: &str, dir: &Path) -> PathBuf {
    let schedule = dir.join("schedule-in.json");
    std::fs::write(&schedule, SCHEDULE).unwrap();
    let out = dir.join("run");
    let (s, o) = (schedule.to_str().unwrap(), out.to_str().unwrap());
    let args = [
        "--peer",
        peer,
        "real-nemesis",
        "--nodes",
        "3",
        "--time",
        "7s",
    ];
    let rest = [
        "--seed",
        "5",
        "--clients",
        "3",
        "--schedule",
        s,
        "--target-leader",
    ];
    let last = ["--liveness", "10s", "--dir", o];
    let run = lab_within(
        &[&args[..], &rest[..], &last[..]].concat(),
        Duration::from_secs(30),
    );
    let t = text(&run);
    assert!(run.status.success(), "{t}");
    let who = match peer {
        "reference" => String::new(),
        other => format!(" peer={other}"),
    };
    assert!(
        t.contains(&format!("PASSED real-nemesis nodes=3{who} seed=5:")),
        "{t}"
    );
    assert!(t.contains(", linearizable"), "{t}");
    // The leader was killed with SIGKILL, and a new one took over; then the
    // new leader was cut off through the proxies, and another took over.
    assert!(
        t.contains("faults: 1 kill -9, 0 pauses, 1 partitions; leader lost 2 times"),
        "{t}"
    );
    let completed = operations_completed(&t);
    assert!(completed >= 100, "only {completed} operations in 7 s:\n{t}");
    assert!(!t.contains("gets 0 (") && !t.contains("writes 0 ("), "{t}");
    // The killed node came back from its own directory: three nodes
    // started, and one of them again.
    let logs: String = (0..3)
        .map(|i| std::fs::read_to_string(out.join(format!("node-{i}.log"))).unwrap_or_default())
        .collect();
    assert_eq!(logs.matches("listening on").count(), 4, "{logs}");
    // The schedule names the node actually hit, and replays in the simulator.
    let saved = std::fs::read_to_string(out.join("schedule.json")).unwrap();
    assert!(
        saved.contains("\"crash\"") && saved.contains("\"isolate\""),
        "{saved}"
    );
    assert!(processes_in(dir).is_empty(), "nodes left running");
    out
}

/// The count in real-nemesis's "N operations completed;".
fn operations_completed(t: &str) -> usize {
    t.split(" operations completed;")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of operations in:\n{t}"))
}

#[test]
fn raft_rs_survives_kill_9_and_a_partition_for_real() {
    let scratch = Scratch::new("real-raft-rs");
    let dir = scratch.path().to_owned();
    let _reaper = Reaper(dir.clone());
    survives_kill_9_and_a_partition("raft-rs", &dir);
}

#[test]
fn a_real_cluster_survives_kill_9_and_a_partition_and_its_history_is_linearizable() {
    let scratch = Scratch::new("real-nemesis");
    let dir = scratch.path().to_owned();
    let _reaper = Reaper(dir.clone());
    let out = survives_kill_9_and_a_partition("reference", &dir);
    // A log file flipped in the middle is refused, never served.
    let node_dir = out.join("node-1");
    let log = node_dir.join("raft").join("raft-log");
    let mut bytes = std::fs::read(&log).expect("node 1 wrote a log");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&log, bytes).unwrap();
    let addrs = "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3";
    let nd = node_dir.to_str().unwrap();
    let serve = [
        "serve",
        "--id",
        "1",
        "--addrs",
        addrs,
        "--listen",
        "127.0.0.1:0",
        "--dir",
        nd,
    ];
    // First as a node of another cluster: the directory is not its own.
    let other = lab_within(&serve, Duration::from_secs(10));
    let t = text(&other);
    assert_eq!(other.status.code(), Some(2), "{t}");
    assert!(
        t.contains("belongs to another node") && t.contains("cluster=real-nemesis-"),
        "{t}"
    );
    let identity = std::fs::read_to_string(node_dir.join("raftlab-node")).unwrap();
    let name = identity
        .lines()
        .find_map(|l| l.strip_prefix("cluster="))
        .unwrap();
    let refused = lab_within(
        &[&serve[..], &["--cluster", name]].concat(),
        Duration::from_secs(10),
    );
    let t = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{t}");
    assert!(
        t.contains("cannot restore the peer") && t.contains("checksum"),
        "{t}"
    );
}

#[test]
fn cluster_up_serves_the_kv_client_refuses_strangers_and_comes_down() {
    let scratch = Scratch::new("real-cluster");
    let dir = scratch.path().to_owned();
    let _reaper = Reaper(dir.clone());
    let d = dir.to_str().unwrap();
    let limit = Duration::from_secs(20);
    let up = lab_within(&["cluster", "up", "--nodes", "3", "--dir", d], limit);
    let t = text(&up);
    assert!(up.status.success(), "{t}");
    assert!(t.contains("is up: 3 nodes of peer `reference`"), "{t}");
    let kv = |args: &[&str]| lab_within(&[&["kv", "--dir", d], args].concat(), limit);
    assert!(kv(&["put", "x", "1"]).status.success());
    assert!(kv(&["append", "x", "2"]).status.success());
    // Without --dir, the client looks where `lab cluster up` puts a cluster.
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("lab-out")).unwrap();
    std::os::unix::fs::symlink(&dir, home.join("lab-out/cluster")).unwrap();
    let get = lab_in(&home, &["kv", "get", "x"], limit);
    assert_eq!(
        String::from_utf8_lossy(&get.stdout),
        "12\n",
        "{}",
        text(&get)
    );
    let status = lab_within(&["cluster", "status", "--dir", d], limit);
    let t = text(&status);
    assert_eq!(t.matches(" in term ").count(), 3, "{t}");
    assert_eq!(t.matches(": Leader in term").count(), 1, "{t}");
    strangers_are_refused(&dir);
    down_and_up_again_keeps_the_data(&dir);
}

/// The cluster's file says how to reach it: its addresses and its name.
fn cluster_file(dir: &Path) -> (String, String) {
    let file = std::fs::read_to_string(dir.join("cluster.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    let addrs: Vec<&str> = json["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    (addrs.join(","), json["name"].as_str().unwrap().to_owned())
}

/// Nodes that cannot join the cluster up in `dir` stop with the reason.
fn strangers_are_refused(dir: &Path) {
    let (addrs, name) = cluster_file(dir);
    // A node that believes the cluster has four members is refused by the
    // three that know it has three.
    let four = format!("{addrs},127.0.0.1:9");
    let sd = dir.join("stranger");
    let stranger = [
        "serve",
        "--id",
        "3",
        "--addrs",
        &four,
        "--listen",
        "127.0.0.1:0",
    ];
    refused(
        &[
            &stranger[..],
            &["--cluster", &name, "--dir", sd.to_str().unwrap()],
        ]
        .concat(),
        &[
            "a majority of the cluster refuses this node",
            "a cluster of 3 peers, not 4",
        ],
    );
    // A node on a port already taken says so.
    let td = dir.join("taken");
    let taken = ["serve", "--id", "0", "--addrs", &addrs, "--cluster", &name];
    let first = addrs.split(',').next().unwrap();
    refused(
        &[&taken[..], &["--dir", td.to_str().unwrap()]].concat(),
        &[&format!("cannot listen on {first}")],
    );
}

/// Up again while up: refused; down stops every node; up brings the cluster
/// back from its directory, with its data.
fn down_and_up_again_keeps_the_data(dir: &Path) {
    let d = dir.to_str().unwrap();
    let limit = Duration::from_secs(20);
    refused(&["cluster", "up", "--dir", d], &[]);
    let down = lab_within(&["cluster", "down", "--dir", d], limit);
    assert!(down.status.success(), "{}", text(&down));
    assert!(text(&down).contains("stopped 3 nodes"), "{}", text(&down));
    assert!(processes_in(dir).is_empty(), "nodes left running");
    // A status of a cluster that is down says so, and is not a success.
    let status = lab_within(&["cluster", "status", "--dir", d], limit);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert_eq!(
        text(&status).matches(": down (").count(),
        3,
        "{}",
        text(&status)
    );
    assert!(
        text(&status).contains("the cluster is down"),
        "{}",
        text(&status)
    );
    let kv = |args: &[&str]| lab_within(&[&["kv", "--dir", d], args].concat(), limit);
    let failed = kv(&["--timeout", "1s", "get", "x"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        text(&failed).contains("did not complete within 1s"),
        "{}",
        text(&failed)
    );
    assert!(
        lab_within(&["cluster", "up", "--dir", d], limit)
            .status
            .success()
    );
    assert_eq!(String::from_utf8_lossy(&kv(&["get", "x"]).stdout), "12\n");
    assert!(
        lab_within(&["cluster", "down", "--dir", d], limit)
            .status
            .success()
    );
    assert!(processes_in(dir).is_empty(), "nodes left running");
}

/// Runs `lab args` and checks it is refused as bad input (exit 2) with a
/// message that contains every one of `reasons`.
fn refused(args: &[&str], reasons: &[&str]) {
    let o = lab_within(args, Duration::from_secs(20));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "lab {args:?}:\n{t}");
    for reason in reasons {
        assert!(
            t.contains(reason),
            "lab {args:?} does not say {reason:?}:\n{t}"
        );
    }
}

#[test]
fn bad_addresses_and_unreal_schedules_are_refused_with_the_reason() {
    let scratch = Scratch::new("real-bad");
    let dir = scratch.path();
    let d = dir.join("n").to_str().unwrap().to_owned();
    let serve = |id: &'static str, addrs: &'static str| ["serve", "--id", id, "--addrs", addrs];
    refused(
        &[&serve("0", "localhost-7000")[..], &["--dir", &d]].concat(),
        &["invalid socket address"],
    );
    refused(
        &[
            &serve("2", "127.0.0.1:7000,127.0.0.1:7001")[..],
            &["--dir", &d],
        ]
        .concat(),
        &["--id 2 is not a place in --addrs (it has 2 addresses)"],
    );
    // An address of no interface of this machine cannot be listened on.
    refused(
        &[
            &serve("0", "192.0.2.1:7000,127.0.0.1:7001")[..],
            &["--dir", &d],
        ]
        .concat(),
        &["cannot listen on 192.0.2.1:7000"],
    );
    // No cluster where `lab cluster up` puts one, and none named.
    let empty = lab_in(dir, &["kv", "get", "x"], Duration::from_secs(20));
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));
    for says in [
        "no cluster in lab-out/cluster",
        "`lab cluster up`",
        "--dir DIR",
        "--addrs",
    ] {
        assert!(text(&empty).contains(says), "{}", text(&empty));
    }
    // A simulator's fault a real cluster cannot suffer: refused before
    // anything starts.
    let schedule = dir.join("unreal.json");
    let unreal =
        r#"{"faults": [{"at_ms": 10, "duration_ms": 10, "kind": {"fault": "long-reordering"}}]}"#;
    std::fs::write(&schedule, unreal).unwrap();
    let out = dir.join("run");
    let args = [
        "real-nemesis",
        "--schedule",
        schedule.to_str().unwrap(),
        "--dir",
        out.to_str().unwrap(),
    ];
    refused(&args, &["remove fault 0 (LongReordering)"]);
    assert!(processes_in(dir).is_empty());
}
