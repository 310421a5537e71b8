//! Part 5A: the shard controller (6.5840's shardctrler tests, in virtual time).
//!
//! One change from upstream: its "minimal transfer" checks inside Basic and
//! Multi look at gids 1 to 10, which are not in the configuration at that
//! point, so they cannot fail. Here they look at every group of the
//! configuration before the change: a shard of a group that stays must not
//! move to another group that stays.

use super::config::{CtrlCk, CtrlConfig};
use crate::Test;
use crate::failure::Failure;
use crate::raft_suite::RunReport;
use peer::{Gid, NSHARDS, ShardConfig};
use std::collections::BTreeMap;

const NSERVERS: usize = 3;
const NPARA: u64 = 10;

fn servers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn group(gid: Gid, names: &[&str]) -> BTreeMap<Gid, Vec<String>> {
    BTreeMap::from([(gid, servers(names))])
}

/// The shards of `before` whose group is in both configurations but which
/// sit on another group in `after`: what a minimal rebalance never does.
fn moved_between_stayers(before: &ShardConfig, after: &ShardConfig) -> Vec<usize> {
    let stays = |g: &Gid| before.groups.contains_key(g) && after.groups.contains_key(g);
    (0..NSHARDS)
        .filter(|&s| stays(&before.shards[s]) && stays(&after.shards[s]))
        .filter(|&s| before.shards[s] != after.shards[s])
        .collect()
}

fn check_minimal(
    cfg: &CtrlConfig,
    before: &ShardConfig,
    after: &ShardConfig,
    what: &str,
) -> Result<(), Failure> {
    let moved = moved_between_stayers(before, after);
    match moved.is_empty() {
        true => Ok(()),
        false => cfg.check(format!(
            "non-minimal transfer after {what}: shards {moved:?} moved"
        )),
    }
}

fn check_servers(
    cfg: &CtrlConfig,
    c: &ShardConfig,
    gid: Gid,
    want: &[&str],
) -> Result<(), Failure> {
    match c.groups.get(&gid) == Some(&servers(want)) {
        true => Ok(()),
        false => cfg.check(format!(
            "wrong servers for gid {gid}: {:?}",
            c.groups.get(&gid)
        )),
    }
}

/// Basic leave/join, historical queries, move, concurrent leave/join, and
/// minimal transfers after joins and after leaves.
pub fn basic(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = CtrlConfig::new(t, NSERVERS, false);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    let cfa = leave_join(&mut cfg, ck)?;
    historical_queries(&mut cfg, ck, &cfa)?;
    move_shards(&mut cfg, ck)?;
    let gids: Vec<Gid> = (0..NPARA).map(|i| i * 10 + 100).collect();
    let cka: Vec<CtrlCk> = gids.iter().map(|_| cfg.make_client(&all)).collect();
    for (&ck, &gid) in cka.iter().zip(&gids) {
        let ops = vec![
            peer::CtrlOp::Join {
                servers: group(gid + 1000, &[&format!("s{gid}a")]),
            },
            peer::CtrlOp::Join {
                servers: group(gid, &[&format!("s{gid}b")]),
            },
            peer::CtrlOp::Leave {
                gids: vec![gid + 1000],
            },
        ];
        cfg.start_ops(ck, ops);
    }
    cfg.wait(&cka)?;
    cfg.check_groups(ck, &gids)?;
    // Minimal transfers after joins, then after leaves.
    let c1 = cfg.query(ck, -1)?;
    for gid in NPARA + 1..NPARA + 6 {
        let names = [format!("{gid}a"), format!("{gid}b"), format!("{gid}b")];
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        cfg.join(ck, group(gid, &names))?;
    }
    let c2 = cfg.query(ck, -1)?;
    check_minimal(&cfg, &c1, &c2, "Join()s")?;
    for gid in NPARA + 1..NPARA + 6 {
        cfg.leave(ck, &[gid])?;
    }
    let c3 = cfg.query(ck, -1)?;
    check_minimal(&cfg, &c2, &c3, "Leave()s")?;
    cfg.end()
}

