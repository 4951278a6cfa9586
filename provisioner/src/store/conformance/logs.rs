//! The preview log's contract: cursors per app, in order, read back from
//! any handle; the tail bounded, oldest lines trimmed first.

use sync_protocol::controls::{Control, ControlKind};
use sync_protocol::logs::{LogSource, ShippedLine};

use super::{Store, app};
use crate::store::logs::MAX_LOG_LINES;

fn lines(prefix: &str, count: usize) -> Vec<ShippedLine> {
    (0..count)
        .map(|index| ShippedLine {
            at_ms: 1_700_000_000_000 + index as u64,
            source: if index % 2 == 0 {
                LogSource::DevServer
            } else {
                LogSource::Install
            },
            text: format!("{prefix} {index} ünïcode"),
        })
        .collect()
}

pub async fn log_lines_appended_through_one_handle_are_read_in_order_through_the_other(
    first: &impl Store,
    second: &impl Store,
) {
    let (one, other) = (app("log-one"), app("log-other"));
    assert!(second.logs_since(&one, 0, 100).await.unwrap().is_empty());
    assert_eq!(first.append_logs(&one, &lines("a", 3)).await.unwrap(), 3);
    assert_eq!(second.append_logs(&one, &lines("b", 2)).await.unwrap(), 5);
    assert_eq!(first.append_logs(&other, &lines("c", 1)).await.unwrap(), 1);

    let read = second.logs_since(&one, 0, 100).await.unwrap();
    let cursors: Vec<u64> = read.iter().map(|entry| entry.cursor).collect();
    assert_eq!(cursors, [1, 2, 3, 4, 5]);
    assert_eq!(read[0].line, lines("a", 3)[0]);
    assert_eq!(read[4].line, lines("b", 2)[1]);

    let after = first.logs_since(&one, 3, 1).await.unwrap();
    assert_eq!(after.len(), 1, "the limit is kept");
    assert_eq!(
        (after[0].cursor, after[0].line.text.as_str()),
        (4, "b 0 ünïcode")
    );
    assert!(first.logs_since(&one, 5, 100).await.unwrap().is_empty());
    let theirs = first.logs_since(&other, 0, 100).await.unwrap();
    assert_eq!(theirs.len(), 1, "another app's lines are its own");
}

pub async fn the_log_keeps_the_newest_lines_of_each_app_and_trims_the_rest(
    first: &impl Store,
    second: &impl Store,
) {
    let app_id = app("log-flood");
    let total = MAX_LOG_LINES as usize + 2_500;
    let mut last = 0;
    for (index, batch) in lines("flood", total).chunks(1_000).enumerate() {
        let store: &dyn crate::store::LogStore = if index % 2 == 0 { first } else { second };
        last = store.append_logs(&app_id, batch).await.unwrap();
    }
    assert_eq!(last, total as u64);
    let kept = first.logs_since(&app_id, 0, total).await.unwrap();
    assert_eq!(kept.len() as u64, MAX_LOG_LINES);
    assert_eq!(kept[0].cursor, total as u64 - MAX_LOG_LINES + 1);
    assert_eq!(kept.last().unwrap().cursor, total as u64);
    assert_eq!(
        kept.last().unwrap().line.text,
        format!("flood {} ünïcode", total - 1)
    );
}

pub async fn controls_are_numbered_per_app_and_the_newest_is_read_through_either_handle(
    first: &impl Store,
    second: &impl Store,
) {
    let (one, other) = (app("control-one"), app("control-other"));
    assert_eq!(second.latest_control(&one).await.unwrap(), None);
    let restart = first
        .request_control(&one, ControlKind::Restart)
        .await
        .unwrap();
    assert_eq!(
        restart,
        Control {
            seq: 1,
            kind: ControlKind::Restart
        }
    );
    let rebuild = second
        .request_control(&one, ControlKind::Rebuild)
        .await
        .unwrap();
    assert_eq!(
        rebuild,
        Control {
            seq: 2,
            kind: ControlKind::Rebuild
        }
    );
    assert_eq!(first.latest_control(&one).await.unwrap(), Some(rebuild));
    let theirs = first
        .request_control(&other, ControlKind::Restart)
        .await
        .unwrap();
    assert_eq!(theirs.seq, 1, "numbered per app");
}
