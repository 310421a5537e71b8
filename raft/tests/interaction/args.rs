//! One transcript command, split into its name, positional arguments and `key=value`
//! arguments.

use std::str::FromStr;

use raft::{PeerId, PeerSet};

/// `name pos1 pos2 key=value ...`, split on whitespace.
pub struct Args {
    pub name: String,
    pub pos: Vec<String>,
    kv: Vec<(String, String)>,
}

impl Args {
    pub fn parse(line: &str) -> Args {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default().to_string();
        let (mut pos, mut kv) = (Vec::new(), Vec::new());
        for word in words {
            match word.split_once('=') {
                Some((k, v)) => kv.push((k.to_string(), v.to_string())),
                None => pos.push(word.to_string()),
            }
        }
        Args { name, pos, kv }
    }

    /// Fails on a key the command does not take (a typo would otherwise be ignored),
    /// or on more positional arguments than `max_pos`.
    pub fn allow(&self, max_pos: usize, keys: &[&str]) -> Result<(), String> {
        if let Some((k, _)) = self.kv.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
            return Err(format!("unknown argument {k:?} (takes {keys:?})"));
        }
        if self.pos.len() > max_pos {
            return Err(format!("at most {max_pos} positional arguments"));
        }
        Ok(())
    }

    /// The value of `key`, if given.
    pub fn get<T: FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.kv.iter().rev().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, v)) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{key}={v}: not a valid value")),
        }
    }

    /// The value of `key`, which must be given.
    pub fn need<T: FromStr>(&self, key: &str) -> Result<T, String> {
        self.get(key)?.ok_or_else(|| format!("{key}= is required"))
    }

    /// The positional arguments as peer ids (each below `peers`).
    pub fn ids(&self, peers: usize) -> Result<Vec<PeerId>, String> {
        self.pos.iter().map(|p| parse_id(p, peers)).collect()
    }

    /// Exactly one positional peer id.
    pub fn id(&self, peers: usize) -> Result<PeerId, String> {
        match self.ids(peers)?.as_slice() {
            [id] => Ok(*id),
            _ => Err("takes exactly one peer id".into()),
        }
    }

    /// The peer set of `key` (`key=0,1,2`; `key=` is the empty set), if given.
    /// Ids beyond the cluster's peers are kept (a `PeerSet` holds ids below 64),
    /// so that a transcript can show how a peer refuses them.
    pub fn set(&self, key: &str) -> Result<Option<PeerSet>, String> {
        let Some((_, v)) = self.kv.iter().rev().find(|(k, _)| k == key) else {
            return Ok(None);
        };
        let ids = v.split(',').filter(|w| !w.is_empty());
        let parse = |w: &str| match w.parse::<PeerId>() {
            Ok(id) if id < 64 => Ok(id),
            _ => Err(format!("{key}={v}: {w:?} is not a peer id")),
        };
        ids.map(parse)
            .collect::<Result<PeerSet, String>>()
            .map(Some)
    }

    /// The peer id of `key`, which must be given (may name a peer beyond `0..peers`
    /// only if `any` is set, to show how the peer refuses it).
    pub fn peer(&self, key: &str, peers: usize, any: bool) -> Result<PeerId, String> {
        let id: PeerId = self.need(key)?;
        if any || id < peers {
            return Ok(id);
        }
        Err(format!("{key}={id}: no such peer (peers are 0..{peers})"))
    }
}

fn parse_id(word: &str, peers: usize) -> Result<PeerId, String> {
    match word.parse::<PeerId>() {
        Ok(id) if id < peers => Ok(id),
        _ => Err(format!("{word:?} is not a peer id (peers are 0..{peers})")),
    }
}
