//! The network model: 6.824's labrpc semantics, event by event, plus
//! duplication, per-link latency and partitions of any shape.
//!
//! Every call ends exactly once at its caller, with a reply or a failure:
//! a lost request, a lost reply, a disconnected endpoint and a crashed server
//! all end in failure after the delays labrpc uses. Duplicated requests reach
//! the server twice, but only the first completion reaches the caller.

use crate::latency::Latency;
use crate::packet::{CallId, Packet, RpcError};
use crate::shapes;
use labsim::{Kernel, MS, Network, NodeId, Status, Stream, WithFields};
use rand::RngExt;
use std::collections::BTreeMap;
use std::fmt;

/// Network-wide settings. `Default` is 6.824's reliable network.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// False: delay each request 0..=26 ms and drop 10% of requests and 10%
    /// of replies (labrpc's unreliable mode).
    pub reliable: bool,
    /// A call to a disabled endpoint fails after 0..7000 ms instead of 0..100 ms.
    pub long_delays: bool,
    /// With probability 600/900, delay a reply 200 ms + rand(0..=rand(0..2000)) ms.
    pub long_reordering: bool,
    /// Duplicate a request with this probability, per million (beyond 6.824).
    pub duplicate_per_million: u32,
    /// Hold a request with this probability, per million: its caller sees it
    /// lost, and the server gets it 0.5 to 5 s later, when the world has moved
    /// on (a stale AppendEntries, InstallSnapshot or client request).
    pub late_request_per_million: u32,
    /// Deliver a request and, with this probability per million, deliver it
    /// again 1 to 10 s later (an old request replayed).
    pub replay_request_per_million: u32,
    /// One-way latency of links without their own.
    pub latency: Latency,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            reliable: true,
            long_delays: false,
            long_reordering: false,
            duplicate_per_million: 0,
            late_request_per_million: 0,
            replay_request_per_million: 0,
            latency: Latency::default(),
        }
    }
}

/// Misuse of the network's controls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetError {
    /// A node id that the simulation does not have.
    UnknownNode(NodeId),
    /// A node named in two groups of one partition.
    NodeInTwoGroups(NodeId),
    /// A shape that needs more nodes than given.
    TooFewNodes {
        /// The shape.
        shape: &'static str,
        /// How many it needs.
        needs: usize,
        /// How many it got.
        got: usize,
    },
    /// A mend of a link no fault severed.
    NotSevered(NodeId, NodeId),
    /// A release of a node no fault holds disconnected.
    NotHeldDisconnected(NodeId),
    /// A matrix of links that is not `nodes` by `nodes`.
    LinksNotSquare {
        /// How many nodes were named.
        nodes: usize,
    },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::UnknownNode(n) => write!(f, "partition names node {n}, which does not exist"),
            NetError::NodeInTwoGroups(n) => write!(f, "node {n} is in two groups of the partition"),
            NetError::TooFewNodes { shape, needs, got } => {
                write!(f, "a {shape} needs at least {needs} nodes, got {got}")
            }
            NetError::NotSevered(a, b) => write!(f, "the link {a} -> {b} is not severed"),
            NetError::NotHeldDisconnected(n) => write!(f, "node {n} is not held disconnected"),
            NetError::LinksNotSquare { nodes } => {
                write!(f, "links among {nodes} nodes need {nodes} rows of {nodes}")
            }
        }
    }
}

impl std::error::Error for NetError {}

#[derive(Debug)]
struct Call {
    caller: NodeId,
    server: NodeId,
    /// Copies of the request delivered to the server and not yet answered.
    at_server: u32,
}

/// The simulated network that Raft and KV peers talk over.
#[derive(Default)]
pub struct Net {
    config: NetConfig,
    /// 6.824's connect/disconnect: a disconnected node can neither send nor receive.
    enabled: Vec<bool>,
    /// How many faults at once hold each node disconnected
    /// (`hold_disconnected`): the first disconnects it, the last release
    /// connects it again.
    disconnect_holds: BTreeMap<NodeId, u32>,
    /// Directed links: `link_up[from][to]`.
    link_up: Vec<Vec<bool>>,
    /// Directed links a fault of its own severed (`sever`), and by how many
    /// such faults at once: a link carries messages only if it is up and
    /// severed by none. Partitions and `heal` leave these alone, so a fault
    /// that severs and later mends overlaps a partition without undoing it.
    severed: BTreeMap<(NodeId, NodeId), u32>,
    link_latency: BTreeMap<(NodeId, NodeId), Latency>,
    calls: BTreeMap<CallId, Call>,
    /// Requests still to drop, per sender (an aimed fault: a new leader's
    /// first round lost).
    drop_next: BTreeMap<NodeId, u32>,
    server_rpcs: Vec<u64>,
    total_rpcs: u64,
    total_bytes: u64,
}

