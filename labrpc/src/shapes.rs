//! Jepsen's partition shapes as pure predicates over positions `0..n` of an
//! ordered list of nodes: `linked(i, j)` is true when the nodes at `i` and `j`
//! can talk. The simulated network applies them to its links; the real
//! cluster's proxies (`lab real-nemesis`) apply the very same ones.

use crate::NetError;

/// A majority (the first `n/2+1`) and a minority.
pub fn split_majority(n: usize) -> Result<impl Fn(usize, usize) -> bool, NetError> {
    if n < 2 {
        return Err(NetError::TooFewNodes {
            shape: "majority/minority split",
            needs: 2,
            got: n,
        });
    }
    let m = n / 2 + 1;
    Ok(move |i: usize, j: usize| (i < m) == (j < m))
}

/// Two halves that cannot talk to each other, and the middle node
/// (`n/2`) that talks to both.
pub fn bridge(n: usize) -> Result<impl Fn(usize, usize) -> bool, NetError> {
    if n < 3 {
        return Err(NetError::TooFewNodes {
            shape: "bridge",
            needs: 3,
            got: n,
        });
    }
    let mid = n / 2;
    Ok(move |i: usize, j: usize| i == mid || j == mid || (i < mid) == (j < mid))
}

/// Every node sees a majority (itself and its nearest ring neighbours), but
/// no two adjacent nodes see the same one.
pub fn majorities_ring(n: usize) -> Result<impl Fn(usize, usize) -> bool, NetError> {
    if n < 3 {
        return Err(NetError::TooFewNodes {
            shape: "majorities ring",
            needs: 3,
            got: n,
        });
    }
    let majority = n / 2 + 1;
    let reach = majority / 2; // neighbours on each side: 2*reach+1 >= majority
    let reach = if 2 * reach + 1 < majority {
        reach + 1
    } else {
        reach
    };
    Ok(move |i: usize, j: usize| {
        let d = i.abs_diff(j);
        d.min(n - d) <= reach
    })
}
