//! The records half of the contract: sync tokens, the daemons' reports and
//! preview records.

use std::time::Duration;

use sync_protocol::render::{
    ErrorOrigin, PageEvent, PageEventType, RenderError, RenderReport, RenderState,
};
use sync_protocol::{DevServerState, SyncStatusReport};
use time::OffsetDateTime;

use super::{Store, app};
use crate::lifecycle::model::{PreviewRecord, PreviewState, StepStatus};

pub async fn tokens_and_status_written_through_one_handle_are_read_through_the_other(
    first: &dyn Store,
    second: &dyn Store,
) {
    let app_id = app("app");
    let report = SyncStatusReport {
        revision: 7,
        dev_server: DevServerState::Ready,
        message: Some("ok".to_owned()),
        runtime: Some(sync_protocol::RuntimeReport {
            framework: Some("vite-react".to_owned()),
            package_manager: Some("npm".to_owned()),
            install_command: Some("npm install".to_owned()),
            dev_command: "npm run dev".to_owned(),
            dev_port: 4100,
            upstream_port: Some(4100),
            gateway_port: 3000,
        }),
        visited_secs_ago: None,
        render: Some(RenderReport {
            revision: 7,
            state: RenderState::Error,
            error: Some(RenderError {
                message: "Expected `,` or `)` but found `}`".to_owned(),
                file: Some("src/App.jsx".to_owned()),
                line: Some(12),
                origin: ErrorOrigin::Compile,
            }),
            url: Some("/".to_owned()),
            events: vec![PageEvent {
                event_type: PageEventType::Overlay,
                revision: Some(7),
                message: Some("Transform failed".to_owned()),
                file: None,
                line: None,
                url: Some("/".to_owned()),
            }],
        }),
    };

    first.add_sync_token(&app_id, "digest-one").await.unwrap();
    first.add_sync_token(&app_id, "digest-two").await.unwrap();
    // Adding a digest again keeps one copy.
    second.add_sync_token(&app_id, "digest-one").await.unwrap();
    first.record_sync_status(&app_id, &report).await.unwrap();

    let mut digests = second.sync_token_digests(&app_id).await.unwrap();
    digests.sort();
    assert_eq!(digests, ["digest-one", "digest-two"]);
    let others = second.sync_token_digests(&app("other")).await.unwrap();
    assert!(others.is_empty());
    let status = second.sync_status(&app_id).await.unwrap().unwrap();
    assert_eq!(status.report, report);
    assert!(second.sync_status(&app("other")).await.unwrap().is_none());

    // Revoking ends every token of the app, and only of that app.
    first
        .add_sync_token(&app("other"), "digest-other")
        .await
        .unwrap();
    assert_eq!(first.revoke_sync_tokens(&app_id).await.unwrap(), 2);
    assert!(second.sync_token_digests(&app_id).await.unwrap().is_empty());
    assert_eq!(
        second.sync_token_digests(&app("other")).await.unwrap(),
        ["digest-other"]
    );
    assert_eq!(first.revoke_sync_tokens(&app_id).await.unwrap(), 0);
}

pub async fn previews_round_trip_and_activity_only_moves_forward(
    first: &dyn Store,
    second: &dyn Store,
) {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let app_id = app("shop");
    let mut record = PreviewRecord::new(app_id.clone(), &["create_app", "create_machine"], now);
    record
        .driver_data
        .insert("machine_id".to_owned(), "m1".to_owned());
    // The platform name has its own column; it reads back with the rest.
    record
        .driver_data
        .set_platform_name(Some("acme-preview-shop".to_owned()));
    record.steps[0].status = StepStatus::Done;
    record.steps[0].log = Some("created".to_owned());

    let inserted = first.insert_preview(&record).await.unwrap();
    let inserted_again = second.insert_preview(&record).await.unwrap();
    record.set_state(PreviewState::Running, now + Duration::from_secs(1));
    // A save replaces the name too (a preview made again after its app vanished).
    record
        .driver_data
        .set_platform_name(Some("preview-shop".to_owned()));
    second.save_preview(&record).await.unwrap();
    let later = now + Duration::from_secs(30);
    first
        .record_activity(&[(app_id.clone(), later)])
        .await
        .unwrap();
    second
        .record_activity(&[(app_id.clone(), now + Duration::from_secs(10))])
        .await
        .unwrap();
    // Saving a record read before the activity keeps the activity.
    second.save_preview(&record).await.unwrap();

    assert!(inserted);
    assert!(!inserted_again);
    let stored = second.get_preview(&app_id).await.unwrap().unwrap();
    assert_eq!(stored.last_activity_at, later);
    assert_eq!(
        PreviewRecord {
            last_activity_at: record.last_activity_at,
            ..stored
        },
        record
    );
    let running = first
        .list_previews(Some(PreviewState::Running))
        .await
        .unwrap();
    let stopped = first
        .list_previews(Some(PreviewState::Stopped))
        .await
        .unwrap();
    assert_eq!((running.len(), stopped.len()), (1, 0));
    assert_eq!(running[0].driver_data.platform_name(), Some("preview-shop"));
    assert_eq!(first.list_previews(None).await.unwrap().len(), 1);
    assert!(first.get_preview(&app("other")).await.unwrap().is_none());
}

