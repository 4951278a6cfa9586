//! The daemon's HTTP client for its app's files API. Only this module talks
//! to the provisioner; it carries the sync token in a header marked
//! sensitive and never puts it in a URL or a message.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;

use reqwest::header::{AUTHORIZATION, ETAG, HeaderValue, IF_NONE_MATCH};
use reqwest::{Response, StatusCode, Url};
use serde::Deserialize;
use sync_protocol::{BlobBatchRequest, FileEntry, FilePath, STORE_ID_HEADER, SyncStatusReport};

use crate::config::Config;
use crate::error::{CriticalError, Error, RuntimeError};

/// How long the server is asked to hold a long-poll.
pub const LONG_POLL_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    /// `<server>/v1/apps/<app>/`.
    app_url: Url,
    authorization: HeaderValue,
}

/// Connections to the server kept open while idle.
const IDLE_CONNECTIONS: usize = 2;

/// What a manifest request asks for.
#[derive(Clone, Debug)]
pub enum ManifestQuery {
    /// The whole manifest, unconditionally.
    Full,
    /// The whole manifest unless it still has this ETag.
    IfNoneMatch(String),
    /// Changes after a revision, held by the server up to [`LONG_POLL_WAIT`].
    LongPoll { since: u64 },
    /// Changes after a revision, answered at once (304 when there are none).
    Since { since: u64 },
}

/// A manifest as received. Paths and hashes are checked one by one, so a
/// single bad entry is refused on its own instead of failing the whole
/// manifest.
#[derive(Debug)]
pub struct Manifest {
    pub revision: u64,
    pub full: bool,
    pub files: Vec<FileEntry>,
    pub deleted: Vec<FilePath>,
    /// Entries skipped because their path or sha256 is malformed, each with
    /// the reason: reported as not applied, never silently dropped.
    pub refused: Vec<(String, String)>,
    /// Set only on answers to full, unconditional-or-conditional requests.
    pub etag: Option<String>,
    /// The identity of the store that answered (`None` from an older server).
    pub store_id: Option<String>,
    /// Small contents a delta answer carried, by sha256: not yet verified
    /// (staging checks each against its sha256, as it does a download).
    pub contents: HashMap<String, Vec<u8>>,
}

#[derive(Debug)]
pub enum Poll {
    /// A 304, naming the store that answered (`x-store-id`) when the server does.
    Unchanged {
        store_id: Option<String>,
    },
    Changed(Manifest),
}

