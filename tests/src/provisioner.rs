//! `TestProvisioner`: the real `provisioner serve` binary on a loopback port
//! with a temporary data dir, and one method per files endpoint.
//!
//! The binary must be built first (`cargo build --workspace --bins`); tests
//! in this crate do not build other packages' binaries on their own.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use sync_protocol::{BlobBatchRequest, SyncStatusReport, SyncTokenResponse};
use tempfile::TempDir;
use tokio::process::Child;

use crate::launch::{ServeCommand, Served};

pub struct TestProvisioner {
    child: Option<Child>,
    data_dir: TempDir,
    address: SocketAddr,
    api_key: String,
    /// Whether the key is passed in `PROVISIONER_API_KEY`; else `serve` generates and keeps one.
    key_configured: bool,
    /// The key line `serve` printed at its last start, if it printed one.
    printed_key: Option<String>,
    extra_args: Vec<String>,
    client: reqwest::Client,
}

impl TestProvisioner {
    /// Starts a provisioner with default limits.
    pub async fn spawn() -> anyhow::Result<TestProvisioner> {
        TestProvisioner::spawn_with_args(&[]).await
    }

    /// Starts a provisioner with extra `serve` flags (`--max-file-bytes 100`, ...).
    pub async fn spawn_with_args(extra_args: &[&str]) -> anyhow::Result<TestProvisioner> {
        let api_key = format!("test-key-{}", rand::random::<u64>());
        TestProvisioner::launch(Some(api_key), extra_args).await
    }

    /// Starts a provisioner with a given key, so several instances share one.
    pub async fn spawn_with_key(
        api_key: &str,
        extra_args: &[&str],
    ) -> anyhow::Result<TestProvisioner> {
        TestProvisioner::launch(Some(api_key.to_owned()), extra_args).await
    }

    /// Starts a provisioner without `PROVISIONER_API_KEY`, so that it
    /// generates its key; [`TestProvisioner::api_key`] is the key it printed.
    pub async fn spawn_generating_key() -> anyhow::Result<TestProvisioner> {
        TestProvisioner::launch(None, &[]).await
    }

    async fn launch(
        api_key: Option<String>,
        extra_args: &[&str],
    ) -> anyhow::Result<TestProvisioner> {
        let data_dir = tempfile::tempdir().context("failed to create a data dir")?;
        let extra_args: Vec<String> = extra_args.iter().map(|arg| (*arg).to_owned()).collect();
        let started = start(data_dir.path(), api_key.as_deref(), &extra_args).await?;
        let key_configured = api_key.is_some();
        let api_key = match api_key.or_else(|| started.printed_key.clone()) {
            Some(api_key) => api_key,
            None => bail!("the provisioner printed no generated API key"),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .no_proxy()
            .build()
            .context("failed to build an HTTP client")?;
        Ok(TestProvisioner {
            child: Some(started.child),
            data_dir,
            address: started.address,
            api_key,
            key_configured,
            printed_key: started.printed_key,
            extra_args,
            client,
        })
    }

    /// Restarts (as [`TestProvisioner::restart`]) with `flag`'s value
    /// replaced by `value`, or the flag added when it was not given.
    pub async fn restart_with(&mut self, flag: &str, value: &str) -> anyhow::Result<()> {
        match self.extra_args.iter().position(|arg| arg == flag) {
            Some(at) if at + 1 < self.extra_args.len() => {
                value.clone_into(&mut self.extra_args[at + 1])
            }
            _ => self.extra_args.extend([flag.to_owned(), value.to_owned()]),
        }
        self.restart().await
    }

    /// Kills the process (SIGKILL: no graceful shutdown, as in a crash) and
    /// starts it again on the same data dir. The port may change.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        let api_key = self.key_configured.then_some(self.api_key.as_str());
        let started = start(self.data_dir.path(), api_key, &self.extra_args).await?;
        self.child = Some(started.child);
        self.address = started.address;
        self.printed_key = started.printed_key;
        Ok(())
    }

    /// The generated key `serve` printed at its last start, if it printed one.
    pub fn printed_key(&self) -> Option<&str> {
        self.printed_key.as_deref()
    }

