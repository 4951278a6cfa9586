//! Controls the operator asks of this preview (restart, rebuild): the daemon
//! holds a request to the provisioner (`GET .../preview/control`) and hands
//! each new control to the supervisor. Controls asked before the daemon
//! started are not carried out: the first answer only tells where to start.

use std::time::Duration;

use sync_protocol::controls::Control;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client::Client;

/// How long each held request waits on the provisioner.
const HOLD: Duration = Duration::from_secs(30);

/// Follows the controls until `stop` turns true.
pub async fn follow(
    client: Client,
    controls: watch::Sender<Option<Control>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut after = None;
    loop {
        let wait = if after.is_some() {
            HOLD
        } else {
            Duration::ZERO
        };
        let answer = tokio::select! {
            answer = client.control(after.unwrap_or(0), wait) => answer,
            _ = stop.wait_for(|stopping| *stopping) => return,
        };
        match answer {
            Ok(control) => {
                backoff.reset();
                match (after, control) {
                    (None, control) => after = Some(control.map_or(0, |control| control.seq)),
                    (Some(_), Some(control)) => {
                        after = Some(control.seq);
                        tracing::info!(
                            kind = control.kind.as_str(),
                            seq = control.seq,
                            "control asked"
                        );
                        controls.send_replace(Some(control));
                    }
                    (Some(_), None) => {}
                }
            }
            Err(error) => {
                tracing::debug!(%error, "asking for controls failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = stop.wait_for(|stopping| *stopping) => return,
                }
            }
        }
    }
}
