//! The HTTP core every Fly call goes through: auth header, client-side rate
//! limit, retries, `fly-request-id` logging and error classification. The
//! typed operations live in `apps.rs` and `machines.rs`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::auth::authorization_value;
use super::error::FlyError;
use super::rate_limit::{Rate, RateLimiter};
use super::retry::{RetryPolicy, parse_retry_after};
use super::types::ErrorResponse;

/// Where Fly's Machines API lives unless `FLY_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.machines.dev";

#[derive(Clone)]
pub struct FlyClientConfig {
    /// Base URL without `/v1`, e.g. `https://api.machines.dev` or an emulator's.
    pub base_url: String,
    /// Fly API token; turned into the `Authorization` header, never logged.
    pub token: String,
    pub retry: RetryPolicy,
    /// Queue requests locally to stay under Fly's per-action limits.
    pub rate_limit: bool,
    /// Timeout of one request; `wait` calls get their own, longer one.
    pub request_timeout: Duration,
}

impl FlyClientConfig {
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> FlyClientConfig {
        FlyClientConfig {
            base_url: base_url.into(),
            token: token.into(),
            retry: RetryPolicy::default(),
            rate_limit: true,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A cheap-to-clone handle on one connection pool and one set of rate buckets.
#[derive(Clone)]
pub struct FlyClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    authorization: HeaderValue,
    retry: RetryPolicy,
    limiter: Option<RateLimiter>,
    request_timeout: Duration,
}

impl std::fmt::Debug for FlyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlyClient")
            .field("base_url", &self.inner.base_url)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

/// Which failures a call may be retried after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryOn {
    /// 429, 5xx, 408 and transport errors: the call is idempotent.
    Any,
    /// Only answers that prove Fly did nothing (429, connection refused): a
    /// repeated create could otherwise make a second machine.
    NotProcessed,
}

/// One logical call, possibly sent several times.
pub(crate) struct Call {
    pub method: Method,
    /// Path under the base URL, starting with `/v1/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub headers: Vec<(&'static str, String)>,
    /// Rate-limit identifier (machine id or app name) and action.
    pub limit_key: String,
    pub action: &'static str,
    pub rate: Rate,
    pub retry_on: RetryOn,
    /// `wait` answers 408 when its own timeout passes; the caller decides then.
    pub retry_timeouts: bool,
    pub timeout: Option<Duration>,
}

impl Call {
    pub fn new(method: Method, path: String, limit_key: &str, action: &'static str) -> Call {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            limit_key: limit_key.to_owned(),
            action,
            rate: Rate::DEFAULT,
            retry_on: RetryOn::Any,
            retry_timeouts: true,
            timeout: None,
        }
    }

    pub fn json(mut self, body: impl serde::Serialize) -> Call {
        // Serialising our own plain structs cannot fail.
        self.body = Some(serde_json::to_value(body).unwrap_or_default());
        self
    }

    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Call {
        self.query.push((key.into(), value.into()));
        self
    }
}

/// A successful answer.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, FlyError> {
        serde_json::from_slice(&self.body).map_err(|error| FlyError::Unexpected {
            status: self.status.as_u16(),
            body: format!("undecodable body ({error}): {}", preview(&self.body)),
        })
    }
}

impl FlyClient {
    pub fn new(config: FlyClientConfig) -> Result<FlyClient, FlyError> {
        let mut authorization = HeaderValue::from_str(&authorization_value(&config.token))
            .map_err(|_| {
                FlyError::Transport("the Fly token has characters a header cannot carry".to_owned())
            })?;
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .user_agent(concat!("preview-provisioner/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| FlyError::Transport(error.to_string()))?;
        Ok(FlyClient {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url.trim_end_matches('/').to_owned(),
                authorization,
                retry: config.retry,
                limiter: config.rate_limit.then(RateLimiter::default),
                request_timeout: config.request_timeout,
            }),
        })
    }

