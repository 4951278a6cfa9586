//! `LocalProvisioner`: a real provisioner on the local driver, with real
//! sync-daemons and a tiny node dev server, for the local-preview, push and
//! browser tests.
//!
//! Unlike `TestProvisioner` (which SIGKILLs, as in a crash), dropping a
//! [`LocalProvisioner`] sends SIGTERM and waits, so the provisioner stops its
//! previews and no process of a test outlives it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::Method;
use serde_json::{Value, json};
use sync_protocol::{PreviewResponse, PreviewState};
use tempfile::TempDir;
use tokio::process::Child;

use crate::binaries::sync_daemon_binary;
use crate::launch::ServeCommand;

/// A dev server in one file: answers `message.txt` at `/`, its own pid at
/// `/pid`, the install count at `/installs`, and exits on `/crash`.
pub const DEV_SERVER: &str = r#"
const http = require('http');
const fs = require('fs');
const read = (name) => { try { return fs.readFileSync(name, 'utf8'); } catch { return ''; } };
http.createServer((request, response) => {
  if (request.url === '/crash') { response.end('bye'); setTimeout(() => process.exit(7), 10); return; }
  if (request.url === '/pid') { response.end(String(process.pid)); return; }
  if (request.url === '/installs') { response.end(String(read('installs.log').split('\n').filter(Boolean).length)); return; }
  if (request.url === '/host') { response.end(request.headers.host + ' ' + request.headers['x-forwarded-host']); return; }
  response.setHeader('content-type', 'text/plain');
  response.end(read('message.txt'));
}).listen(Number(process.env.PORT), '127.0.0.1');
"#;

/// Counts installs in the dev server's directory, for the install test.
pub const INSTALL_COMMAND: &str = "echo installed >> installs.log";

pub use crate::processes::{process_exists, process_inside, processes_inside, wait_gone};

pub struct LocalProvisioner {
    child: Option<Child>,
    data_dir: TempDir,
    port: u16,
    api_key: String,
    args: Vec<String>,
    /// Extra environment of the provisioner, which its daemons inherit.
    env: Vec<(String, String)>,
    /// Where the provisioner's log goes; the test's stderr when `None`.
    log: Option<std::path::PathBuf>,
    client: reqwest::Client,
}

impl LocalProvisioner {
    /// Starts `provisioner serve --driver local` running `node server.js` previews.
    pub async fn start(extra_args: &[&str]) -> anyhow::Result<LocalProvisioner> {
        LocalProvisioner::start_with("node server.js", Some(INSTALL_COMMAND), extra_args).await
    }

    /// Starts it with another dev server and install command (`None`: the daemon's default).
    pub async fn start_with(
        exec: &str,
        install: Option<&str>,
        extra_args: &[&str],
    ) -> anyhow::Result<LocalProvisioner> {
        LocalProvisioner::start_with_env(exec, install, extra_args, &[]).await
    }

    /// [`LocalProvisioner::start_with`], with extra environment for the
    /// provisioner and the daemons it starts (`PREVIEW_EDITOR_ORIGINS`, say).
    pub async fn start_with_env(
        exec: &str,
        install: Option<&str>,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<LocalProvisioner> {
        let mut provisioner = LocalProvisioner::prepare(exec, install, extra_args, env)?;
        provisioner.launch().await?;
        Ok(provisioner)
    }

    /// [`LocalProvisioner::start`], with the provisioner's log (at debug)
    /// kept in `provisioner.log` of its data dir, for tests that read it.
    pub async fn start_logging(extra_args: &[&str]) -> anyhow::Result<LocalProvisioner> {
        let env = [("RUST_LOG", "debug")];
        let mut provisioner =
            LocalProvisioner::prepare("node server.js", Some(INSTALL_COMMAND), extra_args, &env)?;
        provisioner.log = Some(provisioner.data_dir.path().join("provisioner.log"));
        provisioner.launch().await?;
        Ok(provisioner)
    }

    fn prepare(
        exec: &str,
        install: Option<&str>,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<LocalProvisioner> {
        let data_dir = tempfile::tempdir().context("failed to create a data dir")?;
        let daemon = sync_daemon_binary()?;
        let mut args: Vec<String> = vec![
            "--driver".to_owned(),
            "local".to_owned(),
            "--local-exec".to_owned(),
            exec.to_owned(),
        ];
        if let Some(install) = install {
            args.extend(["--local-install".to_owned(), install.to_owned()]);
        }
        args.push("--sync-daemon-bin".to_owned());
        args.push(daemon.display().to_string());
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        let api_key = format!("local-test-{}", rand::random::<u64>());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .no_proxy()
            .build()
            .context("failed to build an HTTP client")?;
        Ok(LocalProvisioner {
            child: None,
            data_dir,
            port: 0,
            api_key,
            args,
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            log: None,
            client,
        })
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let mut command = ServeCommand::new(self.data_dir.path());
        command.api_key = Some(self.api_key.clone());
        command.args = self.args.clone();
        command.env = self.env.clone();
        command.log.clone_from(&self.log);
        let served = command.start().await?;
        self.port = served.address.port();
        self.child = Some(served.child);
        Ok(())
    }

    /// SIGTERM and wait (bounded): the provisioner stops its previews.
    pub async fn terminate(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
            kill(Pid::from_raw(pid), Signal::SIGTERM)
                .context("failed to signal the provisioner")?;
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => {
                let status = status?;
                anyhow::ensure!(status.success(), "the provisioner exited with {status}");
                Ok(())
            }
            Err(_) => {
                let _ = child.kill().await;
                bail!("the provisioner did not stop within 30 s of SIGTERM")
            }
        }
    }

    /// SIGKILL, as in a crash: its previews' processes are left behind.
    pub async fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the provisioner again on the same data dir (the port may change).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.launch().await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The preview's URL as a browser opens it.
    pub fn preview_url(&self, app: &str) -> String {
        format!("http://preview-{app}.localhost:{}/", self.port)
    }

    /// An operator call; answers the status and the JSON body (or `null`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url()))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{path} did not answer"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Saves files in one batch.
    pub async fn push(&self, app: &str, files: &[(&str, &str)]) -> anyhow::Result<()> {
        let changes: Vec<Value> = files
            .iter()
            .map(|(path, content)| json!({"path": path, "content": content}))
            .collect();
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/apps/{app}/files"),
                Some(json!({ "changes": changes })),
            )
            .await?;
        anyhow::ensure!(status < 300, "batch answered {status}: {body}");
        Ok(())
    }

