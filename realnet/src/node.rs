//! One KV server on one peer, for real: the driver loop of the simulator's
//! node, with TCP for the network, [`FileDisk`] for the disk and the
//! monotonic clock for time.
//!
//! Inputs are taken in batches: every message, client call and tick that is
//! waiting is fed to the peer one at a time (a Ready taken after each, as the
//! peer contract asks), then the disk is synced once, and only then does
//! anything leave the node: peer messages and client answers are held until
//! the sync that covers every write made before them. So a crash loses only
//! effects nobody outside has seen (the simulator's rule), and one fsync
//! serves the whole batch: group commit.

use crate::disk::FileDisk;
use crate::wire::{Frame, Identity, WireKind, read_frame, write_frame};
use peer::{Peer, PeerConfig, PeerFactory, PeerId, Reply, Request, RequestId, StateMachine, Wire};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::BufWriter;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Inputs taken before one sync: enough for group commit, few enough that a
/// tick is never late by much.
const MAX_BATCH: usize = 512;
/// Peer messages queued for one peer; past this they are dropped, as a
/// congested network drops them.
const PEER_QUEUE: usize = 4096;
/// The longest wait between two attempts to reach a peer: short next to an
/// election timeout, so a healed link is soon used again.
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// The wait before asking again a peer that refused this node.
const REFUSED_BACKOFF: Duration = Duration::from_secs(2);
/// Giving up on one attempt to connect to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// A Ready loop that has not ended after this many Readies is a broken peer.
const MAX_READIES_PER_INPUT: usize = 10_000;
/// The file in a node's directory that says whose directory it is.
pub const IDENTITY_FILE: &str = "raftlab-node";

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Who this node is: its cluster, the cluster's size, the peer kind, its id.
    pub identity: Identity,
    /// Where to listen, for peers and clients.
    pub listen: SocketAddr,
    /// How to reach each peer, by id (this node's own entry is not used). A
    /// partition proxy may stand between.
    pub peers: Vec<SocketAddr>,
    /// The node's directory: its identity file and the peer's files (`raft/`).
    pub dir: PathBuf,
    /// 6.824's `maxraftstate` (`None`: never snapshot).
    pub maxraftstate: Option<u64>,
}

enum Event {
    Peer {
        from: PeerId,
        kind: WireKind,
        method: String,
        bytes: Vec<u8>,
    },
    Call {
        client: ClientTx,
        call: u64,
        bytes: Vec<u8>,
    },
    Status {
        client: ClientTx,
    },
    /// Peer `from` refused this node's hello, and why.
    Refused {
        from: PeerId,
        why: String,
    },
}

type ClientTx = mpsc::UnboundedSender<Frame>;
type Events = mpsc::UnboundedSender<Event>;

/// Runs a node until it fails: an error names the problem (bad directory,
/// port in use, a corrupt log, a cluster that refuses it, a disk error).
pub fn serve(
    options: NodeOptions,
    factory: PeerFactory,
    server: Box<dyn StateMachine>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run(options, factory, server))
}

async fn run(
    options: NodeOptions,
    factory: PeerFactory,
    server: Box<dyn StateMachine>,
) -> Result<(), String> {
    let id = options.identity.id;
    let n = options.identity.peers;
    if options.peers.len() != n || id >= n {
        return Err(format!(
            "node {id} with {} peer addresses in a cluster of {n}",
            options.peers.len()
        ));
    }
    claim_dir(&options.dir, &options.identity)?;
    let raft_dir = options.dir.join("raft");
    let disk = FileDisk::open(&raft_dir).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        format!(
            "cannot listen on {}: {e} (is another node or program on that port?)",
            options.listen
        )
    })?;
    let start = Instant::now();
    let config = PeerConfig::new(id, n, entropy());
    let peer = factory(config, &disk, 0)
        .map_err(|e| format!("cannot restore the peer from {}: {e}", raft_dir.display()))?;
    eprintln!(
        "node {id}: listening on {}, state in {}",
        options.listen,
        options.dir.display()
    );
    let (events_tx, events) = mpsc::unbounded_channel();
    tokio::spawn(accept(
        listener,
        options.identity.clone(),
        events_tx.clone(),
    ));
    let senders = (0..n)
        .map(|to| {
            (to != id).then(|| {
                let (tx, rx) = mpsc::channel(PEER_QUEUE);
                let dial = Dial {
                    to,
                    addr: options.peers[to],
                    me: options.identity.clone(),
                };
                tokio::spawn(dial.run(rx, events_tx.clone()));
                tx
            })
        })
        .collect();
    let mut node = Node {
        id,
        peer,
        server,
        disk,
        start,
        maxraftstate: options.maxraftstate,
        senders,
        outbox: Vec::new(),
        waiting: BTreeMap::new(),
        next_request: 0,
        must_sync: false,
        refused_by: BTreeSet::new(),
        last_role: None,
    };
    node.run(events).await
}

