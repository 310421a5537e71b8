//! A fixed-seed hasher, so that hashing (and thus any iteration order or table
//! layout derived from it) is the same in every process.

use std::hash::{BuildHasherDefault, Hasher};

/// The Fx hash (rustc's), with its fixed multiplier: fast on small keys and
/// deterministic.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        // Long inputs (KV values grow to kilobytes) in four independent lanes, so the
        // multiplications overlap instead of forming one long dependency chain.
        if bytes.len() >= 64 {
            let mut lanes = [self.hash, SEED, SEED.rotate_left(17), SEED.rotate_left(41)];
            let mut blocks = bytes.chunks_exact(32);
            for b in &mut blocks {
                for (k, lane) in lanes.iter_mut().enumerate() {
                    let w = u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes"));
                    *lane = (lane.rotate_left(5) ^ w).wrapping_mul(SEED);
                }
            }
            bytes = blocks.remainder();
            self.hash = lanes[0];
            for lane in &lanes[1..] {
                self.add(*lane);
            }
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    /// The Fx step only propagates bits upwards, so the low bits (which pick the
    /// bucket) would depend on the low bits of the input alone: e.g. every key
    /// `state << 32 | op` of one op would share a bucket. A final mix fixes that.
    #[inline]
    fn finish(&self) -> u64 {
        splitmix64(self.hash)
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// SplitMix64's finaliser: a bijective, well-mixed function of a word. Used for
/// Zobrist keys of operations and for mixing state ids into a cache hash.
#[inline]
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
