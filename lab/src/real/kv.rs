//! `lab kv`: one operation against a real cluster, with the clerk's leader
//! search, retries and duplicate detection.

use super::ClusterFile;
use crate::common::{fail, parse_wall};
use peer::Op;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// A client of a real cluster.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
lab kv put x 1                       the cluster `lab cluster up` started\n  \
lab kv append x 2\n  \
lab kv get x                         prints 12\n  \
lab kv --dir my-cluster get x        the cluster `lab cluster up --dir my-cluster` started\n  \
lab kv --addrs 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 get x")]
pub struct KvArgs {
    #[command(subcommand)]
    op: KvOp,
    /// The directory `lab cluster up` made (it holds the addresses)
    /// [default: where `lab cluster up` puts one].
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Or the servers' addresses (HOST:PORT), by id, comma-separated.
    #[arg(long, global = true, value_delimiter = ',', value_parser = super::parse_addr)]
    addrs: Vec<SocketAddr>,
    /// Give up (exit 1) if the operation has not taken effect after this long.
    #[arg(long, global = true, value_parser = parse_wall, default_value = "10s")]
    timeout: Duration,
}

#[derive(clap::Subcommand)]
enum KvOp {
    /// Print the key's value (empty if it has none).
    Get { key: String },
    /// Set the key's value.
    Put { key: String, value: String },
    /// Append to the key's value.
    Append { key: String, value: String },
}

/// The addresses of the cluster `args` name: by --addrs, by --dir, or the
/// one `lab cluster up` started where it puts one by default.
fn cluster_addrs(args: &KvArgs) -> Result<Vec<SocketAddr>, String> {
    match (&args.dir, args.addrs.is_empty()) {
        (Some(_), false) => Err("--dir and --addrs both name a cluster: give one".into()),
        (None, false) => super::distinct_addrs(&args.addrs).map(|()| args.addrs.clone()),
        (Some(dir), true) => ClusterFile::read(dir).map(|c| c.addrs),
        (None, true) => ClusterFile::read(Path::new(super::DEFAULT_DIR))
            .map(|c| c.addrs)
            .map_err(|e| format!("{e}, or name one with --dir DIR or --addrs A,B,C")),
    }
}

/// Runs one operation: exit 0 when it took effect (a Get prints the value).
pub fn kv(args: KvArgs) -> ExitCode {
    let addrs = match cluster_addrs(&args) {
        Ok(addrs) => addrs,
        Err(e) => return fail(e),
    };
    let op = match args.op {
        KvOp::Get { key } => Op::Get { key },
        KvOp::Put { key, value } => Op::Put { key, value },
        KvOp::Append { key, value } => Op::Append { key, value },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let is_get = matches!(op, Op::Get { .. });
    let mut clerk = realnet::RealClerk::new(addrs.clone(), super::entropy());
    let outcome =
        runtime.block_on(async { tokio::time::timeout(args.timeout, clerk.run(op)).await });
    match outcome {
        Ok(Ok(value)) => {
            if is_get {
                println!("{value}");
            }
            ExitCode::SUCCESS
        }
        Ok(Err(why)) => {
            eprintln!("lab: refused: {why}");
            ExitCode::FAILURE
        }
        Err(_) => {
            let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            eprintln!(
                "lab: the operation did not complete within {:?} (it may still take effect; tried {}): is the cluster up, with a leader? `lab cluster status` tells",
                args.timeout,
                addrs.join(", ")
            );
            ExitCode::FAILURE
        }
    }
}
