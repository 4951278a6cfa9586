//! `provisioner previews ...` against a real provisioner with the local
//! driver: tables and raw answers, stop then wake, restart, rm, logs (and
//! `-f` until Ctrl-C), links into private previews, and the server's errors
//! printed as `error: <code>: <message>` with exit code 1. The server and
//! key come from the environment here (`PROVISIONER_URL`,
//! `PROVISIONER_API_KEY`), as a user's shell sets them.

use std::process::{Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use preview_tests::binaries::provisioner_binary;
use preview_tests::local_preview::LocalProvisioner;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HOST};
use serde_json::{Value, json};
use sync_protocol::PreviewState;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const BOOT: Duration = Duration::from_secs(30);

/// `provisioner ARGS` with the server and key in the environment.
pub fn command(provisioner: &LocalProvisioner, args: &[&str]) -> Command {
    let mut command = Command::new(provisioner_binary().expect("binary"));
    command
        .args(args)
        .env("PROVISIONER_URL", provisioner.base_url())
        .env("PROVISIONER_API_KEY", provisioner.api_key())
        .env_remove("PROVISIONER_DATA_DIR")
        .kill_on_drop(true);
    command
}

/// Runs `provisioner ARGS` to its end (bounded).
pub async fn run(provisioner: &LocalProvisioner, args: &[&str]) -> Output {
    let output = command(provisioner, args).output();
    tokio::time::timeout(Duration::from_secs(90), output)
        .await
        .expect("the command ends")
        .expect("the command runs")
}