impl Client {
    pub fn new(config: &Config) -> Result<Client, CriticalError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            // The long-poll and a status report each hold one; the others a
            // large sync opened for its batches in flight close once idle
            // instead of keeping their buffers for 90 s.
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .build()
            .map_err(|error| {
                CriticalError::Config(format!("cannot build the HTTP client: {error}"))
            })?;
        let mut app_url = config.server.clone();
        app_url
            .path_segments_mut()
            .map_err(|()| {
                CriticalError::Config(format!("--server {} cannot be a base URL", config.server))
            })?
            .pop_if_empty()
            .extend(["v1", "apps", config.app_id.as_str(), ""]);
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| {
                CriticalError::Config("--token holds characters not allowed in a header".to_owned())
            })?;
        authorization.set_sensitive(true);
        Ok(Client {
            http,
            app_url,
            authorization,
        })
    }

    pub async fn manifest(&self, query: &ManifestQuery) -> Result<Poll, Error> {
        let mut url = self.url("files");
        let mut request = match query {
            ManifestQuery::Full => self.http.get(url.clone()).timeout(Duration::from_secs(60)),
            ManifestQuery::IfNoneMatch(etag) => self
                .http
                .get(url.clone())
                .timeout(Duration::from_secs(60))
                .header(IF_NONE_MATCH, etag),
            ManifestQuery::Since { since } => {
                url.query_pairs_mut()
                    .append_pair("since", &since.to_string())
                    .append_pair("inline", "true");
                self.http.get(url.clone()).timeout(Duration::from_secs(60))
            }
            ManifestQuery::LongPoll { since } => {
                url.query_pairs_mut()
                    .append_pair("since", &since.to_string())
                    .append_pair("wait", &LONG_POLL_WAIT.as_secs().to_string())
                    .append_pair("inline", "true");
                self.http
                    .get(url.clone())
                    .timeout(LONG_POLL_WAIT + Duration::from_secs(30))
            }
        };
        request = request.header(AUTHORIZATION, self.authorization.clone());
        let response = send(request, &url).await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            let store_id = response
                .headers()
                .get(STORE_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .filter(|value| !value.is_empty())
                .map(str::to_owned);
            return Ok(Poll::Unchanged { store_id });
        }
        let response = checked(response, &url).await?;
        let etag = match query {
            ManifestQuery::LongPoll { .. } | ManifestQuery::Since { .. } => None,
            _ => response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        let body = response
            .bytes()
            .await
            .map_err(|source| http_error(&url, source))?;
        let manifest = decode_manifest(&body, etag).map_err(|source| RuntimeError::Decode {
            url: url.to_string(),
            source,
        })?;
        Ok(Poll::Changed(manifest))
    }

    /// One blob by its hash; the caller streams and verifies the body.
    pub async fn blob(&self, sha256: &str) -> Result<Response, Error> {
        let url = self.url(&format!("blobs/{sha256}"));
        let request = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, self.authorization.clone());
        checked(send(request, &url).await?, &url).await
    }

    /// Several blobs concatenated in the order asked, or `None` when the
    /// server has no batch endpoint (404/405), so the caller fetches one by one.
    pub async fn blobs(&self, sha256s: &[String]) -> Result<Option<Response>, Error> {
        let url = self.url("blobs");
        let body = BlobBatchRequest {
            sha256: sha256s.to_vec(),
        };
        let request = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .json(&body);
        let response = send(request, &url).await?;
        if matches!(
            response.status(),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        ) {
            return Ok(None);
        }
        Ok(Some(checked(response, &url).await?))
    }

    pub async fn report(&self, report: &SyncStatusReport) -> Result<(), Error> {
        let url = self.url("sync-status");
        let request = self
            .http
            .post(url.clone())
            .timeout(Duration::from_secs(10))
            .header(AUTHORIZATION, self.authorization.clone())
            .json(report);
        checked(send(request, &url).await?, &url).await.map(drop)
    }

    /// Ships a batch of log lines.
    pub async fn ship_logs(&self, batch: &sync_protocol::logs::LogBatch) -> Result<(), Error> {
        let url = self.url("logs");
        let request = self
            .http
            .post(url.clone())
            .timeout(Duration::from_secs(10))
            .header(AUTHORIZATION, self.authorization.clone())
            .json(batch);
        checked(send(request, &url).await?, &url).await.map(drop)
    }

    /// The newest control once newer than `after`, holding the request up
    /// to `wait`; `None` when the wait ended first.
    pub async fn control(
        &self,
        after: u64,
        wait: Duration,
    ) -> Result<Option<sync_protocol::controls::Control>, Error> {
        let mut url = self.url("preview/control");
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("wait", &wait.as_secs().to_string());
        let request = self
            .http
            .get(url.clone())
            .timeout(wait + Duration::from_secs(10))
            .header(AUTHORIZATION, self.authorization.clone());
        let response = checked(send(request, &url).await?, &url).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body = response
            .bytes()
            .await
            .map_err(|source| http_error(&url, source))?;
        let control = serde_json::from_slice(&body).map_err(|source| RuntimeError::Decode {
            url: url.to_string(),
            source,
        })?;
        Ok(Some(control))
    }

    /// The app's settings; the default (public, nothing set) from a
    /// provisioner too old to have them (404).
    pub async fn settings(&self) -> Result<sync_protocol::settings::DaemonSettings, Error> {
        let url = self.url("sync-settings");
        let request = self
            .http
            .get(url.clone())
            .timeout(Duration::from_secs(10))
            .header(AUTHORIZATION, self.authorization.clone());
        let response = send(request, &url).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(Default::default());
        }
        let body = checked(response, &url)
            .await?
            .bytes()
            .await
            .map_err(|source| http_error(&url, source))?;
        serde_json::from_slice(&body).map_err(|source| {
            RuntimeError::Decode {
                url: url.to_string(),
                source,
            }
            .into()
        })
    }

    fn url(&self, tail: &str) -> Url {
        // `app_url` ends in '/', and every tail is built from checked parts.
        self.app_url
            .join(tail)
            .expect("a relative path joins onto the app URL")
    }
}

