//! Seeded randomness, split into independent named streams.
//!
//! Every random choice in a run comes from a ChaCha8 stream whose key is derived
//! from the run's seed and the stream's name alone. Streams never share state,
//! so a new draw in one (say, a node's election timeout) leaves every other
//! stream's draws (the network's, the nemesis's) unchanged. That is what keeps
//! a shrunk fault schedule reproducing the same run around it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator behind every stream.
pub type SimRng = ChaCha8Rng;

/// Which stream a draw comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    /// The network model: delays, drops, duplicates.
    Network,
    /// Fault schedules.
    Nemesis,
    /// Client workloads.
    Workload,
    /// One node's own randomness (election timeouts and the like).
    Node(usize),
    /// Anything else a layer above wants to keep apart.
    Named(&'static str),
}

impl Stream {
    fn tag(self) -> u64 {
        match self {
            Stream::Network => fnv1a(b"network"),
            Stream::Nemesis => fnv1a(b"nemesis"),
            Stream::Workload => fnv1a(b"workload"),
            Stream::Node(id) => splitmix64(fnv1a(b"node/") ^ id as u64),
            Stream::Named(name) => fnv1a(name.as_bytes()),
        }
    }
}

/// Derives the generator of `stream` for a run with `seed`: a pure function of both.
pub fn derive(seed: u64, stream: Stream) -> SimRng {
    let mut state = seed ^ stream.tag().rotate_left(17);
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        state = splitmix64(state);
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// The streams of one run, created on first use.
pub(crate) struct Streams {
    seed: u64,
    network: SimRng,
    nemesis: SimRng,
    workload: SimRng,
    nodes: Vec<Option<SimRng>>,
    named: Vec<(&'static str, SimRng)>,
}

impl Streams {
    pub(crate) fn new(seed: u64) -> Streams {
        Streams {
            seed,
            network: derive(seed, Stream::Network),
            nemesis: derive(seed, Stream::Nemesis),
            workload: derive(seed, Stream::Workload),
            nodes: Vec::new(),
            named: Vec::new(),
        }
    }

    pub(crate) fn get(&mut self, stream: Stream) -> &mut SimRng {
        match stream {
            Stream::Network => &mut self.network,
            Stream::Nemesis => &mut self.nemesis,
            Stream::Workload => &mut self.workload,
            Stream::Node(id) => {
                if self.nodes.len() <= id {
                    self.nodes.resize_with(id + 1, || None);
                }
                let seed = self.seed;
                self.nodes[id].get_or_insert_with(|| derive(seed, stream))
            }
            Stream::Named(name) => {
                let at = match self.named.iter().position(|(n, _)| *n == name) {
                    Some(at) => at,
                    None => {
                        self.named.push((name, derive(self.seed, stream)));
                        self.named.len() - 1
                    }
                };
                &mut self.named[at].1
            }
        }
    }
}

/// SplitMix64's output function: a fixed, platform-independent mixer.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a over bytes: for naming streams, never for anything hot.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
