//! The environment the transcripts of `tests/testdata/` drive: a few peers of the
//! reference Raft, a virtual clock, and a network that holds every message until a
//! command delivers it. Nothing happens unless a command says so: peers tick only when
//! told, messages move only when delivered, and Readies are handled only when asked.
//!
//! Commands (peer ids are `0..n`; `[...]` is optional):
//! - `add-nodes n=3 [voters=0,1,2] [pre-vote=true] [check-quorum=true] [lease-reads=true]
//!   [max-entries=N] [backtracking=follower-term] [seed=5]`: the cluster (once), each
//!   peer with `raft::Config::new(id, n, seed)`, the
//!   initial voters given (all peers by default; the others start outside the
//!   configuration and never campaign) and the switches given (all off by default,
//!   plain Raft); prints each peer's status.
//! - `campaign ID`: the clock jumps to ID's election deadline (if it is later), and ID
//!   ticks: it times out and campaigns (with PreVote, it first asks for pre-votes).
//! - `tick ID... [ms=N]`: the clock moves N ms on (without `ms`, to the earliest next
//!   deadline of the peers named), then each peer named ticks.
//! - `process-ready ID...`: each peer named hands out its Ready, which is printed; its
//!   messages go to the network (or are dropped, if a link is cut).
//! - `deliver-msgs ID...`: every message waiting for each peer named is stepped into it.
//! - `stabilize [ID...] [quiet=true]`: Readies and deliveries, round after round, until
//!   nothing is left to do (among the peers named; all by default). `quiet` prints
//!   nothing (for the set-up a transcript is not about).
//! - `propose ID DATA`: 6.824's Start(DATA) on ID; prints (index, term, isLeader).
//! - `read-index ID ctx=N`: ReadIndex on ID.
//! - `transfer-leader from=ID to=ID`: leadership transfer (`to` may name no peer).
//! - `add-learner leader=ID id=ID`: asks ID to change the membership to its current
//!   voters, with `id` added to its learners; prints the entry's index or the error.
//! - `change-membership leader=ID voters=0,1,2 [learners=3,4]`: asks ID to change the
//!   membership to these voters and learners (`voters=` is none, learners default to
//!   none); prints the entry's index or the error.
//! - `snapshot ID [index=N]`: the service of ID snapshots its state through N (default:
//!   all it applied).
//! - `isolate ID`, `heal`: cut every link of ID / restore all links. A message crosses
//!   its link when its Ready is handled: one still in a Ready is sent if the link is
//!   up by then, and those waiting in the network when a link is cut are dropped.
//!   `drop from=ID to=ID`: drop the messages waiting on that link.
//! - `status [ID...]`, `log ID`: what a peer holds.
//!
//! Whenever an input changes a peer's role, term or leader, a line says so at once; and
//! one whenever it changes the configuration the peer uses (the latest in its log).
//! To add a command, add a row to [`COMMANDS`] and a method.

mod args;
mod format;
mod inputs;
mod views;

use std::collections::BTreeSet;

use args::Args;
use raft::{
    ApplyMsg, Backtracking, Config, Index, Membership, Message, PeerId, PeerSet, Raft, Role, Term,
};

/// A command's handler: reads its arguments, prints with [`Env::say`]. An `Err` is a
/// mistake in the transcript (not an output), and fails the test at its line.
type Handler = fn(&mut Env, &Args) -> Result<(), String>;

const COMMANDS: &[(&str, Handler)] = &[
    ("add-nodes", Env::add_nodes),
    ("campaign", Env::campaign),
    ("tick", Env::tick),
    ("process-ready", Env::process_ready),
    ("deliver-msgs", Env::deliver_msgs),
    ("stabilize", Env::stabilize),
    ("propose", Env::propose),
    ("read-index", Env::read_index),
    ("transfer-leader", Env::transfer_leader),
    ("add-learner", Env::add_learner),
    ("change-membership", Env::change_membership),
    ("snapshot", Env::snapshot),
    ("isolate", Env::isolate),
    ("heal", Env::heal),
    ("drop", Env::drop),
    ("status", Env::status),
    ("log", Env::log),
];

