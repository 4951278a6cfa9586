//! The preview lifecycle endpoints on [`TestProvisioner`], and starting one
//! on the Fly driver against a [`FlyEmulator`].

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use sync_protocol::{PreviewResponse, PreviewState};

use crate::fly_emulator::FlyEmulator;
use crate::provisioner::TestProvisioner;

/// The deployment a test provisioner is, unless its flags name another.
pub const TEST_DEPLOYMENT: &str = "test";

/// The token the provisioner presents to the emulator; `fm2_` gets the `FlyV1 ` scheme.
pub const FLY_TEST_TOKEN: &str = "fm2_lifecycle-test-token";

impl TestProvisioner {
    /// A provisioner on the Fly driver, its Machines API at `fly`, with extra `serve` flags.
    pub async fn spawn_on_fly(
        fly: &FlyEmulator,
        extra_args: &[&str],
    ) -> anyhow::Result<TestProvisioner> {
        let mut args = vec![
            "--driver",
            "fly",
            "--fly-api-url",
            fly.base_url(),
            "--fly-api-token",
            FLY_TEST_TOKEN,
            "--public-url",
            "https://provisioner.example.com",
            // Preview URLs are checked through the emulator's proxy.
            "--fly-proxy-url",
            fly.base_url(),
        ];
        if !extra_args.contains(&"--deployment") {
            args.extend_from_slice(&["--deployment", TEST_DEPLOYMENT]);
        }
        args.extend_from_slice(extra_args);
        TestProvisioner::spawn_with_args(&args).await
    }

    /// `POST /v1/apps/{app}/provision-preview[?wait=false]`.
    pub async fn provision_preview(&self, app: &str, wait: bool) -> Response {
        let query = if wait { "" } else { "?wait=false" };
        self.lifecycle_call(
            Method::POST,
            &format!("/v1/apps/{app}/provision-preview{query}"),
        )
        .await
    }

    /// `POST /v1/apps/{app}/wake-preview[?wait=false]`.
    pub async fn wake_preview(&self, app: &str, wait: bool) -> Response {
        let query = if wait { "" } else { "?wait=false" };
        self.lifecycle_call(Method::POST, &format!("/v1/apps/{app}/wake-preview{query}"))
            .await
    }

    pub async fn get_preview(&self, app: &str) -> Response {
        self.lifecycle_call(Method::GET, &format!("/v1/apps/{app}/preview"))
            .await
    }

    pub async fn delete_preview(&self, app: &str) -> Response {
        self.lifecycle_call(Method::DELETE, &format!("/v1/apps/{app}/preview"))
            .await
    }

    pub async fn report_activity(&self, app: &str) -> Response {
        self.lifecycle_call(Method::POST, &format!("/v1/apps/{app}/activity"))
            .await
    }

    /// `GET /v1/previews[?state=]`: the previews array.
    pub async fn list_previews(&self, state: Option<&str>) -> anyhow::Result<Vec<PreviewResponse>> {
        let query = state
            .map(|state| format!("?state={state}"))
            .unwrap_or_default();
        let response = self
            .lifecycle_call(Method::GET, &format!("/v1/previews{query}"))
            .await;
        if response.status() != StatusCode::OK {
            bail!("listing previews answered {}", response.status());
        }
        let body: PreviewList = response.json().await?;
        Ok(body.previews)
    }

    /// The preview's `state`, or `None` when the request failed.
    pub async fn preview_state(&self, app: &str) -> Option<PreviewState> {
        let response = self.get_preview(app).await;
        if response.status() != StatusCode::OK {
            return None;
        }
        let preview: PreviewResponse = response.json().await.ok()?;
        Some(preview.state)
    }

    /// Polls until the preview is in `state`, at most `timeout`.
    pub async fn wait_for_state(
        &self,
        app: &str,
        state: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let current = self.preview_state(app).await;
            if current.is_some_and(|current| current.as_str() == state) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("preview {app} is {current:?}, not {state}, after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn lifecycle_call(&self, method: Method, path: &str) -> Response {
        self.request(method, path)
            .send()
            .await
            .with_context(|| format!("request to {path} failed"))
            .expect("the provisioner answers")
    }
}

/// The preview resource of an answer (provision, wake, delete or `GET`),
/// typed; panics with the body when it is something else.
pub async fn read_preview(response: Response) -> PreviewResponse {
    let status = response.status();
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("not a preview ({status}, {error}): {text}"))
}

/// `GET /v1/previews`.
#[derive(Deserialize)]
struct PreviewList {
    previews: Vec<PreviewResponse>,
}

/// A fresh emulator and a provisioner on it (with `extra_args`) whose
/// preview of `app` is provisioned and running: most tests start here.
pub async fn running_preview(app: &str, extra_args: &[&str]) -> (FlyEmulator, TestProvisioner) {
    let fly = FlyEmulator::start().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, extra_args)
        .await
        .expect("the provisioner starts");
    let response = provisioner.provision_preview(app, true).await;
    assert_eq!(response.status(), StatusCode::OK, "provisioning {app}");
    (fly, provisioner)
}
