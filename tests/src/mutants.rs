//! The mutant catalogue: classic Raft and KV bugs, each a named, test-only
//! variant of the reference (the `injected-bugs` features of `raft` and
//! `kvraft`). A mutant is a peer like any other: `--peer mutant:NAME` runs it
//! under every command, its failure lines and replay commands name it, and
//! `lab mutants` measures how fast the lab catches each one.
//!
//! Mutants run with the reference's own assertions switched off, as a
//! student's Raft has none: what catches them is the lab's oracle, its
//! linearizability checker and its liveness phases. `mutant:NAME+assertions`
//! keeps the assertions on, for the other column.
//!
//! A build without the reference (the student handout) has no mutants.

use crate::peers::PeerChoice;
#[cfg(feature = "reference")]
use crate::peers::{KvServerFactory, KvServerOptions, reference_kv};
#[cfg(feature = "reference")]
use raft::InjectedBug as Raft;
#[cfg(feature = "reference")]
use std::rc::Rc;

/// Where a mutant's bug lives.
#[derive(Clone, Copy, Debug)]
pub enum Bug {
    /// In the Raft peer.
    #[cfg(feature = "reference")]
    Raft(raft::InjectedBug),
    /// In the KV server.
    #[cfg(feature = "reference")]
    Kv(kvraft::InjectedBug),
    /// Gets served from local state by whoever believes it leads.
    #[cfg(feature = "reference")]
    StaleReads,
}

/// One mutant of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct Mutant {
    /// Its name, after `mutant:`.
    pub name: &'static str,
    /// The bug, in one line.
    pub about: &'static str,
    /// The bug itself.
    pub bug: Bug,
    /// Why no check can catch it, if it is an equivalent mutant: one that
    /// changes what the reference does, but never into anything wrong.
    /// `lab mutants` still hunts it, and leaves it out of the score.
    pub equivalent: Option<&'static str>,
}

/// The prefix that makes a peer name a mutant's.
pub const PREFIX: &str = "mutant:";

/// The suffix that keeps the reference's own assertions on.
pub const WITH_ASSERTIONS: &str = "+assertions";

#[cfg(feature = "reference")]
const fn raft(name: &'static str, about: &'static str, bug: raft::InjectedBug) -> Mutant {
    Mutant {
        name,
        about,
        bug: Bug::Raft(bug),
        equivalent: None,
    }
}

/// Every mutant, Raft's first.
pub const MUTANTS: &[Mutant] = &[
    #[cfg(feature = "reference")]
    raft(
        "vote-without-log-check",
        "votes granted without the up-to-date check (5.4.1)",
        Raft::VoteWithoutLogCheck,
    ),
    #[cfg(feature = "reference")]
    raft(
        "voted-for-not-persisted",
        "votedFor never reaches the disk: a restarted peer votes twice",
        Raft::VotedForNotPersisted,
    ),
    #[cfg(feature = "reference")]
    raft(
        "term-not-persisted",
        "a term learned from others is not written to disk",
        Raft::TermNotPersisted,
    ),
    #[cfg(feature = "reference")]
    raft(
        "reply-before-persist",
        "Readies never ask for a sync: replies go out before state is durable",
        Raft::ReplyBeforePersist,
    ),
    #[cfg(feature = "reference")]
    raft(
        "truncate-matching-suffix",
        "a follower truncates after prevLogIndex even where entries match",
        Raft::TruncateMatchingSuffix,
    ),
    #[cfg(feature = "reference")]
    raft(
        "commit-past-last-new-entry",
        "commitIndex = min(leaderCommit, last index), not the last new entry",
        Raft::CommitPastLastNewEntry,
    ),
    #[cfg(feature = "reference")]
    raft(
        "match-index-from-leader-log",
        "matchIndex taken from the leader's own log, not the reply",
        Raft::MatchIndexFromLeaderLog,
    ),
    #[cfg(feature = "reference")]
    raft(
        "stale-replies-counted",
        "votes and acks of an older term still count",
        Raft::StaleRepliesCounted,
    ),
    #[cfg(feature = "reference")]
    raft(
        "stale-snapshot-installed",
        "an InstallSnapshot older than the commit index is installed",
        Raft::StaleSnapshotInstalled,
    ),
    #[cfg(feature = "reference")]
    raft(
        "commit-old-term-by-counting",
        "entries of an older term committed by counting replicas (Figure 8)",
        Raft::CommitOldTermByCounting,
    ),
    #[cfg(feature = "reference")]
    raft(
        "timer-reset-on-refused-vote",
        "the election timer is reset on refusing a vote too",
        Raft::TimerResetOnRefusedVote,
    ),
    #[cfg(feature = "reference")]
    raft(
        "append-without-prev-log-check",
        "entries appended without checking prevLogTerm",
        Raft::AppendWithoutPrevLogCheck,
    ),
    #[cfg(feature = "reference")]
    raft(
        "append-from-stale-leader",
        "a follower accepts AppendEntries of an older term",
        Raft::AppendFromStaleLeader,
    ),
    #[cfg(feature = "reference")]
    raft(
        "campaign-without-new-term",
        "a candidate campaigns in its current term",
        Raft::CampaignWithoutNewTerm,
    ),
    #[cfg(feature = "reference")]
    raft(
        "quorum-off-by-one",
        "half the votes (rounded down) win an election",
        Raft::QuorumOffByOne,
    ),
    #[cfg(feature = "reference")]
    raft(
        "read-index-without-round",
        "ReadIndex confirms a read with no heartbeat round: a deposed leader reads stale",
        Raft::ReadIndexWithoutRound,
    ),
    #[cfg(feature = "reference")]
    Mutant {
        name: "stale-reads",
        about: "Gets answered from local state, leadership unconfirmed",
        bug: Bug::StaleReads,
        equivalent: None,
    },
    #[cfg(feature = "reference")]
    Mutant {
        name: "dedup-table-not-in-snapshot",
        about: "snapshots leave out the duplicate table",
        bug: Bug::Kv(kvraft::InjectedBug::DedupTableNotInSnapshot),
        equivalent: None,
    },
    #[cfg(feature = "reference")]
    Mutant {
        name: "dedup-only-last-request",
        about: "only a client's last request counts as a duplicate (old ones re-apply)",
        bug: Bug::Kv(kvraft::InjectedBug::DedupOnlyLastRequest),
        equivalent: None,
    },
    #[cfg(feature = "reference")]
    Mutant {
        name: "no-dedup",
        about: "no duplicate detection at all",
        bug: Bug::Kv(kvraft::InjectedBug::NoDedup),
        equivalent: None,
    },
];

