//! The seam between the kernel and a network model.
//!
//! labsim moves messages between nodes but has no opinion on their fate:
//! a `Network` decides, at send time, whether and when each message arrives
//! (and may schedule anything else, such as a failure notice to the sender),
//! and may still drop it when it is due. labrpc is one such model.

use crate::kernel::Kernel;
use crate::node::NodeId;
use crate::trace::Detail;
use std::marker::PhantomData;

/// A network model plugged into a simulation.
pub trait Network: Sized + 'static {
    /// What crosses it.
    type Msg: Detail + 'static;

    /// `from` sends `msg` to `to`: schedule its delivery (or not) with
    /// [`Kernel::deliver_at`].
    fn send(&mut self, kernel: &mut Kernel<Self>, from: NodeId, to: NodeId, msg: Self::Msg);

    /// A delivery is due at a live node: give the message to hand over, or
    /// `None` to drop it now (a partition that began while it was in flight).
    fn arrive(
        &mut self,
        _kernel: &mut Kernel<Self>,
        _from: NodeId,
        _to: NodeId,
        msg: Self::Msg,
    ) -> Option<Self::Msg> {
        Some(msg)
    }

    /// `node` crashed: its volatile state is gone.
    fn on_crash(&mut self, _kernel: &mut Kernel<Self>, _node: NodeId) {}

    /// `node` was rebuilt from its storage.
    fn on_restart(&mut self, _kernel: &mut Kernel<Self>, _node: NodeId) {}
}

/// The simplest network: every message arrives after a fixed latency.
pub struct DirectNetwork<M> {
    /// One-way latency of every message.
    pub latency_ns: u64,
    _msg: PhantomData<fn(M)>,
}

impl<M> DirectNetwork<M> {
    /// A network with the given one-way latency.
    pub fn new(latency_ns: u64) -> Self {
        DirectNetwork {
            latency_ns,
            _msg: PhantomData,
        }
    }
}

impl<M: Detail + 'static> Network for DirectNetwork<M> {
    type Msg = M;

    fn send(&mut self, kernel: &mut Kernel<Self>, from: NodeId, to: NodeId, msg: M) {
        let at_ns = kernel.now_ns() + self.latency_ns;
        kernel.deliver_at(at_ns, from, to, msg);
    }
}
