//! A group's replicated state: its configuration, and each shard's state and data.

use std::collections::BTreeMap;

use peer::{
    ConfigNum, Gid, NSHARDS, Op, ShardConfig, ShardData, ShardKvArgs, ShardKvValue, key2shard,
};
use serde::{Deserialize, Serialize};

/// Where a shard stands for this group in its current configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ShardState {
    /// Not this group's, and no copy here.
    #[default]
    NotOwned,
    /// This group's, its data here: served.
    Serving,
    /// This group's since this configuration; its data is still with the old owner.
    Pulling,
    /// This group's since this configuration and installed (served), but the
    /// old owner has not yet been told to delete its copy.
    Confirming,
    /// The old owner's frozen copy of a shard that left in this
    /// configuration, kept until its new owner has installed it.
    Offering,
}

/// One log entry of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Entry {
    /// A client's operation.
    Client(ShardKvArgs),
    /// Move to the next configuration.
    Config(ShardConfig),
    /// Shards of configuration `config_num` pulled from their old owner.
    Insert {
        config_num: ConfigNum,
        shards: BTreeMap<usize, ShardData>,
    },
    /// The new owner of these shards (of `config_num`) has them: drop the copies.
    Delete {
        config_num: ConfigNum,
        shards: Vec<usize>,
    },
    /// The old owner has dropped its copies of these shards.
    Confirmed {
        config_num: ConfigNum,
        shards: Vec<usize>,
    },
}

impl Entry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("bincode cannot fail on in-memory values")
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Entry> {
        match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
            Ok((e, used)) if used == bytes.len() => Some(e),
            _ => None,
        }
    }
}

/// A group's replicated state. Invariant: `states.len() == data.len() == NSHARDS`,
/// and a shard has data only if it is Serving, Confirming or Offering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Machine {
    pub(crate) gid: Gid,
    pub(crate) config: ShardConfig,
    pub(crate) prev: ShardConfig,
    pub(crate) states: Vec<ShardState>,
    pub(crate) data: Vec<ShardData>,
    /// The servers of every group seen in a configuration, as last seen: a
    /// shard's old owner may have left since (the controller leaves a
    /// group's shards with it when the last group leaves).
    pub(crate) known: BTreeMap<Gid, Vec<String>>,
}

impl Machine {
    pub(crate) fn new(gid: Gid) -> Machine {
        Machine {
            gid,
            config: ShardConfig::initial(),
            prev: ShardConfig::initial(),
            states: vec![ShardState::NotOwned; NSHARDS],
            data: vec![ShardData::default(); NSHARDS],
            known: BTreeMap::new(),
        }
    }

    /// True if this group serves `shard` to clients now.
    pub(crate) fn serves(&self, shard: usize) -> bool {
        matches!(
            self.states[shard],
            ShardState::Serving | ShardState::Confirming
        )
    }

    /// True when no shard is on its way in or out: the next configuration may come.
    pub(crate) fn steady(&self) -> bool {
        self.states
            .iter()
            .all(|s| matches!(s, ShardState::Serving | ShardState::NotOwned))
    }

    /// The shards in `state`, by the group that held them in the previous
    /// configuration.
    pub(crate) fn by_old_owner(&self, state: ShardState) -> BTreeMap<Gid, Vec<usize>> {
        let mut out: BTreeMap<Gid, Vec<usize>> = BTreeMap::new();
        for s in (0..NSHARDS).filter(|&s| self.states[s] == state) {
            out.entry(self.prev.shards[s]).or_default().push(s);
        }
        out
    }

    /// True if this write was applied already (it is at or below its client's
    /// last write to the shard).
    pub(crate) fn is_duplicate(&self, args: &ShardKvArgs) -> bool {
        let shard = key2shard(args.op.key());
        let last = self.data[shard].sessions.get(&args.client_id);
        if args.op.is_write() && last.is_some_and(|&s| args.seq < s) {
            peer::coverage::mark(peer::coverage::STALE_DUPLICATE_WRITE);
        }
        args.op.is_write() && last.is_some_and(|&s| args.seq <= s)
    }

    /// Applies one entry; what a client operation returned.
    pub(crate) fn apply(&mut self, entry: Entry) -> Option<ShardKvValue> {
        match entry {
            Entry::Client(args) => return Some(self.client(&args)),
            Entry::Config(next) => self.next_config(next),
            Entry::Insert { config_num, shards } if config_num == self.config.num => {
                for (s, data) in shards {
                    if self.states[s] == ShardState::Pulling {
                        self.data[s] = data;
                        self.states[s] = ShardState::Confirming;
                    }
                }
            }
            Entry::Delete { config_num, shards } if config_num == self.config.num => {
                for s in shards {
                    if self.states[s] == ShardState::Offering {
                        self.data[s] = ShardData::default();
                        self.states[s] = ShardState::NotOwned;
                    }
                }
            }
            Entry::Confirmed { config_num, shards } if config_num == self.config.num => {
                for s in shards {
                    if self.states[s] == ShardState::Confirming {
                        self.states[s] = ShardState::Serving;
                    }
                }
            }
            // Of another configuration: done already, or never to be.
            Entry::Insert { .. } | Entry::Delete { .. } | Entry::Confirmed { .. } => {}
        }
        None
    }

