//! The lab's key/value server (kvraft) on raft-rs peers: the apply contract (empty
//! commands for raft-rs's own entries, snapshots first after a restart) as a real
//! service sees it, with snapshots taken by `maxraftstate`.

use std::collections::BTreeMap;

use kvraft::{KvServer, ServerConfig};
use peer::{ClientId, KvArgs, KvReply, MemDisk, Op, Peer, PeerConfig, PeerId, Role, Wire};

struct KvCluster {
    now: u64,
    peers: Vec<Option<Box<dyn Peer>>>,
    servers: Vec<KvServer>,
    disks: Vec<MemDisk>,
    connected: Vec<bool>,
    in_flight: Vec<(PeerId, PeerId, Wire)>,
    replies: BTreeMap<u64, KvReply>,
    incarnation: u64,
    next_request: u64,
}

fn server() -> KvServer {
    KvServer::new(ServerConfig {
        maxraftstate: Some(1_000),
        ..ServerConfig::default()
    })
}

impl KvCluster {
    fn new(n: usize) -> KvCluster {
        let mut c = KvCluster {
            now: 0,
            peers: (0..n).map(|_| None).collect(),
            servers: (0..n).map(|_| server()).collect(),
            disks: vec![MemDisk::default(); n],
            connected: vec![true; n],
            in_flight: Vec::new(),
            replies: BTreeMap::new(),
            incarnation: 0,
            next_request: 0,
        };
        for i in 0..n {
            c.start(i);
        }
        c
    }

    fn start(&mut self, i: PeerId) {
        self.incarnation += 1;
        let config = PeerConfig::new(i, self.peers.len(), 77 + self.incarnation * 31);
        self.peers[i] = Some(raftrs::factory()(config, &self.disks[i], self.now).unwrap());
        self.servers[i] = server();
        self.drain(i);
    }

    fn drain(&mut self, i: PeerId) {
        let Some(p) = self.peers[i].as_mut() else {
            return;
        };
        while p.has_ready() {
            let rd = p.ready(&mut self.disks[i]);
            for (to, w) in rd.messages {
                self.in_flight.push((i, to, w));
            }
            for a in rd.applies {
                self.servers[i]
                    .apply(a)
                    .expect("the KV server accepts every apply");
            }
            let (bytes, snap) = (
                p.raft_state_bytes(&self.disks[i]),
                p.status().snapshot_index,
            );
            if let Some((index, data)) = self.servers[i].maybe_snapshot(bytes, snap) {
                p.snapshot(index, data).unwrap();
            }
        }
        self.servers[i].poll(p.as_ref(), self.now);
        self.replies.extend(self.servers[i].take_replies());
    }

    fn step_ms(&mut self) {
        self.now += 1;
        for (from, to, w) in std::mem::take(&mut self.in_flight) {
            if !(self.connected[from] && self.connected[to]) {
                continue;
            }
            if let Some(p) = self.peers[to].as_mut() {
                p.step(self.now, from, w).unwrap();
                self.drain(to);
            }
        }
        for i in 0..self.peers.len() {
            if let Some(p) = self.peers[i].as_mut() {
                if self.now >= p.next_deadline_ms() {
                    p.tick(self.now);
                }
                self.drain(i);
            }
        }
    }

    /// A clerk's request, retried on every up and connected server until it succeeds.
    fn call(&mut self, client_id: ClientId, seq: u64, op: Op) -> String {
        for attempt in 0..200 {
            let i = attempt % self.peers.len();
            if self.peers[i].is_none() || !self.connected[i] {
                continue;
            }
            self.next_request += 1;
            let id = self.next_request;
            let args = KvArgs {
                client_id,
                seq,
                op: op.clone(),
            };
            let p = self.peers[i].as_mut().unwrap();
            self.servers[i].request(p.as_mut(), self.now, id, args);
            self.drain(i);
            for _ in 0..1_500 {
                if let Some(reply) = self.replies.remove(&id) {
                    if let KvReply::Ok { value } = reply {
                        return value;
                    }
                    break;
                }
                self.step_ms();
            }
            self.replies.remove(&id);
            for _ in 0..50 {
                self.step_ms();
            }
        }
        panic!("{op:?} never succeeded");
    }

    fn run_ms(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step_ms();
        }
    }
}

#[test]
fn kv_servers_on_raft_rs_snapshot_restart_and_catch_up() {
    let mut c = KvCluster::new(3);
    let mut seq = 0;
    let mut append = |c: &mut KvCluster, v: &str| {
        seq += 1;
        c.call(
            1,
            seq,
            Op::Append {
                key: "k".into(),
                value: v.into(),
            },
        );
    };
    append(&mut c, "a");
    let leader = (0..3)
        .find(|&i| c.peers[i].as_ref().unwrap().status().role == Role::Leader)
        .unwrap();
    let victim = (leader + 1) % 3;
    c.connected[victim] = false;
    let mut want = String::from("a");
    for i in 0..60 {
        let v = format!("-{i}");
        append(&mut c, &v);
        want.push_str(&v);
    }
    assert!(
        c.servers[leader].snapshots_taken() > 0,
        "maxraftstate made snapshots"
    );
    c.connected[victim] = true;
    c.run_ms(1_000);
    for i in 0..3 {
        assert_eq!(c.servers[i].value("k"), Some(want.as_str()), "server {i}");
    }
    assert!(c.peers[victim].as_ref().unwrap().status().snapshot_index > 0);

    // Every server restarts: each rebuilds its state from its snapshot and log.
    for i in 0..3 {
        c.peers[i] = None;
        c.start(i);
        assert_eq!(
            c.servers[i].value("k"),
            Some(want.as_str()),
            "restarted server {i}"
        );
    }
    let got = c.call(2, 1, Op::Get { key: "k".into() });
    assert_eq!(got, want);
}