/// Random bits from the clock and the process id: for a real node's peer
/// seed (two incarnations must not draw the same timeouts), client ids and
/// cluster names. Nothing real is a pure function of a seed.
pub fn entropy() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Makes `dir` this node's, or checks that it already is: a directory of
/// another cluster, node or peer kind is refused, never reused.
fn claim_dir(dir: &Path, me: &Identity) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(IDENTITY_FILE);
    let tmp = dir.join(format!("{IDENTITY_FILE}.tmp"));
    // A claim a crash cut short: never renamed, so never made.
    let _ = std::fs::remove_file(&tmp);
    let mine = format!(
        "cluster={}\npeers={}\npeer_kind={}\nid={}\n",
        me.cluster, me.peers, me.peer_kind, me.id
    );
    match std::fs::read_to_string(&path) {
        Ok(found) if found == mine => Ok(()),
        Ok(found) => Err(format!(
            "{} belongs to another node:\n{found}this node is:\n{mine}use another --dir, or remove that one",
            dir.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
            {
                return Err(format!(
                    "{} is not empty and not a raftlab node's directory",
                    dir.display()
                ));
            }
            // Written aside and renamed: a crash never leaves half a claim.
            std::fs::write(&tmp, mine)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

async fn accept(listener: TcpListener, me: Identity, events: Events) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, me.clone(), events.clone()));
    }
}

/// One incoming connection: a peer's (it says hello first) or a client's.
async fn connection(stream: TcpStream, me: Identity, events: Events) {
    let (mut reader, mut writer) = stream.into_split();
    let Ok(Some(first)) = read_frame(&mut reader).await else {
        return;
    };
    if let Frame::Hello(them) = first {
        if let Some(why) = me.mismatch(&them) {
            eprintln!(
                "node {}: refused node {} ({}): it is in {why}",
                me.id, them.id, them.cluster
            );
            let why = format!("node {} is in {}", me.id, them.mismatch(&me).unwrap_or(why));
            let _ = write_frame(&mut writer, &Frame::Refuse { why }).await;
            return;
        }
        if write_frame(&mut writer, &Frame::Welcome).await.is_err() {
            return;
        }
        while let Ok(Some(Frame::Peer {
            kind,
            method,
            bytes,
        })) = read_frame(&mut reader).await
        {
            let event = Event::Peer {
                from: them.id,
                kind,
                method,
                bytes,
            };
            if events.send(event).is_err() {
                return;
            }
        }
        return;
    }
    let (client, mut answers) = mpsc::unbounded_channel::<Frame>();
    tokio::spawn(async move {
        let mut writer = BufWriter::new(writer);
        while let Some(frame) = answers.recv().await {
            if write_frame(&mut writer, &frame).await.is_err() {
                return;
            }
            if answers.is_empty() && tokio::io::AsyncWriteExt::flush(&mut writer).await.is_err() {
                return;
            }
        }
    });
    let mut frame = Some(first);
    while let Some(f) = frame {
        let event = match f {
            Frame::Call { call, bytes } => Event::Call {
                client: client.clone(),
                call,
                bytes,
            },
            Frame::StatusQuery => Event::Status {
                client: client.clone(),
            },
            _ => return,
        };
        if events.send(event).is_err() {
            return;
        }
        frame = read_frame(&mut reader).await.ok().flatten();
    }
}

/// The connection from this node to peer `to`: opened, and reopened with
/// backoff whenever it breaks. Messages queued while it is down are dropped,
/// as the simulator drops a message to an unreachable node.
struct Dial {
    to: PeerId,
    addr: SocketAddr,
    me: Identity,
}

impl Dial {
    async fn run(self, mut queue: mpsc::Receiver<Frame>, events: Events) {
        let mut backoff = Duration::from_millis(10);
        loop {
            match self.connect().await {
                Ok(stream) => {
                    backoff = Duration::from_millis(10);
                    forward(stream, &mut queue).await;
                }
                Err(Some(why)) => {
                    let _ = events.send(Event::Refused { from: self.to, why });
                    backoff = REFUSED_BACKOFF;
                }
                Err(None) => {}
            }
            while queue.try_recv().is_ok() {}
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            if queue.is_closed() {
                return;
            }
        }
    }

