//! One-way latency distributions, per link or network-wide.

use labsim::{MS, SimRng};
use rand::RngExt;

/// How long a message takes on a link, before any unreliable-mode delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Always this long.
    Fixed(u64),
    /// Uniform in `min_ns..=max_ns`.
    Uniform {
        /// Shortest.
        min_ns: u64,
        /// Longest.
        max_ns: u64,
    },
    /// Uniform in `min_ns..=max_ns`, but one message in `1000 / spike_per_mille`
    /// takes `spike_ns` more (a congested or flaky link).
    Spiky {
        /// Shortest.
        min_ns: u64,
        /// Longest without a spike.
        max_ns: u64,
        /// Spikes per thousand messages.
        spike_per_mille: u32,
        /// Extra delay of a spike.
        spike_ns: u64,
    },
}

impl Default for Latency {
    /// Reliable mode's small latency: 1 ms.
    fn default() -> Self {
        Latency::Fixed(MS)
    }
}

impl Latency {
    /// Draws one latency. A fixed latency draws nothing from the stream.
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match *self {
            Latency::Fixed(ns) => ns,
            Latency::Uniform { min_ns, max_ns } => rng.random_range(min_ns..=max_ns.max(min_ns)),
            Latency::Spiky {
                min_ns,
                max_ns,
                spike_per_mille,
                spike_ns,
            } => {
                let base = rng.random_range(min_ns..=max_ns.max(min_ns));
                if rng.random_range(0..1000) < spike_per_mille {
                    base + spike_ns
                } else {
                    base
                }
            }
        }
    }
}
