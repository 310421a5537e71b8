//! What a simulated node is, and the context it runs in.
//!
//! A node is a state machine that the simulator drives: it is started, gets
//! messages, timers and sync completions, and acts only through its [`Ctx`].
//! It never sees another node's memory, the wall clock or the OS.

use crate::hash::TraceHasher;
use crate::kernel::Kernel;
use crate::network::Network;
use crate::rng::{SimRng, Stream};
use crate::storage::{Storage, SyncId};
use crate::trace::{Detail, Field, WithFields};
use std::any::Any;

/// Index of a node in its simulation.
pub type NodeId = usize;

/// Identifies a timer, to cancel it.
pub type TimerId = u64;

/// A simulated node: everything it does happens in these handlers.
pub trait Node<N: Network>: Any {
    /// The node was added, or rebuilt after a crash: arm timers here.
    fn on_start(&mut self, _ctx: &mut Ctx<'_, N>) {}
    /// A message from `from` arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, N>, from: NodeId, msg: N::Msg);
    /// A timer set with `Ctx::set_timer` fired.
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, N>, _timer: TimerId, _tag: u64) {}
    /// A sync issued with `Ctx::sync` completed: what it covered is durable.
    fn on_sync(&mut self, _ctx: &mut Ctx<'_, N>, _sync: SyncId) {}
}

/// Builds a node from its durable storage alone: at its first start (empty
/// storage) and after every crash.
pub type Factory<N> = Box<dyn FnMut(NodeId, &Storage) -> Box<dyn Node<N>>>;

/// How a sync went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// Everything written is durable already (sync latency 0).
    Now,
    /// It completes later, with `Node::on_sync(id)`.
    Later(SyncId),
}

/// A node's window on the world while one of its handlers runs.
pub struct Ctx<'a, N: Network> {
    pub(crate) kernel: &'a mut Kernel<N>,
    pub(crate) net: &'a mut N,
    pub(crate) storage: &'a mut Storage,
    pub(crate) id: NodeId,
}

