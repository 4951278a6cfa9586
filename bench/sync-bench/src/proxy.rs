//! A counting TCP proxy put between a daemon and the provisioner: bytes each
//! way (HTTP bytes, without TCP/IP headers) and HTTP/1.1 requests and
//! responses, counted by their start lines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    requests: AtomicU64,
    responses: AtomicU64,
    connections: AtomicU64,
}

/// Counter values at one moment; subtract two for a window.
#[derive(Clone, Copy, Debug, Default)]
pub struct Traffic {
    /// Daemon → provisioner bytes.
    pub up: u64,
    /// Provisioner → daemon bytes.
    pub down: u64,
    pub requests: u64,
    pub responses: u64,
    pub connections: u64,
}

impl std::ops::Sub for Traffic {
    type Output = Traffic;
    fn sub(self, earlier: Traffic) -> Traffic {
        Traffic {
            up: self.up - earlier.up,
            down: self.down - earlier.down,
            requests: self.requests - earlier.requests,
            responses: self.responses - earlier.responses,
            connections: self.connections - earlier.connections,
        }
    }
}

pub struct CountingProxy {
    pub url: String,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(serve(listener, upstream, Arc::clone(&counters)));
        Ok(CountingProxy {
            url,
            counters,
            task,
        })
    }

    pub fn traffic(&self) -> Traffic {
        let c = &self.counters;
        Traffic {
            up: c.up.load(Ordering::SeqCst),
            down: c.down.load(Ordering::SeqCst),
            requests: c.requests.load(Ordering::SeqCst),
            responses: c.responses.load(Ordering::SeqCst),
            connections: c.connections.load(Ordering::SeqCst),
        }
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, upstream: SocketAddr, counters: Arc<Counters>) {
    while let Ok((client, _)) = listener.accept().await {
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            counters.connections.fetch_add(1, Ordering::SeqCst);
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                pump(client_read, server_write, &counters, Direction::Up),
                pump(server_read, client_write, &counters, Direction::Down),
            );
        });
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    counters: &Counters,
    direction: Direction,
) {
    // A request line ends in " HTTP/1.1\r\n"; a status line starts with "HTTP/1.1 ".
    let marker: &[u8] = match direction {
        Direction::Up => b" HTTP/1.1\r\n",
        Direction::Down => b"HTTP/1.1 ",
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let mut carried: Vec<u8> = Vec::new();
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let data = &buffer[..read];
        let (bytes, starts) = match direction {
            Direction::Up => (&counters.up, &counters.requests),
            Direction::Down => (&counters.down, &counters.responses),
        };
        bytes.fetch_add(read as u64, Ordering::SeqCst);
        // Count markers, including one split across two reads.
        carried.extend_from_slice(data);
        starts.fetch_add(occurrences(&carried, marker), Ordering::SeqCst);
        let keep = carried.len().min(marker.len() - 1);
        carried.drain(..carried.len() - keep);
        if to.write_all(data).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> u64 {
    let mut found = 0;
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|byte| *byte == needle[0]) {
        let start = from + offset;
        if haystack[start..].starts_with(needle) {
            found += 1;
        }
        from = start + 1;
    }
    found
}
