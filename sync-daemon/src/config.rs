//! Command line and environment: what the daemon syncs, from where, and what
//! it supervises.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sync_protocol::{AppId, SyncToken, parse_duration};

use crate::error::CriticalError;
use crate::logging::LogFormat;
use crate::run_as::RunAs;
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

    /// Supervise a dev server behind the preview gateway: `auto` detects the
    /// framework and its dev command from the app's files; anything else is
    /// the command itself (run with `sh -c` in --dir, with `PORT` set to the
    /// dev server's private port).
    #[arg(long, env = "SYNC_EXEC")]
    pub exec: Option<String>,

    /// Install command run before the dev server when package.json or a
    /// lockfile changed since the last install; detected from the lockfile
    /// (npm, pnpm, yarn, bun) when unset.
    #[arg(long, env = "SYNC_INSTALL")]
    pub install: Option<String>,

    /// The port the preview answers on: the gateway listens here (with
    /// --exec) and forwards to the dev server.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Run the install and the dev server under bubblewrap (`bwrap`): only
    /// --dir writable (seen as /app), the system read-only, no other process
    /// visible, nothing else of this machine mounted. The daemon stays outside.
    #[arg(long, env = "SYNC_SANDBOX")]
    pub sandbox: bool,

    /// Run the install and the dev server as this user (a name or a uid), so
    /// the app's code cannot read the daemon's environment or state. Needs
    /// the daemon to run as root (or with CAP_SETUID and CAP_SETGID).
    #[arg(long, env = "SYNC_RUN_AS")]
    pub run_as: Option<String>,
    /// The address the gateway binds: loopback for local previews,
    /// `0.0.0.0` in a Fly machine.
    #[arg(long, env = "SYNC_GATEWAY_BIND", default_value = "127.0.0.1")]
    pub gateway_bind: IpAddr,

    /// The dev server's private loopback port; a free one when unset.
    #[arg(long, env = "SYNC_DEV_PORT")]
    pub dev_port: Option<u16>,

    /// How long a running dev server may take to answer HTTP before the
    /// preview reports it `unresponsive` with its last output.
    #[arg(long, env = "SYNC_READY_TIMEOUT", default_value = "180s", value_parser = parse_duration)]
    pub ready_timeout: Duration,

    /// Origins of the editor windows that frame the preview and receive its
    /// page events by `postMessage` (comma-separated, e.g.
    /// `https://editor.example`); none: the page tells no other window.
    #[arg(long, env = "PREVIEW_EDITOR_ORIGINS", value_delimiter = ',')]
    pub editor_origins: Vec<String>,

    /// How log lines are written: `text`, or `json` for a log shipper.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
    /// The dev command, or `auto`.
    pub exec: String,
    /// An explicit install command; detected when `None`.
    pub install: Option<String>,
    /// The gateway's port.
    pub port: u16,
    /// Where the app's own commands run; `None`: as the daemon, in --dir.
    pub sandbox: Option<Sandbox>,
    /// The user the app's own commands run as; `None`: the daemon's.
    pub run_as: Option<RunAs>,
    pub gateway_bind: IpAddr,
    pub dev_port: Option<u16>,
    pub ready_timeout: Duration,
    /// Where the page script may `postMessage` its events.
    pub editor_origins: Vec<String>,
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
        let run_as = match &args.run_as {
            Some(_) if args.sandbox => {
                return Err(bad(
                    "--run-as and --sandbox together: --sandbox already keeps the app from the daemon (local previews); --run-as is for a VM of its own without bwrap. Give one".to_owned(),
                ));
            }
            Some(user) => Some(crate::run_as::resolve(user).map_err(bad)?),
            None => None,
        };
        if args.dev_port.is_some_and(|dev_port| dev_port == args.port) {
            return Err(bad(format!(
                "--dev-port {} is the gateway's --port; give the dev server another port or leave --dev-port unset",
                args.port
            )));
        }
        let supervise = args.exec.map(|exec| SuperviseConfig {
            exec,
            install: args.install,
            port: args.port,
            sandbox,
            run_as,
            gateway_bind: args.gateway_bind,
            dev_port: args.dev_port,
            ready_timeout: args.ready_timeout,
            editor_origins: args
                .editor_origins
                .iter()
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect(),
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
    fn log_lines_are_text_unless_json_is_asked_for() {
        use clap::Parser;
        let base = [
            "sync-daemon",
            "--server",
            "http://127.0.0.1:1",
            "--app",
            "a",
            "--token",
            "t",
            "--dir",
            "/tmp/app",
        ];
        let parse = |extra: &[&str]| Args::try_parse_from(base.iter().chain(extra));
        assert_eq!(parse(&[]).unwrap().log_format, LogFormat::Text);
        assert_eq!(
            parse(&["--log-format", "json"]).unwrap().log_format,
            LogFormat::Json
        );
        let refused = parse(&["--log-format", "xml"]).unwrap_err().to_string();
        assert!(
            refused.contains("json"),
            "the error names the choices: {refused}"
        );
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
