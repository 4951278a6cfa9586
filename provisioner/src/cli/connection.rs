//! How every client command reaches a running provisioner: the server URL
//! and operator key from flags, the environment, or the data dir of a local
//! `serve` (one resolution for `push` and `previews`), and the one mapping of
//! answers: a 2xx body, the server's `{"error":{"code","message"}}` as
//! [`ClientError::Api`], or an unreachable server named with the flag that
//! sets it.

use std::error::Error as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use sync_protocol::ErrorResponse;

/// The longest an ordinary call may take (an import or a provision waits up to a minute).
const CALL_TIMEOUT: Duration = Duration::from_secs(180);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the provisioner is and the key it takes; shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of the provisioner.
    #[arg(
        long,
        env = "PROVISIONER_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,

    /// Operator API key; when unset, the one `serve` keeps in --data-dir.
    #[arg(
        long,
        env = "PROVISIONER_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub api_key: Option<String>,

    /// The data dir of a local `serve`, to read its kept API key from.
    #[arg(
        long,
        env = "PROVISIONER_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
}

/// A failed call, as the user reads it after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server's own refusal.
    #[error("{code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "cannot reach the provisioner at {server} ({cause}); set its URL with --server or PROVISIONER_URL"
    )]
    Unreachable { server: String, cause: String },
}

/// An HTTP client bound to one provisioner and its key.
#[derive(Clone)]
pub struct Connection {
    client: reqwest::Client,
    server: String,
    api_key: String,
}

impl Connection {
    pub fn open(args: &ServerArgs) -> anyhow::Result<Connection> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .context("failed to build an HTTP client")?;
        Ok(Connection {
            client,
            server: args.server.trim_end_matches('/').to_owned(),
            api_key: resolve_api_key(args)?,
        })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// An operator request to `path` (from `/v1/...`), bounded by [`CALL_TIMEOUT`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.stream_request(method, path).timeout(CALL_TIMEOUT)
    }

    /// An operator request with no overall timeout, for event streams.
    pub fn stream_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.api_key)
    }

    /// Sends; a 2xx answer is returned, anything else is a [`ClientError`].
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request
            .send()
            .await
            .map_err(|error| self.unreachable(&error))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(api_error(status.as_u16(), &text).into())
    }

    /// Sends and reads a 2xx JSON body.
    pub async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let text = self
            .send(request)
            .await?
            .text()
            .await
            .map_err(|error| self.unreachable(&error))?;
        serde_json::from_str(&text)
            .with_context(|| format!("the provisioner answered an unexpected body: {text}"))
    }

    /// What a transport failure says: which URL, why, and what sets it.
    pub fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        let mut cause = error.to_string();
        let mut source = error.source();
        while let Some(inner) = source {
            cause = inner.to_string();
            source = inner.source();
        }
        ClientError::Unreachable {
            server: self.server.clone(),
            cause,
        }
    }
}

/// The server's error answer; a body that is not one (a proxy's page) keeps
/// its status and its first line.
pub fn api_error(status: u16, body: &str) -> ClientError {
    match serde_json::from_str::<ErrorResponse>(body) {
        Ok(answer) => ClientError::Api {
            status,
            code: answer.error.code,
            message: answer.error.message,
        },
        Err(_) => ClientError::Api {
            status,
            code: format!("http_{status}"),
            message: body
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
        },
    }
}

/// The key from the flag or env, else the one `serve` keeps in its data dir.
fn resolve_api_key(args: &ServerArgs) -> anyhow::Result<String> {
    if let Some(key) = args
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|key| !key.is_empty())
    {
        return Ok(key.to_owned());
    }
    let path = args.data_dir.join("api-key");
    let key = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no --api-key (PROVISIONER_API_KEY) given and `{}` is not readable; pass the key `serve` printed, \
             or --data-dir (PROVISIONER_DATA_DIR) of the local `serve`",
            path.display()
        )
    })?;
    Ok(key.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_reads_as_its_code_and_message() {
        let cases = [
            (
                404,
                r#"{"error":{"code":"preview_not_found","message":"no preview for app x; provision it first"}}"#,
                "preview_not_found: no preview for app x; provision it first",
            ),
            (
                502,
                "<html>Bad gateway</html>\nmore",
                "http_502: <html>Bad gateway</html>",
            ),
            (500, "", "http_500: "),
        ];
        for (status, body, expected) in cases {
            assert_eq!(api_error(status, body).to_string(), expected, "{body}");
        }
    }
}