#[derive(Default)]
pub struct Env {
    nodes: Vec<Node>,
    now_ms: u64,
    /// Messages sent and not yet delivered, as (from, to, message), in send order.
    queue: Vec<(PeerId, PeerId, Message)>,
    /// Peers whose links are all cut.
    isolated: BTreeSet<PeerId>,
    /// The output of the command running, and its current indentation.
    out: Vec<String>,
    indent: usize,
}

struct Node {
    raft: Raft,
    /// (role, term, leader) as last printed.
    shown: (Role, Term, Option<PeerId>),
    /// The configuration the peer uses, as last printed.
    shown_membership: Membership,
    service: Service,
}

/// The service on a peer: the commands it applied, after those of its snapshot.
#[derive(Default)]
struct Service {
    /// The snapshot's state: its commands joined by ','.
    snapshot: String,
    commands: Vec<(Index, String)>,
}

impl Service {
    fn apply(&mut self, a: &ApplyMsg) {
        match a {
            ApplyMsg::Command { index, command, .. } => {
                let command = String::from_utf8_lossy(command).into_owned();
                self.commands.push((*index, command));
            }
            ApplyMsg::Snapshot { data, .. } => {
                self.snapshot = String::from_utf8_lossy(data).into_owned();
                self.commands.clear();
            }
        }
    }

    /// The state through `index`: the commands applied (no-ops left out), joined by ','.
    fn state_at(&self, index: Index) -> String {
        let snapshot = (!self.snapshot.is_empty()).then_some(self.snapshot.as_str());
        let commands = self
            .commands
            .iter()
            .filter(|(i, c)| *i <= index && !c.is_empty());
        let parts: Vec<&str> = snapshot
            .into_iter()
            .chain(commands.map(|(_, c)| c.as_str()))
            .collect();
        parts.join(",")
    }
}

impl Env {
    /// Runs one command line and returns what it printed (`ok` if nothing).
    pub fn run(&mut self, line: &str) -> Result<Vec<String>, String> {
        let args = Args::parse(line);
        let Some((_, handler)) = COMMANDS.iter().find(|(name, _)| *name == args.name) else {
            return Err(format!("unknown command {:?}", args.name));
        };
        if self.nodes.is_empty() && args.name != "add-nodes" {
            return Err("add-nodes must come first".into());
        }
        self.indent = 0;
        handler(self, &args)?;
        let out = std::mem::take(&mut self.out);
        Ok(if out.is_empty() {
            vec!["ok".into()]
        } else {
            out
        })
    }

    fn say(&mut self, line: impl AsRef<str>) {
        let pad = " ".repeat(self.indent);
        self.out.push(format!("{pad}{}", line.as_ref()));
    }

    fn peers(&self) -> usize {
        self.nodes.len()
    }

    /// The peer ids given, or all peers if none is.
    fn ids_or_all(&self, args: &Args) -> Result<Vec<PeerId>, String> {
        let ids = args.ids(self.peers())?;
        Ok(if ids.is_empty() {
            (0..self.peers()).collect()
        } else {
            ids
        })
    }

    /// Feeds an input to peer `id` at the current time, then says what changed in its
    /// role, term, leader or configuration.
    fn input<R>(&mut self, id: PeerId, f: impl FnOnce(&mut Raft, u64) -> R) -> R {
        let now = self.now_ms;
        let r = f(&mut self.nodes[id].raft, now);
        let membership = self.nodes[id].raft.membership();
        if membership != self.nodes[id].shown_membership {
            self.nodes[id].shown_membership = membership;
            self.say(format!("{id} now uses configuration {membership}"));
        }
        let raft = &self.nodes[id].raft;
        let state = (raft.role(), raft.current_term(), raft.leader_id());
        if state != self.nodes[id].shown {
            self.nodes[id].shown = state;
            let (role, term, leader) = state;
            let leader = leader.map_or("none".to_string(), |l| l.to_string());
            self.say(format!(
                "{id} is now {role:?} at term {term}, leader {leader}"
            ));
        }
        r
    }

    /// Says how an input that may be refused went.
    fn say_result(&mut self, r: Result<(), raft::RaftError>) {
        if let Err(e) = r {
            self.say(format!("error: {e}"));
        }
    }

    fn linked(&self, a: PeerId, b: PeerId) -> bool {
        !self.isolated.contains(&a) && !self.isolated.contains(&b)
    }