impl Net {
    /// A network with the given settings.
    pub fn new(config: NetConfig) -> Net {
        Net {
            config,
            ..Net::default()
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// Changes the settings (takes effect for messages sent from now on).
    pub fn config_mut(&mut self) -> &mut NetConfig {
        &mut self.config
    }

    /// 6.824's `setreliable`.
    pub fn set_reliable(&mut self, reliable: bool) {
        self.config.reliable = reliable;
    }

    /// 6.824's `LongDelays`.
    pub fn set_long_delays(&mut self, on: bool) {
        self.config.long_delays = on;
    }

    /// 6.824's `LongReordering`.
    pub fn set_long_reordering(&mut self, on: bool) {
        self.config.long_reordering = on;
    }

    fn grow(&mut self, n: usize) {
        if self.enabled.len() < n {
            self.enabled.resize(n, true);
            self.server_rpcs.resize(n, 0);
            for row in &mut self.link_up {
                row.resize(n, true);
            }
            self.link_up.resize_with(n, || vec![true; n]);
        }
    }

    fn check(&self, k: &Kernel<Net>, nodes: &[NodeId]) -> Result<(), NetError> {
        match nodes.iter().find(|n| **n >= k.node_count()) {
            Some(n) => Err(NetError::UnknownNode(*n)),
            None => Ok(()),
        }
    }

    /// True if a message from `from` to `to` would get through now.
    pub fn can_send(&self, from: NodeId, to: NodeId) -> bool {
        let on = |n: NodeId| self.enabled.get(n).copied().unwrap_or(true);
        let link = self
            .link_up
            .get(from)
            .and_then(|r| r.get(to))
            .copied()
            .unwrap_or(true);
        on(from) && on(to) && link && !self.severed.contains_key(&(from, to))
    }

    /// True if `node` is connected (6.824's sense).
    pub fn is_connected(&self, node: NodeId) -> bool {
        self.enabled.get(node).copied().unwrap_or(true)
    }

    /// 6.824's `connect(i)` / `disconnect(i)`: all of a node's links at once.
    pub fn set_connected(
        &mut self,
        k: &mut Kernel<Net>,
        node: NodeId,
        on: bool,
    ) -> Result<(), NetError> {
        self.check(k, &[node])?;
        self.grow(k.node_count());
        self.enabled[node] = on;
        k.record(Some(node), if on { "connect" } else { "disconnect" }, &());
        self.fail_cut_calls(k);
        Ok(())
    }

    /// Disconnects `node` until as many [`Net::release_disconnected`] as
    /// holds: a fault that disconnects a node for a while, overlapping
    /// others of its kind without one's end reconnecting the node while
    /// another still holds it. (`set_connected` overrides the holds.)
    pub fn hold_disconnected(&mut self, k: &mut Kernel<Net>, node: NodeId) -> Result<(), NetError> {
        self.check(k, &[node])?;
        *self.disconnect_holds.entry(node).or_default() += 1;
        // Connected while held only if `set_connected` overrode the holds.
        if self.is_connected(node) {
            self.set_connected(k, node, false)?;
        }
        Ok(())
    }

    /// Ends one [`Net::hold_disconnected`] of `node`; the last connects it.
    pub fn release_disconnected(
        &mut self,
        k: &mut Kernel<Net>,
        node: NodeId,
    ) -> Result<(), NetError> {
        let Some(holds) = self.disconnect_holds.get_mut(&node) else {
            return Err(NetError::NotHeldDisconnected(node));
        };
        *holds -= 1;
        if *holds == 0 {
            self.disconnect_holds.remove(&node);
            if !self.is_connected(node) {
                self.set_connected(k, node, true)?;
            }
        }
        Ok(())
    }

    /// Sets one directed link: `from` can (or cannot) reach `to`.
    pub fn set_link(
        &mut self,
        k: &mut Kernel<Net>,
        from: NodeId,
        to: NodeId,
        up: bool,
    ) -> Result<(), NetError> {
        self.check(k, &[from, to])?;
        self.grow(k.node_count());
        self.link_up[from][to] = up;
        k.record(
            Some(from),
            if up { "link-up" } else { "link-down" },
            &(to as u64),
        );
        self.fail_cut_calls(k);
        Ok(())
    }

    /// Gives the link `from -> to` its own latency.
    pub fn set_link_latency(
        &mut self,
        k: &Kernel<Net>,
        from: NodeId,
        to: NodeId,
        latency: Latency,
    ) -> Result<(), NetError> {
        self.check(k, &[from, to])?;
        self.link_latency.insert((from, to), latency);
        Ok(())
    }

    /// Splits the listed nodes into groups that can talk only within
    /// themselves (both directions). Links to nodes not listed are unchanged.
    pub fn partition(
        &mut self,
        k: &mut Kernel<Net>,
        groups: &[Vec<NodeId>],
    ) -> Result<(), NetError> {
        let mut group_of = BTreeMap::new();
        for (g, group) in groups.iter().enumerate() {
            self.check(k, group)?;
            for n in group {
                if group_of.insert(*n, g).is_some() {
                    return Err(NetError::NodeInTwoGroups(*n));
                }
            }
        }
        self.grow(k.node_count());
        for (&a, ga) in &group_of {
            for (&b, gb) in &group_of {
                self.link_up[a][b] = ga == gb;
            }
        }
        k.record(None, "partition", &format!("{groups:?}"));
        self.fail_cut_calls(k);
        Ok(())
    }

    /// Cuts every link from a node in `from` to a node in `to`, one way only:
    /// messages still flow the other way.
    pub fn cut_one_way(
        &mut self,
        k: &mut Kernel<Net>,
        from: &[NodeId],
        to: &[NodeId],
    ) -> Result<(), NetError> {
        self.check(k, from)?;
        self.check(k, to)?;
        self.grow(k.node_count());
        for &a in from {
            for &b in to {
                if a != b {
                    self.link_up[a][b] = false;
                }
            }
        }
        k.record(None, "cut-one-way", &format!("{from:?} -> {to:?}"));
        self.fail_cut_calls(k);
        Ok(())
    }

    /// Severs every link between `node` and each of `others`, both ways, over
    /// whatever partition is in force, until [`Net::mend`] with the same
    /// nodes: partitions and heals in between neither end it nor are undone
    /// by it.
    pub fn sever(
        &mut self,
        k: &mut Kernel<Net>,
        node: NodeId,
        others: &[NodeId],
    ) -> Result<(), NetError> {
        for link in self.links_between(k, node, others)? {
            *self.severed.entry(link).or_default() += 1;
        }
        k.record(Some(node), "sever", &format!("{others:?}"));
        self.fail_cut_calls(k);
        Ok(())
    }

    /// Ends one [`Net::sever`] of `node` from `others`.
    pub fn mend(
        &mut self,
        k: &mut Kernel<Net>,
        node: NodeId,
        others: &[NodeId],
    ) -> Result<(), NetError> {
        let links = self.links_between(k, node, others)?;
        if let Some(&(a, b)) = links.iter().find(|l| !self.severed.contains_key(l)) {
            return Err(NetError::NotSevered(a, b));
        }
        for link in links {
            let count = self.severed.get_mut(&link).expect("checked above");
            *count -= 1;
            if *count == 0 {
                self.severed.remove(&link);
            }
        }
        k.record(Some(node), "mend", &format!("{others:?}"));
        Ok(())
    }

    /// The directed links between `node` and each of `others`, both ways.
    fn links_between(
        &self,
        k: &Kernel<Net>,
        node: NodeId,
        others: &[NodeId],
    ) -> Result<Vec<(NodeId, NodeId)>, NetError> {
        self.check(k, &[node])?;
        self.check(k, others)?;
        Ok(others
            .iter()
            .filter(|&&o| o != node)
            .flat_map(|&o| [(node, o), (o, node)])
            .collect())
    }

    /// Sets every link among `nodes` at once: `nodes[i]` can send to
    /// `nodes[j]` exactly when `links[i][j]` (a node always reaches itself).
    /// For a shape no verb names, such as the cuts of several faults in
    /// force together; `label` names it in the trace.
    pub fn set_links(
        &mut self,
        k: &mut Kernel<Net>,
        nodes: &[NodeId],
        links: &[Vec<bool>],
        label: &str,
    ) -> Result<(), NetError> {
        if links.len() != nodes.len() || links.iter().any(|row| row.len() != nodes.len()) {
            return Err(NetError::LinksNotSquare { nodes: nodes.len() });
        }
        self.shape(k, nodes, label, |i, j| links[i][j])
    }

    /// Sets links among `nodes` so that `nodes[i]` can send to `nodes[j]`
    /// exactly when `linked(i, j)`.
    fn shape(
        &mut self,
        k: &mut Kernel<Net>,
        nodes: &[NodeId],
        label: &str,
        linked: impl Fn(usize, usize) -> bool,
    ) -> Result<(), NetError> {
        self.check(k, nodes)?;
        self.grow(k.node_count());
        for (i, &a) in nodes.iter().enumerate() {
            for (j, &b) in nodes.iter().enumerate() {
                self.link_up[a][b] = i == j || linked(i, j);
            }
        }
        k.record(None, "partition", &format!("{label} {nodes:?}"));
        self.fail_cut_calls(k);
        Ok(())
    }

    /// Isolates `node` from the rest of `nodes` (Jepsen's isolate-one).
    pub fn isolate(
        &mut self,
        k: &mut Kernel<Net>,
        node: NodeId,
        nodes: &[NodeId],
    ) -> Result<(), NetError> {
        let others: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != node).collect();
        self.partition(k, &[vec![node], others])
    }

    /// Splits `nodes` into a majority (the first `n/2+1`) and a minority.
    pub fn split_majority(
        &mut self,
        k: &mut Kernel<Net>,
        nodes: &[NodeId],
    ) -> Result<(), NetError> {
        let linked = shapes::split_majority(nodes.len())?;
        let (majority, minority): (Vec<_>, Vec<_>) = (0..nodes.len()).partition(|&i| linked(0, i));
        let of = |at: Vec<usize>| at.into_iter().map(|i| nodes[i]).collect::<Vec<_>>();
        self.partition(k, &[of(majority), of(minority)])
    }

    /// Jepsen's bridge: two halves that cannot talk to each other, and the
    /// middle node (`nodes[len/2]`) that talks to both.
    pub fn bridge(&mut self, k: &mut Kernel<Net>, nodes: &[NodeId]) -> Result<(), NetError> {
        let linked = shapes::bridge(nodes.len())?;
        self.shape(k, nodes, "bridge", linked)
    }

    /// Jepsen's majorities ring: every node sees a majority (itself and its
    /// nearest ring neighbours), but no two adjacent nodes see the same one.
    pub fn majorities_ring(
        &mut self,
        k: &mut Kernel<Net>,
        nodes: &[NodeId],
    ) -> Result<(), NetError> {
        let linked = shapes::majorities_ring(nodes.len())?;
        self.shape(k, nodes, "majorities-ring", linked)
    }

    /// Drops the next `count` requests `from` sends, wherever they go, as an
    /// unreliable network drops one: the caller sees the call fail. Requests
    /// already on their way still arrive, unlike with a cut link.
    pub fn drop_next_requests(&mut self, from: NodeId, count: u32) {
        if count == 0 {
            return;
        }
        let left = self.drop_next.entry(from).or_default();
        *left = left.saturating_add(count);
    }

    /// True if a request `from` sends now must be dropped; counts it.
    fn takes_drop(&mut self, from: NodeId) -> bool {
        let Some(left) = self.drop_next.get_mut(&from) else {
            return false;
        };
        *left -= 1;
        if *left == 0 {
            self.drop_next.remove(&from);
        }
        true
    }

    /// Restores every link (node connect flags are left as they are) and
    /// forgets requests still to drop.
    pub fn heal(&mut self, k: &mut Kernel<Net>) {
        self.grow(k.node_count());
        self.drop_next.clear();
        for row in &mut self.link_up {
            row.iter_mut().for_each(|l| *l = true);
        }
        k.record(None, "heal", &());
    }

    /// RPCs received by `server` (6.824's per-server count).
    pub fn rpc_count(&self, server: NodeId) -> u64 {
        self.server_rpcs.get(server).copied().unwrap_or(0)
    }

    /// Requests sent, in all (6.824's `GetTotalCount`).
    pub fn total_rpcs(&self) -> u64 {
        self.total_rpcs
    }

    /// Request bytes when sent plus reply bytes when delivered (`GetTotalBytes`).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Calls that have not yet ended.
    pub fn calls_in_progress(&self) -> usize {
        self.calls.len()
    }

    fn disabled_delay_ns(&self, k: &mut Kernel<Net>) -> u64 {
        let max_ms = if self.config.long_delays { 7000 } else { 100 };
        k.rng(Stream::Network).random_range(0..max_ms) * MS
    }

    fn latency(&self, k: &mut Kernel<Net>, from: NodeId, to: NodeId) -> u64 {
        let latency = self
            .link_latency
            .get(&(from, to))
            .unwrap_or(&self.config.latency);
        latency.sample(k.rng(Stream::Network))
    }

    /// Ends `call` with a failure at its caller after `delay_ns`.
    fn fail(&mut self, k: &mut Kernel<Net>, call: CallId, delay_ns: u64, why: RpcError) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let (caller, server) = (c.caller, c.server);
        let at = k.now_ns() + delay_ns;
        let outcome = Err(why);
        k.deliver_at(
            at,
            server,
            caller,
            Packet::Reply {
                call,
                server_incarnation: u64::MAX,
                outcome,
            },
        );
    }

