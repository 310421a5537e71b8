//! The trace hash: a running 64-bit digest over every event of a run.
//!
//! It must not depend on the process, the platform or any hasher's random
//! state, so it is a fixed multiply-rotate mixer over little-endian words,
//! with bytes buffered into whole words so that the way a formatter happens
//! to split its output into pieces never changes the result.

use std::fmt;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A streaming hasher with a fixed algorithm. Feed it words, bytes or
/// formatted text; `finish` gives the digest.
#[derive(Clone)]
pub struct TraceHasher {
    state: u64,
    pending: u64,
    pending_len: u32,
    total_len: u64,
}

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher::new()
    }
}

impl TraceHasher {
    /// A hasher in its initial state.
    pub fn new() -> TraceHasher {
        TraceHasher {
            state: 0x243F_6A88_85A3_08D3,
            pending: 0,
            pending_len: 0,
            total_len: 0,
        }
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(23) ^ word).wrapping_mul(K);
        self.state ^= self.state >> 29;
    }

    /// Absorbs one 64-bit value.
    #[inline]
    pub fn u64(&mut self, value: u64) {
        self.flush_bytes();
        self.mix(value);
    }

    /// Absorbs bytes; the result depends only on the concatenation of all
    /// bytes given between words, not on how they were split.
    pub fn bytes(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        self.total_len += bytes.len() as u64;
        while self.pending_len != 0 && !rest.is_empty() {
            self.push_byte(rest[0]);
            rest = &rest[1..];
        }
        let mut chunks = rest.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("chunk of 8"));
            self.mix(word);
        }
        for b in chunks.remainder() {
            self.push_byte(*b);
        }
    }

    #[inline]
    fn push_byte(&mut self, b: u8) {
        self.pending |= u64::from(b) << (8 * self.pending_len);
        self.pending_len += 1;
        if self.pending_len == 8 {
            let word = self.pending;
            self.pending = 0;
            self.pending_len = 0;
            self.mix(word);
        }
    }

    #[inline]
    fn flush_bytes(&mut self) {
        if self.total_len != 0 || self.pending_len != 0 {
            let word = self.pending ^ (self.total_len << 8) ^ 0xFF;
            self.pending = 0;
            self.pending_len = 0;
            self.total_len = 0;
            self.mix(word);
        }
    }

    /// The digest of everything absorbed so far.
    pub fn finish(&self) -> u64 {
        let mut h = self.clone();
        h.flush_bytes();
        crate::rng::splitmix64(h.state)
    }
}

impl fmt::Write for TraceHasher {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn split_points_do_not_matter() {
        let mut a = TraceHasher::new();
        a.bytes(b"hello, simulated world");
        let mut b = TraceHasher::new();
        b.bytes(b"hel");
        b.bytes(b"lo, simulated");
        let word = "world";
        write!(b, " {word}").unwrap();
        assert_eq!(a.finish(), b.finish());
    }

    #[test]
    fn order_and_boundaries_matter() {
        let mut a = TraceHasher::new();
        a.u64(1);
        a.u64(2);
        let mut b = TraceHasher::new();
        b.u64(2);
        b.u64(1);
        assert_ne!(a.finish(), b.finish());
        let mut c = TraceHasher::new();
        c.bytes(b"ab");
        c.u64(0);
        c.bytes(b"c");
        let mut d = TraceHasher::new();
        d.bytes(b"a");
        d.u64(0);
        d.bytes(b"bc");
        assert_ne!(c.finish(), d.finish());
    }

    #[test]
    fn digest_is_pinned() {
        // The hash is part of the contract: the same events give the same hash on
        // every machine and every build. If this changes, every recorded hash does.
        let mut h = TraceHasher::new();
        h.u64(42);
        h.bytes(b"deliver");
        assert_eq!(h.finish(), PINNED);
    }
    const PINNED: u64 = 3125638304836330260;
}
