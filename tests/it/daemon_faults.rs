//! Failure modes the real provisioner does not produce on demand, played
//! by a small in-test files server: corrupt and missing blobs, a revision
//! going backwards, a server without long-poll or batch blobs, and the
//! sync-status the daemon reports.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use preview_tests::daemon::{Target, TestDaemon, read_tree, wait_until};
use serde::Deserialize;
use sync_protocol::{DevServerState, SyncStatusReport, sha256_hex};

use crate::daemon::CONVERGE;

#[derive(Default)]
struct Files {
    revision: u64,
    files: BTreeMap<String, Vec<u8>>,
    /// Blobs answered once with wrong bytes.
    corrupt_once: HashSet<String>,
    /// Blobs answered 404 (a write raced the manifest).
    missing: HashSet<String>,
    /// Whether `since` and `wait` are understood; if not, they are refused with 400.
    long_poll: bool,
    reports: Vec<SyncStatusReport>,
}

type Shared = Arc<Mutex<Files>>;

#[derive(Deserialize)]
struct ManifestQuery {
    since: Option<u64>,
    wait: Option<u64>,
}

struct Stub {
    shared: Shared,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    async fn start(long_poll: bool) -> Stub {
        let shared: Shared = Arc::new(Mutex::new(Files {
            long_poll,
            ..Files::default()
        }));
        let router = axum::Router::new()
            .route("/v1/apps/{app}/files", get(manifest))
            .route("/v1/apps/{app}/blobs/{sha}", get(blob))
            .route("/v1/apps/{app}/sync-status", post(report))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Stub { shared, url, task }
    }