    /// A link changed: calls waiting at a server they can no longer reach
    /// fail (labrpc notices within 100 ms; so do we).
    fn fail_cut_calls(&mut self, k: &mut Kernel<Net>) {
        let cut: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.at_server > 0
                    && !(self.can_send(c.caller, c.server) && self.can_send(c.server, c.caller))
            })
            .map(|(id, _)| *id)
            .collect();
        for call in cut {
            let delay = k.rng(Stream::Network).random_range(0..100) * MS;
            if let Some(c) = self.calls.get_mut(&call) {
                c.at_server = 0;
            }
            self.fail(k, call, delay, RpcError::Unreachable);
        }
    }

    fn send_request(&mut self, k: &mut Kernel<Net>, from: NodeId, to: NodeId, packet: Packet) {
        let call = packet.call();
        self.total_rpcs += 1;
        self.total_bytes += packet.len() as u64;
        self.calls.insert(
            call,
            Call {
                caller: from,
                server: to,
                at_server: 0,
            },
        );
        if !self.can_send(from, to) || k.status(to) == Status::Crashed {
            let delay = self.disabled_delay_ns(k);
            k.record(Some(from), "unreachable", &packet);
            self.fail(k, call, delay, RpcError::Unreachable);
            return;
        }
        let mut delay = self.latency(k, from, to);
        if self.takes_drop(from) {
            k.record(Some(from), "drop", &packet);
            self.fail(k, call, delay, RpcError::Dropped);
            return;
        }
        if !self.config.reliable {
            delay += k.rng(Stream::Network).random_range(0..27) * MS;
            if k.rng(Stream::Network).random_range(0..1000) < 100 {
                k.record(Some(from), "drop", &packet);
                self.fail(k, call, delay, RpcError::Dropped);
                return;
            }
        }
        if strikes(k, self.config.late_request_per_million) {
            let late = k.rng(Stream::Network).random_range(500..5000) * MS;
            k.record(Some(from), "hold", &packet);
            k.deliver_at(k.now_ns() + late, from, to, packet);
            self.fail(k, call, delay, RpcError::Dropped);
            return;
        }
        if strikes(k, self.config.duplicate_per_million) {
            let again = self.latency(k, from, to) + k.rng(Stream::Network).random_range(0..10) * MS;
            k.record(Some(from), "duplicate", &packet);
            k.deliver_at(k.now_ns() + again, from, to, packet.clone());
        }
        if strikes(k, self.config.replay_request_per_million) {
            let later = k.rng(Stream::Network).random_range(1000..10_000) * MS;
            k.record(Some(from), "replay-later", &packet);
            k.deliver_at(k.now_ns() + later, from, to, packet.clone());
        }
        k.deliver_at(k.now_ns() + delay, from, to, packet);
    }

    fn send_reply(&mut self, k: &mut Kernel<Net>, server: NodeId, caller: NodeId, packet: Packet) {
        let Packet::Reply {
            call,
            server_incarnation,
            ..
        } = &packet
        else {
            unreachable!()
        };
        let call = *call;
        let Some(c) = self.calls.get_mut(&call) else {
            // The call already ended (a duplicate's second answer, or the
            // caller gave up on a crashed or cut-off server).
            k.record(Some(server), "reply-late", &packet);
            return;
        };
        debug_assert_eq!(
            (c.caller, c.server),
            (caller, server),
            "reply on the wrong link"
        );
        c.at_server = c.at_server.saturating_sub(1);
        if *server_incarnation != k.incarnation(server) {
            self.fail(k, call, 0, RpcError::ServerCrashed);
            return;
        }
        if !(self.can_send(caller, server) && self.can_send(server, caller)) {
            k.record(Some(server), "unreachable", &packet);
            self.fail(k, call, 0, RpcError::Unreachable);
            return;
        }
        if !self.config.reliable && k.rng(Stream::Network).random_range(0..1000) < 100 {
            k.record(Some(server), "drop", &packet);
            self.fail(k, call, 0, RpcError::Dropped);
            return;
        }
        let delay =
            if self.config.long_reordering && k.rng(Stream::Network).random_range(0..900) < 600 {
                let spread = k.rng(Stream::Network).random_range(0..2000u64);
                (200 + k.rng(Stream::Network).random_range(0..=spread)) * MS
            } else {
                self.latency(k, server, caller)
            };
        k.deliver_at(k.now_ns() + delay, server, caller, packet);
    }
}