    /// SIGTERM (graceful shutdown), and waits for the exit, at most `timeout`.
    pub async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let child = self.child.take().context("already stopped")?;
        terminate_child(child, timeout).await
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request to `path_and_query` with the operator key.
    pub fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        self.request_as(method, path_and_query, &self.api_key)
    }

    /// A request to `path_and_query` carrying `secret` (an API key or a sync token).
    pub fn request_as(&self, method: Method, path_and_query: &str, secret: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path_and_query}", self.base_url()))
            .bearer_auth(secret)
    }

    pub async fn put_file(
        &self,
        app: &str,
        path: &str,
        content: impl Into<reqwest::Body>,
    ) -> Response {
        self.put_file_encoded(app, &encode_path(path), content)
            .await
    }

    /// `PUT` with the path inserted as given: for paths that must reach the server unnormalised.
    pub async fn put_file_encoded(
        &self,
        app: &str,
        encoded_path: &str,
        content: impl Into<reqwest::Body>,
    ) -> Response {
        let url = format!("/v1/apps/{app}/files/{encoded_path}");
        send(self.request(Method::PUT, &url).body(content)).await
    }

    pub async fn delete_file(&self, app: &str, path: &str) -> Response {
        let url = format!("/v1/apps/{app}/files/{}", encode_path(path));
        send(self.request(Method::DELETE, &url)).await
    }

    pub async fn get_file(&self, app: &str, path: &str, secret: &str) -> Response {
        let url = format!("/v1/apps/{app}/files/{}", encode_path(path));
        send(self.request_as(Method::GET, &url, secret)).await
    }

    /// `POST /files` with any JSON body (a `BatchRequest` or a hand-written value).
    pub async fn batch(&self, app: &str, body: &impl Serialize) -> Response {
        send(
            self.request(Method::POST, &format!("/v1/apps/{app}/files"))
                .json(body),
        )
        .await
    }

    /// `GET /files` with `query` (such as `since=3&wait=5`, or empty) and optional `If-None-Match`.
    pub async fn manifest(
        &self,
        app: &str,
        query: &str,
        if_none_match: Option<&str>,
        secret: &str,
    ) -> Response {
        let mut request = self.request_as(
            Method::GET,
            &format!("/v1/apps/{app}/files?{query}"),
            secret,
        );
        if let Some(etag) = if_none_match {
            request = request.header("if-none-match", etag);
        }
        send(request).await
    }

    pub async fn get_blob(&self, app: &str, sha256: &str, secret: &str) -> Response {
        send(self.request_as(
            Method::GET,
            &format!("/v1/apps/{app}/blobs/{sha256}"),
            secret,
        ))
        .await
    }

    pub async fn blob_batch(&self, app: &str, sha256s: &[String], secret: &str) -> Response {
        let body = BlobBatchRequest {
            sha256: sha256s.to_vec(),
        };
        send(
            self.request_as(Method::POST, &format!("/v1/apps/{app}/blobs"), secret)
                .json(&body),
        )
        .await
    }

    /// Mints a sync token for `app` and returns its text.
    pub async fn mint_sync_token(&self, app: &str) -> anyhow::Result<String> {
        let response =
            send(self.request(Method::POST, &format!("/v1/apps/{app}/sync-token"))).await;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "minting a sync token answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(response.json::<SyncTokenResponse>().await?.token)
    }

    pub async fn report_sync_status(
        &self,
        app: &str,
        token: &str,
        report: &SyncStatusReport,
    ) -> Response {
        let url = format!("/v1/apps/{app}/sync-status");
        send(self.request_as(Method::POST, &url, token).json(report)).await
    }

    pub async fn healthz(&self) -> Response {
        send(self.client.get(format!("{}/healthz", self.base_url()))).await
    }

    pub async fn metrics(&self) -> Response {
        send(self.client.get(format!("{}/metrics", self.base_url()))).await
    }
}

impl Drop for TestProvisioner {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Percent-encodes each segment of `path`, keeping the `/` between them.
pub fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(char::from(byte));
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// Sends SIGTERM to `child` and waits for its exit, at most `timeout`.
pub async fn terminate_child(mut child: Child, timeout: Duration) -> anyhow::Result<ExitStatus> {
    let pid = child.id().context("the process was already reaped")?;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("failed to run kill")?;
    if !kill.success() {
        bail!("kill -TERM {pid} failed");
    }
    tokio::time::timeout(timeout, child.wait())
        .await
        .with_context(|| format!("process {pid} did not exit within {timeout:?} of SIGTERM"))?
        .context("failed to wait for the process")
}

async fn send(request: RequestBuilder) -> Response {
    request
        .send()
        .await
        .expect("the provisioner did not answer")
}

async fn start(
    data_dir: &Path,
    api_key: Option<&str>,
    extra_args: &[String],
) -> anyhow::Result<Served> {
    let mut command = ServeCommand::new(data_dir);
    command.api_key = api_key.map(str::to_owned);
    command.args = extra_args.to_vec();
    command.start().await
}
