//! What the PostgreSQL tests share: the server from `TEST_DATABASE_URL`, a
//! fresh database per test, and two provisioner instances on it.
//!
//! Without `TEST_DATABASE_URL` these tests fail (they never skip): CI always
//! sets it through `scripts/test.sh`, and a silent skip would hide a backend
//! that no longer works.

use std::path::PathBuf;

use anyhow::{Context, bail};
use preview_tests::provisioner::TestProvisioner;
use tokio::process::Command;

const MISSING_URL: &str = "TEST_DATABASE_URL is not set. Run the whole suite with \
    scripts/test.sh, or start a throwaway PostgreSQL first: \
    export TEST_DATABASE_URL=\"$(scripts/postgres.sh start)\"";

/// The URL of the test server's default database.
pub(crate) fn server_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!("{MISSING_URL}"),
    }
}

/// Creates an empty database for one test and returns its URL.
pub(crate) async fn fresh_database() -> anyhow::Result<String> {
    let server_url = server_url();
    let name = format!("it_{:016x}", rand::random::<u64>());
    psql(&server_url, &format!("CREATE DATABASE {name}")).await?;
    let mut url = url::Url::parse(&server_url).context("TEST_DATABASE_URL is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Runs one SQL statement with `psql` (the client shipped with the server
/// `scripts/postgres.sh` starts) and returns what it printed.
pub(crate) async fn psql(database_url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new(psql_binary())
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            database_url,
            "-c",
            sql,
        ])
        .kill_on_drop(true)
        .output()
        .await
        .context("failed to run psql")?;
    if !output.status.success() {
        bail!(
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Two provisioners sharing one fresh database, started with `extra_args` each.
pub(crate) async fn two_instances(
    extra_args: &[&str],
) -> anyhow::Result<(TestProvisioner, TestProvisioner, String)> {
    let database_url = fresh_database().await?;
    let mut args = vec!["--database-url", database_url.as_str()];
    args.extend_from_slice(extra_args);
    let first = TestProvisioner::spawn_with_args(&args).await?;
    let second = TestProvisioner::spawn_with_args(&args).await?;
    Ok((first, second, database_url))
}

/// `psql` on PATH, else in Debian's versioned server directory.
fn psql_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("psql"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(found) = on_path {
        return found;
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|candidate| candidate.is_file())
        .collect();
    versioned.sort();
    versioned.pop().unwrap_or_else(|| PathBuf::from("psql"))
}
