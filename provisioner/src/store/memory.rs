//! Every store trait in a map: the test double for unit tests and
//! benchmarks that should not depend on a database. It runs the same write
//! decision as the real backends and passes the same conformance suite, so
//! what a test learns from it holds for them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound::Excluded;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use sync_protocol::{AppId, FileEntry, FilePath, SyncStatusReport};
use time::OffsetDateTime;

use super::previews::PreviewStore;
use super::write_plan::{
    AppRow, StoredFile, WriteDecision, beneath_bounds, beneath_limit, may_create, paths_to_read,
    plan_write,
};
use super::{
    AppLimits, Blob, BlobGarbage, BlobStream, Changes, FileChange, FileStore, Garbage, Manifest,
    StoreError, StoreHealth, SyncStatus, SyncTokenStore, WriteOutcome,
};
use crate::lifecycle::model::{PreviewRecord, PreviewState};

/// Clones share one store, as handles on one database do.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// The preview logs (`store::logs`), apart from the rest.
    logs: Arc<Mutex<super::logs::MemoryLogs>>,
}

impl MemoryStore {
    pub(crate) fn logs(&self) -> MutexGuard<'_, super::logs::MemoryLogs> {
        self.logs
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[derive(Debug, Default)]
struct State {
    apps: HashMap<AppId, App>,
    blobs: HashMap<String, Bytes>,
    tokens: HashMap<AppId, BTreeSet<String>>,
    statuses: HashMap<AppId, SyncStatus>,
    settings: HashMap<AppId, (crate::settings::AppSettings, u64)>,
    imports: HashMap<AppId, crate::import::ImportReport>,
    previews: BTreeMap<AppId, PreviewRecord>,
    /// Made at the first read: clones share it, a new store gets another.
    identity: Option<String>,
    garbage: BlobGarbage,
}

#[derive(Debug, Default)]
struct App {
    row: AppRow,
    /// Path (its text, so the order is byte order) → (file, revision that last changed it).
    files: BTreeMap<String, (FilePath, StoredFile, u64)>,
    /// Path text → (path, revision that deleted it).
    tombstones: BTreeMap<String, (FilePath, u64)>,
}

impl App {
    fn entries(&self, since: u64) -> Vec<FileEntry> {
        self.files
            .values()
            .filter(|(_, _, revision)| *revision > since)
            .map(|(path, file, _)| FileEntry {
                path: path.clone(),
                sha256: file.sha256.clone(),
                size: file.size,
            })
            .collect()
    }

    /// For each of `paths` with files beneath it, the first `limit` of them.
    fn beneath(&self, paths: &[&str], limit: u64) -> HashMap<String, Vec<String>> {
        let mut beneath = HashMap::new();
        for path in paths {
            let (low, high) = beneath_bounds(path);
            let found: Vec<String> = self
                .files
                .range::<str, _>((Excluded(low.as_str()), Excluded(high.as_str())))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(path, _)| path.clone())
                .collect();
            if !found.is_empty() {
                beneath.insert((*path).to_owned(), found);
            }
        }
        beneath
    }

