//! The graded KV suites (6.824 4A/4B, as parts `KV-A` and `KV-B`) and their
//! harness: KV server nodes (a Raft peer driven by the generic
//! [`crate::raft_suite::node::PeerNode`] with the `kvraft` server as its
//! service), clerk nodes that record every operation in a history, 6.824's
//! kvraft `config.go` ([`config::KvConfig`]), and `GenericTest`. Every test
//! ends with a linearizability check of its whole history.

pub mod clerk;
pub mod config;
pub mod generic;
pub mod server;
pub mod stale;
pub mod tests_a;
pub mod tests_b;

pub use config::{Ck, KvConfig, KvOptions};

use crate::raft_suite::GradedTest;

macro_rules! graded {
    ($($part:literal $module:ident :: $name:ident),* $(,)?) => {
        /// Every graded KV test, in 6.824's order.
        pub const TESTS: &[GradedTest] = &[
            $(GradedTest { name: concat!("kv::", stringify!($name)), part: $part, run: $module::$name }),*
        ];
    };
}

graded!(
    "KV-A" tests_a::basic,
    "KV-A" tests_a::speed,
    "KV-A" tests_a::concurrent,
    "KV-A" tests_a::unreliable,
    "KV-A" tests_a::unreliable_one_key,
    "KV-A" tests_a::one_partition,
    "KV-A" tests_a::many_partitions_one_client,
    "KV-A" tests_a::many_partitions_many_clients,
    "KV-A" tests_a::persist_one_client,
    "KV-A" tests_a::persist_concurrent,
    "KV-A" tests_a::persist_concurrent_unreliable,
    "KV-A" tests_a::persist_partition,
    "KV-A" tests_a::persist_partition_unreliable,
    "KV-A" tests_a::persist_partition_unreliable_linearizable,
    "KV-B" tests_b::snapshot_rpc,
    "KV-B" tests_b::snapshot_size,
    "KV-B" tests_b::speed_snapshots,
    "KV-B" tests_b::snapshot_recover,
    "KV-B" tests_b::snapshot_recover_many_clients,
    "KV-B" tests_b::snapshot_unreliable,
    "KV-B" tests_b::snapshot_unreliable_recover,
    "KV-B" tests_b::snapshot_unreliable_recover_concurrent_partition,
    "KV-B" tests_b::snapshot_unreliable_recover_concurrent_partition_linearizable,
);

/// Finds a graded KV test by name (`kv::x` or just `x`).
pub fn find(name: &str) -> Option<&'static GradedTest> {
    TESTS
        .iter()
        .find(|t| t.name == name || t.name.strip_prefix("kv::") == Some(name))
}
