//! Spreading the shards over the groups, moving as few as possible.

use std::collections::{BTreeMap, BTreeSet};

use peer::{Gid, NSHARDS};

/// The assignment that follows `shards` once the groups are `groups`: every shard
/// on a group of `groups`, the most loaded group
/// at most one shard above the least loaded, and as few shards moved as that
/// allows. A group keeps the shards it has up to its share; the groups that hold
/// the most keep the odd shards over an even split (ties: the lower gid). Freed
/// shards (of groups gone, or above a share) go, lowest first, to the groups
/// below their share, in the same order.
///
/// With no group left, every shard stays with the group that had it: that
/// group holds its data, and the group that gets the shard next must know
/// whom to take it from (a shard assigned to 0, "no group", after it held
/// data would lose it).
pub fn rebalance(shards: &[Gid; NSHARDS], groups: &BTreeSet<Gid>) -> [Gid; NSHARDS] {
    assert!(!groups.contains(&0), "gid 0 is no group");
    if groups.is_empty() {
        return *shards;
    }
    let mut held: BTreeMap<Gid, Vec<usize>> = groups.iter().map(|&g| (g, Vec::new())).collect();
    let mut free = Vec::new();
    for (shard, gid) in shards.iter().enumerate() {
        match held.get_mut(gid) {
            Some(mine) => mine.push(shard),
            None => free.push(shard),
        }
    }
    let mut order: Vec<Gid> = groups.iter().copied().collect();
    order.sort_by_key(|g| (std::cmp::Reverse(held[g].len()), *g));
    let share = |rank: usize| NSHARDS / order.len() + usize::from(rank < NSHARDS % order.len());
    for (rank, gid) in order.iter().enumerate() {
        let mine = held.get_mut(gid).expect("every group is held");
        while mine.len() > share(rank) {
            free.push(mine.pop().expect("above its share, so not empty"));
        }
    }
    free.sort_unstable();
    let mut free = free.into_iter();
    let mut out = *shards;
    for (rank, gid) in order.iter().enumerate() {
        for _ in held[gid].len()..share(rank) {
            out[free.next().expect("the shares add up to NSHARDS")] = *gid;
        }
    }
    assert!(free.next().is_none(), "every freed shard is placed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(gids: &[Gid]) -> BTreeSet<Gid> {
        gids.iter().copied().collect()
    }

    fn counts(shards: &[Gid; NSHARDS], groups: &BTreeSet<Gid>) -> Vec<usize> {
        let count = |g: &Gid| shards.iter().filter(|s| *s == g).count();
        groups.iter().map(count).collect()
    }

    #[test]
    fn the_first_group_takes_every_shard_and_the_last_keeps_them_when_it_leaves() {
        let one = rebalance(&[0; NSHARDS], &set(&[7]));
        assert_eq!(one, [7; NSHARDS]);
        let none = rebalance(&one, &set(&[]));
        assert_eq!(none, [7; NSHARDS], "group 7 still holds their data");
        assert_eq!(rebalance(&none, &set(&[8])), [8; NSHARDS]);
    }

    #[test]
    fn a_third_group_takes_three_shards_and_nothing_else_moves() {
        let two = rebalance(&[1; NSHARDS], &set(&[1, 2]));
        assert_eq!(counts(&two, &set(&[1, 2])), vec![5, 5]);
        let three = rebalance(&two, &set(&[1, 2, 3]));
        assert_eq!(counts(&three, &set(&[1, 2, 3])), vec![4, 3, 3]);
        let moved = (0..NSHARDS).filter(|&s| two[s] != three[s]).count();
        assert_eq!(moved, 3);
        assert!((0..NSHARDS).all(|s| two[s] == three[s] || three[s] == 3));
    }

    #[test]
    fn more_groups_than_shards_leave_some_groups_idle() {
        let gids: Vec<Gid> = (1..=12).collect();
        let out = rebalance(&[0; NSHARDS], &set(&gids));
        let c = counts(&out, &set(&gids));
        assert_eq!(c.iter().sum::<usize>(), NSHARDS);
        assert!(c.iter().all(|&n| n <= 1));
    }

    #[test]
    fn a_moved_shard_is_balanced_back_at_the_next_change() {
        let mut two = rebalance(&[0; NSHARDS], &set(&[1, 2]));
        let first_of_2 = two.iter().position(|&g| g == 2).unwrap();
        two[first_of_2] = 1; // Move: 6 against 4
        let back = rebalance(&two, &set(&[1, 2]));
        assert_eq!(counts(&back, &set(&[1, 2])), vec![5, 5]);
        let moved = (0..NSHARDS).filter(|&s| two[s] != back[s]).count();
        assert_eq!(moved, 1, "only the surplus moves");
    }

    proptest! {
        /// From a balanced assignment, a join moves shards only to the newcomers
        /// and a leave only away from the leavers; the result is balanced.
        #[test]
        fn joins_and_leaves_move_the_fewest_shards(
            steps in proptest::collection::vec((any::<bool>(), 1u64..20), 1..40)
        ) {
            let mut groups = BTreeSet::new();
            let mut shards = [0; NSHARDS];
            for (join, gid) in steps {
                let mut next = groups.clone();
                match join {
                    true => next.insert(gid),
                    false => next.remove(&gid),
                };
                let after = rebalance(&shards, &next);
                let c = counts(&after, &next);
                if next.is_empty() {
                    prop_assert_eq!(after, shards, "no group: nothing moves");
                } else {
                    prop_assert!(after.iter().all(|g| next.contains(g)));
                    let (min, max) = (c.iter().min().unwrap(), c.iter().max().unwrap());
                    prop_assert!(max - min <= 1, "{c:?}");
                }
                for s in 0..NSHARDS {
                    if after[s] != shards[s] {
                        let to_newcomer = !groups.contains(&after[s]) || after[s] == 0;
                        let from_leaver = !next.contains(&shards[s]);
                        prop_assert!(to_newcomer || from_leaver,
                            "shard {} moved from {} to {} between groups that stay", s, shards[s], after[s]);
                    }
                }
                groups = next;
                shards = after;
            }
        }
    }
}
