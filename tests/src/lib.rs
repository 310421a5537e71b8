//! raftlab's harness, checkers and graded suites.
//!
//! This crate wires Raft and KV peers onto `labsim`/`labrpc` (what 6.824's
//! `config.go` does), holds the safety checker (the invariants; linearizability
//! is the `linearizability` crate's), the nemesis and the scenarios. The `lab`
//! command line is a crate of its own, built on this one.

pub mod aims;
pub mod artifacts;
pub mod budgets;
pub mod ctrler_suite;
pub mod downtime;
pub mod failure;
pub mod graded;
pub mod harness;
pub mod hooks;
pub mod kv_suite;
pub mod mutants;
pub mod nemesis;
pub mod partial_partition;
pub mod peers;
pub mod raft_suite;
pub mod reconfigure;
pub mod replicated;
pub mod scenarios;
pub mod seeds;
pub mod server_verbs;
pub mod shardkv_nemesis;
pub mod shardkv_suite;
pub mod shrink;
pub mod targets;

/// One run of a graded test or scenario (6.824's `t *testing.T`): its name, as
/// the registry of targets writes it, and its seed. Every failure line of the
/// run names both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Test {
    /// The registered name, e.g. `raft::figure8` or `kv-nemesis`.
    pub name: &'static str,
    /// The seed the run is a function of.
    pub seed: u64,
}