    /// A connection the peer welcomed; `Err(Some(why))` if it refused us.
    async fn connect(&self) -> Result<TcpStream, Option<String>> {
        let connecting = TcpStream::connect(self.addr);
        let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(stream)) => stream,
            _ => return Err(None),
        };
        let _ = stream.set_nodelay(true);
        write_frame(&mut stream, &Frame::Hello(self.me.clone()))
            .await
            .map_err(|_| None)?;
        match read_frame(&mut stream).await {
            Ok(Some(Frame::Welcome)) => Ok(stream),
            Ok(Some(Frame::Refuse { why })) => Err(Some(why)),
            _ => Err(None),
        }
    }
}

/// Sends queued frames down `stream` until it breaks, flushing whenever the
/// queue is empty (so a burst of messages shares its writes).
async fn forward(stream: TcpStream, queue: &mut mpsc::Receiver<Frame>) {
    let (mut reader, writer) = stream.into_split();
    let mut writer = BufWriter::new(writer);
    let mut closed = [0u8; 1];
    loop {
        let frame = tokio::select! {
            frame = queue.recv() => frame,
            // The peer never writes on this connection: a read that ends is
            // the connection closing (the peer died or a proxy cut it).
            _ = tokio::io::AsyncReadExt::read(&mut reader, &mut closed) => return,
        };
        let Some(frame) = frame else { return };
        if write_frame(&mut writer, &frame).await.is_err() {
            return;
        }
        if queue.is_empty() && tokio::io::AsyncWriteExt::flush(&mut writer).await.is_err() {
            return;
        }
    }
}

struct Node {
    id: PeerId,
    peer: Box<dyn Peer>,
    server: Box<dyn StateMachine>,
    disk: FileDisk,
    start: Instant,
    maxraftstate: Option<u64>,
    /// The queue to each peer (`None`: this node).
    senders: Vec<Option<mpsc::Sender<Frame>>>,
    /// Peer messages held until the next sync.
    outbox: Vec<(PeerId, Wire)>,
    /// Client calls waiting for the server's answer.
    waiting: BTreeMap<RequestId, (ClientTx, u64)>,
    next_request: RequestId,
    /// The peer wrote something since the last sync that must be durable.
    must_sync: bool,
    /// Peers that refused this node: a majority of them means this node is
    /// the odd one out.
    refused_by: BTreeSet<PeerId>,
    last_role: Option<(peer::Role, peer::Term)>,
}

impl Node {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    async fn run(&mut self, mut events: mpsc::UnboundedReceiver<Event>) -> Result<(), String> {
        loop {
            self.pump()?;
            self.release()?;
            let deadline = self.start + Duration::from_millis(self.peer.next_deadline_ms());
            let first = tokio::select! {
                event = events.recv() => event,
                _ = tokio::time::sleep_until(deadline) => None,
            };
            if let Some(event) = first {
                self.handle(event)?;
                for _ in 1..MAX_BATCH {
                    let Ok(event) = events.try_recv() else { break };
                    self.handle(event)?;
                }
            }
            let now_ms = self.now_ms();
            if now_ms >= self.peer.next_deadline_ms() {
                self.peer.tick(now_ms);
                self.pump()?;
            }
            self.server.poll(&*self.peer, now_ms);
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Peer {
                from,
                kind,
                method,
                bytes,
            } => self.step(from, kind, &method, bytes),
            Event::Call {
                client,
                call,
                bytes,
            } => self.call(client, call, &bytes),
            Event::Status { client } => {
                let s = self.peer.status();
                let _ = client.send(Frame::Status {
                    id: self.id,
                    role: format!("{:?}", s.role),
                    term: s.term,
                    leader: s.leader,
                    commit_index: s.commit_index,
                });
            }
            Event::Refused { from, why } => self.refused(from, why)?,
        }
        self.pump()
    }

    /// A peer's message, to the peer; one it cannot take is lost, as on
    /// the simulated network.
    fn step(&mut self, from: PeerId, kind: WireKind, method: &str, bytes: Vec<u8>) {
        let methods = self.peer.methods();
        let Some(&(method, _)) = methods.iter().find(|(m, _)| *m == method) else {
            eprintln!(
                "node {}: dropped a message of unknown method {method:?}",
                self.id
            );
            return;
        };
        let wire = Wire {
            kind: kind.into(),
            method,
            bytes,
        };
        if let Err(e) = self.peer.step(self.now_ms(), from, wire) {
            eprintln!("node {}: refused a {method} from {from}: {e}", self.id);
        }
    }