/// The mutant a peer name names (`mutant:NAME`, maybe `+assertions`), with
/// whether the reference's assertions stay on.
pub fn find(peer: &str) -> Option<(&'static Mutant, bool)> {
    let rest = peer.strip_prefix(PREFIX)?;
    let (name, assertions) = match rest.strip_suffix(WITH_ASSERTIONS) {
        Some(name) => (name, true),
        None => (rest, false),
    };
    MUTANTS
        .iter()
        .find(|m| m.name == name)
        .map(|m| (m, assertions))
}

impl Mutant {
    /// Its peer name: `mutant:NAME`, with `+assertions` if `assertions`.
    pub fn peer_name(&self, assertions: bool) -> &'static str {
        let name = format!(
            "{PREFIX}{}{}",
            self.name,
            if assertions { WITH_ASSERTIONS } else { "" }
        );
        // Peer names are 'static (they travel in every failure line); a
        // process names at most twice as many as there are mutants.
        intern(name)
    }

    /// The peer to run, named `mutant:NAME`.
    #[cfg(not(feature = "reference"))]
    pub fn choice(&self, _assertions: bool) -> PeerChoice {
        match self.bug {}
    }

    /// The peer to run, named `mutant:NAME`.
    #[cfg(feature = "reference")]
    pub fn choice(&self, assertions: bool) -> PeerChoice {
        let name = self.peer_name(assertions);
        let (factory, kv): (_, KvServerFactory) = match self.bug {
            Bug::Raft(bug) => (raft::buggy_factory(bug, assertions), Rc::new(reference_kv)),
            Bug::Kv(bug) => (
                raft::factory(),
                Rc::new(move |o: &KvServerOptions| {
                    Box::new(kvraft::KvServer::new(kvraft::ServerConfig {
                        maxraftstate: o.maxraftstate,
                        injected_bug: Some(bug),
                        ..kvraft::ServerConfig::default()
                    })) as Box<dyn peer::StateMachine>
                }),
            ),
            Bug::StaleReads => (
                raft::factory(),
                crate::peers::PeerChoice::stale_reads_reference().kv_server,
            ),
        };
        PeerChoice {
            name,
            factory,
            kv_server: kv,
            ctrler: crate::peers::reference_ctrler,
            shardkv: crate::peers::reference_shardkv,
        }
    }
}

/// A `'static` copy of `name`, made once per distinct name.
fn intern(name: String) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().expect("no panics while locked");
    if let Some(n) = names.get(name.as_str()) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}