/// Basic leave/join: the configurations it made, for the historical queries.
fn leave_join(cfg: &mut CtrlConfig, ck: CtrlCk) -> Result<Vec<ShardConfig>, Failure> {
    let mut cfa = vec![ShardConfig::initial(); 6];
    cfa[0] = cfg.query(ck, -1)?;
    cfg.check_groups(ck, &[])?;
    cfg.join(ck, group(1, &["x", "y", "z"]))?;
    cfg.check_groups(ck, &[1])?;
    cfa[1] = cfg.query(ck, -1)?;
    cfg.join(ck, group(2, &["a", "b", "c"]))?;
    cfg.check_groups(ck, &[1, 2])?;
    cfa[2] = cfg.query(ck, -1)?;
    let cfx = cfg.query(ck, -1)?;
    check_servers(cfg, &cfx, 1, &["x", "y", "z"])?;
    check_servers(cfg, &cfx, 2, &["a", "b", "c"])?;
    cfg.leave(ck, &[1])?;
    cfg.check_groups(ck, &[2])?;
    cfa[4] = cfg.query(ck, -1)?;
    cfg.leave(ck, &[2])?;
    cfa[5] = cfg.query(ck, -1)?;
    Ok(cfa)
}

/// Historical queries, each server down in turn.
fn historical_queries(
    cfg: &mut CtrlConfig,
    ck: CtrlCk,
    cfa: &[ShardConfig],
) -> Result<(), Failure> {
    for s in 0..NSERVERS {
        cfg.shutdown_server(s);
        for c in cfa {
            let got = cfg.query(ck, c.num as i64)?;
            cfg.check_same_config(&got, c)?;
        }
        cfg.start_server(s);
        cfg.connect_all();
    }
    Ok(())
}

/// Move: half the shards to one group, half to another.
fn move_shards(cfg: &mut CtrlConfig, ck: CtrlCk) -> Result<(), Failure> {
    let (gid3, gid4) = (503, 504);
    cfg.join(ck, group(gid3, &["3a", "3b", "3c"]))?;
    cfg.join(ck, group(gid4, &["4a", "4b", "4c"]))?;
    let to = |i: usize| if i < NSHARDS / 2 { gid3 } else { gid4 };
    for i in 0..NSHARDS {
        let cf = cfg.query(ck, -1)?;
        cfg.move_shard(ck, i, to(i))?;
        if cf.shards[i] != to(i) && cfg.query(ck, -1)?.num <= cf.num {
            return cfg.check("Move should increase Config.Num");
        }
    }
    let cf2 = cfg.query(ck, -1)?;
    if let Some(i) = (0..NSHARDS).find(|&i| cf2.shards[i] != to(i)) {
        let what = format!(
            "expected shard {i} on gid {} actually {}",
            to(i),
            cf2.shards[i]
        );
        return cfg.check(what);
    }
    cfg.leave(ck, &[gid3])?;
    cfg.leave(ck, &[gid4])
}

/// Minimal movement when a third group joins and when the first leaves.
pub fn minimal_again(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = CtrlConfig::new(t, NSERVERS, false);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    cfg.join(ck, group(1, &["x", "y", "z"]))?;
    cfg.join(ck, group(2, &["a", "b", "c"]))?;
    let c1 = cfg.query(ck, -1)?;
    cfg.join(ck, group(3, &["d", "e", "f"]))?;
    let c2 = cfg.query(ck, -1)?;
    // Any shard that wasn't moved to gid 3 should stay where it was.
    if let Some(i) = (0..NSHARDS).find(|&i| c2.shards[i] != 3 && c1.shards[i] != c2.shards[i]) {
        let what = format!(
            "shard {i} moved from gid {} to gid {}, but shouldn't have",
            c1.shards[i], c2.shards[i]
        );
        return cfg.check(what);
    }
    check_moved_at_most(&cfg, &c1, &c2, "join")?;
    cfg.leave(ck, &[1])?;
    let c3 = cfg.query(ck, -1)?;
    // Any shard that wasn't in gid 1 should stay where it was.
    if let Some(i) = (0..NSHARDS).find(|&i| c2.shards[i] != 1 && c2.shards[i] != c3.shards[i]) {
        let what = format!(
            "shard {i} moved from gid {} to gid {}, but shouldn't have",
            c2.shards[i], c3.shards[i]
        );
        return cfg.check(what);
    }
    check_moved_at_most(&cfg, &c2, &c3, "leave")?;
    cfg.end()
}

