//! The test tree: `files` files of random bytes in 1,000 leaf directories,
//! `total_bytes` in all on average, written to a local source directory
//! (what tar and rsync read) and uploaded to the provisioner in batches.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, RngCore};
use sync_protocol::{BatchChange, BatchRequest, WriteResponse};

/// The file item 1 saves over and over (part of the tree).
pub const LATENCY_FILE: &str = "bench/latency.txt";
/// A file in the directory item 2 saves new files into (part of the tree).
pub const POLL_SEED: &str = "poll/seed.txt";
/// Raw bytes per upload batch, well under the server's body limit once base64-encoded.
const BATCH_BYTES: u64 = 4 * 1024 * 1024;

pub struct Tree {
    /// Path and size of every file, special files first.
    pub files: Vec<(String, u64)>,
    pub total_bytes: u64,
}

impl Tree {
    /// Files that item 4 may change (not the special ones).
    pub fn ordinary(&self) -> &[(String, u64)] {
        &self.files[2..]
    }
}

pub fn generate(
    root: &Path,
    files: usize,
    total_bytes: u64,
    rng: &mut StdRng,
) -> anyhow::Result<Tree> {
    ensure!(files >= 3, "--files must be at least 3");
    let mean = (total_bytes / files as u64).max(16);
    let (low, high) = (mean / 8, 2 * mean - mean / 8);
    let mut tree = Tree {
        files: vec![(LATENCY_FILE.to_owned(), 0), (POLL_SEED.to_owned(), 0)],
        total_bytes: 0,
    };
    let ordinary = files - 2;
    for n in 0..ordinary {
        let leaf = n % 1000;
        let path = format!("src/d{:02}/e{}/f{n:05}.dat", leaf / 10, leaf % 10);
        tree.files.push((path, rng.random_range(low..=high)));
    }
    let mut buffer = vec![0u8; high as usize];
    for (path, size) in &mut tree.files {
        let content: &[u8] = match path.as_str() {
            LATENCY_FILE => b"initial\n",
            POLL_SEED => b"seed\n",
            _ => {
                let content = &mut buffer[..*size as usize];
                rng.fill_bytes(content);
                content
            }
        };
        *size = content.len() as u64;
        let target = root.join(path.as_str());
        fs::create_dir_all(target.parent().context("file has no parent")?)?;
        fs::write(&target, content)?;
        tree.total_bytes += *size;
    }
    Ok(tree)
}

/// Uploads the tree from `root` in batches; returns the last revision and the time taken.
pub async fn upload(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    app: &str,
    root: &Path,
    tree: &Tree,
) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut revision = 0;
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    for (index, (path, size)) in tree.files.iter().enumerate() {
        let content = fs::read(root.join(path))?;
        batch.push(BatchChange {
            path: path.clone(),
            content_base64: Some(base64::engine::general_purpose::STANDARD.encode(content)),
            ..BatchChange::default()
        });
        batch_bytes += size;
        if batch_bytes >= BATCH_BYTES || index + 1 == tree.files.len() {
            let request = BatchRequest {
                changes: std::mem::take(&mut batch),
            };
            let response = http
                .post(format!("{base_url}/v1/apps/{app}/files"))
                .bearer_auth(api_key)
                .json(&request)
                .send()
                .await?;
            let status = response.status();
            let text = response.text().await?;
            ensure!(status.is_success(), "batch upload: {status} {text}");
            revision = serde_json::from_str::<WriteResponse>(&text)?.revision;
            batch_bytes = 0;
        }
    }
    Ok((revision, started.elapsed()))
}

/// `content` with 1 KiB at a random offset replaced by fresh random bytes.
pub fn change_one_kib(content: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut changed = content.to_vec();
    let span = changed.len().min(1024);
    let offset = rng.random_range(0..=changed.len() - span);
    rng.fill_bytes(&mut changed[offset..offset + span]);
    changed
}
