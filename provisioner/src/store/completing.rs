//! Cancellation safety, inside the store so that no caller can forget it.
//!
//! Every store handed out by [`Backend`](super::Backend) is wrapped in
//! [`RunsToCompletion`]: its writes run on a task of their own, so they
//! finish even when the request that asked for them is dropped (the client
//! hung up mid-request). A transaction cut off between `BEGIN IMMEDIATE` and
//! its end can leave the connection holding SQLite's write lock, and every
//! other writer then waits out its busy timeout; a write that runs to
//! completion cannot. Reads are passed straight through: dropping one
//! midway only rolls back a read.

use async_trait::async_trait;
use bytes::Bytes;
use sync_protocol::{AppId, FilePath, SyncStatusReport};
use time::OffsetDateTime;

use super::previews::PreviewStore;
use super::settings::AppSettingsStore;
use super::{
    AppLimits, Blob, BlobGarbage, BlobStream, Changes, FileChange, FileStore, Garbage, Manifest,
    StoreError, SyncStatus, SyncTokenStore, WriteOutcome,
};
use crate::lifecycle::model::{PreviewRecord, PreviewState};

/// A store whose writes finish once started, whoever stops waiting for them.
#[derive(Clone, Debug)]
pub struct RunsToCompletion<S>(pub S);

/// Runs `write` on a task of its own and waits for it.
async fn to_completion<T, W>(write: W) -> Result<T, StoreError>
where
    T: Send + 'static,
    W: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match tokio::spawn(write).await {
        Ok(result) => result,
        Err(join_error) => Err(StoreError::Backend(anyhow::anyhow!(
            "store write task failed: {join_error}"
        ))),
    }
}

#[async_trait]
impl<S: FileStore + Clone> FileStore for RunsToCompletion<S> {
    async fn apply(
        &self,
        app_id: &AppId,
        changes: &[FileChange],
        limits: AppLimits,
    ) -> Result<WriteOutcome, StoreError> {
        let (store, app_id, changes) = (self.0.clone(), app_id.clone(), changes.to_vec());
        to_completion(async move { store.apply(&app_id, &changes, limits).await }).await
    }

    async fn revision(&self, app_id: &AppId) -> Result<u64, StoreError> {
        self.0.revision(app_id).await
    }

    async fn manifest(&self, app_id: &AppId) -> Result<Manifest, StoreError> {
        self.0.manifest(app_id).await
    }

    async fn changes_since(&self, app_id: &AppId, since: u64) -> Result<Changes, StoreError> {
        self.0.changes_since(app_id, since).await
    }

    async fn read_file(&self, app_id: &AppId, path: &FilePath) -> Result<Option<Blob>, StoreError> {
        self.0.read_file(app_id, path).await
    }

    async fn referenced_blobs(
        &self,
        app_id: &AppId,
        sha256s: &[String],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.0.referenced_blobs(app_id, sha256s).await
    }

    async fn read_blob(&self, app_id: &AppId, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        self.0.read_blob(app_id, sha256).await
    }

    fn read_blobs(&self, app_id: &AppId, sha256s: &[String]) -> BlobStream {
        self.0.read_blobs(app_id, sha256s)
    }

    async fn stored_blob_count(&self) -> Result<u64, StoreError> {
        self.0.stored_blob_count().await
    }

    async fn remove_unreferenced_blobs(&self) -> Result<Garbage, StoreError> {
        let store = self.0.clone();
        to_completion(async move { store.remove_unreferenced_blobs().await }).await
    }

    async fn blob_garbage(&self) -> Result<BlobGarbage, StoreError> {
        self.0.blob_garbage().await
    }
}

#[async_trait]
impl<S: SyncTokenStore + Clone> SyncTokenStore for RunsToCompletion<S> {
    async fn add_sync_token(&self, app_id: &AppId, digest: &str) -> Result<(), StoreError> {
        let (store, app_id, digest) = (self.0.clone(), app_id.clone(), digest.to_owned());
        to_completion(async move { store.add_sync_token(&app_id, &digest).await }).await
    }

    async fn sync_token_digests(&self, app_id: &AppId) -> Result<Vec<String>, StoreError> {
        self.0.sync_token_digests(app_id).await
    }

    async fn revoke_sync_tokens(&self, app_id: &AppId) -> Result<u64, StoreError> {
        let (store, app_id) = (self.0.clone(), app_id.clone());
        to_completion(async move { store.revoke_sync_tokens(&app_id).await }).await
    }

