//! Logging setup: human-readable lines by default, one JSON object a line
//! with `--log-format json` or `LOG_FORMAT=json` (what a log shipper on Fly
//! wants, as for the provisioner). Filter with `RUST_LOG`. Logs go to
//! stderr; the app id is under the key `app_id`.

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
