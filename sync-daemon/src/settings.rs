//! The app's own settings, read from the provisioner with the app's sync
//! token (`GET .../sync-settings`): commands, port and environment that the
//! editor chose, and who may see the preview.
//!
//! The supervisor reads them again before every start of the dev server,
//! so a changed command applies at the next (re)start. The gateway reads
//! the access part from a watch channel kept fresh here: it stays `None`
//! until the first answer, and the gateway lets nobody through before
//! then, so a private preview is never open for its first seconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_protocol::settings::{DaemonAccess, DaemonSettings};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client::Client;

/// How often the access is read again while the daemon runs, so a
/// revocation (key rotation) or a change of visibility reaches the gateway
/// within this long. The local edge proxy applies both at once.
const REFRESH: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct SettingsSource {
    client: Client,
    access: watch::Sender<Option<DaemonAccess>>,
    last: Arc<Mutex<Option<DaemonSettings>>>,
}

impl SettingsSource {
    pub fn new(client: Client) -> (SettingsSource, watch::Receiver<Option<DaemonAccess>>) {
        let (access, receiver) = watch::channel(None);
        let source = SettingsSource {
            client,
            access,
            last: Arc::default(),
        };
        (source, receiver)
    }

    /// The settings as the provisioner has them now, or the last ones read
    /// when it cannot be reached (nothing set, before any answer).
    pub async fn refresh(&self) -> DaemonSettings {
        match self.client.settings().await {
            Ok(settings) => {
                self.access.send_replace(Some(settings.access.clone()));
                *self.last.lock().expect("settings poisoned") = Some(settings.clone());
                settings
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the app's settings; using the last ones read");
                self.last
                    .lock()
                    .expect("settings poisoned")
                    .clone()
                    .unwrap_or_default()
            }
        }
    }

    /// Reads the settings until the first answer (with backoff), then again
    /// every [`REFRESH`]. Ends on `stop`.
    pub async fn keep_fresh(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            let delay = match self.client.settings().await {
                Ok(settings) => {
                    backoff.reset();
                    self.access.send_replace(Some(settings.access.clone()));
                    *self.last.lock().expect("settings poisoned") = Some(settings);
                    REFRESH
                }
                Err(error) => {
                    tracing::debug!(%error, "reading the app's settings failed; retrying");
                    backoff.next_delay()
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|stopping| *stopping) => return,
            }
        }
    }
}
