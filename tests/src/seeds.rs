//! Seeds as a campaign takes them: a range or a list, split into shards and
//! walked one at a time, never collected (`--seeds 0..10000000000` costs no
//! more memory than `--seeds 0..10`).

/// Which seeds to run, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// `first`, `first + step`, ... (`count` seeds).
    Range {
        /// The first seed.
        first: u64,
        /// How many.
        count: u64,
        /// The gap between two seeds (above 1 after sharding).
        step: u64,
    },
    /// Seeds listed one by one.
    List(Vec<u64>),
}

impl Seeds {
    /// Parses `A..B` (B excluded), `A..=B`, a single seed, or a comma list.
    pub fn parse(text: &str) -> Result<Seeds, String> {
        let text = text.trim();
        let num = |s: &str| match s.trim() {
            "" => Err(format!(
                "`{text}` is missing a seed (A..B, A..=B, N or N,M,...)"
            )),
            s => (s.parse::<u64>()).map_err(|_| format!("`{s}` is not a seed (a whole number)")),
        };
        if text.contains(',') && text.contains("..") {
            return Err(format!(
                "`{text}`: a comma list holds single seeds; a range (A..B) stands alone"
            ));
        }
        let range = |first: u64, count: u64| Seeds::Range {
            first,
            count,
            step: 1,
        };
        if let Some((a, b)) = text.split_once("..=") {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("empty seed range {text}"));
            }
            let count = (b - a)
                .checked_add(1)
                .ok_or_else(|| format!("seed range {text} holds more than 2^64 - 1 seeds"))?;
            return Ok(range(a, count));
        }
        if let Some((a, b)) = text.split_once("..") {
            let (a, b) = (num(a)?, num(b)?);
            if a >= b {
                return Err(format!("empty seed range {text} (the end is excluded)"));
            }
            return Ok(range(a, b - a));
        }
        let list: Vec<u64> = text.split(',').map(num).collect::<Result<_, _>>()?;
        // A seed twice would run twice and count twice in the summary.
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = list.iter().find(|s| !seen.insert(**s)) {
            return Err(format!(
                "seed {twice} is twice in `{text}`: list each seed once"
            ));
        }
        Ok(Seeds::List(list))
    }

    /// How many seeds.
    pub fn len(&self) -> u64 {
        match self {
            Seeds::Range { count, .. } => *count,
            Seeds::List(list) => list.len() as u64,
        }
    }

    /// True when there are none (a shard of a short list can be empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed.
    pub fn get(&self, i: u64) -> Option<u64> {
        match self {
            Seeds::Range { first, count, step } => (i < *count).then(|| first + i * step),
            Seeds::List(list) => usize::try_from(i).ok().and_then(|i| list.get(i).copied()),
        }
    }

    /// The first seed, if any.
    pub fn first(&self) -> Option<u64> {
        self.get(0)
    }

    /// Every seed in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map_while(|i| self.get(i))
    }

    /// Shard `index` of `shards`: every `shards`-th seed from the `index`-th.
    pub fn shard(self, index: u64, shards: u64) -> Seeds {
        assert!(index < shards, "shard {index} of {shards}");
        match self {
            Seeds::Range { first, count, step } => Seeds::Range {
                first: first + index.min(count) * step,
                count: count.saturating_sub(index).div_ceil(shards),
                step: step * shards,
            },
            Seeds::List(list) => Seeds::List(
                list.into_iter()
                    .skip(index as usize)
                    .step_by(shards as usize)
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &Seeds) -> Vec<u64> {
        s.iter().collect()
    }

    #[test]
    fn seed_lists() {
        let p = |t: &str| Seeds::parse(t).map(|s| all(&s));
        assert_eq!(p("3..6"), Ok(vec![3, 4, 5]));
        assert_eq!(p("3..=4"), Ok(vec![3, 4]));
        assert_eq!(p("9"), Ok(vec![9]));
        assert_eq!(p("1, 5,9"), Ok(vec![1, 5, 9]));
        assert_eq!(
            p("4,1,4"),
            Err("seed 4 is twice in `4,1,4`: list each seed once".to_string())
        );
        assert!(p("5..5").is_err());
        assert!(p("x").unwrap_err().contains("`x`"));
        assert!(p("0..=18446744073709551615").unwrap_err().contains("2^64"));
        assert!(
            p("1,2..4")
                .unwrap_err()
                .contains("a comma list holds single seeds")
        );
        assert!(p("0..").unwrap_err().contains("`0..` is missing a seed"));
    }

    #[test]
    fn a_huge_range_is_walked_not_collected() {
        let s = Seeds::parse("0..10000000000").unwrap();
        assert_eq!(s.len(), 10_000_000_000);
        assert_eq!(s.get(9_999_999_999), Some(9_999_999_999));
        assert_eq!(s.iter().take(3).collect::<Vec<_>>(), vec![0, 1, 2]);
        let last = s.shard(3, 4);
        assert_eq!(last.len(), 2_500_000_000);
        assert_eq!(last.get(2_499_999_999), Some(9_999_999_999));
    }

    #[test]
    fn shards_split_ranges_and_lists_alike() {
        for text in ["10..17", "10,11,12,13,14,15,16"] {
            let s = Seeds::parse(text).unwrap();
            let parts: Vec<Vec<u64>> = (0..3).map(|i| all(&s.clone().shard(i, 3))).collect();
            assert_eq!(
                parts,
                vec![vec![10, 13, 16], vec![11, 14], vec![12, 15]],
                "{text}"
            );
        }
        // More shards than seeds: the rest are empty.
        assert!(Seeds::parse("0..2").unwrap().shard(5, 8).is_empty());
    }
}