    pub(crate) async fn execute(&self, call: Call) -> Result<Reply, FlyError> {
        let inner = &self.inner;
        self.throttle(&call).await;
        let deadline = Instant::now() + inner.retry.max_elapsed;
        let mut attempt = 0u32;
        loop {
            let (error, retryable, retry_after) = match self.send_once(&call).await {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            let delay = inner
                .retry
                .backoff(attempt)
                .max(retry_after.unwrap_or_default());
            if !retryable || Instant::now() + delay > deadline {
                tracing::warn!(method = %call.method, path = %call.path, attempts = attempt + 1, error = %error, "fly call failed");
                return Err(error);
            }
            tracing::debug!(method = %call.method, path = %call.path, delay_ms = delay.as_millis() as u64, error = %error, "retrying fly call");
            tokio::time::sleep(delay).await;
            // A retry counts against Fly's limit too, but never waits past the budget.
            if tokio::time::timeout_at(deadline, self.throttle(&call))
                .await
                .is_err()
            {
                tracing::warn!(method = %call.method, path = %call.path, attempts = attempt + 1, error = %error, "fly call failed; retry budget spent");
                return Err(error);
            }
            attempt += 1;
        }
    }

    /// Waits for the client-side rate limit of the call's identifier and action.
    async fn throttle(&self, call: &Call) {
        if let Some(limiter) = &self.inner.limiter {
            limiter
                .acquire(&call.limit_key, call.action, call.rate)
                .await;
        }
    }

    /// Sends once. On failure: the error, whether a retry is allowed, and how long Fly asked us to wait.
    async fn send_once(&self, call: &Call) -> Result<Reply, (FlyError, bool, Option<Duration>)> {
        let inner = &self.inner;
        let url = format!("{}{}", inner.base_url, call.path);
        let mut request = inner
            .http
            .request(call.method.clone(), &url)
            .header(AUTHORIZATION, inner.authorization.clone())
            .timeout(call.timeout.unwrap_or(inner.request_timeout));
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                // A refused connection never reached Fly, so even a create may retry.
                let retryable = call.retry_on == RetryOn::Any || error.is_connect();
                let error = FlyError::Transport(error.without_url().to_string());
                return Err((error, retryable, None));
            }
        };
        let status = response.status();
        let request_id = header_text(&response, "fly-request-id");
        let retry_after =
            header_text(&response, RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(&v));
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                let retryable = call.retry_on == RetryOn::Any;
                return Err((
                    FlyError::Transport(error.without_url().to_string()),
                    retryable,
                    None,
                ));
            }
        };
        tracing::debug!(
            method = %call.method, path = %call.path, status = status.as_u16(),
            fly_request_id = %request_id.as_deref().unwrap_or("-"), "fly response"
        );
        if status.is_success() {
            return Ok(Reply { status, body });
        }
        tracing::info!(
            method = %call.method, path = %call.path, status = status.as_u16(),
            fly_request_id = %request_id.as_deref().unwrap_or("-"), body = %preview(&body), "fly error answer"
        );
        Err(classify(status, &body, retry_after, call))
    }
}

fn classify(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
    call: &Call,
) -> (FlyError, bool, Option<Duration>) {
    let parsed: ErrorResponse = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed.error.clone().unwrap_or_else(|| preview(body));
    let any = call.retry_on == RetryOn::Any;
    match status.as_u16() {
        404 => (FlyError::NotFound { message }, false, None),
        // Older answers say so in words only ("Name has already been taken").
        422 if parsed.status.as_deref() == Some("name_taken")
            || message.to_ascii_lowercase().contains("taken") =>
        {
            (
                FlyError::NameTaken {
                    name: String::new(),
                    holder: "someone else".to_owned(),
                },
                false,
                None,
            )
        }
        409 | 412 if is_capacity(&parsed, &message) => {
            (FlyError::Capacity { message }, false, None)
        }
        429 => (FlyError::RateLimited { retry_after }, true, retry_after),
        408 => {
            let error = FlyError::Timeout {
                what: format!("{} {}", call.method, call.path),
            };
            (error, any && call.retry_timeouts, retry_after)
        }
        code if status.is_server_error() => (
            FlyError::Server {
                status: code,
                body: message,
            },
            any,
            retry_after,
        ),
        code => (
            FlyError::Unexpected {
                status: code,
                body: message,
            },
            false,
            None,
        ),
    }
}

/// Whether a 409/412 says Fly has no room for the machine (rather than a
/// lease held or a state conflict).
fn is_capacity(parsed: &ErrorResponse, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    parsed.status.as_deref() == Some("insufficient_capacity")
        || message.contains("capacity")
        || message.contains("insufficient")
}

fn header_text(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// The start of a body, for errors and logs; Fly's error bodies hold no secrets.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}
