//! raft-rs messages on the lab's network: one-way, the bytes are the protobuf encoding
//! of an `eraftpb::Message`.

use peer::{Kind, PeerError, Wire};
use protobuf::Message as _;
use raft_rs::eraftpb::{Message, MessageType};

/// The method name of every raft-rs message on the wire.
pub const METHOD: &str = "raft-rs.Message";

pub(crate) fn to_wire(msg: &Message) -> Wire {
    Wire {
        kind: Kind::OneWay,
        method: METHOD,
        bytes: msg
            .write_to_bytes()
            .expect("encoding a raft-rs message into memory cannot fail"),
    }
}

/// The message in `wire`, whatever it claims; an error for anything that is not a
/// protobuf `eraftpb::Message` sent one-way under [`METHOD`].
pub(crate) fn from_wire(wire: &Wire) -> Result<Message, PeerError> {
    if wire.kind != Kind::OneWay || wire.method != METHOD {
        return Err(PeerError(format!(
            "the raft-rs peer has no {:?} `{}`",
            wire.kind, wire.method
        )));
    }
    Message::parse_from_bytes(&wire.bytes)
        .map_err(|e| PeerError(format!("{METHOD}: undecodable: {e}")))
}

/// Message types one raft-rs peer of the lab sends another (the adapter forwards no
/// proposal and reads no index; a leadership transfer ends in MsgTimeoutNow).
fn is_peer_message(t: MessageType) -> bool {
    use MessageType::*;
    matches!(
        t,
        MsgAppend
            | MsgAppendResponse
            | MsgRequestVote
            | MsgRequestVoteResponse
            | MsgRequestPreVote
            | MsgRequestPreVoteResponse
            | MsgSnapshot
            | MsgHeartbeat
            | MsgHeartbeatResponse
            | MsgTimeoutNow
    )
}

/// Refuses a message raft-rs should not see: one not between these two peers, of a
/// type no peer sends, or whose content raft-rs would take as a fatal inconsistency
/// rather than a message to drop (entries that do not follow `index`, a snapshot of
/// another configuration).
pub(crate) fn check(msg: &Message, from: u64, to: u64, peers: u64) -> Result<(), PeerError> {
    let err = |what: String| Err(PeerError(format!("{METHOD}: {what}")));
    if !is_peer_message(msg.get_msg_type()) {
        return err(format!(
            "{:?} is not sent between peers",
            msg.get_msg_type()
        ));
    }
    if msg.from != from || msg.to != to {
        return err(format!(
            "{:?} claims to go from raft-rs id {} to {}, but came from {from} to {to}",
            msg.get_msg_type(),
            msg.from,
            msg.to
        ));
    }
    for (i, e) in msg.get_entries().iter().enumerate() {
        if e.index != msg.index + 1 + i as u64 || e.term > msg.term || e.term < msg.log_term {
            return err(format!(
                "entry #{i} (index {} term {}) does not follow index {} term {} in term {}",
                e.index, e.term, msg.index, msg.log_term, msg.term
            ));
        }
    }
    if msg.get_msg_type() == MessageType::MsgSnapshot {
        let meta = msg.get_snapshot().get_metadata();
        let mut voters = meta.get_conf_state().get_voters().to_vec();
        voters.sort_unstable();
        let cs = meta.get_conf_state();
        if meta.index == 0
            || meta.term == 0
            || meta.term > msg.term
            || voters != (1..=peers).collect::<Vec<_>>()
            || !cs.get_learners().is_empty()
            || !cs.get_voters_outgoing().is_empty()
            || !cs.get_learners_next().is_empty()
        {
            return err(format!(
                "a snapshot at index {} term {} with configuration {cs:?}",
                meta.index, meta.term
            ));
        }
    }
    Ok(())
}

/// A one-line description, with the lab's (0-based) peer ids.
pub(crate) fn describe(msg: &Message) -> String {
    use MessageType::*;
    let t = msg.get_msg_type();
    let head = format!("{t:?} to {} term {}", msg.to.wrapping_sub(1), msg.term);
    let verdict = |reject: bool| if reject { "rejected" } else { "granted" };
    match t {
        MsgAppend => format!(
            "{head} index {} log_term {} entries {} commit {}",
            msg.index,
            msg.log_term,
            msg.get_entries().len(),
            msg.commit
        ),
        MsgAppendResponse if msg.reject => format!(
            "{head} rejects index {} (hint {} log_term {})",
            msg.index, msg.reject_hint, msg.log_term
        ),
        MsgAppendResponse => format!("{head} index {} commit {}", msg.index, msg.commit),
        MsgRequestVote | MsgRequestPreVote => {
            format!("{head} last index {} last term {}", msg.index, msg.log_term)
        }
        MsgRequestVoteResponse | MsgRequestPreVoteResponse => {
            format!("{head} {}", verdict(msg.reject))
        }
        MsgHeartbeat => format!("{head} commit {}", msg.commit),
        MsgSnapshot => {
            let s = msg.get_snapshot();
            format!(
                "{head} snapshot index {} term {} ({} bytes of data)",
                s.get_metadata().index,
                s.get_metadata().term,
                s.data.len()
            )
        }
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_rs::eraftpb::Entry;

    fn append() -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgAppend);
        m.from = 1;
        m.to = 3;
        m.term = 3;
        m.index = 7;
        m.log_term = 2;
        m.commit = 6;
        let e = |index| Entry {
            index,
            term: 3,
            data: b"x".to_vec().into(),
            ..Default::default()
        };
        m.set_entries(vec![e(8), e(9)].into());
        m
    }

    #[test]
    fn messages_round_trip_and_describe_themselves() {
        let m = append();
        let w = to_wire(&m);
        assert_eq!((w.kind, w.method), (Kind::OneWay, METHOD));
        let back = from_wire(&w).unwrap();
        assert_eq!(back, m);
        assert!(check(&back, 1, 3, 3).is_ok());
        assert_eq!(
            describe(&back),
            "MsgAppend to 2 term 3 index 7 log_term 2 entries 2 commit 6"
        );
    }

    #[test]
    fn strangers_and_garbage_are_refused() {
        let m = append();
        assert!(check(&m, 2, 3, 3).is_err(), "wrong sender");
        assert!(check(&m, 1, 2, 3).is_err(), "wrong receiver");
        let mut gap = m.clone();
        gap.mut_entries()[1].index = 10;
        assert!(check(&gap, 1, 3, 3).is_err());
        let mut local = m.clone();
        local.set_msg_type(MessageType::MsgHup);
        assert!(check(&local, 1, 3, 3).is_err());
        let mut w = to_wire(&m);
        w.bytes = vec![0xFF; 9];
        assert!(from_wire(&w).is_err());
        w.kind = Kind::Request;
        assert!(from_wire(&w).is_err());
    }
}
