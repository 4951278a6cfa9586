//! Command line and environment. Every flag has an `env` twin so the same
//! binary is configured by flags on a laptop and by env and secrets on Fly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sync_protocol::parse_duration;

#[derive(Debug, Parser)]
#[command(name = "provisioner", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up: the size gap between variants costs nothing, and
// boxing would only add noise where the arguments are used.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (and, with the local driver, the previews' edge proxy).
    Serve(ServeArgs),
    /// Upload a directory as an app's files, provision its preview and print its URL.
    Push(PushArgs),
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

    /// Base URL of the provisioner.
    #[arg(long, env = "PROVISIONER_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,

    /// Operator API key; when unset, the one `serve` keeps in --data-dir.
    #[arg(long, env = "PROVISIONER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// The data dir of a local `serve`, to read its kept API key from.
    #[arg(long, env = "PROVISIONER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// Previews are Fly apps `preview-<appId>` made through the Machines API.
    Fly,
    /// Previews are sync-daemon processes on this machine, behind the edge proxy.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Autostop {
    /// Snapshot memory when idle; resumes in a few hundred milliseconds.
    Suspend,
    /// Shut the VM down when idle; the next start is a cold boot.
    Stop,
    /// Never stop on idle.
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "PROVISIONER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the SQLite store, the generated API key and local previews.
    #[arg(long, env = "PROVISIONER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Operator API key; when unset, one is generated, printed once and kept in the data dir.
    #[arg(long, env = "PROVISIONER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// PostgreSQL URL for running several instances; SQLite under --data-dir when unset.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where previews run: `fly` when a Fly token is given, else `local`.
    #[arg(long, env = "PROVISIONER_DRIVER", value_enum)]
    pub driver: Option<DriverKind>,

    /// URL at which previews reach this provisioner (the daemons' --server).
    #[arg(long, env = "PROVISIONER_PUBLIC_URL")]
    pub public_url: Option<String>,

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

    /// Stop (or suspend) a preview after this long without activity, e.g. `10m`, `30s`.
    #[arg(long, env = "PROVISIONER_IDLE_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Destroy a preview (keeping its files) after this long without activity.
    #[arg(long, env = "PROVISIONER_DELETE_AFTER", default_value = "30d", value_parser = parse_duration)]
    pub delete_after: Duration,

    /// How often the idle reaper, TTL sweeper and reconciler run.
    #[arg(long, env = "PROVISIONER_LOOP_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub loop_interval: Duration,

    /// Fly API token (org-scoped: it creates and deletes apps). Selects the fly driver.
    #[arg(long, env = "FLY_API_TOKEN", hide_env_values = true)]
    pub fly_api_token: Option<String>,

    /// Base URL of Fly's Machines API.
    #[arg(long, env = "FLY_API_URL", default_value = "https://api.machines.dev")]
    pub fly_api_url: String,

    /// Fly organization that owns the preview apps.
    #[arg(long, env = "FLY_ORG_SLUG", default_value = "personal")]
    pub fly_org_slug: String,

    /// Fly region the preview machines run in.
    #[arg(long, env = "FLY_REGION", default_value = "iad")]
    pub fly_region: String,

    /// Runtime image each preview machine runs (sync-daemon supervising the dev server).
    #[arg(
        long,
        env = "PREVIEW_IMAGE",
        default_value = "registry.fly.io/preview-runtime:latest"
    )]
    pub preview_image: String,

    /// What an idle preview machine does: suspend, stop or off.
    #[arg(long, env = "PREVIEW_AUTOSTOP", value_enum, default_value = "suspend")]
    pub autostop: Autostop,

    /// Preview machine CPU count (shared CPUs).
    #[arg(long, env = "PREVIEW_CPUS", default_value_t = 1)]
    pub preview_cpus: u32,

    /// Preview machine memory in MB; at most 2048 for suspend to work.
    #[arg(long, env = "PREVIEW_MEMORY_MB", default_value_t = 1024)]
    pub preview_memory_mb: u32,

    /// Port the dev server listens on inside a preview.
    #[arg(long, env = "PREVIEW_PORT", default_value_t = 3000)]
    pub preview_port: u16,

    /// Local driver: the sync-daemon binary to run for each preview; next to this binary when unset.
    #[arg(long, env = "PROVISIONER_SYNC_DAEMON_BIN")]
    pub sync_daemon_bin: Option<PathBuf>,

    /// Local driver: the dev server command each preview's daemon supervises.
    #[arg(long, env = "PROVISIONER_LOCAL_EXEC", default_value = "npm run dev")]
    pub local_exec: String,

    /// Local driver: the install command each preview's daemon runs when
    /// package.json changes; the daemon's own default (`npm install`) when unset.
    #[arg(long, env = "PROVISIONER_LOCAL_INSTALL")]
    pub local_install: Option<String>,
}

impl ServeArgs {
    pub fn driver_kind(&self) -> DriverKind {
        self.driver.unwrap_or(if self.fly_api_token.is_some() {
            DriverKind::Fly
        } else {
            DriverKind::Local
        })
    }
}

fn parse_app_id(text: &str) -> Result<sync_protocol::AppId, String> {
    sync_protocol::AppId::parse(text).map_err(|error| error.to_string())
}
