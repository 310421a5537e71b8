//! raftlab's harness, checkers and graded suites.
//!
//! This crate wires Raft and KV peers onto `labsim`/`labrpc` (what 6.824's
//! `config.go` does), holds the safety checker (the invariants; linearizability
//! is the `linearizability` crate's), the nemesis and the scenarios. The `lab`
//! command line is a crate of its own, built on this one.

pub mod failure;
pub mod graded;
pub mod harness;
pub mod hooks;
pub mod kv_suite;
pub mod nemesis;
pub mod peers;
pub mod raft_suite;
pub mod scenarios;
pub mod shrink;
pub mod targets;
