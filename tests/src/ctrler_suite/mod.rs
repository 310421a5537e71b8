//! The graded shard controller suite (6.824 5A, as part `5A`) and its
//! harness: controller server nodes (a Raft peer driven by the generic
//! [`crate::raft_suite::node::PeerNode`] with the peer's controller as its
//! service), clerk nodes that run lists of operations, and 6.824's
//! shardctrler `config.go` ([`config::CtrlConfig`]).

pub mod clerk;
pub mod config;
pub mod tests;

pub use config::{CtrlCk, CtrlConfig};

crate::raft_suite::graded_registry!(
    "ctrler";
    "5A" tests::basic,
    "5A" tests::multi,
    "5A" tests::minimal_again,
);