    // ----- commands: the cluster and time -----

    fn add_nodes(&mut self, args: &Args) -> Result<(), String> {
        args.allow(
            0,
            &[
                "n",
                "voters",
                "pre-vote",
                "check-quorum",
                "lease-reads",
                "max-entries",
                "backtracking",
                "seed",
            ],
        )?;
        if !self.nodes.is_empty() {
            return Err("the cluster already exists".into());
        }
        let n: usize = args.need("n")?;
        // The default seed has peer 0 time out first, so that it tends to lead.
        let seed: u64 = args.get("seed")?.unwrap_or(5);
        let voters = args.set("voters")?.unwrap_or(PeerSet::first(n.min(64)));
        let defaults = Config::new(0, n, seed);
        let backtracking = match args.get::<String>("backtracking")? {
            None => defaults.backtracking,
            Some(name) => (Backtracking::ALL.into_iter())
                .find(|b| b.name() == name)
                .ok_or(format!("backtracking={name}: leader-term or follower-term"))?,
        };
        for id in 0..n {
            let config = Config {
                voters,
                pre_vote: args.get("pre-vote")?.unwrap_or(false),
                check_quorum: args.get("check-quorum")?.unwrap_or(false),
                lease_reads: args.get("lease-reads")?.unwrap_or(false),
                max_entries_per_append: args
                    .get("max-entries")?
                    .unwrap_or(defaults.max_entries_per_append),
                backtracking,
                ..Config::new(id, n, seed)
            };
            let raft = Raft::new(config, None, self.now_ms).map_err(|e| e.to_string())?;
            self.nodes.push(Node {
                shown: (raft.role(), raft.current_term(), raft.leader_id()),
                shown_membership: raft.membership(),
                raft,
                service: Service::default(),
            });
        }
        let c = self.nodes[0].raft.config().clone();
        self.say(format!(
            "election timeout {}..={}ms, heartbeat {}ms, pre-vote={} check-quorum={} lease-reads={}",
            c.election_timeout_min_ms,
            c.election_timeout_max_ms,
            c.heartbeat_interval_ms,
            c.pre_vote,
            c.check_quorum,
            c.lease_reads,
        ));
        self.say(format!(
            "max-entries={} backtracking={}",
            c.max_entries_per_append,
            c.backtracking.name()
        ));
        self.status(&Args::parse("status"))
    }

    fn campaign(&mut self, args: &Args) -> Result<(), String> {
        args.allow(1, &[])?;
        let id = args.id(self.peers())?;
        let raft = &self.nodes[id].raft;
        if raft.role() == Role::Leader {
            return Err(format!("{id} is the leader: it has no election timeout"));
        }
        self.now_ms = self.now_ms.max(raft.next_deadline_ms());
        self.say(format!("now={}ms", self.now_ms));
        self.input(id, |r, now| r.tick(now));
        Ok(())
    }

    fn tick(&mut self, args: &Args) -> Result<(), String> {
        args.allow(usize::MAX, &["ms"])?;
        let ids = args.ids(self.peers())?;
        if ids.is_empty() {
            return Err("name the peers to tick".into());
        }
        self.now_ms = match args.get::<u64>("ms")? {
            Some(ms) => self.now_ms + ms,
            None => {
                let due = ids.iter().map(|&i| self.nodes[i].raft.next_deadline_ms());
                self.now_ms.max(due.min().expect("ids are not empty"))
            }
        };
        self.say(format!("now={}ms", self.now_ms));
        for id in ids {
            self.input(id, |r, now| r.tick(now));
        }
        Ok(())
    }

    // ----- commands: Readies and the network -----

    /// Handles the Ready of `id`, if it has one: prints it, sends its messages and
    /// applies what it commits. Persisting is left out: no peer restarts here.
    fn handle_ready(&mut self, id: PeerId) -> bool {
        if !self.nodes[id].raft.has_ready() {
            return false;
        }
        let rd = self.nodes[id].raft.ready();
        let sent: Vec<bool> = rd.messages.iter().map(|m| self.linked(id, m.0)).collect();
        for line in format::ready(id, &rd, &sent) {
            self.say(line);
        }
        for a in &rd.applies {
            self.nodes[id].service.apply(a);
        }
        let msgs = rd.messages.into_iter().zip(sent);
        self.queue
            .extend(msgs.filter(|m| m.1).map(|((to, m), _)| (id, to, m)));
        true
    }

