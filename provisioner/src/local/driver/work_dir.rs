//! A local preview's directory under `<data-dir>/previews/<appId>/`:
//!
//! - `app/`: the synced files and whatever the dev server makes (`node_modules/`);
//! - `state/`: the daemon's own state (its index of what it wrote);
//! - `token`: the sync token, readable by the owner only;
//! - `launch.json`: port and server URL, so a restarted provisioner can relaunch;
//! - `daemon.pid`: pid and start time of the running daemon;
//! - `daemon.log`: the daemon's (and through it the dev server's) output.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sync_protocol::AppId;

/// What a relaunch needs besides the token. Nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    pub port: u16,
    pub server_url: String,
}

/// Identifies the daemon process across pid reuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    pub pid: i32,
    pub start_time: u64,
}

#[derive(Clone, Debug)]
pub struct WorkDir {
    root: PathBuf,
}

impl WorkDir {
    pub fn new(previews_root: &Path, app_id: &AppId) -> WorkDir {
        WorkDir {
            root: previews_root.join(app_id.as_str()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn app_dir(&self) -> PathBuf {
        self.root.join("app")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("daemon.log")
    }

    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    pub fn create(&self) -> anyhow::Result<()> {
        for dir in [self.app_dir(), self.state_dir()] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("failed to create `{}`", dir.display()))?;
        }
        Ok(())
    }

    pub fn write_token(&self, token: &str) -> anyhow::Result<()> {
        write_file(&self.root.join("token"), token.as_bytes(), 0o600)
    }

    pub fn read_token(&self) -> anyhow::Result<String> {
        let path = self.root.join("token");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        Ok(text.trim().to_owned())
    }

    pub fn write_launch(&self, launch: &Launch) -> anyhow::Result<()> {
        write_file(
            &self.root.join("launch.json"),
            &serde_json::to_vec(launch)?,
            0o644,
        )
    }

    pub fn read_launch(&self) -> anyhow::Result<Launch> {
        read_json(&self.root.join("launch.json"))
    }

    pub fn write_pid(&self, record: PidRecord) -> anyhow::Result<()> {
        write_file(
            &self.root.join("daemon.pid"),
            &serde_json::to_vec(&record)?,
            0o644,
        )
    }

    pub fn read_pid(&self) -> Option<PidRecord> {
        read_json(&self.root.join("daemon.pid")).ok()
    }

    pub fn remove_pid(&self) {
        let _ = std::fs::remove_file(self.root.join("daemon.pid"));
    }

    pub fn remove(&self) -> anyhow::Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => {
                Err(error).with_context(|| format!("failed to remove `{}`", self.root.display()))
            }
        }
    }
}

/// Every app that has a work dir under `previews_root`.
pub fn list_app_ids(previews_root: &Path) -> Vec<AppId> {
    let Ok(entries) = std::fs::read_dir(previews_root) else {
        return Vec::new();
    };
    let mut app_ids: Vec<AppId> = entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| AppId::parse(entry.file_name().to_str()?).ok())
        .collect();
    app_ids.sort();
    app_ids
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .with_context(|| format!("failed to write `{}`", temporary.display()))?;
    file.write_all(contents)
        .with_context(|| format!("failed to write `{}`", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("failed to rename onto `{}`", path.display()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("`{}` is not valid", path.display()))
}
