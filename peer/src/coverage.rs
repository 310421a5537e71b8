//! Coverage marks (TigerBeetle's idea; Antithesis calls them "sometimes"
//! assertions): a peer or the harness says "this rare branch just ran", and
//! the lab counts how often a campaign reached it, without counters threaded
//! by hand through the peer's API. `lab explore` lists the marks a campaign
//! never reached, and `lab explore --guided` breeds the schedules that reach
//! rare ones.
//!
//! Every mark is a constant here, listed once in [`MARKS`]. Marks are kept per
//! thread (one simulation runs on one thread) and cost nothing unless the
//! crate's `coverage` feature is on.

#[cfg(feature = "coverage")]
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Where a mark is set: by the peer under test (the reference sets these; any
/// other peer may), by the KV server, or by the harness around them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The Raft peer.
    Peer,
    /// The KV server (the reference's kvraft sets these).
    Service,
    /// The nemesis and the rest of the harness.
    Harness,
}

/// A vote or pre-vote refused only because the candidate's log was behind the voter's
/// (section 5.4.1's election restriction at work).
pub const VOTE_REFUSED_STALE_LOG: &str = "vote refused: candidate's log behind";
/// A vote granted (not a PreVote): the moment a fault aimed at voters strikes.
pub const VOTE_GRANTED: &str = "vote granted";
/// A vote refused because the voter already voted for another candidate this term.
pub const VOTE_REFUSED_ALREADY_VOTED: &str = "vote refused: voted for another this term";
/// A candidate asked for a vote in the very term a restarted peer read from
/// its disk (not the candidate it voted for then, if any): a peer that forgot
/// its vote would vote twice in one term.
pub const VOTE_ASKED_IN_RESTORED_TERM: &str = "vote asked in the term kept across a restart";
/// A PreVote refused because the voter heard from a live leader recently.
pub const PRE_VOTE_REFUSED_LEADER_ALIVE: &str = "pre-vote refused: leader alive";
/// CheckQuorum: a vote of a higher term refused (its term not taken) because
/// the voter leads or heard its leader within the minimum election timeout.
pub const VOTE_REFUSED_LEADER_ALIVE: &str = "vote refused: leader alive (CheckQuorum)";
/// CheckQuorum: a leader that did not hear from a majority for an election
/// timeout stepped down.
pub const CHECK_QUORUM_STEPPED_DOWN: &str = "leader stepped down: no quorum heard (CheckQuorum)";
/// A read confirmed by ReadIndex (a majority answered a heartbeat round sent
/// after it was asked).
pub const READ_INDEX_CONFIRMED: &str = "read confirmed (ReadIndex)";
/// A leader appended an empty entry of its term so that a read could be
/// confirmed (its commit index may lag its predecessor's until then).
pub const READ_INDEX_NO_OP: &str = "empty entry appended for a read (ReadIndex)";
/// A read served from the leader's lease, with no round of heartbeats.
pub const LEASE_READ: &str = "read served from the lease";
/// A follower campaigned because its leader handed over (TimeoutNow).
pub const TIMEOUT_NOW_CAMPAIGN: &str = "campaign on TimeoutNow (leadership transfer)";
/// A leadership transfer given up after an election timeout.
pub const TRANSFER_ABORTED: &str = "leadership transfer given up";
/// A reply from an older term ignored (vote or AppendEntries).
pub const STALE_REPLY_IGNORED: &str = "stale reply ignored";
/// A candidate ignored a vote granted in an older term (counting it could
/// elect it without a majority of its own term).
pub const STALE_VOTE_IGNORED: &str = "stale vote grant ignored";
/// A vote (not a PreVote) refused because the candidate's log was behind (with
/// PreVote off, or after a PreVote round passed): the moment a voter must
/// leave its election timer alone.
pub const REAL_VOTE_REFUSED_STALE_LOG: &str = "vote (not pre-vote) refused: log behind";
/// An AppendEntries from a leader of an older term refused.
pub const APPEND_FROM_STALE_LEADER: &str = "append refused: stale leader";
/// The consistency check failed: the follower has no entry, or another term, at prevLogIndex.
pub const APPEND_PREV_MISMATCH: &str = "append refused: log mismatch at prev";
/// An AppendEntries whose entries all matched the log (a stale or duplicated
/// one) left a longer log alone.
pub const MATCHING_ENTRIES_KEPT: &str = "append: matching entries, longer log kept";
/// leaderCommit was past the last entry the AppendEntries proved, while the
/// follower's log went further: the commit stopped at the last new entry.
pub const COMMIT_CAPPED_AT_LAST_NEW: &str = "commit capped at the last new entry";
/// A leader's quorum holds an entry of an older term that it may not commit by
/// counting replicas (Figure 8).
pub const OLD_TERM_NOT_COUNTED: &str = "older-term entry not committed by counting";
/// An InstallSnapshot at or below the commit index ignored.
pub const STALE_SNAPSHOT_IGNORED: &str = "stale snapshot ignored";
/// ... one that was past the follower's own snapshot (installing it would
/// roll the service back to below what it applied).
pub const STALE_SNAPSHOT_PAST_OWN: &str = "stale snapshot ignored, past own snapshot";
/// A restart found a torn record at the end of the log and dropped it.
pub const TORN_TAIL_DROPPED: &str = "restart dropped a torn log tail";
/// A learner or a server outside the configuration let its election timer
/// run out without campaigning.
pub const NON_VOTER_DID_NOT_CAMPAIGN: &str = "non-voter did not campaign";
/// A membership change waited for the new leader's entry of its term.
pub const CHANGE_WAITS_FOR_TERM_ENTRY: &str = "membership change waits for an entry of the term";
/// A change of more than one voter entered joint consensus.
pub const JOINT_CONSENSUS_ENTERED: &str = "joint consensus entered";
/// A leader left a committed joint configuration.
pub const JOINT_CONSENSUS_LEFT: &str = "joint consensus left";
/// A leader removed from the voters stepped down once that committed.
pub const REMOVED_LEADER_STEPPED_DOWN: &str = "removed leader stepped down";
/// A cut log took an uncommitted configuration with it.
pub const MEMBERSHIP_ROLLED_BACK: &str = "uncommitted configuration rolled back";
/// A KV server found a write it had already applied (a clerk's retry).
pub const DUPLICATE_WRITE: &str = "kv: duplicate write not applied again";
/// A KV server met a write older than its client's last (a request that
/// arrived after its client had moved on: late, or replayed), at submission
/// or when applied.
pub const STALE_DUPLICATE_WRITE: &str = "kv: write older than its client's last";
/// A machine crash: the writes not yet synced, if any, are lost. Marked
/// whether or not some were pending. Marking only crashes that struck
/// pending writes made them rare, and the guide then bred toward crashes and
/// caught four of the hardest mutants less often (commit-past-last-new-entry
/// 510 failures against 189 over three pools of 1000 guided seeds).
pub const CRASH_LOST_UNSYNCED: &str = "nemesis: crash lost unsynced writes";
/// A leader of a later term than the first leader's was elected (the same
/// peer or another; the oracle sees every role).
pub const LEADER_CHANGED: &str = "a second leader elected";
/// A peer still acted as leader (one input or Ready, counted each time) after
/// a leader of a later term was elected: how long a deposed leader lives,
/// the window in which stale reads and stale appends happen. Its count's
/// bucket is a gauge for the guide, as IJON's maximising annotations are.
pub const DEPOSED_LEADER_ACTING: &str = "a deposed leader still acting";
/// A term passed without a leader (counted per term, when the next leader is
/// elected): how many elections fail in a row, the road to a cluster that
/// never elects (a gauge, as above).
pub const TERM_WITHOUT_LEADER: &str = "a term passed without a leader";
/// A peer's log lost a suffix to a leader's entries (the oracle sees every write).
pub const SUFFIX_OVERWRITTEN: &str = "log suffix overwritten";
/// A peer installed a snapshot sent by a leader.
pub const SNAPSHOT_INSTALLED: &str = "snapshot installed from a leader";
/// A fault aimed at a protocol moment struck.
pub const AIM_STRUCK: &str = "nemesis: aimed fault struck";

