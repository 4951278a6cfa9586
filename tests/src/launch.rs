//! The one way a test, an example or a benchmark starts `provisioner serve`:
//! on a loopback port chosen by the kernel, with the settings of the
//! developer's shell removed, reading the address (and a generated key) from
//! what `serve` prints before it listens.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::binaries::provisioner_binary;

/// The stdout line `serve` prints once it is bound.
const LISTENING_PREFIX: &str = "listening on http://";
/// What precedes the key on the line `serve` prints when it generates one.
const GENERATED_KEY_MARKER: &str = "generated operator API key (kept in the data dir): ";
/// How long a start may take before the caller gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start one `provisioner serve`.
#[derive(Clone, Debug)]
pub struct ServeCommand {
    /// The binary; [`provisioner_binary`] by default.
    pub binary: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// `PROVISIONER_API_KEY`; `None` lets `serve` generate and print one.
    pub api_key: Option<String>,
    /// Flags after `serve --listen 127.0.0.1:0 --data-dir DIR`.
    pub args: Vec<String>,
    /// Extra environment (`RUST_LOG`, say).
    pub env: Vec<(String, String)>,
    /// Where stderr (the log) goes; the caller's stderr when `None`.
    pub log: Option<PathBuf>,
    /// Lead a process group of its own, so a benchmark can kill it with
    /// everything it started.
    pub own_process_group: bool,
}

/// A started `serve` and what it printed before listening.
#[derive(Debug)]
pub struct Served {
    pub child: Child,
    pub address: SocketAddr,
    /// The generated key, when `serve` printed one.
    pub printed_key: Option<String>,
}

impl ServeCommand {
    pub fn new(data_dir: &Path) -> ServeCommand {
        ServeCommand {
            binary: None,
            data_dir: data_dir.to_path_buf(),
            api_key: None,
            args: Vec::new(),
            env: Vec::new(),
            log: None,
            own_process_group: false,
        }
    }

    /// Starts it and waits (bounded) until it listens. Its stdout is read to
    /// the end in the background, so a later print never meets a closed pipe.
    pub async fn start(&self) -> anyhow::Result<Served> {
        let binary = match &self.binary {
            Some(binary) => binary.clone(),
            None => provisioner_binary()?,
        };
        let mut command = Command::new(binary);
        // Settings from the developer's shell must not leak into a test.
        for (name, _) in std::env::vars() {
            if name.starts_with("FLY_")
                || name.starts_with("SYNC_")
                || name == "DATABASE_URL"
                || (name.starts_with("PROVISIONER_") && name != "PROVISIONER_BIN")
            {
                command.env_remove(name);
            }
        }
        if let Some(api_key) = &self.api_key {
            command.env("PROVISIONER_API_KEY", api_key);
        }
        let stderr = match &self.log {
            Some(log) => Stdio::from(
                std::fs::File::create(log)
                    .with_context(|| format!("cannot create {}", log.display()))?,
            ),
            None => Stdio::inherit(),
        };
        command
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data_dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        if self.own_process_group {
            command.process_group(0);
        }
        let mut child = command.spawn().context("failed to start the provisioner")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (address, printed_key) = tokio::time::timeout(START_TIMEOUT, async {
            let mut printed_key = None;
            while let Some(line) = lines.next_line().await? {
                if let Some(address) = line.trim().strip_prefix(LISTENING_PREFIX) {
                    let address = address
                        .trim()
                        .parse::<SocketAddr>()
                        .context("unparsable listening line")?;
                    return Ok((address, printed_key));
                }
                if let Some((_, key)) = line.split_once(GENERATED_KEY_MARKER) {
                    printed_key = Some(key.trim().to_owned());
                }
            }
            match &self.log {
                Some(log) => bail!(
                    "the provisioner exited before listening; see {}",
                    log.display()
                ),
                None => bail!("the provisioner exited before listening"),
            }
        })
        .await
        .context("the provisioner did not start in time")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Served {
            child,
            address,
            printed_key,
        })
    }
}
