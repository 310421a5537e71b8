//! What crosses a TCP connection: length-prefixed frames, each the bincode of
//! one [`Frame`]. A peer's message travels as the very bytes the simulator
//! carries (`Wire::bytes`, the peer's own encoding) with its kind and method;
//! a client's request and the server's reply are the bincode of
//! [`peer::Request`] and [`peer::Reply`], as labrpc encodes them.

use serde::{Deserialize, Serialize};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest frame a node accepts: a snapshot of a lab-sized store fits
/// many times over; anything bigger is a broken or foreign sender.
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Who a node is, as it says when it opens a connection to a peer. The
/// receiver refuses a sender of another cluster, another cluster size or
/// another peer kind, and says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The cluster's name (`lab cluster up` draws one).
    pub cluster: String,
    /// How many peers the cluster has.
    pub peers: usize,
    /// The peer kind every node runs (`reference`, `raft-rs`, ...).
    pub peer_kind: String,
    /// The sender's id.
    pub id: usize,
}

impl Identity {
    /// Why a node with identity `self` must not talk to `other`, if it must not.
    pub fn mismatch(&self, other: &Identity) -> Option<String> {
        if self.cluster != other.cluster {
            Some(format!(
                "cluster `{}`, not `{}`",
                other.cluster, self.cluster
            ))
        } else if self.peers != other.peers {
            Some(format!(
                "a cluster of {} peers, not {}",
                other.peers, self.peers
            ))
        } else if self.peer_kind != other.peer_kind {
            Some(format!(
                "peer kind `{}`, not `{}`",
                other.peer_kind, self.peer_kind
            ))
        } else if other.id >= self.peers || other.id == self.id {
            Some(format!(
                "peer id {} in a cluster of {}",
                other.id, self.peers
            ))
        } else {
            None
        }
    }
}

/// A peer message's kind on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireKind {
    Request,
    Reply,
    OneWay,
}

impl From<peer::Kind> for WireKind {
    fn from(kind: peer::Kind) -> WireKind {
        match kind {
            peer::Kind::Request => WireKind::Request,
            peer::Kind::Reply => WireKind::Reply,
            peer::Kind::OneWay => WireKind::OneWay,
        }
    }
}

impl From<WireKind> for peer::Kind {
    fn from(kind: WireKind) -> peer::Kind {
        match kind {
            WireKind::Request => peer::Kind::Request,
            WireKind::Reply => peer::Kind::Reply,
            WireKind::OneWay => peer::Kind::OneWay,
        }
    }
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// A node opens a connection to a peer: who it is.
    Hello(Identity),
    /// The peer accepts the connection.
    Welcome,
    /// The peer refuses it, and why.
    Refuse { why: String },
    /// A Raft message from the node that opened the connection.
    Peer {
        kind: WireKind,
        method: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A client's call: the bincode of a `peer::Request`.
    Call {
        call: u64,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A server's answer to call `call`: the bincode of a `peer::Reply`.
    Answer {
        call: u64,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Asks a node for its Raft status (`lab cluster status`, the tests).
    StatusQuery,
    /// A node's Raft status: role, term, leader, commit index.
    Status {
        id: usize,
        role: String,
        term: u64,
        leader: Option<usize>,
        commit_index: u64,
    },
}

/// The bincode of `value`.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("bincode cannot fail on in-memory values")
}

/// `bytes` decoded whole, or an error saying why not.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((value, used)) if used == bytes.len() => Ok(value),
        Ok(_) => Err(invalid("trailing bytes after a frame")),
        Err(e) => Err(invalid(&format!("undecodable frame: {e}"))),
    }
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, frame: &Frame) -> io::Result<()> {
    let body = encode(frame);
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf).await
}

/// Reads one frame; `Ok(None)` at a clean end of the stream.
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> io::Result<Option<Frame>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(invalid(&format!(
            "a frame of {len} bytes (the limit is {MAX_FRAME_BYTES}): not a raftlab node?"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode(&body).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Identity {
        Identity {
            cluster: "c".into(),
            peers: 3,
            peer_kind: "reference".into(),
            id: 0,
        }
    }

    #[test]
    fn identities_of_another_cluster_are_refused_with_the_reason() {
        let other = |f: fn(&mut Identity)| {
            let mut i = Identity { id: 1, ..me() };
            f(&mut i);
            me().mismatch(&i)
        };
        assert_eq!(other(|_| {}), None);
        assert_eq!(
            other(|i| i.peers = 5).unwrap(),
            "a cluster of 5 peers, not 3"
        );
        assert!(other(|i| i.cluster = "d".into()).unwrap().contains("`d`"));
        assert!(
            other(|i| i.peer_kind = "raft-rs".into())
                .unwrap()
                .contains("raft-rs")
        );
        assert!(other(|i| i.id = 0).is_some());
        assert!(other(|i| i.id = 3).is_some());
    }

    #[tokio::test]
    async fn frames_round_trip_and_oversized_ones_are_refused() {
        let frame = Frame::Peer {
            kind: WireKind::Request,
            method: "Raft.AppendEntries".into(),
            bytes: vec![1, 2, 3],
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &frame).await.unwrap();
        write_frame(&mut buf, &Frame::Welcome).await.unwrap();
        let mut r = buf.as_slice();
        assert_eq!(read_frame(&mut r).await.unwrap(), Some(frame));
        assert_eq!(read_frame(&mut r).await.unwrap(), Some(Frame::Welcome));
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
        let huge = (MAX_FRAME_BYTES as u32 + 1).to_le_bytes();
        let e = read_frame(&mut huge.as_slice()).await.unwrap_err();
        assert!(e.to_string().contains("not a raftlab node"), "{e}");
    }
}