/// A manifest or delta answer's body as the daemon reads it: malformed JSON
/// is an error, a malformed entry is refused on its own (`Manifest::refused`).
/// Public for the fuzz target (`fuzz/`), which feeds it arbitrary bytes.
pub fn decode_manifest(body: &[u8], etag: Option<String>) -> Result<Manifest, serde_json::Error> {
    let raw: RawManifest = serde_json::from_slice(body)?;
    Ok(raw.checked(etag))
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    store_id: String,
    revision: u64,
    #[serde(default = "yes")]
    full: bool,
    files: Vec<RawEntry>,
    #[serde(default)]
    deleted: Vec<String>,
    #[serde(default)]
    contents: Vec<RawContent>,
}

#[derive(Deserialize)]
struct RawContent {
    sha256: String,
    content_base64: String,
}

#[derive(Deserialize)]
struct RawEntry {
    path: String,
    sha256: String,
    size: u64,
}

fn yes() -> bool {
    true
}

impl RawManifest {
    fn checked(self, etag: Option<String>) -> Manifest {
        let mut refused = Vec::new();
        let files = self
            .files
            .into_iter()
            .filter_map(|raw| match FilePath::parse(&raw.path) {
                Ok(_) if !sync_protocol::is_sha256_hex(&raw.sha256) => {
                    tracing::error!(
                        path = raw.path,
                        sha256 = raw.sha256,
                        "manifest entry has a malformed sha256; skipped"
                    );
                    refused.push((raw.path, "malformed sha256".to_owned()));
                    None
                }
                Ok(path) => Some(FileEntry {
                    path,
                    sha256: raw.sha256,
                    size: raw.size,
                }),
                Err(error) => {
                    tracing::error!(path = ?raw.path, %error, "manifest path refused; skipped");
                    refused.push((raw.path, error.to_string()));
                    None
                }
            })
            .collect();
        let deleted = self
            .deleted
            .into_iter()
            .filter_map(|raw| FilePath::parse(&raw).ok())
            .collect();
        Manifest {
            store_id: Some(self.store_id).filter(|store_id| !store_id.is_empty()),
            revision: self.revision,
            full: self.full,
            files,
            deleted,
            refused,
            etag,
            contents: inline_contents(self.contents),
        }
    }
}

/// The inline contents a delta carried, decoded, within the protocol's
/// bounds; one that is malformed, too large or not the content its sha256
/// names is left out (its file is downloaded instead, so a bad answer
/// cannot fail the cycle over and over).
fn inline_contents(raw: Vec<RawContent>) -> HashMap<String, Vec<u8>> {
    let mut contents = HashMap::new();
    let mut total = 0;
    for content in raw {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&content.content_base64)
        else {
            tracing::debug!(
                sha256 = content.sha256,
                "inline content is not base64; downloading it"
            );
            continue;
        };
        if sync_protocol::sha256_hex(&bytes) != content.sha256 {
            tracing::debug!(
                sha256 = content.sha256,
                "inline content does not match its sha256; downloading it"
            );
            continue;
        }
        let size = bytes.len() as u64;
        if size > sync_protocol::MAX_INLINE_FILE_BYTES
            || total + size > sync_protocol::MAX_INLINE_BYTES
        {
            continue;
        }
        total += size;
        contents.insert(content.sha256, bytes);
    }
    contents
}