/// Every mark, once: its name and who sets it.
pub const MARKS: &[(&str, Origin)] = &[
    (VOTE_GRANTED, Origin::Peer),
    (VOTE_REFUSED_STALE_LOG, Origin::Peer),
    (REAL_VOTE_REFUSED_STALE_LOG, Origin::Peer),
    (VOTE_REFUSED_ALREADY_VOTED, Origin::Peer),
    (VOTE_ASKED_IN_RESTORED_TERM, Origin::Peer),
    (PRE_VOTE_REFUSED_LEADER_ALIVE, Origin::Peer),
    (VOTE_REFUSED_LEADER_ALIVE, Origin::Peer),
    (CHECK_QUORUM_STEPPED_DOWN, Origin::Peer),
    (READ_INDEX_CONFIRMED, Origin::Peer),
    (READ_INDEX_NO_OP, Origin::Peer),
    (LEASE_READ, Origin::Peer),
    (TIMEOUT_NOW_CAMPAIGN, Origin::Peer),
    (TRANSFER_ABORTED, Origin::Peer),
    (STALE_REPLY_IGNORED, Origin::Peer),
    (STALE_VOTE_IGNORED, Origin::Peer),
    (APPEND_FROM_STALE_LEADER, Origin::Peer),
    (APPEND_PREV_MISMATCH, Origin::Peer),
    (MATCHING_ENTRIES_KEPT, Origin::Peer),
    (COMMIT_CAPPED_AT_LAST_NEW, Origin::Peer),
    (OLD_TERM_NOT_COUNTED, Origin::Peer),
    (STALE_SNAPSHOT_IGNORED, Origin::Peer),
    (STALE_SNAPSHOT_PAST_OWN, Origin::Peer),
    (TORN_TAIL_DROPPED, Origin::Peer),
    (NON_VOTER_DID_NOT_CAMPAIGN, Origin::Peer),
    (CHANGE_WAITS_FOR_TERM_ENTRY, Origin::Peer),
    (JOINT_CONSENSUS_ENTERED, Origin::Peer),
    (JOINT_CONSENSUS_LEFT, Origin::Peer),
    (REMOVED_LEADER_STEPPED_DOWN, Origin::Peer),
    (MEMBERSHIP_ROLLED_BACK, Origin::Peer),
    (DUPLICATE_WRITE, Origin::Service),
    (STALE_DUPLICATE_WRITE, Origin::Service),
    (LEADER_CHANGED, Origin::Harness),
    (DEPOSED_LEADER_ACTING, Origin::Harness),
    (TERM_WITHOUT_LEADER, Origin::Harness),
    (SUFFIX_OVERWRITTEN, Origin::Harness),
    (SNAPSHOT_INSTALLED, Origin::Harness),
    (CRASH_LOST_UNSYNCED, Origin::Harness),
    (AIM_STRUCK, Origin::Harness),
];

