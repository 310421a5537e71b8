//! Requests waiting for the log entries they were given: the bookkeeping every
//! replicated server does between `Peer::start` and the apply of the entry.

use std::collections::BTreeMap;

use peer::{ClientId, Index, Reply, RequestId, Seq, Term};

/// A request waiting for the entry it was given at some index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The request to answer.
    pub id: RequestId,
    /// The term of its entry: another entry at its index means it was replaced.
    pub term: Term,
    /// Who asked, and its number: tells its own entry from another at the index.
    pub client_id: ClientId,
    /// See `client_id`.
    pub seq: Seq,
    /// Answered [`Reply::Timeout`] at this time if its entry has not applied.
    pub deadline_ms: u64,
}

/// The requests waiting for their entries, by log index.
/// Invariant: at most one waiter per index.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    waiting: BTreeMap<Index, Waiter>,
}

impl Pending {
    /// `waiter` waits for the entry at `index`; one that waited there for an
    /// older entry (replaced since) is answered `WrongLeader`.
    pub fn wait<V>(
        &mut self,
        index: Index,
        waiter: Waiter,
        replies: &mut Vec<(RequestId, Reply<V>)>,
    ) {
        if let Some(old) = self.waiting.insert(index, waiter) {
            replies.push((old.id, Reply::WrongLeader { leader_hint: None }));
        }
    }

    /// The entry at `index` applied: answers every request waiting at or below
    /// it, the one at `index` with what `result` says its entry returned (if the
    /// entry is its own), the rest `WrongLeader` (their entries were replaced
    /// or are covered by a snapshot; the clerk retries and is deduplicated).
    pub fn applied<V>(
        &mut self,
        index: Index,
        result: impl Fn(&Waiter) -> Option<V>,
        replies: &mut Vec<(RequestId, Reply<V>)>,
    ) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > index {
                break;
            }
            let (at, w) = entry.remove_entry();
            let reply = match (at == index).then(|| result(&w)).flatten() {
                Some(value) => Reply::Ok { value },
                None => Reply::WrongLeader { leader_hint: None },
            };
            replies.push((w.id, reply));
        }
    }

    /// Answers the requests that can no longer be answered by their entries:
    /// all of them when this server no longer leads in `term`, and those past
    /// their deadline.
    pub fn give_up<V>(
        &mut self,
        (term, is_leader): (Term, bool),
        leader_hint: Option<usize>,
        now_ms: u64,
        replies: &mut Vec<(RequestId, Reply<V>)>,
    ) {
        self.waiting.retain(|_, w| {
            let reply = match !is_leader || w.term != term {
                true => Some(Reply::WrongLeader { leader_hint }),
                false => (now_ms >= w.deadline_ms).then_some(Reply::Timeout),
            };
            reply.map(|reply| replies.push((w.id, reply))).is_none()
        });
    }

    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True if none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// Whether the entry at `index` is the next to apply after `last_applied`:
/// false for one applied already (a restart replays), an error for a gap.
pub fn next_to_apply(last_applied: Index, index: Index) -> Result<bool, String> {
    match index {
        _ if index <= last_applied => Ok(false),
        _ if index == last_applied + 1 => Ok(true),
        _ => Err(format!(
            "applied index {index} after {last_applied} (a gap)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::next_to_apply;

    #[test]
    fn entries_apply_in_order_once_and_a_gap_is_an_error() {
        assert_eq!(next_to_apply(4, 5), Ok(true));
        assert_eq!(next_to_apply(4, 4), Ok(false), "a replay after a restart");
        assert_eq!(next_to_apply(4, 2), Ok(false));
        let e = next_to_apply(4, 6).unwrap_err();
        assert_eq!(e, "applied index 6 after 4 (a gap)");
    }
}