async fn send(request: reqwest::RequestBuilder, url: &Url) -> Result<Response, Error> {
    request
        .send()
        .await
        .map_err(|source| http_error(url, source))
}

/// 401 and 403 are fatal: retrying with the same token cannot succeed.
/// Everything else non-2xx is transient.
async fn checked(response: Response, url: &Url) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Err(CriticalError::BadToken {
            status: status.as_u16(),
        }
        .into());
    }
    let mut body = response.text().await.unwrap_or_default();
    body.truncate(300);
    Err(RuntimeError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        body,
    }
    .into())
}

fn http_error(url: &Url, source: reqwest::Error) -> Error {
    RuntimeError::Http {
        url: url.to_string(),
        source: source.without_url(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_manifest_entry_is_refused_on_its_own() {
        let good_sha = sync_protocol::sha256_hex(b"x");
        let overlong = "a/".repeat(512) + "b";
        let bad_paths = [
            "../x",
            "/etc/x",
            "a//b",
            "a/./b",
            "a\\b",
            "a\0b",
            overlong.as_str(),
            "node_modules/x.js",
            ".next/cache",
            "",
        ];
        let mut files: Vec<serde_json::Value> = bad_paths
            .iter()
            .map(|path| serde_json::json!({"path": path, "sha256": good_sha, "size": 1}))
            .collect();
        files.push(serde_json::json!({"path": "ok.txt", "sha256": good_sha, "size": 1}));
        files.push(serde_json::json!({"path": "bad-hash.txt", "sha256": "XYZ", "size": 1}));
        let body = serde_json::json!({"revision": 3, "files": files, "deleted": ["../etc/passwd", "gone.txt"]});

        let raw: RawManifest = serde_json::from_value(body).unwrap();
        let manifest = raw.checked(None);

        let kept: Vec<&str> = manifest
            .files
            .iter()
            .map(|entry| entry.path.as_str())
            .collect();
        assert_eq!(kept, ["ok.txt"]);
        let deleted: Vec<&str> = manifest.deleted.iter().map(FilePath::as_str).collect();
        assert_eq!(deleted, ["gone.txt"]);
        assert!(manifest.full, "a manifest without `full` is a whole one");
    }

    #[test]
    fn inline_contents_are_decoded_within_bounds_and_a_bad_one_is_left_to_download() {
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let largest = |fill: u8| vec![fill; sync_protocol::MAX_INLINE_FILE_BYTES as usize];
        // Each content under its own sha256 unless a case says otherwise.
        let named = |name: &'static str, bytes: &[u8]| {
            let raw = RawContent {
                sha256: sync_protocol::sha256_hex(bytes),
                content_base64: encode(bytes),
            };
            (name, raw)
        };
        let mut cases = vec![
            named("small", b"saved"),
            named("too-large", &[b'x'; 16 * 1024 + 1]),
            named("largest", &largest(b'a')),
            named("fits", &largest(b'b')),
            named("fits-too", &largest(b'c')),
            // Past MAX_INLINE_BYTES in all: left out.
            named("past-the-total", &largest(b'd')),
        ];
        let (_, mut not_base64) = named("not-base64", b"x");
        not_base64.content_base64 = "%%%".to_owned();
        let (_, mut mismatched) = named("mismatched", b"claimed");
        mismatched.content_base64 = encode(b"tampered");
        cases.insert(1, ("not-base64", not_base64));
        cases.insert(2, ("mismatched", mismatched));
        let names: HashMap<String, &str> = cases
            .iter()
            .map(|(name, raw)| (raw.sha256.clone(), *name))
            .collect();

        let contents = inline_contents(cases.into_iter().map(|(_, raw)| raw).collect());

        let mut kept: Vec<&str> = contents.keys().map(|sha256| names[sha256]).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["fits", "fits-too", "largest", "small"]);
        assert_eq!(contents[&sync_protocol::sha256_hex(b"saved")], b"saved");
    }
}
