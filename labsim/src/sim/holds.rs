//! Faults that overlap on one node compose: each holds the node crashed (or
//! paused) from its start to its own end, whatever else starts or ends in
//! between. The first hold acts and the last release undoes it, so a crash
//! nested in another, a pause inside a crash or a crash inside a pause keep
//! the node down (or stopped) for as long as any of them says.

use super::{CrashMode, Sim, SimError};
use crate::kernel::Status;
use crate::network::Network;
use crate::node::NodeId;

/// The faults holding one node. Invariant: the node is crashed while
/// `crashed > 0` and paused while `paused > 0` and `crashed == 0` (unless
/// someone outside the holds crashed, restarted, paused or resumed it).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Holds {
    crashed: u32,
    paused: u32,
}

impl<N: Network> Sim<N> {
    /// Holds `node` crashed until as many [`Sim::release_crashed`]: the first
    /// hold crashes it as `mode` says (a paused node too); a hold on a node
    /// already down only keeps it down longer, and loses nothing more (a
    /// machine that is down writes nothing). Returns true if this hold
    /// crashed it.
    pub fn hold_crashed(&mut self, node: NodeId, mode: CrashMode) -> Result<bool, SimError> {
        self.check_node(node)?;
        self.slots[node].holds.crashed += 1;
        if self.kernel.status(node) == Status::Crashed {
            return Ok(false);
        }
        self.crash_with(node, mode)?;
        Ok(true)
    }

    /// Ends one hold of [`Sim::hold_crashed`]; the last restarts the node,
    /// paused at once if a pause still holds it (its restart runs first: what
    /// `on_start` does, messages it sends included, happens before the
    /// pause). A release without a hold (the heal already let the node up)
    /// does nothing.
    pub fn release_crashed(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        let holds = &mut self.slots[node].holds;
        if holds.crashed == 0 {
            return Ok(());
        }
        holds.crashed -= 1;
        let paused = holds.paused > 0;
        if holds.crashed > 0 || self.kernel.status(node) != Status::Crashed {
            return Ok(());
        }
        self.restart(node)?;
        if paused && self.kernel.status(node) == Status::Up {
            self.pause(node)?;
        }
        Ok(())
    }

    /// Holds `node` paused until as many [`Sim::release_paused`]: the first
    /// hold on an up node pauses it; a crashed node is paused when its
    /// crashes end, if the hold is still on.
    pub fn hold_paused(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        self.slots[node].holds.paused += 1;
        if self.kernel.status(node) == Status::Up {
            self.pause(node)?;
        }
        Ok(())
    }

    /// Ends one hold of [`Sim::hold_paused`]; the last resumes the node if
    /// it is paused (a crashed node stays down while a crash holds it).
    pub fn release_paused(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        let holds = &mut self.slots[node].holds;
        if holds.paused == 0 {
            return Ok(());
        }
        holds.paused -= 1;
        if holds.paused == 0 && self.kernel.status(node) == Status::Paused {
            self.resume(node)?;
        }
        Ok(())
    }

    /// Drops every hold on `node` and brings it back: restarted if crashed,
    /// resumed if paused (the heal).
    pub fn release_all(&mut self, node: NodeId) -> Result<(), SimError> {
        self.check_node(node)?;
        self.slots[node].holds = Holds::default();
        match self.kernel.status(node) {
            Status::Crashed => self.restart(node),
            Status::Paused => self.resume(node),
            Status::Up => Ok(()),
        }
    }
}
