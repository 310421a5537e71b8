//! The graded sharded KV suite (6.824 5B, as part `5B`) and its harness:
//! a shard controller group and three replica groups in one simulation,
//! sharded clerks that record every operation in one history, and 6.824's
//! shardkv `config.go` ([`config::ShardKvConfig`]).

pub mod clerk;
pub mod config;
pub mod server;
pub mod tests;

pub use config::ShardKvConfig;

crate::raft_suite::graded_registry!(
    "shardkv";
    "5B" tests::static_shards,
    "5B" tests::rejection,
    "5B" tests::join_leave,
    "5B" tests::snapshot,
    "5B" tests::miss_change,
    "5B" tests::concurrent1,
    "5B" tests::concurrent2,
    "5B" tests::concurrent3,
    "5B" tests::unreliable1,
    "5B" tests::unreliable2,
    "5B" tests::unreliable3,
    "5B" tests::challenge1_delete,
    "5B" tests::challenge2_unaffected,
    "5B" tests::challenge2_partial,
);
