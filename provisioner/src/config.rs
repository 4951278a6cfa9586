//! Command line and environment. Every flag has an `env` twin so the same
//! binary is configured by flags on a laptop and by env and secrets on Fly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use sync_protocol::parse_duration;

pub use crate::fly::FlyArgs;
pub use crate::lifecycle::Autostop;
use crate::lifecycle::LifecycleConfig;
pub use crate::local::LocalArgs;

#[derive(Debug, Parser)]
#[command(name = "provisioner", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses this process's arguments, refusing the operator key on the
    /// command line of `serve`: any process on the machine can read a
    /// long-running process's `/proc/<pid>/cmdline`.
    pub fn parse_checked() -> Cli {
        let matches = Cli::command().get_matches();
        let secrets = [
            ("api_key", "--api-key", "PROVISIONER_API_KEY", "api-key"),
            (
                "preview_secret",
                "--preview-secret",
                "PROVISIONER_PREVIEW_SECRET",
                "preview-secret",
            ),
        ];
        if let Some(("serve", serve)) = matches.subcommand() {
            for (id, flag, variable, file) in secrets {
                if serve.value_source(id) == Some(ValueSource::CommandLine) {
                    Cli::command()
                        .error(
                            ErrorKind::ArgumentConflict,
                            format!(
                                "{flag} on the command line is readable by every process on this machine \
                                 (/proc/<pid>/cmdline); set {variable} in the environment instead, \
                                 or leave it unset to use the one kept in <data-dir>/{file}"
                            ),
                        )
                        .exit();
                }
            }
        }
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

// Parsed once at start-up: the size gap between variants costs nothing, and
// boxing would only add noise where the arguments are used.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (and, with the local driver, the previews' edge proxy).
    Serve(ServeArgs),
    /// Upload a directory as an app's files, provision its preview and print
    /// its URL; with --watch, keep saving the directory as you edit it.
    Push(PushArgs),
    /// Print the API's OpenAPI 3.1 document (what `GET /v1/openapi.json` serves).
    Openapi,
    /// List, inspect and control previews, and read their logs.
    Previews(crate::cli::previews::PreviewsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The app whose files and preview these are.
    #[arg(long, value_parser = parse_app_id)]
    pub app: sync_protocol::AppId,

    /// The directory to upload (`node_modules/`, `.git/`, `dist/` are left out).
    #[arg(required_unless_present = "git", conflicts_with = "git")]
    pub dir: Option<PathBuf>,

    /// Import a git repository instead: `URL` or `URL#ref` (branch or tag).
    #[arg(long, value_name = "URL[#REF]")]
    pub git: Option<String>,

    /// With --git: the app's directory inside the repository.
    #[arg(long, requires = "git")]
    pub git_subdir: Option<String>,

    /// With --git: a token that may read a private repository.
    #[arg(
        long,
        env = "PROVISIONER_GIT_TOKEN",
        hide_env_values = true,
        requires = "git"
    )]
    pub git_token: Option<String>,

    /// After the push, keep saving DIR as it is edited: one revision per
    /// burst of changes, until Ctrl-C.
    #[arg(long, requires = "dir")]
    pub watch: bool,

    #[command(flatten)]
    pub server: crate::cli::connection::ServerArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// Previews are Fly apps `preview-<appId>` made through the Machines API.
    Fly,
    /// Previews are sync-daemon processes on this machine, behind the edge proxy.
    Local,
}

