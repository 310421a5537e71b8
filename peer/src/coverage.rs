//! Coverage marks (TigerBeetle's idea): a peer says "this rare branch just ran", and
//! the lab counts how often a campaign reached it, without counters threaded by hand
//! through the peer's API. Marks are kept per thread (one simulation runs on one
//! thread) and cost nothing unless the crate's `coverage` feature is on.

#[cfg(feature = "coverage")]
use std::cell::RefCell;
#[cfg(feature = "coverage")]
use std::collections::BTreeMap;

/// A vote or pre-vote refused only because the candidate's log was behind the voter's
/// (section 5.4.1's election restriction at work).
pub const VOTE_REFUSED_STALE_LOG: &str = "vote refused: candidate's log behind";

/// A vote granted (not a PreVote): the moment a fault aimed at voters strikes.
pub const VOTE_GRANTED: &str = "vote granted";

#[cfg(feature = "coverage")]
thread_local! {
    static MARKS: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// The branch `name` ran once more on this thread.
#[inline]
pub fn mark(name: &'static str) {
    #[cfg(feature = "coverage")]
    MARKS.with(|m| *m.borrow_mut().entry(name).or_default() += 1);
    #[cfg(not(feature = "coverage"))]
    let _ = name;
}

/// How often `name` ran on this thread since the last call, and forget it.
pub fn take(name: &'static str) -> u64 {
    #[cfg(feature = "coverage")]
    return MARKS.with(|m| m.borrow_mut().remove(name).unwrap_or(0));
    #[cfg(not(feature = "coverage"))]
    {
        let _ = name;
        0
    }
}

#[cfg(all(test, feature = "coverage"))]
mod tests {
    use super::*;

    #[test]
    fn marks_count_and_reset() {
        mark(VOTE_REFUSED_STALE_LOG);
        mark(VOTE_REFUSED_STALE_LOG);
        assert_eq!(take(VOTE_REFUSED_STALE_LOG), 2);
        assert_eq!(take(VOTE_REFUSED_STALE_LOG), 0);
    }
}
