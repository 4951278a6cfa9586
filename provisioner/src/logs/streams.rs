//! How many log streams are open, per app and in all, on this instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sync_protocol::AppId;

/// The most streams of one app's log open at once on one instance.
pub const MAX_STREAMS_PER_APP: usize = 8;
/// The most log streams open at once on one instance.
pub const MAX_STREAMS: usize = 256;

/// Too many streams are open; which bound was reached.
#[derive(Debug, thiserror::Error)]
pub enum StreamsFull {
    #[error(
        "this app's log already has {MAX_STREAMS_PER_APP} streams open; close one or read with GET .../logs?since="
    )]
    App,
    #[error(
        "{MAX_STREAMS} log streams are open on this instance; retry later or read with GET .../logs?since="
    )]
    Total,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Streams {
    counts: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_app: HashMap<AppId, usize>,
}

impl Streams {
    pub(super) fn open(&self, app_id: &AppId) -> Result<StreamPermit, StreamsFull> {
        let mut counts = self.lock();
        if counts.total >= MAX_STREAMS {
            return Err(StreamsFull::Total);
        }
        let of_app = counts.per_app.entry(app_id.clone()).or_default();
        if *of_app >= MAX_STREAMS_PER_APP {
            return Err(StreamsFull::App);
        }
        *of_app += 1;
        counts.total += 1;
        Ok(StreamPermit {
            streams: self.clone(),
            app_id: app_id.clone(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// One open stream; its place is given back when dropped.
#[derive(Debug)]
pub struct StreamPermit {
    streams: Streams,
    app_id: AppId,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut counts = self.streams.lock();
        counts.total -= 1;
        if let Some(of_app) = counts.per_app.get_mut(&self.app_id) {
            *of_app -= 1;
            if *of_app == 0 {
                counts.per_app.remove(&self.app_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_bounded_per_app_and_a_closed_one_frees_its_place() {
        let streams = Streams::default();
        let (busy, quiet) = (
            AppId::parse("busy").unwrap(),
            AppId::parse("quiet").unwrap(),
        );
        let mut held: Vec<StreamPermit> = (0..MAX_STREAMS_PER_APP)
            .map(|_| streams.open(&busy).unwrap())
            .collect();
        assert!(matches!(streams.open(&busy), Err(StreamsFull::App)));
        let other = streams.open(&quiet).unwrap();
        held.pop();
        held.push(streams.open(&busy).unwrap());
        drop((held, other));
        assert_eq!(streams.lock().total, 0);
        assert!(streams.lock().per_app.is_empty());
    }

    #[test]
    fn streams_are_bounded_in_all() {
        let streams = Streams::default();
        let held: Vec<StreamPermit> = (0..MAX_STREAMS)
            .map(|index| {
                streams
                    .open(&AppId::parse(&format!("app-{index}")).unwrap())
                    .unwrap()
            })
            .collect();
        assert!(matches!(
            streams.open(&AppId::parse("one-more").unwrap()),
            Err(StreamsFull::Total)
        ));
        drop(held);
        assert!(streams.open(&AppId::parse("one-more").unwrap()).is_ok());
    }
}
