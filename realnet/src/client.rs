//! The lab's clerk ([`peer::Clerk`]) over TCP: the same leader search,
//! retries and duplicate detection as in the simulator, one call at a time.

use crate::wire::{Frame, decode, encode, read_frame, write_frame};
use peer::{Clerk, ClerkConfig, ClientId, Kv, Op, Progress, Reply};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Giving up on connecting to one server after this long counts as a failed call.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// A client of a real cluster: one operation at a time, retried (same
/// sequence number) until it takes effect. It never gives up; bound it with
/// `tokio::time::timeout`.
pub struct RealClerk {
    servers: Vec<SocketAddr>,
    clerk: Clerk<Kv>,
    connections: Vec<Option<TcpStream>>,
    call_timeout: Duration,
}

impl RealClerk {
    /// A clerk of the cluster whose servers listen at `servers`, with a
    /// `client_id` unique among the cluster's clients.
    pub fn new(servers: Vec<SocketAddr>, client_id: ClientId) -> RealClerk {
        let mut config = ClerkConfig::new(servers.len());
        config.call_timeout_ms = 1000;
        RealClerk {
            call_timeout: Duration::from_millis(config.call_timeout_ms),
            clerk: Clerk::new(client_id, config),
            connections: (0..servers.len()).map(|_| None).collect(),
            servers,
        }
    }

    /// Runs `op` to completion: the value a Get read (`""` for the others),
    /// or the error of a server that refused it for good.
    pub async fn run(&mut self, op: Op) -> Result<String, String> {
        let mut call = self.clerk.begin(op);
        loop {
            if call.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(call.delay_ms)).await;
            }
            let reply = self
                .call(call.server, call.call_no, &encode(&call.args))
                .await;
            match self.clerk.on_reply(call.call_no, reply) {
                Progress::Done(value) => return Ok(value),
                Progress::Refused(why) => return Err(why),
                Progress::Retry(next) => call = next,
                Progress::Stale => unreachable!("the clerk's only call was answered"),
            }
        }
    }

    /// One attempt: the server's reply, or `None` if the call failed or timed
    /// out (a broken connection is dropped, to be opened again next time).
    async fn call(&mut self, server: usize, call_no: u64, bytes: &[u8]) -> Option<Reply<String>> {
        let addr = self.servers[server];
        let attempt = async {
            if self.connections[server].is_none() {
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
                    .await
                    .ok()?
                    .ok()?;
                let _ = stream.set_nodelay(true);
                self.connections[server] = Some(stream);
            }
            let stream = self.connections[server].as_mut()?;
            let frame = Frame::Call {
                call: call_no,
                bytes: bytes.to_vec(),
            };
            write_frame(stream, &frame).await.ok()?;
            loop {
                match read_frame(stream).await.ok()?? {
                    Frame::Answer { call, bytes } if call == call_no => {
                        return decode::<Reply<String>>(&bytes).ok();
                    }
                    // The late answer to an attempt that already timed out.
                    Frame::Answer { .. } => continue,
                    _ => return None,
                }
            }
        };
        let reply = tokio::time::timeout(self.call_timeout, attempt)
            .await
            .ok()
            .flatten();
        if reply.is_none() {
            self.connections[server] = None;
        }
        reply
    }
}

/// What a node says of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub id: usize,
    /// `Leader`, `Candidate` or `Follower`.
    pub role: String,
    pub term: u64,
    /// The leader it believes in.
    pub leader: Option<usize>,
    pub commit_index: u64,
}

/// A node's Raft status, or the error that kept it from answering.
pub async fn status(addr: SocketAddr, timeout: Duration) -> Result<NodeStatus, String> {
    let ask = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        write_frame(&mut stream, &Frame::StatusQuery)
            .await
            .map_err(|e| e.to_string())?;
        match read_frame(&mut stream).await.map_err(|e| e.to_string())? {
            Some(Frame::Status {
                id,
                role,
                term,
                leader,
                commit_index,
            }) => Ok(NodeStatus {
                id,
                role,
                term,
                leader,
                commit_index,
            }),
            other => Err(format!("not a raftlab node's answer: {other:?}")),
        }
    };
    tokio::time::timeout(timeout, ask)
        .await
        .map_err(|_| format!("{addr}: no answer within {timeout:?}"))?
        .map_err(|e| format!("{addr}: {e}"))
}
