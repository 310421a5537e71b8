//! The driver against peers that break the contract, as a student's may: each
//! run ends with a failure line that says what the peer did, never a harness
//! panic or a hang.

// The lab's own test: it needs the reference (the student handout has none).
#![cfg(feature = "reference")]

use peer::{Disk, Index, Kind, PeerConfig, PeerError, PeerId, Ready, Role, Status, Term, Wire};
use tests::Test;
use tests::peers::PeerChoice;
use tests::raft_suite::{Cluster, ClusterOptions};

#[derive(Clone, Copy, PartialEq)]
enum Breaks {
    /// `has_ready()` is always true, and every Ready is empty.
    EndlessReady,
    /// `next_deadline_ms()` is `u64::MAX` ("no deadline").
    NoDeadline,
    /// Sends a message of a method it never declared.
    UndeclaredMethod,
    /// Writes an entry at index 0.
    EntryAtZero,
    /// Asks to be ticked again at the instant it was ticked, forever.
    TickAgainAtOnce,
    /// Claims leadership of term 1 at every tick and gives it up in the
    /// Ready that follows: a leader for one input of a batch.
    LeaderForOneInput,
    /// Sends a message to itself.
    SendsToItself,
    /// Reports term 2 after its first tick, then term 1.
    TermGoesBack,
}

struct Bad {
    breaks: Breaks,
    config: PeerConfig,
    now_ms: u64,
    pending: bool,
    leader: bool,
    term: Term,
}

impl peer::Peer for Bad {
    fn methods(&self) -> &'static [(&'static str, Kind)] {
        &[("Bad.Message", Kind::OneWay)]
    }
    fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.pending = true;
        self.leader = self.breaks == Breaks::LeaderForOneInput;
        self.term = if self.term == 0 { 2 } else { 1 };
    }
    fn next_deadline_ms(&self) -> u64 {
        match self.breaks {
            Breaks::NoDeadline => u64::MAX,
            Breaks::TickAgainAtOnce => self.now_ms,
            _ => self.now_ms + 100,
        }
    }
    fn step(&mut self, _: u64, _: PeerId, _: Wire) -> Result<(), PeerError> {
        Ok(())
    }
    fn start(&mut self, _: u64, _: Vec<u8>) -> (Index, Term, bool) {
        (1, 0, false)
    }
    fn snapshot(&mut self, _: Index, _: Vec<u8>) -> Result<(), PeerError> {
        Ok(())
    }
    fn has_ready(&self) -> bool {
        self.breaks == Breaks::EndlessReady || self.pending
    }
    fn ready(&mut self, _: &mut dyn Disk) -> Ready {
        let mut rd = Ready::default();
        self.leader = false;
        if !std::mem::take(&mut self.pending) {
            return rd;
        }
        let to = (self.config.id + 1) % self.config.peers;
        match self.breaks {
            Breaks::UndeclaredMethod => rd.messages.push((
                to,
                Wire {
                    kind: Kind::OneWay,
                    method: "Raft.Typo",
                    bytes: vec![],
                },
            )),
            Breaks::EntryAtZero => {
                rd.must_sync = true;
                rd.entries.push(peer::Entry::command(1, 0, vec![]));
            }
            Breaks::SendsToItself => rd.messages.push((
                self.config.id,
                Wire {
                    kind: Kind::OneWay,
                    method: "Bad.Message",
                    bytes: vec![],
                },
            )),
            _ => {}
        }
        rd
    }
    fn status(&self) -> Status {
        Status {
            role: if self.leader {
                Role::Leader
            } else {
                Role::Follower
            },
            term: match self.breaks {
                Breaks::TermGoesBack => self.term,
                // Term 1 from its first tick on, leader or not.
                Breaks::LeaderForOneInput => u64::from(self.term > 0),
                _ => u64::from(self.leader),
            },
            voted_for: None,
            leader: None,
            commit_index: 0,
            last_index: 0,
            snapshot_index: 0,
            membership: None,
        }
    }
    fn term_at(&self, index: Index) -> Option<Term> {
        (index == 0).then_some(0)
    }
    fn raft_state_bytes(&self, _: &dyn Disk) -> u64 {
        0
    }
    fn snapshot_bytes(&self, _: &dyn Disk) -> u64 {
        0
    }
}

/// Runs 6.824's initial-election check on three peers that break the
/// contract as `breaks` says; returns the failure line.
fn failure_with(breaks: Breaks) -> String {
    let choice = PeerChoice {
        name: "student",
        factory: std::rc::Rc::new(move |config, _disk, now_ms| {
            let bad = Bad {
                breaks,
                config,
                now_ms,
                pending: false,
                leader: false,
                term: 0,
            };
            Ok(Box::new(bad) as Box<dyn peer::Peer>)
        }),
        kv_server: std::rc::Rc::new(|o| Box::new(student::KvServer::new(o.maxraftstate))),
        ctrler: || Box::new(student::CtrlServer::new()),
        shardkv: |o| Box::new(student::ShardServer::new(o.gid, o.ctrlers, o.maxraftstate)),
    };
    let options = ClusterOptions {
        peer: choice,
        ..ClusterOptions::new(3)
    };
    let t = Test {
        name: "raft::initial_election",
        seed: 1,
    };
    let mut cfg = Cluster::new(&t, options);
    let f = cfg
        .check_one_leader()
        .expect_err("peers that break the contract elect nobody");
    f.to_string()
}

#[test]
fn a_message_to_itself_is_named() {
    let line = failure_with(Breaks::SendsToItself);
    assert!(line.contains("sent a message to itself"), "{line}");
}

#[test]
fn a_term_that_goes_back_is_named() {
    let line = failure_with(Breaks::TermGoesBack);
    assert!(
        line.contains("reported term 1 after term 2 (a term never goes back"),
        "{line}"
    );
}

#[test]
fn a_peer_whose_has_ready_never_ends_is_stopped() {
    let line = failure_with(Breaks::EndlessReady);
    assert!(
        line.contains("still has_ready() after 10000 Readies"),
        "{line}"
    );
    assert!(line.contains("peer=student seed=1"), "{line}");
}

#[test]
fn a_peer_with_no_deadline_waits_without_overflow() {
    let line = failure_with(Breaks::NoDeadline);
    assert!(line.contains("expected one leader, got none"), "{line}");
}

#[test]
fn a_message_of_an_undeclared_method_is_named() {
    let line = failure_with(Breaks::UndeclaredMethod);
    assert!(
        line.contains("sent a OneWay of `Raft.Typo`, which its methods() do not declare"),
        "{line}"
    );
}

#[test]
fn an_entry_at_index_zero_is_named() {
    let line = failure_with(Breaks::EntryAtZero);
    assert!(line.contains("not one run of indices from 1 up"), "{line}");
}

#[test]
fn a_peer_that_asks_to_be_ticked_at_once_forever_is_stopped() {
    let line = failure_with(Breaks::TickAgainAtOnce);
    assert!(
        line.contains("asked to be ticked again at the same instant 1000 times"),
        "{line}"
    );
}

#[test]
fn a_leader_for_one_input_of_a_batch_is_seen_by_the_oracle() {
    let line = failure_with(Breaks::LeaderForOneInput);
    assert!(line.contains("two leaders in term 1"), "{line}");
}