/// At most NShards/3 + 1 shards moved between two configurations.
fn check_moved_at_most(
    cfg: &CtrlConfig,
    a: &ShardConfig,
    b: &ShardConfig,
    after: &str,
) -> Result<(), Failure> {
    let changed = (0..NSHARDS).filter(|&i| a.shards[i] != b.shards[i]).count();
    match changed > NSHARDS / 3 + 1 {
        true => cfg.check(format!("too many shards ({changed}) moved after {after}")),
        false => Ok(()),
    }
}

/// Multi-group join/leave, concurrent multi leave/join, minimal transfers
/// after multijoins and multileaves, and the same configuration after the
/// leader is shut down.
pub fn multi(t: &Test) -> Result<RunReport, Failure> {
    let mut cfg = CtrlConfig::new(t, NSERVERS, false);
    let all = cfg.all();
    let ck = cfg.make_client(&all);
    multi_leave_join(&mut cfg, ck)?;
    let gids: Vec<Gid> = (0..NPARA).map(|i| i + 1000).collect();
    let cka: Vec<CtrlCk> = gids.iter().map(|_| cfg.make_client(&all)).collect();
    for (&ck, &gid) in cka.iter().zip(&gids) {
        let mut servers = group(
            gid,
            &[&format!("{gid}a"), &format!("{gid}b"), &format!("{gid}c")],
        );
        servers.extend(group(gid + 1000, &[&format!("{}a", gid + 1000)]));
        servers.extend(group(gid + 2000, &[&format!("{}a", gid + 2000)]));
        let ops = vec![
            peer::CtrlOp::Join { servers },
            peer::CtrlOp::Leave {
                gids: vec![gid + 1000, gid + 2000],
            },
        ];
        cfg.start_ops(ck, ops);
    }
    cfg.wait(&cka)?;
    cfg.check_groups(ck, &gids)?;
    // Minimal transfers after a multijoin, then after a multileave.
    let c1 = cfg.query(ck, -1)?;
    let new: Vec<Gid> = (NPARA + 1..NPARA + 6).collect();
    let mut m = BTreeMap::new();
    for &gid in &new {
        m.extend(group(gid, &[&format!("{gid}a"), &format!("{gid}b")]));
    }
    cfg.join(ck, m)?;
    let c2 = cfg.query(ck, -1)?;
    check_minimal(&cfg, &c1, &c2, "Join()s")?;
    cfg.leave(ck, &new)?;
    let c3 = cfg.query(ck, -1)?;
    check_minimal(&cfg, &c2, &c3, "Leave()s")?;
    agree_config(&mut cfg, ck)?;
    cfg.end()
}

/// Multi-group join/leave.
fn multi_leave_join(cfg: &mut CtrlConfig, ck: CtrlCk) -> Result<(), Failure> {
    cfg.check_groups(ck, &[])?;
    let mut both = group(1, &["x", "y", "z"]);
    both.extend(group(2, &["a", "b", "c"]));
    cfg.join(ck, both)?;
    cfg.check_groups(ck, &[1, 2])?;
    cfg.join(ck, group(3, &["j", "k", "l"]))?;
    cfg.check_groups(ck, &[1, 2, 3])?;
    let cfx = cfg.query(ck, -1)?;
    check_servers(cfg, &cfx, 1, &["x", "y", "z"])?;
    check_servers(cfg, &cfx, 2, &["a", "b", "c"])?;
    check_servers(cfg, &cfx, 3, &["j", "k", "l"])?;
    cfg.leave(ck, &[1, 3])?;
    cfg.check_groups(ck, &[2])?;
    let cfx = cfg.query(ck, -1)?;
    check_servers(cfg, &cfx, 2, &["a", "b", "c"])?;
    cfg.leave(ck, &[2])
}

/// The configuration the leader gave is the one its successor gives.
/// (Upstream's wait for a new leader re-reads nothing in its loop; the
/// clerk's own retries are the wait here.)
fn agree_config(cfg: &mut CtrlConfig, ck: CtrlCk) -> Result<(), Failure> {
    let Some(leader) = cfg.leader() else {
        return cfg.check("Leader not found");
    };
    let c = cfg.query(ck, -1)?;
    cfg.shutdown_server(leader);
    let c1 = cfg.query(ck, -1)?;
    cfg.check_same_config(&c, &c1)
}