/// Everything `serve` reads, one struct per concern. Flag and env names
/// are flat (`--idle-timeout`, `FLY_REGION`); the nesting is only in code.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub limits: LimitsArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[command(flatten)]
    pub fly: FlyArgs,
    #[command(flatten)]
    pub local: LocalArgs,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Who may see previews.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Visibility of an app's preview unless its settings say otherwise:
    /// `public`, or `private` (only through a link from POST .../preview-links).
    #[arg(long, env = "PROVISIONER_PREVIEW_VISIBILITY", default_value = "public",
        value_parser = PossibleValuesParser::new(["public", "private"])
            .map(|text| text.parse::<sync_protocol::access::Visibility>().expect("a listed value")))]
    pub preview_visibility: sync_protocol::access::Visibility,

    /// Secret that private preview links are signed from, from the environment
    /// only; when unset, one is generated and kept in <data-dir>/preview-secret.
    /// Several instances must share one.
    #[arg(long, env = "PROVISIONER_PREVIEW_SECRET", hide_env_values = true)]
    pub preview_secret: Option<String>,

    /// The origins allowed to frame previews (`Content-Security-Policy:
    /// frame-ancestors`), e.g. `https://editor.example.com`; unset: any.
    #[arg(long, env = "PROVISIONER_PREVIEW_FRAME_ANCESTORS")]
    pub preview_frame_ancestors: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "PROVISIONER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Operator API key, from the environment only (never the command line);
    /// when unset, one is generated, printed once and kept in the data dir.
    #[arg(long, env = "PROVISIONER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// URL at which previews reach this provisioner (the daemons' --server).
    #[arg(long, env = "PROVISIONER_PUBLIC_URL")]
    pub public_url: Option<String>,

    #[command(flatten)]
    pub connections: crate::http::serve::ConnectionArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the SQLite store, the generated API key and local previews.
    #[arg(long, env = "PROVISIONER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL for running several instances; SQLite under --data-dir when unset.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LimitsArgs {
    /// Largest single file accepted, in bytes.
    #[arg(long, env = "PROVISIONER_MAX_FILE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_file_bytes: u64,

    /// Most files one app may hold.
    #[arg(long, env = "PROVISIONER_MAX_FILES_PER_APP", default_value_t = 20_000)]
    pub max_files_per_app: u64,

    /// Most bytes one app's files may hold in total.
    #[arg(long, env = "PROVISIONER_MAX_BYTES_PER_APP", default_value_t = 512 * 1024 * 1024)]
    pub max_bytes_per_app: u64,

    /// Revisions of history kept per app for `?since=` deltas; older asks get the full manifest.
    #[arg(long, env = "PROVISIONER_HISTORY_REVISIONS", default_value_t = 1000)]
    pub history_revisions: u64,

    /// Sweep unreferenced file content once this many bytes of it were made
    /// since the last sweep (content replaced or deleted).
    #[arg(long, env = "PROVISIONER_SWEEP_AFTER_GARBAGE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub sweep_after_garbage_bytes: u64,

    /// Sweep unreferenced file content once this many contents were made
    /// since the last sweep, whatever their size.
    #[arg(
        long,
        env = "PROVISIONER_SWEEP_AFTER_GARBAGE_BLOBS",
        default_value_t = 20_000
    )]
    pub sweep_after_garbage_blobs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct LifecycleArgs {
    /// Where previews run: `fly` when a Fly token is given, else `local`.
    #[arg(long, env = "PROVISIONER_DRIVER", value_enum)]
    pub driver: Option<DriverKind>,

    /// Stop (or suspend) a preview after this long without activity, e.g. `10m`, `30s`.
    #[arg(long, env = "PROVISIONER_IDLE_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Destroy a preview (keeping its files) after this long without activity.
    #[arg(long, env = "PROVISIONER_DELETE_AFTER", default_value = "30d", value_parser = parse_duration)]
    pub delete_after: Duration,

    /// How often the idle reaper, TTL sweeper and reconciler run.
    #[arg(long, env = "PROVISIONER_LOOP_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub loop_interval: Duration,

    /// What an idle preview does: suspend (memory snapshot, fast resume),
    /// stop (cold boot on the next start) or off (never stopped on idle).
    #[arg(
        long,
        env = "PREVIEW_AUTOSTOP",
        default_value = "suspend",
        value_parser = PossibleValuesParser::new(["suspend", "stop", "off"])
            .map(|text| text.parse::<Autostop>().expect("a listed value"))
    )]
    pub autostop: Autostop,
}

impl LifecycleArgs {
    /// The lifecycle's settings; `server_url` is where preview daemons reach this provisioner.
    pub fn config(&self, server_url: String) -> LifecycleConfig {
        LifecycleConfig {
            idle_timeout: self.idle_timeout,
            delete_after: self.delete_after,
            autostop: self.autostop,
            // Never wait for an orphan longer than a few passes, nor less than one.
            orphan_grace: (self.loop_interval * 3)
                .clamp(Duration::from_secs(1), Duration::from_secs(300)),
            ..LifecycleConfig::new(server_url)
        }
    }
}

impl ServeArgs {
    pub fn driver_kind(&self) -> DriverKind {
        self.lifecycle
            .driver
            .unwrap_or(if self.fly.fly_api_token.is_some() {
                DriverKind::Fly
            } else {
                DriverKind::Local
            })
    }
}

pub(crate) fn parse_app_id(text: &str) -> Result<sync_protocol::AppId, String> {
    sync_protocol::AppId::parse(text).map_err(|error| error.to_string())
}
