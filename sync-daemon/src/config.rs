//! Command line and environment: what the daemon syncs, from where, and what
//! it supervises.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sync_protocol::{AppId, SyncToken};

use crate::error::CriticalError;
use crate::sandbox::Sandbox;

/// Pulls an app's files from the provisioner into a directory, atomically,
/// and optionally supervises the app's dev server there.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "sync-daemon", version)]
pub struct Args {
    /// Base URL of the provisioner, e.g. `http://127.0.0.1:8080`.
    #[arg(long, env = "SYNC_SERVER_URL")]
    pub server: String,

    /// The app whose files are synced.
    #[arg(long, env = "SYNC_APP_ID")]
    pub app: String,

    /// The app's sync token (`st1.<app>.<hex>`); never logged.
    #[arg(long, env = "SYNC_TOKEN", hide_env_values = true)]
    pub token: String,

    /// The directory the files land in; created if missing.
    #[arg(long, env = "SYNC_DIR")]
    pub dir: PathBuf,

    /// Pause between two polls when long-polling is off or unavailable,
    /// e.g. `3s`, `500ms`, `1m` (a bare number means seconds).
    #[arg(long, env = "SYNC_INTERVAL", default_value = "3s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Ask for changes every interval (`?since=N`, or `If-None-Match` when
    /// the server refuses that) instead of holding a long-poll open.
    #[arg(long)]
    pub no_long_poll: bool,

    /// Converge the directory once, then exit.
    #[arg(long)]
    pub once: bool,

    /// Where the daemon keeps its index, staging area and records; must be
    /// outside --dir. Default: the sibling `.<dirname>.sync`.
    #[arg(long, env = "SYNC_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Dev server command to supervise (run with `sh -c` in --dir).
    #[arg(long, env = "SYNC_EXEC")]
    pub exec: Option<String>,

    /// Install command run before the dev server when package.json or a
    /// lockfile changed since the last install.
    #[arg(long, env = "SYNC_INSTALL", default_value = "npm install")]
    pub install: String,

    /// Port the dev server listens on; passed to it as `PORT` and probed on
    /// 127.0.0.1 to tell when it is ready.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Run the install and the dev server under bubblewrap (`bwrap`): only
    /// --dir writable (seen as /app), the system read-only, no other process
    /// visible, nothing else of this machine mounted. The daemon stays outside.
    #[arg(long, env = "SYNC_SANDBOX")]
    pub sandbox: bool,
}

/// The validated configuration the daemon runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub server: reqwest::Url,
    pub app_id: AppId,
    /// Debug-printing this never shows the secret.
    pub token: SyncToken,
    /// Absolute path of the synced tree.
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    pub interval: Duration,
    pub long_poll: bool,
    pub once: bool,
    pub supervise: Option<SuperviseConfig>,
}

#[derive(Clone, Debug)]
pub struct SuperviseConfig {
    pub exec: String,
    pub install: String,
    pub port: u16,
    /// Where the app's own commands run; `None`: as the daemon, in --dir.
    pub sandbox: Option<Sandbox>,
}

impl Config {
    pub fn from_args(args: Args) -> Result<Config, CriticalError> {
        let bad = |message: String| CriticalError::Config(message);
        let server = reqwest::Url::parse(&args.server)
            .map_err(|error| bad(format!("--server {:?} is not a URL: {error}", args.server)))?;
        let app_id = AppId::parse(&args.app).map_err(|error| bad(format!("--app: {error}")))?;
        // The token's text is deliberately left out of the message.
        let token = SyncToken::parse(&args.token).map_err(|_| {
            bad("--token is not a sync token (st1.<app>.<64 hex digits>)".to_owned())
        })?;
        if token.app_id() != &app_id {
            return Err(bad(format!(
                "--token belongs to app {}, not to --app {app_id}",
                token.app_id()
            )));
        }
        let dir = absolute(&args.dir)?;
        let state_dir = match args.state_dir {
            Some(state_dir) => absolute(&state_dir)?,
            None => default_state_dir(&dir)?,
        };
        if state_dir.starts_with(&dir) {
            return Err(bad(format!(
                "--state-dir {} is inside --dir {}; keep it outside the synced tree",
                state_dir.display(),
                dir.display()
            )));
        }
        let sandbox = match args.sandbox {
            false => None,
            true => Some(Sandbox {
                program: crate::sandbox::find_bwrap().ok_or_else(|| {
                    bad("--sandbox needs bwrap on PATH (Debian package `bubblewrap`)".to_owned())
                })?,
                app_dir: dir.clone(),
                home_dir: state_dir.join("home"),
            }),
        };
        let supervise = args.exec.map(|exec| SuperviseConfig {
            exec,
            install: args.install,
            port: args.port,
            sandbox,
        });
        Ok(Config {
            server,
            app_id,
            token,
            dir,
            state_dir,
            interval: args.interval.max(Duration::from_millis(10)),
            long_poll: !args.no_long_poll,
            once: args.once,
            supervise,
        })
    }
}

/// `3s`, `250ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 3s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}; use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text:?}: {error}"))
}

fn absolute(path: &Path) -> Result<PathBuf, CriticalError> {
    std::path::absolute(path).map_err(|source| CriticalError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A sibling of the synced tree, so nothing the daemon keeps is ever seen by
/// the dev server's watcher, and so staging usually shares the tree's
/// filesystem.
fn default_state_dir(dir: &Path) -> Result<PathBuf, CriticalError> {
    match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(name)) => Ok(parent.join(format!(".{}.sync", name.to_string_lossy()))),
        _ => Err(CriticalError::Config(format!(
            "--dir {} has no parent; pass --state-dir explicitly",
            dir.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn state_dir_defaults_to_a_sibling() {
        assert_eq!(
            default_state_dir(Path::new("/srv/app")).unwrap(),
            Path::new("/srv/.app.sync")
        );
        assert!(default_state_dir(Path::new("/")).is_err());
    }
}
