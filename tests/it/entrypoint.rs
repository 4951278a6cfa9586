//! The runtime image's entrypoint, run on this machine the way the image runs
//! it: `runtime-image/entrypoint.sh` with the image's env names, the same
//! `sync-daemon` binary on `PATH`, the state dir seeded by the image's
//! `install-hash.mjs`, against a real provisioner on loopback. No Docker
//! engine is needed, so what the image runs is what this test ran.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgid};
use preview_tests::binaries::{free_port, provisioner_binary};
use preview_tests::provisioner::TestProvisioner;
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::deploy_config::root;

/// The preview's dev server: `npm run dev` serves `message.txt` as it is on
/// disk, so a sync shows in the next response.
const PACKAGE_JSON: &str =
    r#"{"name":"entrypoint-test","private":true,"scripts":{"dev":"node server.mjs"}}"#;
const SERVER_MJS: &str = r#"import { createServer } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
writeFileSync(process.env.DEV_SERVER_PIDFILE, String(process.pid));
createServer((request, response) => response.end(readFileSync("message.txt")))
  .listen(Number(process.env.PORT), process.env.HOST);
"#;

/// Bounds every wait: the daemon, npm and node all start well within it.
const BOOT_TIMEOUT: Duration = Duration::from_secs(45);
const SYNC_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn entrypoint_syncs_before_serving_installs_on_change_and_stops_cleanly() {
    // Arrange: an app whose latest revision differs from its first files.
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let app = "entrypoint-app";
    let token = provisioner.mint_sync_token(app).await.unwrap();
    for (path, content) in [
        ("package.json", PACKAGE_JSON),
        ("server.mjs", SERVER_MJS),
        ("message.txt", "first"),
        ("message.txt", "latest"),
    ] {
        let response = provisioner.put_file(app, path, content).await;
        assert!(
            response.status().is_success(),
            "PUT {path}: {}",
            response.status()
        );
    }
    // The image's /app: the template's package.json with its node_modules,
    // and the install recorded by the Dockerfile's RUN line.
    let machine = Machine::new();
    std::fs::write(machine.app_dir().join("package.json"), PACKAGE_JSON).unwrap();
    machine.record_image_install();

    // Act: boot.
    let mut preview = machine.boot(&provisioner.base_url(), app, &token);

    // Assert: the first answer already shows the latest revision, and the
    // image's install was recognised (no install ran).
    let first = preview.wait_for(BOOT_TIMEOUT, |_| true).await;
    assert_eq!(
        first, "latest",
        "the dev server started before the sync converged"
    );
    assert!(
        !machine.install_marker().exists(),
        "install ran although package.json matched the image's"
    );
    assert_eq!(
        run_runtime_healthcheck(preview.port),
        Some(0),
        "the image's HEALTHCHECK fails"
    );

    // The entrypoint exec'd the daemon (same pid), and the token is in no
    // command line.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", preview.pid())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        cmdline.starts_with("sync-daemon --exec npm run dev"),
        "{cmdline}"
    );
    assert!(!cmdline.contains(&token));

    // A save reaches the running dev server.
    let response = provisioner.put_file(app, "message.txt", "edited").await;
    assert!(response.status().is_success());
    preview
        .wait_for(SYNC_TIMEOUT, |body| body == "edited")
        .await;

    // A suspend freezes the daemon and the dev server mid long-poll; a save
    // made meanwhile shows once they resume.
    let dev_server_group = getpgid(Some(machine.dev_server_pid())).unwrap();
    let daemon = Pid::from_raw(preview.pid() as i32);
    kill(daemon, Signal::SIGSTOP).unwrap();
    killpg(dev_server_group, Signal::SIGSTOP).unwrap();
    let response = provisioner
        .put_file(app, "message.txt", "saved while suspended")
        .await;
    assert!(response.status().is_success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    killpg(dev_server_group, Signal::SIGCONT).unwrap();
    kill(daemon, Signal::SIGCONT).unwrap();
    preview
        .wait_for(SYNC_TIMEOUT, |body| body == "saved while suspended")
        .await;

    // A changed package.json installs, then the dev server serves again.
    let changed = PACKAGE_JSON.replace("entrypoint-test", "entrypoint-test-2");
    let response = provisioner.put_file(app, "package.json", changed).await;
    assert!(response.status().is_success());
    wait_until(SYNC_TIMEOUT, || machine.install_marker().exists()).await;
    preview
        .wait_for(BOOT_TIMEOUT, |body| body == "saved while suspended")
        .await;

    // SIGTERM (the image's STOPSIGNAL) stops the dev server's whole process
    // group, then the daemon exits cleanly.
    let dev_server = machine.dev_server_pid();
    let status = preview.stop(STOP_TIMEOUT).await;
    assert!(
        status.success(),
        "the daemon exited with {status} on SIGTERM"
    );
    wait_until(Duration::from_secs(5), || !is_alive(dev_server)).await;
    assert_ne!(
        run_runtime_healthcheck(preview.port),
        Some(0),
        "health check passes with nothing running"
    );

    let output = preview.output();
    assert!(
        output.contains("preview-entrypoint: app entrypoint-app"),
        "{output}"
    );
    assert!(!output.contains(&token), "the sync token was printed");
}

