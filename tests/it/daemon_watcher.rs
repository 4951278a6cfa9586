//! The daemon killed with SIGKILL in the middle of large syncs while a real
//! file watcher watches the tree: chokidar, the watcher Vite bundles, run by
//! `tests/watchers/read-on-event.mjs`, reads every file the moment it hears
//! of it, as a dev server would. Each file carries its own length and hash,
//! so a truncated, empty or mixed read is caught. The daemon stages outside
//! the tree and renames into it, so no read may ever be partial, and a
//! daemon started again after the kills must converge to the store.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use preview_tests::daemon::{read_tree, wait_until};
use preview_tests::npm_apps::workspace_root;
use rand::{Rng, RngCore};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::daemon::{CONVERGE, converges_to, setup};

/// Files per revision, over 20 directories; 1–12 KiB each.
const FILES: usize = 800;
/// Revisions synced under a kill; each rewrites every file.
const KILLED_ROUNDS: usize = 5;

/// What the watcher reported so far.
#[derive(Default)]
struct Seen {
    ready: bool,
    /// Paths read whole, by the label (round) their content carried.
    whole_by_label: BTreeMap<String, HashSet<String>>,
    /// Events whose read was not a whole file.
    partial: Vec<Value>,
    summary: Option<Value>,
}

struct Watcher {
    child: Child,
    stdin: Option<ChildStdin>,
    seen: Arc<Mutex<Seen>>,
}

impl Watcher {
    async fn start(dir: &Path) -> anyhow::Result<Watcher> {
        let scripts = workspace_root().join("tests/watchers");
        anyhow::ensure!(
            scripts.join("node_modules/chokidar").is_dir(),
            "tests/watchers/node_modules is missing; run `npm ci` there (scripts/test.sh does)"
        );
        let mut child = Command::new("node")
            .arg("read-on-event.mjs")
            .current_dir(&scripts)
            .env("WATCH_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("failed to run node")?;
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let mut seen = record.lock().unwrap();
                if value.get("ready").is_some() {
                    seen.ready = true;
                } else if let Some(summary) = value.get("summary") {
                    seen.summary = Some(summary.clone());
                } else if value["whole"] == Value::Bool(true) {
                    let label = value["label"].as_str().unwrap_or_default().to_owned();
                    let path = value["path"].as_str().unwrap_or_default().to_owned();
                    seen.whole_by_label.entry(label).or_default().insert(path);
                } else {
                    seen.partial.push(value);
                }
            }
        });
        let watcher = Watcher { child, stdin, seen };
        anyhow::ensure!(
            wait_until(Duration::from_secs(20), || watcher
                .seen
                .lock()
                .unwrap()
                .ready)
            .await,
            "chokidar did not report ready within 20 s"
        );
        Ok(watcher)
    }

    fn whole_reads_of(&self, label: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.whole_by_label.get(label).map_or(0, HashSet::len)
    }

    /// Closes its input and waits (bounded) for its summary.
    async fn finish(mut self) -> anyhow::Result<(Value, Vec<Value>)> {
        drop(self.stdin.take());
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("the watcher did not exit within 20 s")??;
        // The reader task may still be handing over the last lines.
        wait_until(Duration::from_secs(5), || {
            self.seen.lock().unwrap().summary.is_some()
        })
        .await;
        let seen = self.seen.lock().unwrap();
        let summary = seen
            .summary
            .clone()
            .context("the watcher printed no summary")?;
        Ok((summary, seen.partial.clone()))
    }
}

/// Every file of one revision: a header line `<length> <sha256> <label>`,
/// then random bytes of that length.
fn revision(label: &str) -> BTreeMap<String, Vec<u8>> {
    let mut random = rand::rng();
    (0..FILES)
        .map(|i| {
            let mut body = vec![0u8; random.random_range(1024..12 * 1024)];
            random.fill_bytes(&mut body);
            let mut content = format!(
                "{} {} {label}\n",
                body.len(),
                sync_protocol::sha256_hex(&body)
            )
            .into_bytes();
            content.extend_from_slice(&body);
            (format!("d{}/f{i}.txt", i % 20), content)
        })
        .collect()
}

