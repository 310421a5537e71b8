//! The registry of peers the lab can put under test, each name written once.
//!
//! A run is a function of (scenario, peer, seed): the peer is chosen by name
//! (`--peer NAME`, or `RAFTLAB_PEER` for `cargo test`) and travels with every
//! failure line, replay command, schedule and corpus entry.

use peer::{Ctrl, PeerFactory, ShardStateMachine, StateMachine};
use std::cell::RefCell;
use std::fmt;
use std::sync::OnceLock;

/// raftlab's own Raft: failure lines and commands name every other peer.
pub const REFERENCE: &str = "reference";

/// The peer every command uses unless told otherwise: the reference, or the
/// student's in a handout without it (see `scripts/handout.sh`).
#[cfg(feature = "reference")]
pub const DEFAULT_PEER: &str = REFERENCE;
/// The peer every command uses unless told otherwise.
#[cfg(not(feature = "reference"))]
pub const DEFAULT_PEER: &str = "student";

/// The environment variable that picks the peer of `cargo test`'s graded suites.
pub const PEER_ENV: &str = "RAFTLAB_PEER";

/// The KV server settings every KV server takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvServerOptions {
    /// 6.824's `maxraftstate` (`None` for -1: never snapshot).
    pub maxraftstate: Option<u64>,
    /// Serve Gets with ReadIndex (through the log when false, or when the
    /// peer has no ReadIndex). A KV server of its own may ignore it.
    pub read_index: bool,
}

/// A peer the lab knows by name.
pub struct PeerKind {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// Makes its Raft peers.
    pub make: fn() -> PeerFactory,
    /// Makes the KV server that runs on it.
    pub kv_server: fn(&KvServerOptions) -> Box<dyn StateMachine>,
    /// Makes the shard controller server that runs on it.
    pub ctrler: CtrlerFactory,
    /// Makes the sharded KV server that runs on it.
    pub shardkv: ShardKvFactory,
}

/// Makes a peer's shard controller servers.
pub type CtrlerFactory = fn() -> Box<dyn StateMachine<Ctrl>>;

/// What a sharded KV server is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardKvOptions {
    /// Its group.
    pub gid: peer::Gid,
    /// Servers of the controller.
    pub ctrlers: usize,
    /// 6.824's `maxraftstate` (`None` for -1).
    pub maxraftstate: Option<u64>,
}

/// Makes a peer's sharded KV servers.
pub type ShardKvFactory = fn(&ShardKvOptions) -> Box<dyn ShardStateMachine>;

#[cfg(feature = "reference")]
pub(crate) fn reference_shardkv(o: &ShardKvOptions) -> Box<dyn ShardStateMachine> {
    let config = shardkv::ShardServerConfig {
        maxraftstate: o.maxraftstate,
        ..shardkv::ShardServerConfig::new(o.gid, o.ctrlers)
    };
    Box::new(shardkv::ShardServer::new(config))
}

#[cfg(feature = "reference")]
pub(crate) fn reference_ctrler() -> Box<dyn StateMachine<Ctrl>> {
    Box::new(shardctrler::CtrlServer::new(kvraft::ServerConfig::default()))
}

#[cfg(feature = "reference")]
pub(crate) fn reference_kv(options: &KvServerOptions) -> Box<dyn StateMachine> {
    let read_mode = match options.read_index {
        true => kvraft::ReadMode::ReadIndex,
        false => kvraft::ReadMode::Log,
    };
    Box::new(kvraft::KvServer::new(kvraft::ServerConfig {
        maxraftstate: options.maxraftstate,
        read_mode,
        ..kvraft::ServerConfig::default()
    }))
}

/// Every peer, the default first.
pub const PEERS: &[PeerKind] = &[
    #[cfg(feature = "reference")]
    PeerKind {
        name: DEFAULT_PEER,
        about: "raftlab's reference Raft (Figure 2, snapshots, PreVote, CheckQuorum, ReadIndex, membership changes) with kvraft",
        make: raft::factory,
        kv_server: reference_kv,
        ctrler: reference_ctrler,
        shardkv: reference_shardkv,
    },
    #[cfg(feature = "reference")]
    PeerKind {
        name: "raft-rs",
        about: "tikv's raft-rs 0.7 (one-way messages, PreVote, CheckQuorum) with kvraft",
        make: raftrs::factory,
        kv_server: reference_kv,
        ctrler: reference_ctrler,
        shardkv: reference_shardkv,
    },
    PeerKind {
        name: "student",
        about: "your Raft, KV server, shard controller and sharded KV server: the skeleton in student/ (see student/README.md)",
        make: student::factory,
        kv_server: |o| Box::new(student::KvServer::new(o.maxraftstate)),
        ctrler: || Box::new(student::CtrlServer::new()),
        shardkv: |o| Box::new(student::ShardServer::new(o.gid, o.ctrlers, o.maxraftstate)),
    },
];

/// Makes a peer's KV servers.
pub type KvServerFactory = std::rc::Rc<dyn Fn(&KvServerOptions) -> Box<dyn StateMachine>>;

/// A chosen peer: its name and how to make its nodes.
#[derive(Clone)]
pub struct PeerChoice {
    /// The registry name (or a test-only variant's).
    pub name: &'static str,
    /// Makes its Raft peers.
    pub factory: PeerFactory,
    /// Makes its KV servers.
    pub kv_server: KvServerFactory,
    /// Makes its shard controller servers.
    pub ctrler: CtrlerFactory,
    /// Makes its sharded KV servers.
    pub shardkv: ShardKvFactory,
}

impl fmt::Debug for PeerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerChoice({})", self.name)
    }
}