    fn holds(&self, sha256: &str) -> bool {
        self.files
            .values()
            .any(|(_, file, _)| file.sha256 == sha256)
    }
}

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl FileStore for MemoryStore {
    async fn apply(
        &self,
        app_id: &AppId,
        changes: &[FileChange],
        limits: AppLimits,
    ) -> Result<WriteOutcome, StoreError> {
        let mut state = self.state();
        let State {
            apps,
            blobs,
            garbage,
            ..
        } = &mut *state;
        let app = apps.entry(app_id.clone()).or_default();
        let stored: HashMap<String, StoredFile> = paths_to_read(changes)
            .into_iter()
            .filter_map(|path| app.files.get(path))
            .map(|(path, file, _)| (path.as_str().to_owned(), file.clone()))
            .collect();
        let beneath = app.beneath(&may_create(changes, &stored), beneath_limit(changes));
        let plan = match plan_write(app.row, &stored, &beneath, changes, limits)? {
            WriteDecision::NoOp { revision } => {
                return Ok(WriteOutcome {
                    revision,
                    changed: 0,
                    garbage: Garbage::default(),
                    delta: None,
                });
            }
            WriteDecision::Write(plan) => plan,
        };
        for (path, blob) in &plan.written {
            blobs
                .entry(blob.sha256.clone())
                .or_insert_with(|| blob.bytes.clone());
            let file = StoredFile {
                sha256: blob.sha256.clone(),
                size: blob.size(),
            };
            let key = path.as_str().to_owned();
            app.tombstones.remove(&key);
            app.files
                .insert(key, ((*path).clone(), file, plan.revision));
        }
        for path in &plan.deleted {
            app.files.remove(path.as_str());
            let tombstone = ((*path).clone(), plan.revision);
            app.tombstones.insert(path.as_str().to_owned(), tombstone);
        }
        app.tombstones
            .retain(|_, (_, revision)| *revision > plan.history_floor);
        app.row = AppRow {
            revision: plan.revision,
            usage: plan.usage,
            history_floor: plan.history_floor,
        };
        garbage.pending = garbage.pending + plan.garbage;
        Ok(plan.outcome())
    }

    async fn revision(&self, app_id: &AppId) -> Result<u64, StoreError> {
        Ok(self
            .state()
            .apps
            .get(app_id)
            .map_or(0, |app| app.row.revision))
    }

    async fn manifest(&self, app_id: &AppId) -> Result<Manifest, StoreError> {
        let state = self.state();
        Ok(state.apps.get(app_id).map_or_else(
            || Manifest {
                revision: 0,
                files: Vec::new(),
            },
            |app| Manifest {
                revision: app.row.revision,
                files: app.entries(0),
            },
        ))
    }

    async fn changes_since(&self, app_id: &AppId, since: u64) -> Result<Changes, StoreError> {
        let state = self.state();
        let empty = App::default();
        let app = state.apps.get(app_id).unwrap_or(&empty);
        if !app.row.answers_delta_since(since) {
            return Ok(Changes::Full(Manifest {
                revision: app.row.revision,
                files: app.entries(0),
            }));
        }
        let deleted = app
            .tombstones
            .values()
            .filter(|(_, revision)| *revision > since)
            .map(|(path, _)| path.clone())
            .collect();
        Ok(Changes::Delta {
            revision: app.row.revision,
            files: app.entries(since),
            deleted,
        })
    }

    async fn read_file(&self, app_id: &AppId, path: &FilePath) -> Result<Option<Blob>, StoreError> {
        let state = self.state();
        let file = state
            .apps
            .get(app_id)
            .and_then(|app| app.files.get(path.as_str()));
        Ok(file.and_then(|(_, file, _)| {
            let bytes = state.blobs.get(&file.sha256)?.clone();
            Some(Blob {
                sha256: file.sha256.clone(),
                bytes,
            })
        }))
    }

    async fn referenced_blobs(
        &self,
        app_id: &AppId,
        sha256s: &[String],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let state = self.state();
        let Some(app) = state.apps.get(app_id) else {
            return Ok(Vec::new());
        };
        let wanted: BTreeSet<&String> = sha256s.iter().collect();
        let held: BTreeMap<&String, u64> = app
            .files
            .values()
            .filter(|(_, file, _)| wanted.contains(&file.sha256))
            .map(|(_, file, _)| (&file.sha256, file.size))
            .collect();
        Ok(held
            .into_iter()
            .map(|(sha256, size)| (sha256.clone(), size))
            .collect())
    }

    async fn read_blob(&self, app_id: &AppId, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        let state = self.state();
        let held = state.apps.get(app_id).is_some_and(|app| app.holds(sha256));
        Ok(held.then(|| state.blobs.get(sha256).cloned()).flatten())
    }

    fn read_blobs(&self, app_id: &AppId, sha256s: &[String]) -> BlobStream {
        let state = self.state();
        let held: BTreeSet<&String> = match state.apps.get(app_id) {
            Some(app) => sha256s.iter().filter(|sha256| app.holds(sha256)).collect(),
            None => BTreeSet::new(),
        };
        let blobs: Vec<Result<Blob, StoreError>> = held
            .into_iter()
            .filter_map(|sha256| {
                let bytes = state.blobs.get(sha256)?.clone();
                Some(Ok(Blob {
                    sha256: sha256.clone(),
                    bytes,
                }))
            })
            .collect();
        futures::StreamExt::boxed(futures::stream::iter(blobs))
    }

    async fn stored_blob_count(&self) -> Result<u64, StoreError> {
        Ok(self.state().blobs.len() as u64)
    }

    async fn remove_unreferenced_blobs(&self) -> Result<Garbage, StoreError> {
        let mut state = self.state();
        let State {
            apps,
            blobs,
            garbage,
            ..
        } = &mut *state;
        let mut removed = Garbage::default();
        blobs.retain(|sha256, bytes| {
            let held = apps.values().any(|app| app.holds(sha256));
            if !held {
                removed = removed
                    + Garbage {
                        blobs: 1,
                        bytes: bytes.len() as u64,
                    };
            }
            held
        });
        garbage.pending = Garbage::default();
        garbage.swept = garbage.swept + removed;
        Ok(removed)
    }

    async fn blob_garbage(&self) -> Result<BlobGarbage, StoreError> {
        Ok(self.state().garbage)
    }
}

