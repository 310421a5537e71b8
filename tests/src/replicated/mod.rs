//! Any replicated service in the simulator, written once for every protocol
//! (the KV service, the shard controller): its servers as nodes
//! ([`server::ServiceNode`]) and a clerk's link to them ([`clerk::ClerkLink`]).

pub mod clerk;
pub mod server;

/// A KV server and its peer, as a labsim node.
pub type KvNode = server::ServiceNode<peer::Kv>;
/// A shard controller server and its peer, as a labsim node.
pub type CtrlNode = server::ServiceNode<peer::Ctrl>;