    /// Steps every message waiting for `id` into it, in the order they were sent.
    fn deliver(&mut self, id: PeerId) -> bool {
        let (mine, rest) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition::<Vec<_>, _>(|m| m.1 == id);
        self.queue = rest;
        for (from, to, msg) in mine.iter().cloned() {
            self.say(format::message(from, to, &msg));
            self.indent += 2;
            let r = self.input(id, |r, now| r.step(now, from, msg));
            self.say_result(r);
            self.indent -= 2;
        }
        !mine.is_empty()
    }

    fn process_ready(&mut self, args: &Args) -> Result<(), String> {
        args.allow(usize::MAX, &[])?;
        let ids = self.ids_or_all(args)?;
        for &id in &ids {
            if !self.nodes[id].raft.has_ready() {
                self.say(format!("{id} has no Ready"));
            } else if ids.len() == 1 {
                self.handle_ready(id);
            } else {
                self.section(format!("> {id} handling Ready"), |env| env.handle_ready(id));
            }
        }
        Ok(())
    }

    fn deliver_msgs(&mut self, args: &Args) -> Result<(), String> {
        args.allow(usize::MAX, &[])?;
        let ids = self.ids_or_all(args)?;
        for &id in &ids {
            if !self.queue.iter().any(|m| m.1 == id) {
                self.say(format!("no messages for {id}"));
            } else if ids.len() == 1 {
                self.deliver(id);
            } else {
                self.section(format!("> {id} receiving messages"), |env| env.deliver(id));
            }
        }
        Ok(())
    }

    fn stabilize(&mut self, args: &Args) -> Result<(), String> {
        args.allow(usize::MAX, &["quiet"])?;
        let quiet = args.get("quiet")?.unwrap_or(false);
        let printed = self.out.len();
        self.stabilize_ids(&self.ids_or_all(args)?)?;
        if quiet {
            self.out.truncate(printed);
        }
        Ok(())
    }

    fn stabilize_ids(&mut self, ids: &[PeerId]) -> Result<(), String> {
        for _round in 0..1000 {
            let mut busy = false;
            for &id in ids {
                if self.nodes[id].raft.has_ready() {
                    self.section(format!("> {id} handling Ready"), |env| env.handle_ready(id));
                    busy = true;
                }
            }
            for &id in ids {
                if self.queue.iter().any(|m| m.1 == id) {
                    self.section(format!("> {id} receiving messages"), |env| env.deliver(id));
                    busy = true;
                }
            }
            if !busy {
                return Ok(());
            }
        }
        Err("no quiescence after 1000 rounds".into())
    }

    /// Says `title`, then runs `f` with its output indented.
    fn section(&mut self, title: String, f: impl FnOnce(&mut Env) -> bool) {
        self.say(title);
        self.indent += 2;
        f(self);
        self.indent -= 2;
    }

    /// Drops the messages waiting for which `cut` holds, and says which.
    fn drop_queued(&mut self, cut: impl Fn(PeerId, PeerId) -> bool) {
        let (dropped, kept) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition::<Vec<_>, _>(|m| cut(m.0, m.1));
        self.queue = kept;
        for (from, to, msg) in dropped {
            self.say(format!("dropped {}", format::message(from, to, &msg)));
        }
    }

    fn isolate(&mut self, args: &Args) -> Result<(), String> {
        args.allow(1, &[])?;
        let id = args.id(self.peers())?;
        self.isolated.insert(id);
        self.drop_queued(|from, to| from == id || to == id);
        Ok(())
    }

    fn heal(&mut self, args: &Args) -> Result<(), String> {
        args.allow(0, &[])?;
        self.isolated.clear();
        Ok(())
    }

    fn drop(&mut self, args: &Args) -> Result<(), String> {
        args.allow(0, &["from", "to"])?;
        let from = args.peer("from", self.peers(), false)?;
        let to = args.peer("to", self.peers(), false)?;
        self.drop_queued(|f, t| f == from && t == to);
        Ok(())
    }
}
