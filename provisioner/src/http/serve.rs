//! The accept loop: HTTP/1.1 with upgrades (the edge proxy's WebSockets), a
//! header-read timeout that also ends idle keep-alive connections, and the
//! [`ConnectionTable`] bound. `axum::serve` has neither a timeout nor a
//! bound, so a few hundred clients that never finish their headers could
//! hold every descriptor the process has. A handler that panics answers the
//! documented 500 and its connection leaves the table all the same, so a
//! panic costs neither a seat nor a shutdown that waits for it forever.

use std::any::Any;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;

use super::connections::{Admission, Connection, ConnectionTable, connection_budget};

/// `serve` flags about connections (flattened into `ServeArgs`).
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectionArgs {
    /// Most client connections held open at once; at the limit the one idle
    /// longest is closed for a newcomer. Default: what the open-file limit
    /// allows after a reserve for the store, previews and logs.
    #[arg(long, env = "PROVISIONER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Close a connection that takes longer than this to send a request's
    /// headers, or stays this long idle between requests.
    #[arg(long, env = "PROVISIONER_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = sync_protocol::parse_duration)]
    pub header_read_timeout: Duration,
}

impl ConnectionArgs {
    /// The connection bound: the flag, else the budget of the open-file limit.
    pub fn limit(&self) -> usize {
        self.max_connections.unwrap_or_else(|| {
            let open_files =
                nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                    .map_or(1024, |(soft, _hard)| soft);
            connection_budget(open_files)
        })
    }
}

/// The answer to a connection that finds every place busy.
const FULL_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 96\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"the server holds all the connections it can; retry\"}}\n";

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (each connection closes after its current one).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    args: &ConnectionArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limit = args.limit();
    tracing::info!(
        max_connections = limit,
        header_read_timeout_ms = args.header_read_timeout.as_millis() as u64,
        "accepting connections"
    );
    let table = Arc::new(Mutex::new(ConnectionTable::new(limit)));
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(args.header_read_timeout);
    let builder = Arc::new(builder);
    let router = router.layer(CatchPanicLayer::custom(panic_answer));
    // Closed (the sender dropped) when shutdown begins; each task holds a
    // receiver, so the loop knows when the last one ended.
    let (stop_sender, stop_receiver) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept:
                    // wait a moment rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admission = table.lock().unwrap_or_else(|p| p.into_inner()).admit();
        match admission {
            Admission::Admitted(connection) => {
                let task = ConnectionTask {
                    table: Arc::clone(&table),
                    builder: Arc::clone(&builder),
                    router: router.clone(),
                    stop: stop_receiver.clone(),
                };
                tokio::spawn(task.run(stream, connection));
            }
            Admission::Full => {
                tokio::spawn(refuse(stream));
            }
        }
    }
    drop(stop_sender);
    drop(stop_receiver);
    // Connections end after their request in flight; the caller bounds the wait.
    while table.lock().unwrap_or_else(|p| p.into_inner()).len() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A panic in a handler: logged, answered as any unexpected failure.
fn panic_answer(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    super::ApiError::internal(anyhow::anyhow!("a handler panicked: {message}")).into_response()
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(FULL_RESPONSE)).await;
}

struct ConnectionTask {
    table: Arc<Mutex<ConnectionTable>>,
    builder: Arc<Builder<TokioExecutor>>,
    router: Router,
    stop: watch::Receiver<()>,
}

impl ConnectionTask {
    async fn run(mut self, stream: TcpStream, connection: Connection) {
        // Leaves the table when this task ends, however it ends.
        let _seat = Seat {
            table: Arc::clone(&self.table),
            id: connection.id,
        };
        let _ = stream.set_nodelay(true);
        let in_flight = Arc::clone(&connection.in_flight);
        let router = self.router.clone();
        let service = tower::service_fn(move |request: Request<Incoming>| {
            let guard = InFlight::enter(&in_flight);
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await?;
                Ok::<Response, std::convert::Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        inner: body,
                        _guard: guard,
                    })
                }))
            }
        });
        let hyper_service = TowerToHyperService::new(service);
        let mut serving = pin!(
            self.builder
                .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
        );
        let mut draining = false;
        loop {
            tokio::select! {
                result = serving.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    break;
                }
                // Chosen to give way to a newcomer: dropping the connection closes it.
                () = connection.close.cancelled() => break,
                _ = self.stop.changed(), if !draining => {
                    draining = true;
                    serving.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A connection's place in the table, given back on drop.
struct Seat {
    table: Arc<Mutex<ConnectionTable>>,
    id: u64,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .leave(self.id);
    }
}

/// Counts one request in flight until its response body is done.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: &Arc<AtomicUsize>) -> InFlight {
        counter.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted in flight while it streams
/// (an event stream, a large download).
struct Tracked {
    inner: Body,
    _guard: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_answer_is_the_documented_json_error_with_its_length() {
        let text = std::str::from_utf8(FULL_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let error: sync_protocol::ErrorResponse = serde_json::from_str(body).unwrap();
        assert_eq!(error.error.code, "unavailable");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_shutdown_does_not_wait_for_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        async fn panics() -> &'static str {
            if std::hint::black_box(true) {
                panic!("on purpose");
            }
            "never"
        }
        let router = Router::new().fallback(panics);
        let args = ConnectionArgs {
            max_connections: Some(4),
            header_read_timeout: Duration::from_secs(10),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(listener, router, &args, async move {
                let _ = stopped.await;
            })
            .await;
        });

        let response = reqwest::Client::new()
            .get(format!("http://{address}/panics"))
            .send()
            .await
            .expect("an answer, not a closed connection");
        let status = response.status();
        let body: sync_protocol::ErrorResponse = response.json().await.unwrap();
        stop.send(()).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(5), server).await;

        assert_eq!(status, 500);
        assert_eq!(body.error.code, "internal");
        assert!(ended.is_ok(), "shutdown waited for the panicked connection");
    }
}
