//! A TCP proxy for one direction between two nodes, with a switch: cut, it
//! closes every connection it carries and every new one at once; healed, it
//! forwards again. A cluster whose node `a` reaches node `b` only through the
//! proxy `a -> b` can be partitioned in any shape without root or iptables.

use std::io;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One direction's proxy. Dropping it stops it.
pub struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free port of 127.0.0.1 that forwards to `target`. Call
    /// inside a tokio runtime.
    pub async fn start(target: SocketAddr) -> io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (cut, is_cut) = watch::channel(false);
        let task = tokio::spawn(accept(listener, target, is_cut));
        Ok(Proxy { addr, cut, task })
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts (`false`) or heals (`true`) the link.
    pub fn set_linked(&self, linked: bool) {
        self.cut.send_replace(!linked);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, is_cut: watch::Receiver<bool>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if *is_cut.borrow() {
            continue; // dropped: closed at once
        }
        tokio::spawn(carry(inbound, target, is_cut.clone()));
    }
}

/// Carries one connection both ways until either side closes it or the
/// link is cut.
async fn carry(mut inbound: TcpStream, target: SocketAddr, mut is_cut: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = is_cut.wait_for(|cut| *cut) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn echoes(mut s: TcpStream) -> bool {
        if s.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.is_ok() && &buf == b"ping"
    }

    #[tokio::test]
    async fn a_cut_link_closes_its_connections_and_refuses_new_ones_until_healed() {
        let proxy = Proxy::start(echo_server().await).await.unwrap();
        let open = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut open2 = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(echoes(open).await);
        proxy.set_linked(false);
        let mut buf = [0u8; 1];
        // The carried connection is closed: its read ends.
        assert!(matches!(open2.read(&mut buf).await, Ok(0) | Err(_)));
        let during = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(!echoes(during).await);
        proxy.set_linked(true);
        assert!(echoes(TcpStream::connect(proxy.addr()).await.unwrap()).await);
    }
}
