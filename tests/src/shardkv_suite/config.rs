//! The sharded KV harness: 6.824's shardkv `config.go` in virtual time. The
//! shard controller's servers are nodes `0..3` (the harness's first group);
//! each replica group of `n` servers follows (group `gi` has gid `100 + gi`
//! and servers named `server-GID-I`); clerks are added as the test makes
//! them, and every client operation goes into one history, checked for
//! linearizability when the test ends.

use super::clerk::{Directory, ShardLink};
use super::server::{Reach, ShardKvService};
use crate::Test;
use crate::ctrler_suite::clerk::CtrlClerkNode;
use crate::ctrler_suite::config::{TEST_LIMIT_NS, call_on};
use crate::failure::Failure;
use crate::harness::{Harness, HarnessOptions};
use crate::kv_suite::KvConfig;
use crate::peers::PeerChoice;
use crate::peers::ShardKvOptions;
use crate::raft_suite::RunReport;
use crate::raft_suite::node::{PeerNode, RaftTuning, persisted_sizes};
use crate::raft_suite::oracle::Oracle;
use crate::replicated::CtrlNode;
use crate::replicated::server::ReplicatedService;
use labsim::NodeId;
use peer::{CtrlOp, CtrlOutcome, Gid, ShardConfig};
use rand::RngExt;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// Servers of the shard controller (6.824's `nctrlers`).
pub const NCTRLERS: usize = 3;
/// Replica groups (6.824's `ngroups`).
pub const NGROUPS: usize = 3;

/// One replica group.
#[derive(Clone, Debug)]
struct Group {
    gid: Gid,
    /// Node id of its server 0.
    base: NodeId,
    names: Vec<String>,
}

impl Group {
    /// The replica groups of `n` servers each, numbered from gid 100, their
    /// nodes after the controller's.
    fn all(n: usize) -> Vec<Group> {
        (0..NGROUPS)
            .map(|gi| {
                let gid = 100 + gi as Gid;
                let names = (0..n).map(|i| format!("server-{gid}-{i}")).collect();
                Group {
                    gid,
                    base: NCTRLERS + gi * n,
                    names,
                }
            })
            .collect()
    }

    /// Every group server's name and node: how a shard's servers are reached.
    fn directory(groups: &[Group]) -> Directory {
        Rc::new(
            groups
                .iter()
                .flat_map(|g| {
                    g.names
                        .iter()
                        .enumerate()
                        .map(|(i, name)| (name.clone(), g.base + i))
                })
                .collect(),
        )
    }
}

/// A shard controller: its servers and a clerk of its own for joins and leaves.
#[derive(Clone, Debug)]
pub struct Ctl {
    servers: Vec<NodeId>,
    clerk: NodeId,
}

/// A sharded KV service under test (6.824's shardkv `config`).
pub struct ShardKvConfig {
    kv: KvConfig<ShardLink>,
    ctl: Ctl,
    groups: Vec<Group>,
    n: usize,
    maxraftstate: Option<u64>,
    directory: Directory,
}

impl Deref for ShardKvConfig {
    type Target = KvConfig<ShardLink>;
    fn deref(&self) -> &KvConfig<ShardLink> {
        &self.kv
    }
}

impl DerefMut for ShardKvConfig {
    fn deref_mut(&mut self) -> &mut KvConfig<ShardLink> {
        &mut self.kv
    }
}

/// A controller group's server node, as a node factory of a harness group.
fn ctrler_node(
    servers: usize,
    tuning: RaftTuning,
) -> impl Fn(&PeerChoice, Rc<RefCell<Oracle>>) -> CtrlNode + Clone {
    move |choice, oracle| {
        let service = ReplicatedService::new((choice.ctrler)());
        PeerNode::with_service(servers, tuning, choice.clone(), service, oracle)
    }
}

impl ShardKvConfig {
    /// Builds the service for the run `t` (6.824's `make_config(t, n,
    /// unreliable, maxraftstate)`), on the peer under test.
    pub fn new(t: &Test, n: usize, unreliable: bool, maxraftstate: Option<u64>) -> ShardKvConfig {
        ShardKvConfig::with_tuning(t, n, unreliable, maxraftstate, RaftTuning::default())
    }

