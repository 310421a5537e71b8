//! A controller client as a simulated node: a [`ClerkLink`] that runs a list of
//! operations in order (one 6.824 client goroutine) and keeps what each returned.

use crate::replicated::clerk::{ClerkLink, Settled};
use labsim::{Node, NodeId, TimerId};
use peer::{Ctrl, CtrlOp};
use std::collections::VecDeque;

/// One controller clerk as a labsim node.
pub struct CtrlClerkNode {
    link: ClerkLink<Ctrl>,
    /// Operations still to run, in order.
    queue: VecDeque<CtrlOp>,
    busy: bool,
    /// What each completed operation ended with, in order.
    pub outcomes: Vec<Settled<Ctrl>>,
}

impl CtrlClerkNode {
    /// A clerk (its id in the service is `client_id`) of the servers at node
    /// ids `servers`.
    pub fn new(client_id: u64, servers: Vec<NodeId>) -> CtrlClerkNode {
        CtrlClerkNode {
            link: ClerkLink::new(client_id, servers),
            queue: VecDeque::new(),
            busy: false,
            outcomes: Vec::new(),
        }
    }

    /// Runs `ops` after whatever is queued, one at a time.
    pub fn run(&mut self, ctx: &mut labrpc::Ctx<'_>, ops: Vec<CtrlOp>) {
        self.queue.extend(ops);
        self.next(ctx);
    }

    /// Drops the operations not yet started (the one in progress goes on).
    pub fn clear(&mut self) {
        self.queue.clear();
    }

    /// True when every queued operation has completed.
    pub fn idle(&self) -> bool {
        !self.busy && self.queue.is_empty()
    }

    fn next(&mut self, ctx: &mut labrpc::Ctx<'_>) {
        if self.busy {
            return;
        }
        if let Some(op) = self.queue.pop_front() {
            self.busy = true;
            self.link.begin(ctx, op);
        }
    }

    fn settled(&mut self, ctx: &mut labrpc::Ctx<'_>, settled: Option<Settled<Ctrl>>) {
        if let Some(settled) = settled {
            self.busy = false;
            self.outcomes.push(settled);
            self.next(ctx);
        }
    }
}

impl Node<labrpc::Net> for CtrlClerkNode {
    fn on_message(&mut self, ctx: &mut labrpc::Ctx<'_>, from: NodeId, packet: labrpc::Packet) {
        let settled = self.link.on_message(ctx, from, packet);
        self.settled(ctx, settled);
    }

    fn on_timer(&mut self, ctx: &mut labrpc::Ctx<'_>, timer: TimerId, tag: u64) {
        let settled = self.link.on_timer(ctx, timer, tag);
        self.settled(ctx, settled);
    }
}
