//! How the transcripts print messages, entries and Readies. Field names are Figure 2's
//! (camelCase, as in the paper). To keep lines short, `readRound` (ReadIndex's round
//! counter) is printed only once it is non-zero, and `leaderTransfer` only when set.
//! A configuration (a membership entry's, a snapshot's) is printed as its fields:
//! `voters={0,1,2} learners={3}`, and during joint consensus `voters={2,3,4}&&{0,1,2}`
//! (the new voters, then the old ones).

use raft::{ApplyMsg, Entry, EntryKind, Membership, Message, PeerId, Ready};

/// A command as text (commands in the transcripts are short strings; a no-op is `""`).
pub fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// `index@tTERM "command"`: entry 2 of term 1 holding "x" is `2@t1 "x"`; a
/// configuration entry is `index@tTERM conf voters={...} [learners={...}]`.
pub fn entry(e: &Entry) -> String {
    let body = match e.kind {
        EntryKind::Command => text(&e.command),
        EntryKind::Membership => match Membership::decode(&e.command) {
            Some(m) => format!("conf {m}"),
            None => format!("conf (undecodable) {}", text(&e.command)),
        },
    };
    format!("{}@t{} {body}", e.index, e.term)
}

fn entries(es: &[Entry]) -> String {
    es.iter().map(entry).collect::<Vec<_>>().join(", ")
}

fn read_round(round: u64) -> String {
    match round {
        0 => String::new(),
        r => format!(" readRound={r}"),
    }
}

/// `from->to Kind field=value ...`.
pub fn message(from: PeerId, to: PeerId, msg: &Message) -> String {
    let body = match msg {
        Message::RequestVote(a) => format!(
            "RequestVote term={} lastLogIndex={} lastLogTerm={} preVote={}{}",
            a.term,
            a.last_log_index,
            a.last_log_term,
            a.pre_vote,
            if a.leader_transfer {
                " leaderTransfer=true"
            } else {
                ""
            }
        ),
        Message::RequestVoteReply(r) => format!(
            "RequestVoteReply term={} voteGranted={} preVote={}",
            r.term, r.vote_granted, r.pre_vote
        ),
        Message::AppendEntries(a) => format!(
            "AppendEntries term={} prevLogIndex={} prevLogTerm={} leaderCommit={} entries=[{}]{}",
            a.term,
            a.prev_log_index,
            a.prev_log_term,
            a.leader_commit,
            entries(&a.entries),
            read_round(a.read_round)
        ),
        Message::AppendEntriesReply(r) if r.success => format!(
            "AppendEntriesReply term={} success=true matchIndex={}{}",
            r.term,
            r.match_index,
            read_round(r.read_round)
        ),
        Message::AppendEntriesReply(r) => format!(
            "AppendEntriesReply term={} success=false matchIndex={} conflictIndex={} conflictTerm={}{}",
            r.term,
            r.match_index,
            r.conflict_index,
            r.conflict_term
                .map_or("none".to_string(), |t| t.to_string()),
            read_round(r.read_round)
        ),
        Message::InstallSnapshot(a) => format!(
            "InstallSnapshot term={} lastIncludedIndex={} lastIncludedTerm={} {} data={}",
            a.term,
            a.last_included_index,
            a.last_included_term,
            a.membership,
            text(&a.data)
        ),
        Message::InstallSnapshotReply(r) => format!(
            "InstallSnapshotReply term={} lastIncludedIndex={}",
            r.term, r.last_included_index
        ),
        Message::TimeoutNow(a) => format!("TimeoutNow term={}", a.term),
    };
    format!("{from}->{to} {body}")
}

pub fn apply(a: &ApplyMsg) -> String {
    match a {
        ApplyMsg::Command {
            index,
            term,
            command,
        } => format!("{index}@t{term} {}", text(command)),
        ApplyMsg::Snapshot { index, term, data } => {
            format!("snapshot {index}@t{term} data={}", text(data))
        }
    }
}

/// A Ready of peer `id`, in the order the driver handles it: persist (hard state,
/// snapshot, entries), send, apply, hand out confirmed reads. `sent` says for each
/// message whether the network took it (false: dropped, its link is cut).
pub fn ready(id: PeerId, rd: &Ready, sent: &[bool]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(hs) = &rd.hard_state {
        let vote = hs.voted_for.map_or("none".to_string(), |v| v.to_string());
        out.push(format!("HardState term={} vote={vote}", hs.current_term));
    }
    if let Some(s) = &rd.snapshot {
        out.push(format!(
            "Snapshot {}@t{} {} data={}",
            s.last_included_index,
            s.last_included_term,
            s.membership,
            text(&s.data)
        ));
    }
    section(&mut out, "Entries:", rd.entries.iter().map(entry));
    let msgs = rd.messages.iter().zip(sent).map(|((to, m), &sent)| {
        let dropped = if sent { "" } else { "  (dropped)" };
        format!("{}{dropped}", message(id, *to, m))
    });
    section(&mut out, "Messages:", msgs);
    section(&mut out, "Apply:", rd.applies.iter().map(apply));
    let reads = rd
        .read_states
        .iter()
        .map(|r| format!("ctx={} index={}", r.ctx, r.index));
    section(&mut out, "ReadStates:", reads);
    out
}

/// `title` and then each line indented, if there is any.
fn section(out: &mut Vec<String>, title: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.map(|l| format!("  {l}")).collect();
    if !lines.is_empty() {
        out.push(title.to_string());
        out.extend(lines);
    }
}
