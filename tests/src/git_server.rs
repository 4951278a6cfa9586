//! Real git servers on loopback for the import tests: `git daemon` (the
//! `git://` protocol), and git's smart HTTP (`git http-backend`, run as CGI)
//! behind a small server that answers 401 without the right token. Plus
//! helpers that make and commit to throwaway repositories.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::binaries::free_port;

/// Runs git in `dir` with a fixed identity; panics with its stderr on failure.
fn git(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new repository `root/name` whose default branch is `main`.
pub fn git_repository(root: &Path, name: &str) -> PathBuf {
    let repository = root.join(name);
    std::fs::create_dir_all(&repository).expect("mkdir");
    git(&repository, &["init", "-q", "-b", "main"]);
    repository
}

/// Commits everything in the work tree; `force` adds ignored files too.
pub fn commit_all(repository: &Path, message: &str, force: bool) {
    if force {
        git(repository, &["add", "-A", "-f"]);
    } else {
        git(repository, &["add", "-A"]);
    }
    git(repository, &["commit", "-q", "-m", message]);
}

/// `git daemon` exporting every repository under a directory.
pub struct GitDaemon {
    child: Child,
    port: u16,
}

impl GitDaemon {
    pub async fn start(base: &Path) -> anyhow::Result<GitDaemon> {
        let port = free_port();
        let child = Command::new("git")
            .arg("daemon")
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, so dropping it ends the upload-packs it forked too.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .context("failed to start git daemon")?;
        let mut daemon = GitDaemon { child, port };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(daemon);
            }
            if let Some(status) = daemon.child.try_wait()? {
                bail!("git daemon exited with {status}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("git daemon did not listen within 5 s")
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `git http-backend` behind a server that wants `Authorization: Basic`
/// with `x-access-token:<token>`, the form hosted git services accept.
pub struct TokenGitServer {
    address: SocketAddr,
    authorized: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Backend {
    root: PathBuf,
    expected: String,
    authorized: Arc<AtomicU64>,
}

impl TokenGitServer {
    pub async fn start(root: &Path, token: &str) -> anyhow::Result<TokenGitServer> {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        let authorized = Arc::new(AtomicU64::new(0));
        let backend = Backend {
            root: root.to_path_buf(),
            expected: format!("Basic {credentials}"),
            authorized: Arc::clone(&authorized),
        };
        let router = axum::Router::new().fallback(serve).with_state(backend);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(TokenGitServer {
            address,
            authorized,
            task,
        })
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.address)
    }

    /// Requests that carried the right token.
    pub fn authorized_requests(&self) -> u64 {
        self.authorized.load(Ordering::Relaxed)
    }
}

impl Drop for TokenGitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(backend): State<Backend>, request: Request) -> Response {
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(backend.expected.as_str());
    if !authorized {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Basic realm=\"git\"")
            .body(Body::from("token required"))
            .expect("response");
    }
    backend.authorized.fetch_add(1, Ordering::Relaxed);
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    match cgi(&backend.root, &method, &path, &query, &headers, body).await {
        Ok(response) => response,
        Err(error) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from(error.to_string()))
            .expect("response"),
    }
}

/// One request through `git http-backend`, CGI style.
async fn cgi(
    root: &Path,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> anyhow::Result<Response> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("failed to run git http-backend")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .context("git http-backend took over 60 s")??;
    let _ = writer.await;
    let split = output
        .stdout
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|window| window == b"\n\n")
                .map(|at| (at, 2))
        })
        .context("git http-backend printed no headers")?;
    let (head, rest) = output.stdout.split_at(split.0);
    let mut response = Response::builder().status(StatusCode::OK);
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code: u16 = value.split(' ').next().unwrap_or("500").parse()?;
            response = response.status(code);
        } else {
            response = response.header(name, value);
        }
    }
    Ok(response.body(Body::from(rest[split.1..].to_vec()))?)
}
