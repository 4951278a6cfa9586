//! DNS and proxy warm-up: a preview whose machine passed its checks may not
//! answer at its URL yet. A new app's `<name>.fly.dev` resolves only after a
//! while, and Fly's proxy needs a moment after a start before it routes to
//! the machine. So a preview is called running only once its public URL
//! answers the gateway's health route through Fly: the provisioner asks it,
//! again and again for a bounded time, and when the bound passes the error
//! names the URL and its last answer (the preview stays `provisioning` and
//! the reconciler tries again; it is never `running` meanwhile).
//!
//! The request goes to the public URL, or, with `--fly-proxy-url`, to that
//! address carrying `Host: <name>.fly.dev`, which is how Fly's proxy routes
//! (the Fly emulator serves its proxy that way in tests).

use std::time::Duration;

use reqwest::header::HOST;
use tokio::time::Instant;

use crate::lifecycle::driver::DriverError;

/// What the preview gateway answers 200 on whenever it runs.
pub const HEALTH_PATH: &str = "/__preview/health";

/// How long one probe request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The public URL of the Fly app `name`.
pub fn public_url(name: &str) -> String {
    format!("https://{name}.fly.dev")
}

/// Asks a preview's URL until it answers, within a budget.
#[derive(Clone, Debug)]
pub struct UrlProbe {
    http: reqwest::Client,
    /// Fly's proxy, when it is not reached through the public name.
    proxy_url: Option<String>,
    budget: Duration,
}

impl UrlProbe {
    pub fn new(proxy_url: Option<String>, budget: Duration) -> UrlProbe {
        let http = reqwest::Client::builder()
            .user_agent(concat!("preview-provisioner/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        UrlProbe {
            http,
            proxy_url: proxy_url.map(|url| url.trim_end_matches('/').to_owned()),
            budget,
        }
    }

    /// Returns once `name`'s URL answered 2xx, with how long that took;
    /// after the budget, a transient error naming the URL and its last answer.
    pub async fn wait_answering(&self, name: &str) -> Result<Duration, DriverError> {
        let started = Instant::now();
        let deadline = started + self.budget;
        let mut delay = Duration::from_millis(50);
        loop {
            let last = match self.ask(name).await {
                Ok(()) => return Ok(started.elapsed()),
                Err(answer) => answer,
            };
            if Instant::now() + delay >= deadline {
                return Err(DriverError::transient(format!(
                    "{}{HEALTH_PATH} did not answer through Fly within {:?} (last: {last}); \
                     a new app's name can take a while to resolve: provisioning is tried again",
                    public_url(name),
                    self.budget
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    /// One request; the error says what came back instead of a 2xx.
    async fn ask(&self, name: &str) -> Result<(), String> {
        let request = match &self.proxy_url {
            Some(proxy) => self
                .http
                .get(format!("{proxy}{HEALTH_PATH}"))
                .header(HOST, format!("{name}.fly.dev")),
            None => self.http.get(format!("{}{HEALTH_PATH}", public_url(name))),
        };
        match request.send().await {
            Ok(answer) if answer.status().is_success() => Ok(()),
            Ok(answer) => Err(format!("HTTP {}", answer.status().as_u16())),
            Err(error) if error.is_timeout() => Err("no answer in time".to_owned()),
            Err(error) if error.is_connect() => {
                Err("cannot connect (name not resolving yet?)".to_owned())
            }
            Err(_) => Err("the request failed".to_owned()),
        }
    }
}