    /// [`ShardKvConfig::new`], every peer (controller and groups) tuned by `tuning`.
    pub fn with_tuning(
        t: &Test,
        n: usize,
        unreliable: bool,
        maxraftstate: Option<u64>,
        tuning: RaftTuning,
    ) -> ShardKvConfig {
        let options = HarnessOptions {
            test: t.name.to_owned(),
            seed: t.seed,
            peers: NCTRLERS,
            unreliable,
            peer: crate::peers::current(),
            time_limit_ns: Some(TEST_LIMIT_NS),
            node_prefix: "ctrler",
        };
        let mut h = Harness::new(options, ctrler_node(NCTRLERS, tuning));
        let ctrlers: Vec<NodeId> = (0..NCTRLERS).collect();
        let groups = Group::all(n);
        let directory = Group::directory(&groups);
        for g in &groups {
            let reach = Reach {
                ctrlers: ctrlers.clone(),
                directory: directory.clone(),
            };
            let options = ShardKvOptions {
                gid: g.gid,
                ctrlers: NCTRLERS,
                maxraftstate,
            };
            let base = h.add_group(n, &format!("server-{}-", g.gid), move |choice, oracle| {
                let service = ShardKvService::new((choice.shardkv)(&options), reach.clone());
                PeerNode::with_service(n, tuning, choice.clone(), service, oracle)
            });
            assert_eq!(base, g.base, "groups follow the controller, in order");
        }
        let ctl = Self::add_ctl_clerk(&mut h, ctrlers);
        let (ctl_servers, dir) = (ctl.servers.clone(), directory.clone());
        let new_link = Box::new(move |_: &mut Harness, client_id| {
            ShardLink::new(client_id, ctl_servers.clone(), dir.clone())
        });
        let kv = KvConfig::on_harness(h, new_link, maxraftstate);
        ShardKvConfig {
            kv,
            ctl,
            groups,
            n,
            maxraftstate,
            directory,
        }
    }

    fn add_ctl_clerk(h: &mut Harness, servers: Vec<NodeId>) -> Ctl {
        let client_id = h.rng().random::<u64>();
        let mut node = Some(CtrlClerkNode::new(client_id, servers.clone()));
        let clerk = h.sim.add_node("ctlclerk", move |_, _| {
            Box::new(node.take().expect("clerks never restart"))
        });
        Ctl { servers, clerk }
    }

    /// The first controller.
    pub fn ctl(&self) -> Ctl {
        self.ctl.clone()
    }

    /// 6.824's `StartCtrlerService`: another controller of its own, with no group.
    pub fn start_ctrler_service(&mut self) -> Ctl {
        let base = self.kv.add_group(
            NCTRLERS,
            "ctrlerB",
            ctrler_node(NCTRLERS, RaftTuning::default()),
        );
        Self::add_ctl_clerk(&mut self.kv, (base..base + NCTRLERS).collect())
    }

    /// 6.824's `makeClient(ctl)`: a clerk that asks `ctl` where shards are.
    pub fn make_client(&mut self, ctl: &Ctl) -> crate::kv_suite::Ck {
        let (servers, dir) = (ctl.servers.clone(), self.directory.clone());
        self.kv
            .add_client_with(|client_id| ShardLink::new(client_id, servers, dir))
    }

    /// Every server: the controller's, then each group's.
    pub fn servers(&self) -> Vec<NodeId> {
        (0..NCTRLERS + NGROUPS * self.n).collect()
    }

    /// The node of the first controller's own clerk (for changes made by a
    /// scheduled event, which gets no answer back).
    pub fn ctl_clerk(&self) -> NodeId {
        self.ctl.clerk
    }

    /// Every server up and linked to every other (the groups' and the
    /// controller's alike).
    pub fn connect_everyone(&mut self) {
        let all = self.servers();
        self.kv.sim.with_net(|net, k| {
            for &i in &all {
                net.set_connected(k, i, true).expect("servers exist");
            }
            net.heal(k);
        });
    }

    /// Joins every group that is not in the latest configuration, through a
    /// clerk of its own (one a group already in refuses is fine).
    pub fn rejoin_all(&mut self) -> Result<(), Failure> {
        let ctl = Self::add_ctl_clerk(&mut self.kv, self.ctl.servers.clone());
        let latest = match self.ctl_op(&ctl, CtrlOp::Query { num: None })? {
            CtrlOutcome::Config(c) => c,
            other => return self.check_fail(format!("Query(-1) returned {other:?}")),
        };
        for gi in 0..NGROUPS {
            let gid = self.groups[gi].gid;
            if latest.groups.contains_key(&gid) {
                continue;
            }
            match self.ctl_op(&ctl, self.join_op(&[gi]))? {
                CtrlOutcome::Done | CtrlOutcome::Refused(peer::CtrlError::GroupExists(_)) => {}
                other => return self.check_fail(format!("join of group {gi} returned {other:?}")),
            }
        }
        Ok(())
    }

    /// The gid of group `gi`.
    pub fn gid(&self, gi: usize) -> Gid {
        self.groups[gi].gid
    }