impl<N: Network> Ctx<'_, N> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's clock, in nanoseconds: virtual time, skewed by the node's
    /// clock drift if any.
    pub fn now_ns(&self) -> u64 {
        self.kernel.local_now_ns(self.id)
    }

    /// How many times this node has crashed before (its incarnation).
    pub fn incarnation(&self) -> u64 {
        self.kernel.incarnation(self.id)
    }

    /// How many node slots the simulation has (ids are `0..node_count`).
    pub fn node_count(&self) -> usize {
        self.kernel.node_count()
    }

    /// A fresh id, unique within the run.
    pub fn unique_id(&mut self) -> u64 {
        self.kernel.unique_id()
    }

    /// This node's random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.kernel.rng(Stream::Node(self.id))
    }

    /// Fires `on_timer(.., tag)` after `delay_ns` of this node's clock.
    pub fn set_timer(&mut self, delay_ns: u64, tag: u64) -> TimerId {
        self.kernel.set_timer(self.id, delay_ns, tag)
    }

    /// Runs `f` on the whole simulation after `delay_ns` of virtual time (0: right
    /// after this handler), as the test's own scheduled events do. For the
    /// tester's hooks (a fault aimed at the moment a node reaches some point),
    /// never for a node's own logic.
    pub fn schedule_call(
        &mut self,
        delay_ns: u64,
        label: &'static str,
        f: impl FnOnce(&mut crate::Sim<N>) + 'static,
    ) {
        let at_ns = self.kernel.now_ns().saturating_add(delay_ns);
        self.kernel.schedule_call(at_ns, label, Box::new(f));
    }

    /// Runs `f` on the network and the kernel at once, inside this handler,
    /// where [`Ctx::schedule_call`] would run it after: for the tester's hooks
    /// that must act before the node goes on (drop the messages it is about
    /// to send), never for a node's own logic.
    pub fn tester_now<R>(&mut self, f: impl FnOnce(&mut N, &mut Kernel<N>) -> R) -> R {
        f(self.net, self.kernel)
    }

    /// Cancels a pending timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.kernel.cancel_timer(self.id, timer)
    }

    /// Hands `msg` to the network, addressed to `to`.
    pub fn send(&mut self, to: NodeId, msg: N::Msg) {
        assert!(
            to < self.kernel.node_count(),
            "node {} sent a message to node {to}, which does not exist",
            self.id
        );
        self.net.send(self.kernel, self.id, to, msg);
    }

    /// Records an event of the layer above in the trace.
    pub fn record(&mut self, kind: &'static str, detail: &dyn Detail) {
        self.kernel.record(Some(self.id), kind, detail);
    }

    /// True if the trace streams out (annotations are worth building).
    pub fn is_streaming(&self) -> bool {
        self.kernel.is_streaming()
    }

    /// Notes something for readers of the trace (a role change, a message's
    /// content). Never hashed: a traced run keeps its hash.
    pub fn annotate(&mut self, kind: &'static str, detail: impl FnOnce() -> String) {
        if self.kernel.is_streaming() {
            let text = detail();
            self.kernel.annotate(Some(self.id), kind, &text);
        }
    }

    /// As [`Ctx::annotate`], with structured fields beside the text (see
    /// [`Detail::fields`]), e.g.
    /// `ctx.annotate_fields("role", &[("term", Field::Uint(4))], || text)`.
    pub fn annotate_fields(
        &mut self,
        kind: &'static str,
        fields: &[(&'static str, Field<'_>)],
        detail: impl FnOnce() -> String,
    ) {
        if self.kernel.is_streaming() {
            let text = detail();
            let noted = WithFields {
                detail: &text,
                fields,
            };
            self.kernel.annotate(Some(self.id), kind, &noted);
        }
    }

    /// This node's disk, as the node sees it (unsynced writes included).
    pub fn storage(&self) -> &Storage {
        self.storage
    }

    /// Replaces `file` with `data` (volatile until synced).
    pub fn write(&mut self, file: &str, data: &[u8]) {
        self.storage.write(file, data);
        self.kernel.record(
            Some(self.id),
            "write",
            &StorageDetail(file, data.len() as u64),
        );
    }

    /// Appends `data` to `file` (volatile until synced).
    pub fn append(&mut self, file: &str, data: &[u8]) {
        self.storage.append(file, data);
        self.kernel.record(
            Some(self.id),
            "append",
            &StorageDetail(file, data.len() as u64),
        );
    }

    /// Cuts `file` to `len` bytes (volatile until synced).
    pub fn truncate(&mut self, file: &str, len: u64) {
        self.storage.truncate(file, len);
        self.kernel
            .record(Some(self.id), "truncate", &StorageDetail(file, len));
    }

    /// Deletes `file` (volatile until synced).
    pub fn remove(&mut self, file: &str) {
        self.storage.remove(file);
        self.kernel
            .record(Some(self.id), "remove", &StorageDetail(file, 0));
    }

    /// Makes every write so far durable, at once or after the node's sync latency.
    pub fn sync(&mut self) -> Synced {
        let id = self.storage.begin_sync();
        let latency_ns = self.kernel.sync_latency_ns(self.id);
        if latency_ns == 0 {
            self.storage.complete_sync(id);
            self.kernel.record(Some(self.id), "sync", &id);
            Synced::Now
        } else {
            self.kernel.schedule_sync(self.id, latency_ns, id);
            Synced::Later(id)
        }
    }
}

struct StorageDetail<'a>(&'a str, u64);

impl Detail for StorageDetail<'_> {
    fn digest(&self, h: &mut TraceHasher) {
        h.bytes(self.0.as_bytes());
        h.u64(self.1);
    }
    fn describe(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{} {}", self.0, self.1);
    }
}