/// Both handles name one store, the same way every time, and a store just
/// opened has every migration applied.
pub async fn the_identity_is_one_per_store_and_a_fresh_store_is_ready(
    first: &dyn Store,
    second: &dyn Store,
) {
    let identity = first.identity().await.unwrap();
    assert!(identity.len() >= 16, "identity {identity:?} is too short");
    assert_eq!(first.identity().await.unwrap(), identity);
    assert_eq!(second.identity().await.unwrap(), identity);
    first.readiness().await.unwrap();
    second.readiness().await.unwrap();
}

pub async fn settings_saved_through_one_handle_are_read_through_the_other_and_a_stale_save_is_refused(
    first: &dyn Store,
    second: &dyn Store,
) {
    use crate::settings::AppSettings;
    let app_id = app("configured");
    assert_eq!(first.app_settings(&app_id).await.unwrap(), None);
    let settings = AppSettings {
        dev_command: Some("vite --port 5173".to_owned()),
        env: [("API_URL".to_owned(), "https://api.example".to_owned())].into(),
        ..AppSettings::default()
    };
    assert!(
        first
            .save_app_settings(&app_id, &settings, None)
            .await
            .unwrap()
    );
    assert_eq!(
        second.app_settings(&app_id).await.unwrap(),
        Some((settings.clone(), 1))
    );
    assert!(
        !second
            .save_app_settings(&app_id, &settings, None)
            .await
            .unwrap(),
        "a first save when one exists is refused"
    );
    let newer = AppSettings {
        port: Some(5173),
        ..settings.clone()
    };
    assert!(
        second
            .save_app_settings(&app_id, &newer, Some(1))
            .await
            .unwrap()
    );
    assert!(
        !first
            .save_app_settings(&app_id, &settings, Some(1))
            .await
            .unwrap(),
        "a save from an older version is refused, so it cannot undo the newer one"
    );
    assert_eq!(first.app_settings(&app_id).await.unwrap(), Some((newer, 2)));
    assert_eq!(first.app_settings(&app("other")).await.unwrap(), None);
}

pub async fn an_import_saved_through_one_handle_is_read_whole_through_the_other(
    first: &dyn Store,
    second: &dyn Store,
) {
    use crate::import::{ImportReport, ImportStep, ImportStepStatus, Project};
    let app_id = app("imported");
    assert_eq!(first.last_import(&app_id).await.unwrap(), None);
    let mut report = ImportReport {
        repository: "https://git.example/acme/shop.git".to_owned(),
        reference: "main".to_owned(),
        subdir: Some("web".to_owned()),
        commit: None,
        project: None,
        revision: None,
        changed: 0,
        steps: vec![ImportStep {
            name: "fetch".to_owned(),
            status: ImportStepStatus::Running,
            duration_ms: 0,
            log: String::new(),
        }],
    };
    first.save_import(&app_id, &report).await.unwrap();
    assert_eq!(
        second.last_import(&app_id).await.unwrap().as_ref(),
        Some(&report)
    );

    // A later save replaces the whole report.
    report.commit = Some("3f2c".repeat(10));
    report.project = Some(Project {
        project_type: "vite".to_owned(),
        package_manager: Some("npm".to_owned()),
        scripts: [("dev".to_owned(), "vite".to_owned())].into(),
    });
    report.steps[0].status = ImportStepStatus::Done;
    report.steps[0].duration_ms = 12;
    second.save_import(&app_id, &report).await.unwrap();
    assert_eq!(first.last_import(&app_id).await.unwrap(), Some(report));
    assert_eq!(first.last_import(&app("other")).await.unwrap(), None);
}