    fn ctl_op(&mut self, ctl: &Ctl, op: CtrlOp) -> Result<CtrlOutcome, Failure> {
        call_on(&mut self.kv, ctl.clerk, op)
    }

    /// The controller operation by which groups `gis` join.
    pub fn join_op(&self, gis: &[usize]) -> CtrlOp {
        let servers: BTreeMap<Gid, Vec<String>> = gis
            .iter()
            .map(|&gi| (self.groups[gi].gid, self.groups[gi].names.clone()))
            .collect();
        CtrlOp::Join { servers }
    }

    /// 6.824's `joinm(gis, ctl)`: groups `gis` join at once.
    pub fn joinm_at(&mut self, gis: &[usize], ctl: &Ctl) -> Result<(), Failure> {
        match self.ctl_op(ctl, self.join_op(gis))? {
            CtrlOutcome::Done => Ok(()),
            other => self.check_fail(format!("join of groups {gis:?} returned {other:?}")),
        }
    }

    /// 6.824's `join(gi)`.
    pub fn join(&mut self, gi: usize) -> Result<(), Failure> {
        let ctl = self.ctl.clone();
        self.joinm_at(&[gi], &ctl)
    }

    /// 6.824's `joinm(gis)`.
    pub fn joinm(&mut self, gis: &[usize]) -> Result<(), Failure> {
        let ctl = self.ctl.clone();
        self.joinm_at(gis, &ctl)
    }

    /// 6.824's `leavem(gis)`.
    pub fn leavem(&mut self, gis: &[usize]) -> Result<(), Failure> {
        let gids: Vec<Gid> = gis.iter().map(|&gi| self.groups[gi].gid).collect();
        let ctl = self.ctl.clone();
        match self.ctl_op(&ctl, CtrlOp::Leave { gids })? {
            CtrlOutcome::Done => Ok(()),
            other => self.check_fail(format!("leave of groups {gis:?} returned {other:?}")),
        }
    }

    /// 6.824's `leave(gi)`.
    pub fn leave(&mut self, gi: usize) -> Result<(), Failure> {
        self.leavem(&[gi])
    }

    /// The latest configuration, as the first controller has it.
    pub fn query(&mut self) -> Result<ShardConfig, Failure> {
        let ctl = self.ctl.clone();
        match self.ctl_op(&ctl, CtrlOp::Query { num: None })? {
            CtrlOutcome::Config(c) => Ok(c),
            other => self.check_fail(format!("Query(-1) returned {other:?}")),
        }
    }

    /// 6.824's `ShutdownServer(gi, i)`.
    pub fn shutdown_server(&mut self, gi: usize, i: usize) {
        let node = self.groups[gi].base + i;
        self.kv.shutdown_server(node);
    }

    /// 6.824's `StartServer(gi, i)`: back from its disk, and connected.
    pub fn start_server(&mut self, gi: usize, i: usize) {
        let node = self.groups[gi].base + i;
        self.kv.start_server(node);
        self.kv
            .sim
            .with_net(|net, k| net.set_connected(k, node, true))
            .expect("server exists");
    }

    /// 6.824's `ShutdownGroup(gi)`.
    pub fn shutdown_group(&mut self, gi: usize) {
        for i in 0..self.n {
            self.shutdown_server(gi, i);
        }
    }

    /// 6.824's `StartGroup(gi)`.
    pub fn start_group(&mut self, gi: usize) {
        for i in 0..self.n {
            self.start_server(gi, i);
        }
    }

    /// Persisted Raft state and snapshot bytes of every group server.
    pub fn persisted(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for g in &self.groups {
            for i in 0..self.n {
                let storage = self.kv.sim.storage(g.base + i);
                out.push(persisted_sizes(&self.kv.peer, self.n, i, storage));
            }
        }
        out
    }

    /// 6.824's `checklogs`: Raft state within 8 times `maxraftstate`, and
    /// no snapshot at all when `maxraftstate` is -1.
    pub fn checklogs(&self) -> Result<(), Failure> {
        for (raft, snap) in self.persisted() {
            match self.maxraftstate {
                Some(max) if raft > 8 * max => {
                    return self.check_fail(format!(
                        "persister.RaftStateSize() {raft}, but maxraftstate {max}"
                    ));
                }
                None if snap > 0 => {
                    return self.check_fail("maxraftstate is -1, but snapshot is non-empty!");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Ends the test: a last safety check, the linearizability check, and the
    /// run's figures.
    pub fn end(&mut self) -> Result<RunReport, Failure> {
        self.kv.end()
    }
}