    /// `provisioner push --app APP DIR`, as a user runs it (which provisions).
    pub async fn push_dir(&self, app: &str, dir: &Path) -> anyhow::Result<()> {
        let output = tokio::process::Command::new(crate::binaries::provisioner_binary()?)
            .args(["push", "--app", app, "--server", &self.base_url()])
            .args(["--api-key", self.api_key()])
            .arg(dir)
            .output()
            .await
            .context("failed to run `provisioner push`")?;
        anyhow::ensure!(
            output.status.success(),
            "push failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Pushes the tiny dev server and a message, then provisions and waits.
    pub async fn push_and_provision(
        &self,
        app: &str,
        message: &str,
    ) -> anyhow::Result<PreviewResponse> {
        self.push(app, &[("server.js", DEV_SERVER), ("message.txt", message)])
            .await?;
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/apps/{app}/provision-preview"),
                None,
            )
            .await?;
        anyhow::ensure!(status == 200, "provision answered {status}: {body}");
        Ok(serde_json::from_value(body)?)
    }

    /// The preview resource, typed.
    pub async fn preview(&self, app: &str) -> anyhow::Result<PreviewResponse> {
        let (status, body) = self
            .call(Method::GET, &format!("/v1/apps/{app}/preview"), None)
            .await?;
        anyhow::ensure!(status == 200, "GET preview answered {status}: {body}");
        Ok(serde_json::from_value(body)?)
    }

    /// Waits, within `bound`, until the idle reaper put the preview to sleep
    /// (stopped or suspended); fails with the last state seen.
    pub async fn wait_asleep(&self, app: &str, bound: Duration) -> anyhow::Result<PreviewState> {
        let deadline = tokio::time::Instant::now() + bound;
        let mut state = None;
        while tokio::time::Instant::now() < deadline {
            let now = self.preview(app).await?.state;
            if matches!(now, PreviewState::Stopped | PreviewState::Suspended) {
                return Ok(now);
            }
            state = Some(now);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{app} is still {state:?} after {bound:?}")
    }

    /// A GET through the edge proxy with the preview's Host; answers status and body.
    pub async fn visit(
        &self,
        app: &str,
        path: &str,
        accept: &str,
    ) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url()))
            .header("host", format!("preview-{app}.localhost:{}", self.port))
            .header("accept", accept)
            .send()
            .await
            .with_context(|| format!("visiting {path} of {app} failed"))?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// Visits until `check` accepts the answer, for at most `bound`.
    pub async fn visit_until(
        &self,
        app: &str,
        path: &str,
        bound: Duration,
        check: impl Fn(u16, &str) -> bool,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + bound;
        let mut last = (0, String::new());
        while tokio::time::Instant::now() < deadline {
            if let Ok((status, body)) = self.visit(app, path, "*/*").await {
                if check(status, &body) {
                    return Ok(body);
                }
                last = (status, body);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "{path} of {app} never matched within {bound:?}; last answer {} {:?}",
            last.0,
            last.1
        )
    }

    /// The daemon pid recorded in the preview's work dir, if it runs.
    pub fn daemon_pid(&self, app: &str) -> Option<i32> {
        let path = self
            .data_dir
            .path()
            .join("previews")
            .join(app)
            .join("daemon.pid");
        let record: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        record["pid"]
            .as_i64()
            .and_then(|pid| i32::try_from(pid).ok())
    }
}

impl Drop for LocalProvisioner {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        // A graceful stop lets the provisioner stop its previews; bounded.
        for _ in 0..300 {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.start_kill();
    }
}