/// This thread's counts: since the run began, and since the last [`take`].
#[cfg(feature = "coverage")]
#[derive(Default)]
struct Counts {
    run: BTreeMap<&'static str, u64>,
    pending: BTreeMap<&'static str, u64>,
}

#[cfg(feature = "coverage")]
thread_local! {
    static COUNTS: RefCell<Counts> = RefCell::new(Counts::default());
}

/// The branch `name` ran once more on this thread.
#[inline]
pub fn mark(name: &'static str) {
    #[cfg(feature = "coverage")]
    COUNTS.with(|c| {
        let mut c = c.borrow_mut();
        debug_assert!(
            MARKS.iter().any(|(m, _)| *m == name),
            "mark `{name}` is not in MARKS"
        );
        *c.run.entry(name).or_default() += 1;
        *c.pending.entry(name).or_default() += 1;
    });
    #[cfg(not(feature = "coverage"))]
    let _ = name;
}

/// How often `name` ran on this thread since the last call (the harness
/// watches for a moment with it); the run's counts keep it.
pub fn take(name: &'static str) -> u64 {
    #[cfg(feature = "coverage")]
    return COUNTS.with(|c| c.borrow_mut().pending.remove(name).unwrap_or(0));
    #[cfg(not(feature = "coverage"))]
    {
        let _ = name;
        0
    }
}

/// Every mark this thread reached since the last call, with its count, and
/// forget them: a run calls it when it starts and when it ends.
pub fn take_run() -> BTreeMap<&'static str, u64> {
    #[cfg(feature = "coverage")]
    return COUNTS.with(|c| std::mem::take(&mut *c.borrow_mut()).run);
    #[cfg(not(feature = "coverage"))]
    BTreeMap::new()
}

#[cfg(all(test, feature = "coverage"))]
mod tests {
    use super::*;

    #[test]
    fn marks_count_per_run_and_take_sees_each_once() {
        take_run();
        mark(VOTE_REFUSED_STALE_LOG);
        mark(VOTE_REFUSED_STALE_LOG);
        assert_eq!(take(VOTE_REFUSED_STALE_LOG), 2);
        assert_eq!(take(VOTE_REFUSED_STALE_LOG), 0);
        mark(VOTE_GRANTED);
        let run = take_run();
        assert_eq!(
            run.get(VOTE_REFUSED_STALE_LOG),
            Some(&2),
            "take keeps the run's count"
        );
        assert_eq!(run.get(VOTE_GRANTED), Some(&1));
        assert!(take_run().is_empty(), "a new run starts from nothing");
    }

    #[test]
    fn every_mark_is_listed_once() {
        for (i, (a, _)) in MARKS.iter().enumerate() {
            assert!(!MARKS[i + 1..].iter().any(|(b, _)| a == b), "{a} twice");
        }
    }
}
