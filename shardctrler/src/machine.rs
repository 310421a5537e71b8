//! The controller's replicated state: the chain of configurations, and what
//! Join, Leave, Move and Query do to it.

use std::collections::BTreeSet;

use peer::{Ctrl, CtrlError, CtrlOp, CtrlOutcome, Gid, NSHARDS, ShardConfig};
use serde::{Deserialize, Serialize};

use crate::rebalance::rebalance;

/// Every configuration the controller has made, numbered by position.
/// Invariant: never empty; `configs[n].num == n`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrlMachine {
    configs: Vec<ShardConfig>,
}

impl Default for CtrlMachine {
    fn default() -> CtrlMachine {
        CtrlMachine {
            configs: vec![ShardConfig::initial()],
        }
    }
}

impl kvraft::Machine for CtrlMachine {
    type P = Ctrl;

    fn execute(&mut self, op: &CtrlOp) -> CtrlOutcome {
        let outcome = match op {
            CtrlOp::Query { num } => self.query(*num).map(CtrlOutcome::Config),
            CtrlOp::Join { servers } => self.join(servers).map(|()| CtrlOutcome::Done),
            CtrlOp::Leave { gids } => self.leave(gids).map(|()| CtrlOutcome::Done),
            CtrlOp::Move { shard, gid } => {
                self.move_shard(*shard, *gid).map(|()| CtrlOutcome::Done)
            }
        };
        outcome.unwrap_or_else(CtrlOutcome::Refused)
    }
}

impl CtrlMachine {
    /// The latest configuration.
    pub fn latest(&self) -> &ShardConfig {
        self.configs
            .last()
            .expect("configuration 0 is never removed")
    }

    /// Every configuration made, configuration 0 first.
    pub fn configs(&self) -> &[ShardConfig] {
        &self.configs
    }

    fn query(&self, num: Option<u64>) -> Result<ShardConfig, CtrlError> {
        let latest = self.latest().num;
        let asked = num.unwrap_or(latest);
        let at = usize::try_from(asked)
            .ok()
            .filter(|&i| i < self.configs.len());
        let at = at.ok_or(CtrlError::NoSuchConfig { asked, latest })?;
        Ok(self.configs[at].clone())
    }

    fn join(
        &mut self,
        servers: &std::collections::BTreeMap<Gid, Vec<String>>,
    ) -> Result<(), CtrlError> {
        if servers.is_empty() {
            return Err(CtrlError::NoGroupNamed);
        }
        for (&gid, names) in servers {
            match () {
                _ if gid == 0 => return Err(CtrlError::ReservedGid),
                _ if self.latest().groups.contains_key(&gid) => {
                    return Err(CtrlError::GroupExists(gid));
                }
                _ if names.is_empty() => return Err(CtrlError::NoServers(gid)),
                _ => {}
            }
        }
        let mut next = self.next();
        next.groups
            .extend(servers.iter().map(|(g, s)| (*g, s.clone())));
        self.commit_rebalanced(next);
        Ok(())
    }

    fn leave(&mut self, gids: &[Gid]) -> Result<(), CtrlError> {
        if gids.is_empty() {
            return Err(CtrlError::NoGroupNamed);
        }
        let mut next = self.next();
        for gid in gids {
            // A gid named twice is not there the second time.
            next.groups
                .remove(gid)
                .ok_or(CtrlError::UnknownGroup(*gid))?;
        }
        self.commit_rebalanced(next);
        Ok(())
    }

    fn move_shard(&mut self, shard: usize, gid: Gid) -> Result<(), CtrlError> {
        if shard >= NSHARDS {
            return Err(CtrlError::ShardOutOfRange(shard));
        }
        if !self.latest().groups.contains_key(&gid) {
            return Err(CtrlError::UnknownGroup(gid));
        }
        let mut next = self.next();
        next.shards[shard] = gid;
        self.configs.push(next);
        Ok(())
    }

    /// A copy of the latest configuration, numbered as the next.
    fn next(&self) -> ShardConfig {
        let mut next = self.latest().clone();
        next.num += 1;
        next
    }

    /// Adds `next` with its shards rebalanced over its groups.
    fn commit_rebalanced(&mut self, mut next: ShardConfig) {
        let groups: BTreeSet<Gid> = next.groups.keys().copied().collect();
        next.shards = rebalance(&next.shards, &groups);
        debug_assert_eq!(next.num as usize, self.configs.len());
        self.configs.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvraft::Machine;
    use std::collections::BTreeMap;

    fn join(gids: &[Gid]) -> CtrlOp {
        let servers = gids.iter().map(|&g| (g, vec![format!("s{g}")])).collect();
        CtrlOp::Join { servers }
    }

    fn latest(m: &mut CtrlMachine) -> ShardConfig {
        match m.execute(&CtrlOp::Query { num: None }) {
            CtrlOutcome::Config(c) => c,
            other => panic!("query: {other:?}"),
        }
    }

    #[test]
    fn every_change_makes_a_numbered_configuration_and_queries_read_any() {
        let mut m = CtrlMachine::default();
        assert_eq!(latest(&mut m), ShardConfig::initial());
        assert_eq!(m.execute(&join(&[1, 2])), CtrlOutcome::Done);
        let moved = CtrlOp::Move { shard: 0, gid: 2 };
        assert_eq!(m.execute(&moved), CtrlOutcome::Done);
        assert_eq!(
            m.execute(&CtrlOp::Leave { gids: vec![1] }),
            CtrlOutcome::Done
        );
        let c = latest(&mut m);
        assert_eq!((c.num, c.shards), (3, [2; NSHARDS]));
        let one = m.execute(&CtrlOp::Query { num: Some(1) });
        let CtrlOutcome::Config(one) = one else {
            panic!("{one:?}")
        };
        assert_eq!((one.num, one.groups.len()), (1, 2));
        assert_eq!(one.shards_of(1).len(), 5);
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        let mut m = CtrlMachine::default();
        m.execute(&join(&[1]));
        let before = m.clone();
        let cases = [
            (join(&[1]), CtrlError::GroupExists(1)),
            (join(&[0]), CtrlError::ReservedGid),
            (join(&[]), CtrlError::NoGroupNamed),
            (
                CtrlOp::Join {
                    servers: BTreeMap::from([(5, vec![])]),
                },
                CtrlError::NoServers(5),
            ),
            (CtrlOp::Leave { gids: vec![9] }, CtrlError::UnknownGroup(9)),
            (
                CtrlOp::Leave { gids: vec![1, 1] },
                CtrlError::UnknownGroup(1),
            ),
            (CtrlOp::Leave { gids: vec![] }, CtrlError::NoGroupNamed),
            (
                CtrlOp::Move { shard: 10, gid: 1 },
                CtrlError::ShardOutOfRange(10),
            ),
            (
                CtrlOp::Move { shard: 3, gid: 4 },
                CtrlError::UnknownGroup(4),
            ),
            (
                CtrlOp::Query { num: Some(2) },
                CtrlError::NoSuchConfig {
                    asked: 2,
                    latest: 1,
                },
            ),
        ];
        for (op, error) in cases {
            assert_eq!(m.execute(&op), CtrlOutcome::Refused(error), "{op:?}");
            assert_eq!(m, before, "{op:?} changed the state");
        }
        let shown = CtrlError::NoSuchConfig {
            asked: 2,
            latest: 1,
        }
        .to_string();
        assert_eq!(
            shown,
            "configuration 2 does not exist yet (the latest is 1)"
        );
    }
}
