//! `provisioner previews ls | show | wake | stop | restart | rm | logs | link`:
//! the operator API's preview routes for people (tables and readable
//! blocks), or their raw answers with `--json`.

use std::time::Duration;

use clap::{Args, Subcommand};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sync_protocol::logs::{LogLine, LogPage};
use sync_protocol::{AppId, PreviewResponse, parse_duration};
use time::OffsetDateTime;

use super::connection::{Connection, ServerArgs};
use super::output::{self, PREVIEW_HEADERS};
use super::sse;
use crate::config::parse_app_id;

/// How many previews `ls` reads in full at once (revisions and render are
/// not in the list answer).
const PARALLEL_READS: usize = 8;

#[derive(Debug, Clone, Args)]
pub struct PreviewsArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Print the server's answers as JSON (log lines: one JSON object a line).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: PreviewsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PreviewsCommand {
    /// Every preview: state, revision saved / on disk / on screen, idle time, URL.
    Ls {
        /// Only previews in this state (`running`, `stopped`, ...).
        #[arg(long)]
        state: Option<String>,
    },
    /// One preview in full: render state and error, dev server, runtime, steps.
    Show(AppArg),
    /// Start a stopped or suspended preview and wait (up to a minute) until it serves.
    Wake(AppArg),
    /// Stop (or suspend) a running preview now; the next wake or visit starts it.
    Stop(AppArg),
    /// Restart the preview's dev server.
    Restart(AppArg),
    /// Destroy the preview; the app's files are kept.
    Rm(AppArg),
    /// Print the preview's kept log; `-f` follows it until Ctrl-C.
    Logs {
        #[command(flatten)]
        app: AppArg,
        #[arg(short, long)]
        follow: bool,
    },
    /// Mint a link into a private preview.
    Link {
        #[command(flatten)]
        app: AppArg,
        /// How long the link works, e.g. `30m`, `12h`, `7d` (60 s to 30 days).
        #[arg(long, default_value = "12h", value_parser = parse_duration)]
        ttl: Duration,
    },
}

/// The app a command is about.
#[derive(Debug, Clone, Args)]
pub struct AppArg {
    #[arg(value_parser = parse_app_id)]
    pub app: AppId,
}

pub async fn run(args: PreviewsArgs) -> anyhow::Result<()> {
    let connection = Connection::open(&args.server)?;
    let json = args.json;
    match args.command {
        PreviewsCommand::Ls { state } => list(&connection, state.as_deref(), json).await,
        PreviewsCommand::Show(AppArg { app }) => {
            let preview = get(&connection, Method::GET, &format!("/v1/apps/{app}/preview")).await?;
            print(json, &preview, |preview| {
                Ok(output::preview_block(
                    &typed(preview)?,
                    OffsetDateTime::now_utc(),
                ))
            })
        }
        PreviewsCommand::Wake(AppArg { app }) => {
            let path = format!("/v1/apps/{app}/wake-preview");
            let preview = get(&connection, Method::POST, &path).await?;
            print(json, &preview, |preview| state_line(&typed(preview)?, ""))
        }
        PreviewsCommand::Stop(AppArg { app }) => {
            let path = format!("/v1/apps/{app}/preview/stop");
            let preview = get(&connection, Method::POST, &path).await?;
            print(json, &preview, |preview| {
                state_line(
                    &typed(preview)?,
                    "; files and machine kept, `previews wake` or a visit starts it",
                )
            })
        }
        PreviewsCommand::Restart(AppArg { app }) => {
            let path = format!("/v1/apps/{app}/preview/restart");
            let control = get(&connection, Method::POST, &path).await?;
            print(json, &control, |control| {
                Ok(format!(
                    "{app}: restart asked (control {}); follow it with `provisioner previews logs {app} -f`\n",
                    control["seq"]
                ))
            })
        }
        PreviewsCommand::Rm(AppArg { app }) => {
            let path = format!("/v1/apps/{app}/preview");
            let preview = get(&connection, Method::DELETE, &path).await?;
            print(json, &preview, |_| {
                Ok(format!("{app}: preview deleted; its files are kept\n"))
            })
        }
        PreviewsCommand::Logs {
            app: AppArg { app },
            follow,
        } => logs(&connection, &app, follow, json).await,
        PreviewsCommand::Link {
            app: AppArg { app },
            ttl,
        } => {
            let request = connection
                .request(Method::POST, &format!("/v1/apps/{app}/preview-links"))
                .json(&json!({ "ttl_seconds": ttl.as_secs() }));
            let link: Value = connection.call(request).await?;
            print(json, &link, |link| {
                Ok(format!(
                    "{}\n(expires {})\n",
                    link["url"].as_str().unwrap_or_default(),
                    link["expires_at"].as_str().unwrap_or("?")
                ))
            })
        }
    }
}