    fn client(&mut self, args: &ShardKvArgs) -> ShardKvValue {
        let shard = key2shard(args.op.key());
        if !self.serves(shard) {
            return ShardKvValue::WrongGroup;
        }
        if self.is_duplicate(args) {
            peer::coverage::mark(peer::coverage::DUPLICATE_WRITE);
            return ShardKvValue::default();
        }
        let data = &mut self.data[shard];
        match &args.op {
            Op::Get { key } => {
                return ShardKvValue::Value(data.kv.get(key).cloned().unwrap_or_default());
            }
            Op::Put { key, value } => {
                data.kv.insert(key.clone(), value.clone());
            }
            Op::Append { key, value } => data.kv.entry(key.clone()).or_default().push_str(value),
            Op::Delete { key } => {
                data.kv.remove(key);
            }
        }
        data.sessions.insert(args.client_id, args.seq);
        ShardKvValue::default()
    }

    /// Moves to `next` if it is the configuration after this one and no shard
    /// is on its way: shards gained from nobody start empty, shards gained
    /// from a group are pulled, shards lost are offered.
    fn next_config(&mut self, next: ShardConfig) {
        if next.num != self.config.num + 1 || !self.steady() {
            return;
        }
        for s in 0..NSHARDS {
            let (before, after) = (self.config.shards[s], next.shards[s]);
            let (mine_before, mine_after) = (before == self.gid, after == self.gid);
            self.states[s] = match (mine_before, mine_after) {
                (false, true) if before == 0 => ShardState::Serving,
                (false, true) => ShardState::Pulling,
                (true, false) => ShardState::Offering,
                _ => self.states[s],
            };
        }
        self.known
            .extend(next.groups.iter().map(|(g, s)| (*g, s.clone())));
        self.prev = std::mem::replace(&mut self.config, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(num: ConfigNum, shards: [Gid; NSHARDS]) -> ShardConfig {
        let groups = shards
            .iter()
            .filter(|&&g| g != 0)
            .map(|&g| (g, vec![format!("s{g}")]))
            .collect();
        ShardConfig {
            num,
            shards,
            groups,
        }
    }

    fn put(key: &str, value: &str, seq: u64) -> Entry {
        let op = Op::Put {
            key: key.into(),
            value: value.into(),
        };
        Entry::Client(ShardKvArgs {
            client_id: 7,
            seq,
            op,
        })
    }

    fn get(key: &str) -> Entry {
        Entry::Client(ShardKvArgs {
            client_id: 8,
            seq: 1,
            op: Op::Get { key: key.into() },
        })
    }

    #[test]
    fn a_shard_moves_with_its_data_and_duplicate_table() {
        let (mut a, mut b) = (Machine::new(1), Machine::new(2));
        let c1 = config(1, [1; NSHARDS]);
        a.apply(Entry::Config(c1.clone()));
        b.apply(Entry::Config(c1));
        assert!(a.serves(0) && !b.serves(0));
        let key = "\u{0}k"; // shard 0
        assert_eq!(a.apply(put(key, "v", 1)), Some(ShardKvValue::default()));
        let mut half = [1; NSHARDS];
        half[0] = 2;
        let c2 = config(2, half);
        a.apply(Entry::Config(c2.clone()));
        b.apply(Entry::Config(c2));
        assert_eq!(a.states[0], ShardState::Offering);
        assert_eq!(b.states[0], ShardState::Pulling);
        assert_eq!(
            b.apply(get(key)),
            Some(ShardKvValue::WrongGroup),
            "not arrived yet"
        );
        assert_eq!(a.apply(get(key)), Some(ShardKvValue::WrongGroup), "gone");
        assert!(
            !a.steady() && !b.steady(),
            "no new configuration until it has moved"
        );
        let shards = BTreeMap::from([(0, a.data[0].clone())]);
        b.apply(Entry::Insert {
            config_num: 2,
            shards,
        });
        assert_eq!(b.apply(get(key)), Some(ShardKvValue::Value("v".into())));
        assert!(b.is_duplicate(&ShardKvArgs {
            client_id: 7,
            seq: 1,
            op: Op::Put {
                key: key.into(),
                value: "v".into()
            }
        }));
        a.apply(Entry::Delete {
            config_num: 2,
            shards: vec![0],
        });
        assert_eq!((a.states[0], a.data[0].kv.len()), (ShardState::NotOwned, 0));
        b.apply(Entry::Confirmed {
            config_num: 2,
            shards: vec![0],
        });
        assert!(a.steady() && b.steady());
    }

    #[test]
    fn configurations_are_taken_in_order_and_once() {
        let mut a = Machine::new(1);
        a.apply(Entry::Config(config(2, [1; NSHARDS])));
        assert_eq!(a.config.num, 0, "2 before 1 is ignored");
        a.apply(Entry::Config(config(1, [1; NSHARDS])));
        a.apply(Entry::Config(config(1, [0; NSHARDS])));
        assert_eq!((a.config.num, a.serves(3)), (1, true));
        assert_eq!(
            a.states[3],
            ShardState::Serving,
            "gained from nobody: served at once"
        );
    }
}