    /// A client's call, to the server; its answer waits in `waiting`.
    fn call(&mut self, client: ClientTx, call: u64, bytes: &[u8]) {
        let Some(args) = Request::<peer::Op>::decode(bytes) else {
            let why = "undecodable request".to_owned();
            let bytes = crate::wire::encode(&Reply::<String>::Refused { why });
            let _ = client.send(Frame::Answer { call, bytes });
            return;
        };
        let id = self.next_request;
        self.next_request += 1;
        self.waiting.insert(id, (client, call));
        let now_ms = self.now_ms();
        self.server.request(&mut *self.peer, now_ms, id, args);
    }

    /// Peer `from` refused this node: once a majority has, this node is the
    /// odd one out, and stops.
    fn refused(&mut self, from: PeerId, why: String) -> Result<(), String> {
        eprintln!("node {}: node {from} refuses us: {why}", self.id);
        self.refused_by.insert(from);
        let n = self.senders.len();
        if self.refused_by.len() >= peer::majority(n).min(n - 1) {
            return Err(format!(
                "a majority of the cluster refuses this node (last: node {from}: {why}); \
                 check --cluster, --addrs and --peer against the running nodes"
            ));
        }
        Ok(())
    }

    /// Takes every Ready the peer has: writes reach the disk (not yet
    /// synced), messages wait in the outbox, applies reach the server.
    fn pump(&mut self) -> Result<(), String> {
        for _ in 0..MAX_READIES_PER_INPUT {
            if !self.peer.has_ready() {
                return Ok(());
            }
            let rd = self.peer.ready(&mut self.disk);
            self.must_sync |= rd.must_sync;
            self.outbox.extend(rd.messages);
            let applied = !rd.applies.is_empty();
            for apply in rd.applies {
                self.server
                    .apply(apply)
                    .map_err(|e| format!("the server cannot apply: {e}"))?;
            }
            if !rd.read_states.is_empty() {
                self.server.read_states(&rd.read_states);
            }
            if applied && self.maxraftstate.is_some() {
                let size = self.peer.raft_state_bytes(&self.disk);
                let at = self.peer.status().snapshot_index;
                if let Some((index, data)) = self.server.maybe_snapshot(size, at) {
                    self.peer
                        .snapshot(index, data)
                        .map_err(|e| format!("the peer refused a snapshot at {index}: {e}"))?;
                }
            }
        }
        Err(format!(
            "the peer still has a Ready after {MAX_READIES_PER_INPUT}: it breaks the contract"
        ))
    }

    /// Syncs, then lets out what the sync covers: peer messages and answers.
    fn release(&mut self) -> Result<(), String> {
        if self.must_sync {
            self.disk.sync().map_err(|e| format!("disk error: {e}"))?;
            self.must_sync = false;
        }
        self.report_role();
        for (to, wire) in self.outbox.drain(..) {
            let Some(Some(queue)) = self.senders.get(to) else {
                return Err(format!(
                    "the peer sent a message to {to}, not a peer of this cluster"
                ));
            };
            let frame = Frame::Peer {
                kind: wire.kind.into(),
                method: wire.method.to_owned(),
                bytes: wire.bytes,
            };
            // A full queue or a dead connection drops it, as a lossy network would.
            let _ = queue.try_send(frame);
        }
        for (id, reply) in self.server.take_replies() {
            if let Some((client, call)) = self.waiting.remove(&id) {
                let _ = client.send(Frame::Answer {
                    call,
                    bytes: crate::wire::encode(&reply),
                });
            }
        }
        Ok(())
    }

    fn report_role(&mut self) {
        let s = self.peer.status();
        if self.last_role != Some((s.role, s.term)) {
            self.last_role = Some((s.role, s.term));
            if s.role == peer::Role::Leader {
                eprintln!("node {}: leader in term {}", self.id, s.term);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(id: usize) -> Identity {
        Identity {
            cluster: "c".into(),
            peers: 3,
            peer_kind: "reference".into(),
            id,
        }
    }

    #[test]
    fn a_directory_is_claimed_once_and_refused_to_any_other_node() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("node");
        claim_dir(&d, &me(0)).unwrap();
        claim_dir(&d, &me(0)).unwrap();
        let e = claim_dir(&d, &me(1)).unwrap_err();
        assert!(
            e.contains("belongs to another node") && e.contains("id=0"),
            "{e}"
        );
        // A claim a crash cut short (written aside, never renamed) is no claim.
        let fresh = dir.path().join("fresh");
        std::fs::create_dir_all(&fresh).unwrap();
        std::fs::write(fresh.join(format!("{IDENTITY_FILE}.tmp")), "clus").unwrap();
        claim_dir(&fresh, &me(2)).unwrap();
        // A directory of something else is not taken over.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let e = claim_dir(&other, &me(0)).unwrap_err();
        assert!(
            e.contains("not empty and not a raftlab node's directory"),
            "{e}"
        );
    }
}
