//! The server verbs of 6.824's service configurations (kvraft's and
//! shardctrler's `config.go` share them): partitions, clients' links, servers
//! shut down and started again, and who leads. They act on the servers
//! `0..n` of a [`Harness`], whatever service runs on their peers.

use crate::harness::Harness;
use crate::raft_suite::node::any_status;
use labsim::NodeId;

impl Harness {
    /// Every server (6.824's `All()`).
    pub fn all(&self) -> Vec<usize> {
        (0..self.n).collect()
    }

    pub(crate) fn set_links(&mut self, a: NodeId, bs: &[NodeId], up: bool) {
        self.sim.with_net(|net, k| {
            for &b in bs {
                net.set_link(k, a, b, up).expect("nodes exist");
                net.set_link(k, b, a, up).expect("nodes exist");
            }
        });
    }

    /// 6.824's `partition(p1, p2)`: servers talk only within their group.
    /// Clerks' links are unchanged.
    pub fn partition(&mut self, p1: &[usize], p2: &[usize]) {
        self.sim.with_net(|net, k| {
            net.partition(k, &[p1.to_vec(), p2.to_vec()])
                .expect("servers exist")
        });
    }

    /// 6.824's `ConnectAll`: every server up and linked to every other.
    pub fn connect_all(&mut self) {
        let all = self.all();
        self.sim.with_net(|net, k| {
            for &i in &all {
                net.set_connected(k, i, true).expect("servers exist");
            }
            net.partition(k, std::slice::from_ref(&all))
                .expect("servers exist");
        });
    }

    /// 6.824's `ConnectClient(ck, to)`: the clerk reaches servers `to` only.
    pub fn connect_client_node(&mut self, client: NodeId, to: &[usize]) {
        let (on, off): (Vec<usize>, Vec<usize>) =
            self.all().into_iter().partition(|s| to.contains(s));
        self.set_links(client, &on, true);
        self.set_links(client, &off, false);
    }

    /// 6.824's `ShutdownServer(i)`: cut it off, then crash it (only what it
    /// synced survives).
    pub fn shutdown_server(&mut self, i: usize) {
        self.sim
            .with_net(|net, k| net.set_connected(k, i, false))
            .expect("server exists");
        if any_status(&self.sim, i).is_some() {
            self.sim.crash(i).expect("server exists");
        }
    }

    /// 6.824's `StartServer(i)`: rebuild it from its disk; it stays cut off
    /// until `connect_all` or `partition`.
    pub fn start_server(&mut self, i: usize) {
        if any_status(&self.sim, i).is_some() {
            self.shutdown_server(i);
        }
        self.sim.restart(i).expect("server was crashed");
    }

    /// 6.824's `Leader()`: a connected server that believes it leads.
    pub fn leader(&self) -> Option<usize> {
        (0..self.n).find(|&i| {
            self.sim.net().is_connected(i)
                && any_status(&self.sim, i).is_some_and(|s| s.get_state().1)
        })
    }
}
