//! The graded KV suites (6.824 4A/4B, as parts `4A` and `4B`) and their
//! harness: KV server nodes (a Raft peer driven by the generic
//! [`crate::raft_suite::node::PeerNode`] with the `kvraft` server as its
//! service), clerk nodes that record every operation in a history, 6.824's
//! kvraft `config.go` ([`config::KvConfig`]), and `GenericTest`. Every test
//! ends with a linearizability check of its whole history.

pub mod clerk;
pub mod config;
pub mod generic;
pub mod stale;
pub mod tests_a;
pub mod tests_b;

pub use config::{Ck, KvConfig, KvOptions};

crate::raft_suite::graded_registry!(
    "kv";
    "4A" tests_a::basic,
    "4A" tests_a::speed,
    "4A" tests_a::concurrent,
    "4A" tests_a::unreliable,
    "4A" tests_a::unreliable_one_key,
    "4A" tests_a::one_partition,
    "4A" tests_a::many_partitions_one_client,
    "4A" tests_a::many_partitions_many_clients,
    "4A" tests_a::persist_one_client,
    "4A" tests_a::persist_concurrent,
    "4A" tests_a::persist_concurrent_unreliable,
    "4A" tests_a::persist_partition,
    "4A" tests_a::persist_partition_unreliable,
    "4A" tests_a::persist_partition_unreliable_linearizable,
    "4B" tests_b::snapshot_rpc,
    "4B" tests_b::snapshot_size,
    "4B" tests_b::speed_snapshots,
    "4B" tests_b::snapshot_recover,
    "4B" tests_b::snapshot_recover_many_clients,
    "4B" tests_b::snapshot_unreliable,
    "4B" tests_b::snapshot_unreliable_recover,
    "4B" tests_b::snapshot_unreliable_recover_concurrent_partition,
    "4B" tests_b::snapshot_unreliable_recover_concurrent_partition_linearizable,
);