/// How many files in the tree hold content labelled `label`.
fn on_disk_with(dir: &Path, label: &str) -> usize {
    let suffix = format!(" {label}\n");
    read_tree(dir, &[])
        .values()
        .filter(|content| {
            let header_end = content.iter().position(|b| *b == b'\n').unwrap_or(0);
            content[..=header_end].ends_with(suffix.as_bytes())
        })
        .count()
}

#[tokio::test]
async fn daemon_watcher_a_daemon_killed_mid_sync_never_shows_a_watcher_a_partial_file_and_converges()
 {
    let setup = setup("watched").await;
    std::fs::create_dir_all(&setup.dir).unwrap();
    let watcher = Watcher::start(&setup.dir).await.expect("chokidar watches");
    let changes = |files: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Option<Vec<u8>>> {
        files
            .iter()
            .map(|(path, content)| (path.clone(), Some(content.clone())))
            .collect()
    };

    // Arrange: one undisturbed sync, to learn how long a revision takes here.
    let first = revision("r0");
    setup.apply(&changes(&first)).await;
    let started = Instant::now();
    let mut daemon = setup.spawn_daemon(&[]);
    converges_to(&setup.dir, &first, &[], &daemon).await;
    let sync_time = started.elapsed();
    daemon.kill().await.expect("the daemon dies");

    // Act: every file rewritten, the daemon started and killed, five times
    // over: in odd rounds as soon as the watcher reads the round's first file
    // (the burst of renames has begun), in even ones at a random moment of
    // the time a sync takes (mostly while it fetches and stages).
    let mut mid_sync_kills = 0;
    let mut mid_burst_kills = 0;
    let mut expected = first;
    for round in 1..=KILLED_ROUNDS {
        let label = format!("r{round}");
        expected = revision(&label);
        setup.apply(&changes(&expected)).await;
        let mut daemon = setup.spawn_daemon(&[]);
        if round % 2 == 1 {
            wait_until(CONVERGE, || watcher.whole_reads_of(&label) > 0).await;
        } else {
            let fraction = rand::rng().random_range(0.1..0.9);
            tokio::time::sleep(sync_time.mul_f64(fraction)).await;
        }
        daemon.kill().await.expect("the daemon dies");
        let landed = on_disk_with(&setup.dir, &label);
        if landed < FILES {
            mid_sync_kills += 1;
        }
        if landed > 0 && landed < FILES {
            mid_burst_kills += 1;
        }
    }

    // Assert: started again, the daemon converges to the last revision...
    let daemon = setup.spawn_daemon(&[]);
    converges_to(&setup.dir, &expected, &[], &daemon).await;
    let last = format!("r{KILLED_ROUNDS}");
    let watched = wait_until(CONVERGE, || watcher.whole_reads_of(&last) == FILES).await;
    let last_reads = watcher.whole_reads_of(&last);
    let (summary, partial) = watcher.finish().await.expect("the watcher summarises");
    eprintln!(
        "{FILES} files per revision, sync {sync_time:?}; {mid_sync_kills} of {KILLED_ROUNDS} kills mid-sync, \
         {mid_burst_kills} mid-burst; watcher: {summary}"
    );
    // ...and no read the watcher made was ever of a partial file.
    assert!(partial.is_empty(), "partial reads: {partial:?}");
    assert_eq!(summary["partial"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["vanished"], 0, "{summary}");
    assert!(
        watched,
        "the watcher read {last_reads} of the last revision's {FILES} files whole"
    );
    // The kills did land in the middle of syncs (the test's premise).
    assert!(
        mid_sync_kills >= 3,
        "only {mid_sync_kills} of {KILLED_ROUNDS} kills landed before a sync finished"
    );
}
