//! When the dev server is ready, and where: ready means it answered an HTTP
//! request (any status), not that a port accepted a connection: Vite and
//! Next open their port well before they can serve a page. The address
//! tried first is the one it was told; then the sockets its process group
//! listens on; then the URLs it printed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ports;
use crate::gateway::OutputTail;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A first request may compile the page (Next does); it gets this long.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(90);
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// How many printed lines are searched for announced URLs.
const SEARCHED_LINES: usize = 50;

/// Whether something at `address` answers `GET /` with an HTTP response.
pub async fn answers_http(address: SocketAddr) -> bool {
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
    else {
        return false;
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: localhost:{}\r\nAccept: text/html\r\nUser-Agent: preview-gateway-probe\r\nConnection: close\r\n\r\n",
        address.port()
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    matches!(
        tokio::time::timeout(ANSWER_TIMEOUT, stream.read_exact(&mut head)).await,
        Ok(Ok(_)) if &head == b"HTTP/"
    )
}

/// The addresses to try, in order, without repeats.
pub fn candidates(dev_port: u16, group: i32, output: &OutputTail) -> Vec<SocketAddr> {
    let mut found = vec![
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), dev_port),
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), dev_port),
    ];
    let listening = ports::listening_in_group(group);
    let printed = output
        .last(SEARCHED_LINES)
        .iter()
        .flat_map(|line| ports::announced(line))
        .collect::<Vec<_>>();
    for address in listening.into_iter().chain(printed) {
        if !found.contains(&address) {
            found.push(address);
        }
    }
    found
}

/// Waits until one candidate answers HTTP; returns it. Only addresses that
/// accept a connection are asked, one at a time.
pub async fn find_upstream(dev_port: u16, group: i32, output: OutputTail) -> SocketAddr {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    loop {
        tick.tick().await;
        for address in candidates(dev_port, group, &output) {
            if answers_http(address).await {
                return address;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_an_http_answer_counts_as_ready() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_address = silent.local_addr().unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_address = http.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = http.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            let _ = stream
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        // The silent listener accepts and closes without a word.
        tokio::spawn(async move {
            let (stream, _) = silent.accept().await.unwrap();
            drop(stream);
        });
        assert!(answers_http(http_address).await, "a 404 is an answer");
        assert!(!answers_http(silent_address).await, "a connection is not");
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        assert!(!answers_http(closed).await);
    }

    #[test]
    fn the_given_port_comes_first_then_printed_urls() {
        let output = OutputTail::new();
        output.push("dev", "  Local: http://localhost:5174/");
        let found = candidates(4000, -1, &output);
        assert_eq!(found[0], "127.0.0.1:4000".parse().unwrap());
        assert_eq!(found[1], "[::1]:4000".parse().unwrap());
        assert_eq!(found[2], "127.0.0.1:5174".parse().unwrap());
        assert_eq!(found[3], "[::1]:5174".parse().unwrap());
    }
}