/// True with probability `per_million` / 1e6; draws nothing when it is 0, so
/// a fault that is off never shifts the network's random stream.
fn strikes(k: &mut Kernel<Net>, per_million: u32) -> bool {
    per_million > 0 && k.rng(Stream::Network).random_range(0..1_000_000) < per_million
}

impl Network for Net {
    type Msg = Packet;

    fn send(&mut self, k: &mut Kernel<Net>, from: NodeId, to: NodeId, packet: Packet) {
        self.grow(k.node_count());
        if k.is_streaming() {
            // The packet's description and fields, and the field `to`.
            let note = WithFields {
                detail: &packet,
                fields: &[("to", to.into())],
            };
            k.annotate(Some(from), "send", &note);
        }
        match packet {
            Packet::Request { .. } => self.send_request(k, from, to, packet),
            Packet::Reply { .. } => self.send_reply(k, from, to, packet),
        }
    }

    fn arrive(
        &mut self,
        k: &mut Kernel<Net>,
        from: NodeId,
        to: NodeId,
        packet: Packet,
    ) -> Option<Packet> {
        match &packet {
            Packet::Request { call, .. } => {
                let call = *call;
                if !self.can_send(from, to) {
                    // The link went down while the request was in flight.
                    k.record(Some(to), "drop", &packet);
                    let delay = self.disabled_delay_ns(k);
                    self.fail(k, call, delay, RpcError::Unreachable);
                    return None;
                }
                self.server_rpcs[to] += 1;
                if let Some(c) = self.calls.get_mut(&call) {
                    c.at_server += 1;
                }
                Some(packet)
            }
            Packet::Reply { call, outcome, .. } => {
                // Only the first completion of a call reaches the caller.
                self.calls.remove(call)?;
                if let Ok(bytes) = outcome {
                    self.total_bytes += bytes.len() as u64;
                }
                Some(packet)
            }
        }
    }

    fn on_crash(&mut self, k: &mut Kernel<Net>, node: NodeId) {
        // Calls the node made are gone with it. Calls to it fail, whether
        // waiting at it or still in flight (those requests are lost with it).
        self.calls.retain(|_, c| c.caller != node);
        let waiting: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.server == node)
            .map(|(id, _)| *id)
            .collect();
        for call in waiting {
            if let Some(c) = self.calls.get_mut(&call) {
                c.at_server = 0;
            }
            let delay = k.rng(Stream::Network).random_range(0..100) * MS;
            self.fail(k, call, delay, RpcError::ServerCrashed);
        }
    }
}