#[async_trait]
impl SyncTokenStore for MemoryStore {
    async fn add_sync_token(&self, app_id: &AppId, digest: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        let digests = state.tokens.entry(app_id.clone()).or_default();
        digests.insert(digest.to_owned());
        Ok(())
    }

    async fn sync_token_digests(&self, app_id: &AppId) -> Result<Vec<String>, StoreError> {
        let state = self.state();
        let digests = state.tokens.get(app_id);
        Ok(digests.map_or_else(Vec::new, |digests| digests.iter().cloned().collect()))
    }

    async fn revoke_sync_tokens(&self, app_id: &AppId) -> Result<u64, StoreError> {
        let removed = self.state().tokens.remove(app_id);
        Ok(removed.map_or(0, |digests| digests.len() as u64))
    }

    async fn record_sync_status(
        &self,
        app_id: &AppId,
        report: &SyncStatusReport,
    ) -> Result<(), StoreError> {
        let status = SyncStatus {
            report: report.clone(),
            reported_at: OffsetDateTime::now_utc(),
        };
        self.state().statuses.insert(app_id.clone(), status);
        Ok(())
    }

    async fn sync_status(&self, app_id: &AppId) -> Result<Option<SyncStatus>, StoreError> {
        Ok(self.state().statuses.get(app_id).cloned())
    }
}

#[async_trait]
impl PreviewStore for MemoryStore {
    async fn get_preview(&self, app_id: &AppId) -> Result<Option<PreviewRecord>, StoreError> {
        Ok(self.state().previews.get(app_id).cloned())
    }

    async fn insert_preview(&self, record: &PreviewRecord) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state.previews.contains_key(&record.app_id) {
            return Ok(false);
        }
        state.previews.insert(record.app_id.clone(), record.clone());
        Ok(true)
    }

    async fn save_preview(&self, record: &PreviewRecord) -> Result<(), StoreError> {
        let mut state = self.state();
        let mut record = record.clone();
        if let Some(stored) = state.previews.get(&record.app_id) {
            record.last_activity_at = record.last_activity_at.max(stored.last_activity_at);
        }
        state.previews.insert(record.app_id.clone(), record);
        Ok(())
    }

    async fn list_previews(
        &self,
        state: Option<PreviewState>,
    ) -> Result<Vec<PreviewRecord>, StoreError> {
        Ok(self
            .state()
            .previews
            .values()
            .filter(|record| state.is_none_or(|state| record.state == state))
            .cloned()
            .collect())
    }

    async fn record_activity(
        &self,
        activity: &[(AppId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        for (app_id, at) in activity {
            if let Some(record) = state.previews.get_mut(app_id) {
                record.last_activity_at = record.last_activity_at.max(*at);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl StoreHealth for MemoryStore {
    async fn identity(&self) -> Result<String, StoreError> {
        Ok(self
            .state()
            .identity
            .get_or_insert_with(|| hex::encode(rand::random::<[u8; 16]>()))
            .clone())
    }

    async fn readiness(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

mod imports;
mod settings;
#[cfg(test)]
mod tests;