    fn set(&self, revision: u64, files: &[(&str, &[u8])]) {
        let mut state = self.shared.lock().unwrap();
        state.revision = revision;
        state.files = files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.to_vec()))
            .collect();
    }

    fn target(&self) -> Target {
        Target {
            server: self.url.clone(),
            app: "stub".to_owned(),
            token: format!("st1.stub.{}", "ab".repeat(32)),
        }
    }

    fn expected(&self) -> BTreeMap<String, Vec<u8>> {
        self.shared.lock().unwrap().files.clone()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Always answers the whole manifest; with `since` equal to the revision
/// and a `wait`, holds up to 2 s for a change, then 304.
async fn manifest(
    State(shared): State<Shared>,
    Query(query): Query<ManifestQuery>,
    headers: HeaderMap,
) -> Response {
    if (query.wait.is_some() || query.since.is_some()) && !shared.lock().unwrap().long_poll {
        return (StatusCode::BAD_REQUEST, "since and wait are not supported").into_response();
    }
    if let (Some(since), Some(_)) = (query.since, query.wait) {
        for _ in 0..100 {
            if shared.lock().unwrap().revision != since {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let state = shared.lock().unwrap();
    let etag = format!("\"r{}\"", state.revision);
    let unchanged = query.since == Some(state.revision)
        || headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|value| value.as_bytes() == etag.as_bytes());
    if unchanged {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let files: Vec<serde_json::Value> = state
        .files
        .iter()
        .map(|(path, content)| serde_json::json!({"path": path, "sha256": sha256_hex(content), "size": content.len()}))
        .collect();
    let body = serde_json::json!({"revision": state.revision, "full": true, "files": files});
    ([(header::ETAG, etag)], Json(body)).into_response()
}

async fn blob(State(shared): State<Shared>, Path((_app, sha)): Path<(String, String)>) -> Response {
    let mut state = shared.lock().unwrap();
    if state.missing.contains(&sha) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(content) = state
        .files
        .values()
        .find(|content| sha256_hex(content) == sha)
        .cloned()
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if state.corrupt_once.remove(&sha) {
        return content
            .iter()
            .map(|byte| byte ^ 0xff)
            .collect::<Vec<u8>>()
            .into_response();
    }
    content.into_response()
}

async fn report(State(shared): State<Shared>, Json(report): Json<SyncStatusReport>) -> StatusCode {
    shared.lock().unwrap().reports.push(report);
    StatusCode::NO_CONTENT
}

fn spawn(stub: &Stub, temp: &tempfile::TempDir) -> TestDaemon {
    TestDaemon::spawn(&stub.target(), &temp.path().join("app"), &[], temp.path()).unwrap()
}

#[tokio::test]
async fn daemon_faults_corrupt_and_missing_blobs_are_retried_until_they_verify() {
    // Arrange: one blob arrives corrupted once, another is missing for a while.
    let stub = Stub::start(true).await;
    stub.set(1, &[("a.txt", b"content a"), ("dir/b.txt", b"content b")]);
    {
        let mut state = stub.shared.lock().unwrap();
        state.corrupt_once.insert(sha256_hex(b"content a"));
        state.missing.insert(sha256_hex(b"content b"));
    }
    let temp = tempfile::tempdir().unwrap();

    // Act
    let daemon = spawn(&stub, &temp);
    assert!(
        wait_until(CONVERGE, || daemon.log().contains("404")).await,
        "{}",
        daemon.log()
    );
    // The first cycle (no dev server watches yet) places what arrived
    // verified; the missing file is not there, not even in part.
    let dir = temp.path().join("app");
    let first = read_tree(&dir, &[]);
    assert!(!first.contains_key("dir/b.txt"), "{first:?}");
    assert!(
        first.get("a.txt").is_none_or(|a| a == b"content a"),
        "{first:?}"
    );
    stub.shared.lock().unwrap().missing.clear();

    // Assert
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("arrived with sha256"),
        "{}",
        daemon.log()
    );

    // Act: a later revision, applied while the dev server would watch, with
    // one of its blobs missing.
    let converged = stub.expected();
    let failures = daemon.log().matches("404").count();
    stub.shared
        .lock()
        .unwrap()
        .missing
        .insert(sha256_hex(b"content c"));
    stub.set(
        2,
        &[
            ("a.txt", b"content a2"),
            ("dir/b.txt", b"content b"),
            ("c.txt", b"content c"),
        ],
    );
    assert!(
        wait_until(CONVERGE, || daemon.log().matches("404").count() > failures).await,
        "{}",
        daemon.log()
    );

    // Assert: nothing of that revision is applied until all of it verified.
    assert_eq!(read_tree(&dir, &[]), converged, "the tree is as it was");
    stub.shared.lock().unwrap().missing.clear();
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn daemon_faults_a_revision_going_backwards_is_a_full_resync() {
    let stub = Stub::start(true).await;
    stub.set(5, &[("a.txt", b"a"), ("b.txt", b"b")]);
    let temp = tempfile::tempdir().unwrap();
    let daemon = spawn(&stub, &temp);
    let dir = temp.path().join("app");
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );

    // Act: the server lost its history and starts again at a lower revision.
    stub.set(2, &[("a.txt", b"a"), ("c.txt", b"c")]);

    // Assert: b.txt, written by the daemon, is gone; c.txt arrived.
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
    assert!(daemon.log().contains("went backwards"), "{}", daemon.log());
}

#[tokio::test]
async fn daemon_faults_a_server_without_long_poll_or_deltas_is_polled_with_if_none_match() {
    let stub = Stub::start(false).await;
    stub.set(1, &[("a.txt", b"1")]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("app");
    let daemon =
        TestDaemon::spawn(&stub.target(), &dir, &["--interval", "100ms"], temp.path()).unwrap();
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );

    stub.set(2, &[("a.txt", b"2"), ("b.txt", b"")]);

    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
    // Long-poll refused, then `since` refused: If-None-Match is what is left.
    let plain = || {
        daemon.log().matches("asking more plainly").count() == 2
            && daemon.log().contains("IfNoneMatch")
    };
    assert!(wait_until(CONVERGE, plain).await, "{}", daemon.log());

    // And changes still arrive that way.
    stub.set(3, &[("c.txt", b"3")]);
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn daemon_faults_sync_status_reports_each_applied_revision() {
    let stub = Stub::start(true).await;
    stub.set(3, &[("a.txt", b"a")]);
    let temp = tempfile::tempdir().unwrap();
    let daemon = spawn(&stub, &temp);
    let reported = |revision: u64| {
        stub.shared
            .lock()
            .unwrap()
            .reports
            .iter()
            .any(|report| report.revision == revision)
    };
    assert!(
        wait_until(CONVERGE, || reported(3)).await,
        "{}",
        daemon.log()
    );

    stub.set(4, &[("a.txt", b"a2")]);

    assert!(
        wait_until(CONVERGE, || reported(4)).await,
        "{}",
        daemon.log()
    );
    let reports = stub.shared.lock().unwrap().reports.clone();
    assert!(
        reports
            .iter()
            .all(|report| report.dev_server == DevServerState::None),
        "{reports:?}"
    );
}

#[tokio::test]
async fn daemon_faults_a_path_the_daemon_could_not_apply_is_reported_as_an_error_never_as_applied()
{
    let stub = Stub::start(true).await;
    stub.set(1, &[("a.txt", b"a")]);
    let temp = tempfile::tempdir().unwrap();
    let daemon = spawn(&stub, &temp);
    let reports = || stub.shared.lock().unwrap().reports.clone();
    let reported = |revision: u64| reports().iter().any(|report| report.revision == revision);
    assert!(
        wait_until(CONVERGE, || reported(1)).await,
        "{}",
        daemon.log()
    );
    // A directory someone made where revision 2 puts a file.
    std::fs::create_dir_all(temp.path().join("app/b.txt/inside")).unwrap();

    stub.set(2, &[("a.txt", b"a2"), ("b.txt", b"b")]);

    let refused_named = || {
        reports().iter().any(|report| {
            report.revision == 1
                && report
                    .message
                    .as_deref()
                    .is_some_and(|message| message.contains("\"b.txt\""))
        })
    };
    assert!(
        wait_until(CONVERGE, refused_named).await,
        "{:?}\n{}",
        reports(),
        daemon.log()
    );
    assert_eq!(
        std::fs::read(temp.path().join("app/a.txt")).unwrap(),
        b"a2",
        "what could be applied was"
    );
    assert!(!reported(2), "{:?}", reports());

    // The server drops the path: nothing stands refused any more.
    stub.set(3, &[("a.txt", b"a3")]);
    let clean = || {
        reports()
            .last()
            .is_some_and(|report| report.revision == 3 && report.message.is_none())
    };
    assert!(
        wait_until(CONVERGE, clean).await,
        "{:?}\n{}",
        reports(),
        daemon.log()
    );
}

#[tokio::test]
async fn daemon_faults_dev_server_states_are_reported() {
    // Arrange: a package.json, so the daemon installs (slowly enough to be
    // seen) before starting a dev server that records its pid.
    let stub = Stub::start(true).await;
    stub.set(1, &[("package.json", b"{}")]);
    let temp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let pids = temp.path().join("pids");
    let exec = format!(
        "echo $$ >> {}; exec python3 -m http.server $PORT --bind 127.0.0.1",
        pids.display()
    );
    let args = [
        "--exec",
        exec.as_str(),
        "--install",
        "sleep 0.5",
        "--port",
        port.as_str(),
    ];
    let daemon =
        TestDaemon::spawn(&stub.target(), &temp.path().join("app"), &args, temp.path()).unwrap();
    let states = || -> Vec<DevServerState> {
        let mut states: Vec<DevServerState> = stub
            .shared
            .lock()
            .unwrap()
            .reports
            .iter()
            .map(|report| report.dev_server)
            .collect();
        states.dedup();
        states
    };
    assert!(
        wait_until(CONVERGE, || states().contains(&DevServerState::Ready)).await,
        "{:?}\n{}",
        states(),
        daemon.log()
    );

    // Act: the dev server crashes.
    let pid = std::fs::read_to_string(&pids).unwrap().trim().to_owned();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );

    // Assert: installing, ready, crashed, then ready again.
    let cycle = [
        DevServerState::Installing,
        DevServerState::Ready,
        DevServerState::Crashed,
        DevServerState::Ready,
    ];
    let in_order = || {
        let seen = states();
        let mut wanted = cycle.iter().peekable();
        for state in &seen {
            if wanted.peek() == Some(&state) {
                wanted.next();
            }
        }
        wanted.peek().is_none()
    };
    assert!(
        wait_until(CONVERGE, in_order).await,
        "{:?}\n{}",
        states(),
        daemon.log()
    );
}

#[tokio::test]
async fn daemon_faults_a_file_can_become_a_directory_and_back() {
    let stub = Stub::start(true).await;
    stub.set(1, &[("a", b"file")]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("app");
    let daemon = spawn(&stub, &temp);
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );

    // Act and assert: `a` turns into a directory in one revision, then back.
    stub.set(2, &[("a/b.txt", b"nested")]);
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
    stub.set(3, &[("a", b"file again")]);
    assert!(
        wait_until(CONVERGE, || read_tree(&dir, &[]) == stub.expected()).await,
        "{}",
        daemon.log()
    );
    assert!(!daemon.log().contains("refusing"), "{}", daemon.log());
}
