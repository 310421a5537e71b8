//! `lab serve`: one KV server node, for real.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tests::peers::{KvServerOptions, PeerChoice};

/// One node of a real cluster.
#[derive(clap::Args)]
#[command(after_help = "Example (three terminals, one node each):\n  \
lab serve --id 0 --addrs 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --dir /tmp/raft/0\n  \
lab serve --id 1 --addrs 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --dir /tmp/raft/1\n  \
lab serve --id 2 --addrs 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --dir /tmp/raft/2\n\
then: lab kv --addrs 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 put x 1\n\
`lab cluster up` does all of this for you.")]
pub struct ServeArgs {
    /// This node's id: its place in --addrs, from 0.
    #[arg(long)]
    id: usize,
    /// Every node's address (HOST:PORT), by id, comma-separated, e.g.
    /// 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 (or localhost:7000,...).
    #[arg(long, value_delimiter = ',', required = true, value_parser = super::parse_addr)]
    addrs: Vec<SocketAddr>,
    /// Listen here rather than at this node's entry in --addrs (a proxy stands between).
    #[arg(long, value_parser = super::parse_addr)]
    listen: Option<SocketAddr>,
    /// The node's directory: its log, Raft state and snapshot. Created if
    /// missing; refused if it belongs to another node, cluster or peer.
    #[arg(long)]
    dir: PathBuf,
    /// The cluster's name: nodes of different clusters refuse each other.
    #[arg(long, default_value = "raftlab")]
    cluster: String,
    /// Snapshot once the Raft state reaches this many bytes (6.824's maxraftstate).
    #[arg(long, default_value_t = 1 << 20)]
    maxraftstate: u64,
}

/// Runs the node until it fails; it never returns on success (stop it
/// with a signal: its state is on disk).
pub fn serve(args: ServeArgs, peer: &'static str) -> ExitCode {
    let choice = match PeerChoice::named(peer) {
        Ok(c) => c,
        Err(e) => return crate::common::fail(e),
    };
    if let Err(e) = super::distinct_addrs(&args.addrs) {
        return crate::common::fail(e);
    }
    let Some(&own) = args.addrs.get(args.id) else {
        return crate::common::fail(format!(
            "--id {} is not a place in --addrs (it has {} addresses)",
            args.id,
            args.addrs.len()
        ));
    };
    let options = realnet::NodeOptions {
        identity: realnet::wire::Identity {
            cluster: args.cluster,
            peers: args.addrs.len(),
            peer_kind: peer.to_owned(),
            id: args.id,
        },
        listen: args.listen.unwrap_or(own),
        peers: args.addrs,
        dir: args.dir,
        maxraftstate: Some(args.maxraftstate),
    };
    let server = (choice.kv_server)(&KvServerOptions {
        maxraftstate: Some(args.maxraftstate),
        read_index: false,
    });
    match realnet::serve(options, choice.factory, server) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::common::fail(format!("node {}: {e}", args.id)),
    }
}
