//! What crosses the wire between clerks and servers, and what goes into the Raft log:
//! defined once, in the peer interface, so that any KV server speaks it.

pub use peer::{ClientId, KvArgs, KvReply, Op, Seq};
