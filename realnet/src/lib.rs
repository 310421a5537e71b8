//! realnet: the same peers for real. A KV server on any [`peer::Peer`] runs as
//! a process ([`serve`]): its peers' messages cross TCP as the bytes the
//! simulator carries, its state lives in files ([`FileDisk`]) synced where the
//! simulator syncs, and time is the machine's monotonic clock. [`RealClerk`]
//! is the lab's clerk over the same connections.
//!
//! Nothing here is deterministic: that is the point. The peers and servers are
//! the ones the simulator tests, unchanged.

mod client;
mod disk;
mod node;
mod proxy;
pub mod wire;

pub use client::{NodeStatus, RealClerk, status};
pub use disk::FileDisk;
pub use node::{IDENTITY_FILE, NodeOptions, entropy, serve};
pub use proxy::Proxy;
