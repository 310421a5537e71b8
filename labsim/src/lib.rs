//! labsim: the deterministic simulation kernel under raftlab.
//!
//! A run is a pure function of (scenario, seed). Virtual time (`u64`
//! nanoseconds) advances from event to event through one queue with a total
//! order (time, then insertion sequence). Randomness comes from named ChaCha
//! streams derived from the seed ([`Stream`]). Nodes ([`Node`]) live in slots
//! that can be crashed (volatile state, unsynced writes, timers and messages
//! in flight to them are lost), restarted from their durable [`Storage`]
//! alone, paused and resumed. A pluggable [`Network`] decides the fate of
//! every message. Every event goes into the [`Trace`], whose running hash is
//! the run's fingerprint; [`determinism::check`] runs a scenario twice and
//! names the first event where the two runs part.
//!
//! ```
//! use labsim::{Ctx, DirectNetwork, Node, NodeId, Sim, TimerId, MS};
//!
//! struct Pinger { pongs: u64 }
//! impl Node<DirectNetwork<u64>> for Pinger {
//!     fn on_start(&mut self, ctx: &mut Ctx<'_, DirectNetwork<u64>>) {
//!         if ctx.id() == 0 { ctx.set_timer(MS, 0); }
//!     }
//!     fn on_timer(&mut self, ctx: &mut Ctx<'_, DirectNetwork<u64>>, _: TimerId, _: u64) {
//!         ctx.send(1, 0);
//!     }
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, DirectNetwork<u64>>, from: NodeId, n: u64) {
//!         self.pongs += 1;
//!         if n < 9 { ctx.send(from, n + 1); }
//!     }
//! }
//!
//! let mut sim = Sim::new(7, DirectNetwork::new(MS));
//! for name in ["a", "b"] {
//!     sim.add_node(name, |_, _| Box::new(Pinger { pongs: 0 }));
//! }
//! sim.run_for(100 * MS).unwrap();
//! assert_eq!(sim.node::<Pinger>(1).unwrap().pongs, 5);
//! println!("trace-hash: {:#018x}", sim.trace_hash());
//! ```

pub mod determinism;
mod hash;
mod kernel;
mod network;
mod node;
mod rng;
mod sim;
mod storage;
mod time;
mod trace;

pub use hash::TraceHasher;
pub use kernel::{Kernel, Status};
pub use network::{DirectNetwork, Network};
pub use node::{Ctx, Factory, Node, NodeId, Synced, TimerId};
pub use rng::{SimRng, Stream, derive as derive_stream, fnv1a, splitmix64};
pub use sim::{CrashMode, Invariant, Sim, SimError, Violation, last_event_hint};
pub use storage::{Storage, SyncId};
pub use time::{MS, SEC, US, fmt_ns, parse_duration_ns};
pub use trace::{Detail, Divergence, EventSummary, Field, Fields, Trace, TraceFilter, WithFields};