#[tokio::test]
async fn entrypoint_refuses_missing_or_malformed_settings_without_printing_the_token() {
    let machine = Machine::new();
    let secret = format!("st1.app.{}", "ab".repeat(32));
    let secret = secret.as_str();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("SYNC_APP_ID", "app"), ("SYNC_TOKEN", secret)],
            "SYNC_SERVER_URL",
        ),
        (
            &[
                ("SYNC_SERVER_URL", "http://127.0.0.1:9"),
                ("SYNC_APP_ID", "app"),
            ],
            "SYNC_TOKEN",
        ),
        (
            &[
                ("SYNC_SERVER_URL", "127.0.0.1:9"),
                ("SYNC_APP_ID", "app"),
                ("SYNC_TOKEN", secret),
            ],
            "must start with http",
        ),
        (
            &[
                ("SYNC_SERVER_URL", "http://x"),
                ("SYNC_APP_ID", "App_1"),
                ("SYNC_TOKEN", secret),
            ],
            "SYNC_APP_ID",
        ),
        (
            &[
                ("SYNC_SERVER_URL", "http://x"),
                ("SYNC_APP_ID", "app"),
                ("SYNC_TOKEN", "st1 x\n"),
            ],
            "SYNC_TOKEN has characters",
        ),
    ];
    for (env, expected) in cases {
        let mut command = machine.command();
        command.envs(env.iter().copied());
        let output = command.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // 64 is the entrypoint's own refusal; the daemon never started.
        assert_eq!(output.status.code(), Some(64), "{env:?}: {stderr}");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
        assert!(!stderr.contains(secret), "the token was printed: {stderr}");
    }
}

#[test]
fn image_install_record_is_the_daemons_fingerprint() {
    let dir = TempDir::new().unwrap();
    let path = dir.path();
    assert!(
        node_install_hash(path).is_none(),
        "no package.json, nothing installed"
    );

    std::fs::write(path.join("package.json"), PACKAGE_JSON).unwrap();
    // Every dependency file the daemon watches, each changing the fingerprint.
    let cases: [(&str, &[u8]); 6] = [
        ("package-lock.json", b"{\"lockfileVersion\":3}"),
        ("npm-shrinkwrap.json", b"{}"),
        ("yarn.lock", b"# yarn\n"),
        ("pnpm-lock.yaml", b"lockfileVersion: '9.0'\n"),
        ("bun.lock", b"{}"),
        ("bun.lockb", &[0, 159, 255]),
    ];
    let mut seen = Vec::new();
    for (name, content) in [("", &b""[..])].into_iter().chain(cases) {
        if !name.is_empty() {
            std::fs::write(path.join(name), content).unwrap();
        }
        let node = node_install_hash(path).expect("a package.json is there");
        let daemon = sync_daemon::supervise::install_inputs(path).unwrap();
        assert_eq!(
            node, daemon,
            "install-hash.mjs and the daemon differ after adding {name:?}"
        );
        assert!(
            !seen.contains(&node),
            "adding {name:?} did not change the fingerprint"
        );
        seen.push(node);
    }

    // The template the image installs.
    let template = root().join("runtime-image/template");
    assert_eq!(
        node_install_hash(&template),
        sync_daemon::supervise::install_inputs(&template)
    );
}

#[tokio::test]
async fn provisioner_image_healthcheck_asks_healthz() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let command = healthcheck_command("provisioner/Dockerfile");
    let listen = provisioner.address().to_string();
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("PROVISIONER_LISTEN", &listen)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the provisioner image's HEALTHCHECK fails against {listen}"
    );

    let closed = format!("127.0.0.1:{}", free_port());
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("PROVISIONER_LISTEN", &closed)
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "the HEALTHCHECK passes with nothing listening"
    );
}

/// One preview machine's disk: the app dir and the daemon's state dir, laid
/// out as in the image, plus where the test's dev server leaves its pid.
struct Machine {
    dir: TempDir,
}

impl Machine {
    fn new() -> Machine {
        let machine = Machine {
            dir: TempDir::new().unwrap(),
        };
        std::fs::create_dir_all(machine.app_dir()).unwrap();
        std::fs::create_dir_all(machine.state_dir()).unwrap();
        machine
    }