/// Runs and expects success; answers stdout.
pub async fn run_ok(provisioner: &LocalProvisioner, args: &[&str]) -> String {
    let output = run(provisioner, args).await;
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A running command whose stdout lines arrive on a channel.
pub struct Running {
    pub child: Child,
    pub lines: mpsc::UnboundedReceiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawns");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line from now on that `matches`, within `bound`.
    pub async fn line(&mut self, bound: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let next = tokio::time::timeout_at(deadline, self.lines.recv()).await;
            match next {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                _ => panic!("no matching line within {bound:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// SIGINT, as Ctrl-C sends; answers whether it exited 0 (bounded).
    pub async fn interrupt(&mut self) -> bool {
        let pid = i32::try_from(self.child.id().expect("running")).expect("pid");
        kill(Pid::from_raw(pid), Signal::SIGINT).expect("signal");
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("exits after SIGINT")
            .expect("status");
        status.success()
    }
}

/// The cells of the table row that starts with `app`.
fn row<'a>(table: &'a str, app: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|line| line.starts_with(&format!("{app} ")))
        .unwrap_or_else(|| panic!("no row for {app} in\n{table}"))
        .split_whitespace()
        .collect()
}

async fn applied(provisioner: &LocalProvisioner, app: &str, revision: u64) {
    for _ in 0..300 {
        if provisioner
            .preview(app)
            .await
            .expect("preview")
            .applied_revision
            >= Some(revision)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{app} never applied revision {revision}");
}

#[tokio::test]
async fn ls_and_show_print_a_table_a_block_and_the_raw_answers() {
    // Arrange
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("listed", "hello")
        .await
        .expect("provision");
    applied(&provisioner, "listed", 1).await;
    // What the daemon runs is reported once its supervisor chose it.
    for _ in 0..200 {
        if provisioner
            .preview("listed")
            .await
            .expect("preview")
            .runtime
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Act
    let table = run_ok(&provisioner, &["previews", "ls"]).await;
    let raw_list: Value =
        serde_json::from_str(&run_ok(&provisioner, &["previews", "ls", "--json"]).await).unwrap();
    let block = run_ok(&provisioner, &["previews", "show", "listed"]).await;
    let raw: Value = serde_json::from_str(
        &run_ok(&provisioner, &["previews", "--json", "show", "listed"]).await,
    )
    .unwrap();

    // Assert
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|cell| !cell.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        [
            "APP",
            "STATE",
            "SAVED",
            "ON DISK",
            "ON SCREEN",
            "IDLE FOR",
            "URL"
        ]
    );
    let cells = row(&table, "listed");
    assert_eq!(&cells[..4], ["listed", "running", "1", "1"], "{table}");
    assert_eq!(
        *cells.last().unwrap(),
        provisioner.preview_url("listed"),
        "{table}"
    );
    assert_eq!(raw_list["previews"][0]["app_id"], "listed", "{raw_list}");
    assert_eq!(raw["app_id"], "listed");
    assert_eq!(raw["state"], "running");
    assert_eq!(raw["files_revision"], 1);
    for expected in [
        "app        listed\n".to_owned(),
        "state      running\n".to_owned(),
        format!("url        {}\n", provisioner.preview_url("listed")),
        "revision   saved 1 · on disk 1 · on screen ".to_owned(),
        "dev server ".to_owned(),
        "steps      ".to_owned(),
    ] {
        assert!(block.contains(&expected), "{expected:?} in\n{block}");
    }
    let runtime = block.lines().find(|line| line.starts_with("runtime    "));
    assert!(
        runtime.is_some_and(|line| line.ends_with("node server.js")),
        "{block}"
    );
}

#[tokio::test]
async fn stop_puts_a_preview_to_sleep_and_wake_brings_it_back() {
    // Arrange
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("napper", "awake")
        .await
        .expect("provision");

    // Act
    let stopped = run_ok(&provisioner, &["previews", "stop", "napper"]).await;
    let asleep = provisioner.preview("napper").await.expect("preview").state;
    let again = run(&provisioner, &["previews", "stop", "napper"]).await;
    let woken = run_ok(&provisioner, &["previews", "wake", "napper"]).await;

    // Assert
    assert!(
        matches!(asleep, PreviewState::Stopped | PreviewState::Suspended),
        "{asleep:?}"
    );
    assert!(
        stopped.starts_with(&format!("napper: {asleep}; files and machine kept")),
        "{stopped}"
    );
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.starts_with("error: preview_not_running: the preview of app napper is "),
        "{stderr}"
    );
    assert!(woken.starts_with("napper: running\n"), "{woken}");
    assert!(
        woken.contains(&format!("open {}", provisioner.preview_url("napper"))),
        "{woken}"
    );
    provisioner
        .visit_until("napper", "/", BOOT, |status, body| {
            status == 200 && body == "awake"
        })
        .await
        .expect("served again");
}

#[tokio::test]
async fn restart_shows_in_logs_followed_until_ctrl_c_and_rm_destroys_the_preview() {
    // Arrange: a preview with some log lines.
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("logged", "hi")
        .await
        .expect("provision");
    let mut kept = Value::Null;
    for _ in 0..300 {
        let (_, page) = provisioner
            .call(Method::GET, "/v1/apps/logged/logs?since=0", None)
            .await
            .expect("logs");
        if page["lines"]
            .as_array()
            .is_some_and(|lines| !lines.is_empty())
        {
            kept = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = &kept["lines"][0];

    // Act and assert: `logs` prints the kept lines as `at source text`.
    let printed = run_ok(&provisioner, &["previews", "logs", "logged"]).await;
    let expected = format!(
        "{} {:<10} {}",
        first["at"].as_str().unwrap(),
        first["source"].as_str().unwrap(),
        first["text"].as_str().unwrap()
    );
    assert_eq!(printed.lines().next(), Some(expected.as_str()), "{printed}");
    let raw_line: Value = serde_json::from_str(
        run_ok(&provisioner, &["previews", "logs", "logged", "--json"])
            .await
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(&raw_line, first);

    // `logs -f` prints the kept lines, then the restart's notes as they come.
    let mut follow = Running::spawn(command(&provisioner, &["previews", "logs", "logged", "-f"]));
    follow.line(BOOT, |line| line == expected).await;
    let restarted = run_ok(&provisioner, &["previews", "restart", "logged"]).await;
    assert!(
        restarted.starts_with("logged: restart asked (control "),
        "{restarted}"
    );
    follow
        .line(BOOT, |line| {
            line.contains(" daemon ")
                && line.ends_with("restart asked: starting the dev server again")
        })
        .await;
    assert!(follow.interrupt().await, "logs -f exits 0 on Ctrl-C");

    // `rm` destroys the preview and keeps the files.
    let removed = run_ok(&provisioner, &["previews", "rm", "logged"]).await;
    assert_eq!(removed, "logged: preview deleted; its files are kept\n");
    let (status, preview) = provisioner
        .call(Method::GET, "/v1/apps/logged/preview", None)
        .await
        .expect("preview");
    assert!(
        status == 404 || preview["state"] == "deleted",
        "{status} {preview}"
    );
    let (status, files) = provisioner
        .call(Method::GET, "/v1/apps/logged/files", None)
        .await
        .expect("files");
    assert_eq!((status, files["revision"].as_u64()), (200, Some(1)));
}

#[tokio::test]
async fn link_prints_a_url_that_opens_the_private_preview() {
    // Arrange
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("hidden", "private hello")
        .await
        .expect("provision");
    let (status, body) = provisioner
        .call(
            Method::PATCH,
            "/v1/apps/hidden/settings",
            Some(json!({"visibility": "private"})),
        )
        .await
        .expect("patch");
    assert_eq!(status, 200, "{body}");
    let (anonymous, _) = provisioner
        .visit("hidden", "/", "*/*")
        .await
        .expect("visit");

    // Act
    let printed = run_ok(&provisioner, &["previews", "link", "hidden", "--ttl", "1h"]).await;

    // Assert: the link is the preview's, and opens it.
    assert_eq!(anonymous, 401);
    let url = printed.lines().next().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}__preview/access?token=pa1.",
            provisioner.preview_url("hidden")
        )),
        "{printed}"
    );
    assert!(printed.contains("(expires "), "{printed}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let path = &url[url.find("/__preview").unwrap()..];
    let host = format!("preview-hidden.localhost:{}", provisioner.port());
    let opened = client
        .get(format!("{}{path}", provisioner.base_url()))
        .header(HOST, &host)
        .send()
        .await
        .expect("opened");
    assert_eq!(opened.status(), 303);
    let token = &url[url.find("token=").unwrap() + "token=".len()..];
    let page = client
        .get(format!("{}/", provisioner.base_url()))
        .header(HOST, &host)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "private hello");
}

#[tokio::test]
async fn errors_print_the_servers_code_and_message_or_the_unreachable_url_and_exit_1() {
    // Arrange
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");

    // Act
    let unknown = run(&provisioner, &["previews", "show", "nosuch"]).await;
    let unreachable = run(
        &provisioner,
        &["previews", "ls", "--server", "http://127.0.0.1:9"],
    )
    .await;
    let wrong_key = run(
        &provisioner,
        &["previews", "ls", "--api-key", "not-the-key"],
    )
    .await;

    // Assert
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "error: preview_not_found: no preview for app nosuch; provision it first\n"
    );
    assert!(unknown.stdout.is_empty());
    assert_eq!(unreachable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.starts_with("error: cannot reach the provisioner at http://127.0.0.1:9 (")
            && stderr.contains("set its URL with --server or PROVISIONER_URL"),
        "{stderr}"
    );
    assert_eq!(wrong_key.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong_key.stderr).starts_with("error: unauthorized: "),
        "{wrong_key:?}"
    );
}