impl PeerChoice {
    /// True if the peer has ReadIndex (a fresh peer asked for a read refuses
    /// as a follower, not as a peer without the feature).
    pub fn has_read_index(&self) -> bool {
        let config = peer::PeerConfig::new(0, 3, 0);
        match (self.factory)(config, &peer::MemDisk::default(), 0) {
            Ok(mut p) => p.read_index(0, 0).err().is_none_or(|e| !e.is_unsupported()),
            Err(_) => false,
        }
    }

    /// The peer called `name`, or an error listing the known ones.
    pub fn named(name: &str) -> Result<PeerChoice, String> {
        if let Some((m, assertions)) = crate::mutants::find(name) {
            return Ok(m.choice(assertions));
        }
        let kind = PEERS.iter().find(|p| p.name == name).ok_or_else(|| {
            let known: Vec<&str> = PEERS.iter().map(|p| p.name).collect();
            format!(
                "no peer named `{name}`; known peers: {} (and the mutants `lab mutants --list` names)",
                known.join(", ")
            )
        })?;
        Ok(PeerChoice {
            name: kind.name,
            factory: (kind.make)(),
            kv_server: std::rc::Rc::new(kind.kv_server),
            ctrler: kind.ctrler,
            shardkv: kind.shardkv,
        })
    }

    /// The reference with a deliberate bug (tests of the testers only). It keeps
    /// the reference's name: the scenario that switches the bug on names it.
    #[cfg(feature = "reference")]
    pub fn buggy_reference(bug: raft::InjectedBug) -> PeerChoice {
        PeerChoice {
            name: REFERENCE,
            factory: raft::buggy_factory(bug, true),
            kv_server: std::rc::Rc::new(reference_kv),
            ctrler: reference_ctrler,
            shardkv: reference_shardkv,
        }
    }

    /// The reference seeded from outside the run (a process-wide counter), as a
    /// peer that draws from the thread's RNG would be: two runs of one seed
    /// differ, which `lab check-determinism` must report (a test of the tester).
    #[cfg(feature = "reference")]
    pub fn unseeded_reference() -> PeerChoice {
        use std::sync::atomic::{AtomicU64, Ordering};
        static DRAWS: AtomicU64 = AtomicU64::new(1);
        let seeded = raft::factory();
        PeerChoice {
            name: REFERENCE,
            factory: std::rc::Rc::new(move |mut config, disk, now_ms| {
                config.rng_seed ^= DRAWS.fetch_add(1, Ordering::Relaxed);
                seeded(config, disk, now_ms)
            }),
            kv_server: std::rc::Rc::new(reference_kv),
            ctrler: reference_ctrler,
            shardkv: reference_shardkv,
        }
    }

    /// The reference whose KV servers answer Gets from their local state without
    /// confirming their leadership (a test-only bug: stale reads).
    #[cfg(feature = "reference")]
    pub fn stale_reads_reference() -> PeerChoice {
        PeerChoice {
            name: REFERENCE,
            factory: raft::factory(),
            kv_server: std::rc::Rc::new(|options| {
                Box::new(kvraft::KvServer::new(kvraft::ServerConfig {
                    maxraftstate: options.maxraftstate,
                    read_mode: kvraft::ReadMode::StaleLocal,
                    ..kvraft::ServerConfig::default()
                }))
            }),
            ctrler: reference_ctrler,
            shardkv: reference_shardkv,
        }
    }
}

thread_local! {
    /// The peer runs on this thread use (see [`with_peer`]).
    static CURRENT: RefCell<Option<&'static str>> = const { RefCell::new(None) };
}

/// The peer of every run of this process (see [`select`]).
static SELECTED: OnceLock<&'static str> = OnceLock::new();

/// Makes `name` the peer of every run of this process that [`with_peer`] does
/// not override (`lab --peer NAME`). Checked; the first selection stands.
pub fn select(name: &str) -> Result<&'static str, String> {
    let name = resolve(name)?;
    Ok(*SELECTED.get_or_init(|| name))
}

/// The name of the peer runs on this thread use: the one [`with_peer`] set,
/// else the one [`select`]ed, else `RAFTLAB_PEER`, else the reference.
pub fn current_name() -> String {
    CURRENT
        .with(|c| *c.borrow())
        .or_else(|| SELECTED.get().copied())
        .map(str::to_owned)
        .or_else(|| std::env::var(PEER_ENV).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_PEER.to_owned())
}

/// ` peer=NAME` for a result line, or nothing for the reference.
pub fn label(name: &str) -> String {
    if name == REFERENCE {
        String::new()
    } else {
        format!(" peer={name}")
    }
}

/// `-peer-NAME` for a file's name (`:`, `=` and `+` made dashes), or nothing
/// for the reference: a failure's files, apart from another peer's.
pub fn file_part(name: &str) -> String {
    label(name).replace([' ', '=', ':', '+'], "-")
}

/// ` --peer NAME` for a command line, or nothing for the reference.
pub fn flag(name: &str) -> String {
    if name == REFERENCE {
        String::new()
    } else {
        format!(" --peer {name}")
    }
}

/// The peer runs on this thread use. Panics with the list of known peers if
/// `RAFTLAB_PEER` names none (`lab` checks names before it runs anything).
pub fn current() -> PeerChoice {
    PeerChoice::named(&current_name()).unwrap_or_else(|e| panic!("{PEER_ENV}: {e}"))
}

/// Runs `f` with `name` as this thread's peer.
pub fn with_peer<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(|c| c.replace(Some(name)));
    struct Restore(Option<&'static str>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// The registry name `name` stands for, checked.
pub fn resolve(name: &str) -> Result<&'static str, String> {
    PeerChoice::named(name).map(|c| c.name)
}