    fn app_dir(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn install_marker(&self) -> PathBuf {
        self.dir.path().join("installed")
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.path().join("dev-server.pid")
    }

    fn dev_server_pid(&self) -> Pid {
        let text = std::fs::read_to_string(self.pidfile()).expect("the dev server wrote its pid");
        Pid::from_raw(text.trim().parse().unwrap())
    }

    /// What the Dockerfile does after `npm ci`.
    fn record_image_install(&self) {
        let hash = node_install_hash(&self.app_dir()).expect("package.json in the app dir");
        std::fs::write(self.state_dir().join("install.sha256"), hash).unwrap();
    }

    /// The entrypoint with the environment the image gives it, and nothing
    /// from the developer's shell but `PATH` (with the daemon first on it).
    fn command(&self) -> Command {
        let bin_dir = provisioner_binary().unwrap().parent().unwrap().to_owned();
        assert!(
            bin_dir.join("sync-daemon").exists(),
            "{} is missing; run `cargo build -p sync-daemon` first",
            bin_dir.join("sync-daemon").display()
        );
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(root().join("runtime-image/entrypoint.sh"));
        command
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("SYNC_DIR", self.app_dir())
            .env("SYNC_STATE_DIR", self.state_dir())
            .env("HOST", "127.0.0.1")
            .env("DEV_SERVER_PIDFILE", self.pidfile())
            .env(
                "SYNC_INSTALL",
                format!("touch '{}'", self.install_marker().display()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    fn boot(&self, server_url: &str, app: &str, token: &str) -> Preview {
        let port = free_port();
        let mut command = self.command();
        command
            .env("SYNC_SERVER_URL", server_url)
            .env("SYNC_APP_ID", app)
            .env("SYNC_TOKEN", token)
            .env("PORT", port.to_string())
            .env("SYNC_INTERVAL", "200ms");
        let mut child = command.spawn().expect("the entrypoint starts");
        let output = Arc::new(Mutex::new(String::new()));
        tokio::spawn(collect(child.stdout.take().unwrap(), output.clone()));
        tokio::spawn(collect(child.stderr.take().unwrap(), output.clone()));
        Preview {
            child,
            port,
            output,
            pidfile: self.pidfile(),
        }
    }
}

/// A running entrypoint (by then, the daemon it exec'd).
struct Preview {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
    pidfile: PathBuf,
}

impl Preview {
    fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    async fn get(&self) -> Option<String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let response = client
            .get(format!("http://127.0.0.1:{}/", self.port))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    }

    /// Polls the dev server until an answer passes `accept`; returns it.
    async fn wait_for(&mut self, timeout: Duration, accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(body) = self.get().await.filter(|body| accept(body)) {
                return body;
            }
            self.assert_running(deadline);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn assert_running(&mut self, deadline: Instant) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the entrypoint exited with {status}:\n{}", self.output());
        }
        assert!(
            Instant::now() < deadline,
            "timed out; the preview's log:\n{}",
            self.output()
        );
    }

    async fn stop(&mut self, timeout: Duration) -> ExitStatus {
        kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM).unwrap();
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "the daemon did not exit within {timeout:?} of SIGTERM:\n{}",
                self.output()
            ),
        }
    }
}

impl Drop for Preview {
    /// A failed test must not leave a dev server holding its port: kill the
    /// dev server's process group too, not only the daemon.
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(&self.pidfile)
            && let Ok(pid) = text.trim().parse()
            && let Ok(group) = getpgid(Some(Pid::from_raw(pid)))
        {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
    }
}

async fn collect(mut stream: impl AsyncRead + Unpin, into: Arc<Mutex<String>>) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = stream.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        into.lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the runtime image's HEALTHCHECK command against `port`; its exit code.
fn run_runtime_healthcheck(port: u16) -> Option<i32> {
    let command = healthcheck_command("runtime-image/Dockerfile");
    std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("PORT", port.to_string())
        .status()
        .unwrap()
        .code()
}

/// The exec-form command of a Dockerfile's `HEALTHCHECK ... CMD [...]`.
fn healthcheck_command(dockerfile: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(dockerfile)).unwrap();
    let joined = text.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|line| line.starts_with("HEALTHCHECK"))
        .unwrap_or_else(|| panic!("{dockerfile} has no HEALTHCHECK"));
    let array = &line[line.find("CMD").expect("HEALTHCHECK ... CMD") + 3..];
    let command: Vec<String> = serde_json::from_str(array.trim()).expect("CMD in exec (JSON) form");
    assert!(!command.is_empty());
    command
}

/// `node runtime-image/install-hash.mjs DIR`, as the Dockerfile runs it.
fn node_install_hash(dir: &Path) -> Option<String> {
    let output = std::process::Command::new("node")
        .arg(root().join("runtime-image/install-hash.mjs"))
        .arg(dir)
        .output()
        .expect("node is installed");
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).unwrap())
}

/// Whether `pid` runs; a zombie waiting for its (re-)parent to reap it does not.
fn is_alive(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}
