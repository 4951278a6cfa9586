//! Several provisioner instances on one store: the store's identity seen by
//! a daemon (`identity`), and three instances on one PostgreSQL database
//! behind a round-robin proxy (`proxy`).

mod coordinated;
mod durability;
mod identity;
mod processes;
mod proxy;

use std::time::Duration;

use anyhow::{Context, bail};

/// An operator's client of one base URL (an instance, or the proxy).
pub(crate) struct Operator {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Operator {
    pub(crate) fn new(base: &str, key: &str) -> Operator {
        Operator {
            base: base.to_owned(),
            key: key.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .no_proxy()
                .build()
                .unwrap(),
        }
    }

    /// `PUT` one file; the revision that holds it once answered 2xx.
    pub(crate) async fn put(&self, app: &str, path: &str, content: &str) -> anyhow::Result<u64> {
        let response = self
            .http
            .put(format!("{}/v1/apps/{app}/files/{path}", self.base))
            .bearer_auth(&self.key)
            .body(content.to_owned())
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("PUT {path}: {}", response.status());
        }
        let body: sync_protocol::WriteResponse = response.json().await?;
        Ok(body.revision)
    }

    /// The app's whole manifest.
    pub(crate) async fn manifest(
        &self,
        app: &str,
    ) -> anyhow::Result<sync_protocol::ManifestResponse> {
        let response = self
            .http
            .get(format!("{}/v1/apps/{app}/files", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET manifest: {}", response.status());
        }
        response.json().await.context("manifest body")
    }
}