/// `ls`: the list, then each preview read in full for its revisions and render.
async fn list(connection: &Connection, state: Option<&str>, json: bool) -> anyhow::Result<()> {
    let mut request = connection.request(Method::GET, "/v1/previews");
    if let Some(state) = state {
        request = request.query(&[("state", state)]);
    }
    let answer: Value = connection.call(request).await?;
    if json {
        return print(true, &answer, |_| Ok(String::new()));
    }
    let listed: Vec<PreviewResponse> = serde_json::from_value(answer["previews"].clone())?;
    if listed.is_empty() {
        println!("no previews");
        return Ok(());
    }
    let full: Vec<PreviewResponse> = futures::stream::iter(listed)
        .map(|summary| async move {
            let path = format!("/v1/apps/{}/preview", summary.app_id);
            // Deleted since the list was read: its summary is what there is.
            let full = connection
                .call(connection.request(Method::GET, &path))
                .await;
            full.unwrap_or(summary)
        })
        .buffered(PARALLEL_READS)
        .collect()
        .await;
    let now = OffsetDateTime::now_utc();
    let rows: Vec<Vec<String>> = full
        .iter()
        .map(|preview| output::preview_row(preview, now))
        .collect();
    print!("{}", output::table(&PREVIEW_HEADERS, &rows));
    Ok(())
}

/// `logs`: the kept lines page by page; with `follow`, the live stream
/// (which starts with the kept lines) until Ctrl-C.
async fn logs(
    connection: &Connection,
    app: &AppId,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let print_line = |line: &LogLine| {
        if json {
            println!("{}", serde_json::to_string(line).unwrap_or_default());
        } else {
            println!("{}", output::log_line(line));
        }
    };
    if follow {
        let path = format!("/v1/apps/{app}/logs/stream");
        let streamed = sse::follow(connection, &path, |event| {
            if event.event != "line" {
                return;
            }
            if let Ok(line) = serde_json::from_str::<LogLine>(&event.data) {
                print_line(&line);
            }
        });
        return tokio::select! {
            outcome = streamed => outcome,
            _ = tokio::signal::ctrl_c() => Ok(()),
        };
    }
    let mut cursor = 0;
    loop {
        let request = connection
            .request(Method::GET, &format!("/v1/apps/{app}/logs"))
            .query(&[("since", cursor)]);
        let page: LogPage = connection.call(request).await?;
        if page.lines.is_empty() || page.cursor <= cursor {
            return Ok(());
        }
        page.lines.iter().for_each(print_line);
        cursor = page.cursor;
    }
}

async fn get(connection: &Connection, method: Method, path: &str) -> anyhow::Result<Value> {
    connection.call(connection.request(method, path)).await
}

fn typed(answer: &Value) -> anyhow::Result<PreviewResponse> {
    Ok(serde_json::from_value(answer.clone())?)
}

/// `shop: running` and where to open it.
fn state_line(preview: &PreviewResponse, note: &str) -> anyhow::Result<String> {
    let mut text = format!("{}: {}{note}\n", preview.app_id, preview.state);
    if let Some(url) = preview.url.as_deref().filter(|_| note.is_empty()) {
        text.push_str(&format!("open {url}\n"));
    }
    Ok(text)
}

/// The raw answer with `--json`, else what `human` makes of it.
fn print(
    json: bool,
    answer: &Value,
    human: impl FnOnce(&Value) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(answer)?);
    } else {
        print!("{}", human(answer)?);
    }
    Ok(())
}