    async fn record_sync_status(
        &self,
        app_id: &AppId,
        report: &SyncStatusReport,
    ) -> Result<(), StoreError> {
        let (store, app_id, report) = (self.0.clone(), app_id.clone(), report.clone());
        to_completion(async move { store.record_sync_status(&app_id, &report).await }).await
    }

    async fn sync_status(&self, app_id: &AppId) -> Result<Option<SyncStatus>, StoreError> {
        self.0.sync_status(app_id).await
    }
}

#[async_trait]
impl<S: PreviewStore + Clone> PreviewStore for RunsToCompletion<S> {
    async fn get_preview(&self, app_id: &AppId) -> Result<Option<PreviewRecord>, StoreError> {
        self.0.get_preview(app_id).await
    }

    async fn insert_preview(&self, record: &PreviewRecord) -> Result<bool, StoreError> {
        let (store, record) = (self.0.clone(), record.clone());
        to_completion(async move { store.insert_preview(&record).await }).await
    }

    async fn save_preview(&self, record: &PreviewRecord) -> Result<(), StoreError> {
        let (store, record) = (self.0.clone(), record.clone());
        to_completion(async move { store.save_preview(&record).await }).await
    }

    async fn list_previews(
        &self,
        state: Option<PreviewState>,
    ) -> Result<Vec<PreviewRecord>, StoreError> {
        self.0.list_previews(state).await
    }

    async fn record_activity(
        &self,
        activity: &[(AppId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let (store, activity) = (self.0.clone(), activity.to_vec());
        to_completion(async move { store.record_activity(&activity).await }).await
    }
}

#[async_trait]
impl<S: super::LogStore + Clone> super::LogStore for RunsToCompletion<S> {
    async fn append_logs(
        &self,
        app_id: &AppId,
        lines: &[sync_protocol::logs::ShippedLine],
    ) -> Result<u64, StoreError> {
        let (store, app_id, lines) = (self.0.clone(), app_id.clone(), lines.to_vec());
        to_completion(async move { store.append_logs(&app_id, &lines).await }).await
    }

    async fn logs_since(
        &self,
        app_id: &AppId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<super::logs::LogEntry>, StoreError> {
        self.0.logs_since(app_id, since, limit).await
    }
}

#[async_trait]
impl<S: super::logs::ControlStore + Clone> super::logs::ControlStore for RunsToCompletion<S> {
    async fn request_control(
        &self,
        app_id: &AppId,
        kind: sync_protocol::controls::ControlKind,
    ) -> Result<sync_protocol::controls::Control, StoreError> {
        let (store, app_id) = (self.0.clone(), app_id.clone());
        to_completion(async move { store.request_control(&app_id, kind).await }).await
    }

    async fn latest_control(
        &self,
        app_id: &AppId,
    ) -> Result<Option<sync_protocol::controls::Control>, StoreError> {
        self.0.latest_control(app_id).await
    }
}

#[async_trait]
impl<S: AppSettingsStore + Clone> AppSettingsStore for RunsToCompletion<S> {
    async fn app_settings(
        &self,
        app_id: &AppId,
    ) -> Result<Option<(crate::settings::AppSettings, u64)>, StoreError> {
        self.0.app_settings(app_id).await
    }

    async fn save_app_settings(
        &self,
        app_id: &AppId,
        settings: &crate::settings::AppSettings,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let (store, app_id, settings) = (self.0.clone(), app_id.clone(), settings.clone());
        to_completion(async move { store.save_app_settings(&app_id, &settings, expected).await })
            .await
    }
}

#[async_trait]
impl<S: super::ImportStore + Clone> super::ImportStore for RunsToCompletion<S> {
    async fn last_import(
        &self,
        app_id: &AppId,
    ) -> Result<Option<crate::import::ImportReport>, StoreError> {
        self.0.last_import(app_id).await
    }

    async fn save_import(
        &self,
        app_id: &AppId,
        report: &crate::import::ImportReport,
    ) -> Result<(), StoreError> {
        let (store, app_id, report) = (self.0.clone(), app_id.clone(), report.clone());
        to_completion(async move { store.save_import(&app_id, &report).await }).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_write_whose_caller_stops_waiting_still_finishes() {
        let finished = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let flag = finished.clone();
        let caller = tokio::spawn(to_completion(async move {
            let _ = started_tx.send(());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
            Ok(())
        }));

        // The caller is dropped while the write is under way.
        started_rx.await.unwrap();
        caller.abort();
        for _ in 0..100 {
            if finished.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }

        assert!(finished.load(Ordering::SeqCst));
    }
}
