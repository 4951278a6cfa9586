use sync_protocol::logs::LogSource;
use sync_protocol::{BatchChange, PreviewResponse};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::*;

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

fn preview(json: serde_json::Value) -> PreviewResponse {
    let mut base = serde_json::json!({
        "app_id": "shop", "state": "running", "url": "http://preview-shop.localhost:8080/",
        "steps": [{"name": "create_app", "status": "done"}],
        "last_activity_at": "2026-11-27T10:00:00Z",
        "created_at": "2026-11-27T09:00:00Z", "updated_at": "2026-11-27T10:00:00Z",
    });
    for (key, value) in json.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn report(revision: u64, state: &str, error: Option<serde_json::Value>) -> RenderReport {
    serde_json::from_value(
        serde_json::json!({"revision": revision, "state": state, "error": error}),
    )
    .unwrap()
}

#[test]
fn a_table_aligns_its_columns_and_leaves_the_last_unpadded() {
    let rows = vec![
        vec!["a".to_owned(), "running".to_owned(), "http://a".to_owned()],
        vec!["longer-app".to_owned(), "-".to_owned(), "-".to_owned()],
    ];

    let text = table(&["APP", "STATE", "URL"], &rows);

    assert_eq!(
        text,
        "APP         STATE    URL\n\
         a           running  http://a\n\
         longer-app  -        -\n"
    );
}

#[test]
fn idle_time_reads_in_its_two_largest_units() {
    let now = at("2026-11-27T12:00:00Z");
    let cases = [
        ("2026-11-27T12:00:00Z", "0s"),
        ("2026-11-27T11:59:15Z", "45s"),
        ("2026-11-27T11:56:48Z", "3m 12s"),
        ("2026-11-27T09:55:00.250Z", "2h 4m"),
        ("2026-11-23T09:00:00Z", "4d 3h"),
        ("2026-11-27T12:00:09Z", "0s"),
        ("yesterday", "?"),
    ];
    for (then, expected) in cases {
        assert_eq!(idle_for(then, now), expected, "{then}");
    }
}

#[test]
fn on_screen_is_the_rendered_revision_or_how_far_the_newest_got() {
    let cases = [
        (None, "-"),
        (Some(report(12, "rendered", None)), "12"),
        (Some(report(13, "compiled", None)), "13 compiled"),
        (Some(report(14, "error", None)), "14 error"),
    ];
    for (render, expected) in cases {
        assert_eq!(on_screen(render.as_ref()), expected);
    }
}

#[test]
fn a_preview_row_has_every_column() {
    let now = at("2026-11-27T10:03:12Z");
    let shown = preview(serde_json::json!({
        "files_revision": 12, "applied_revision": 11,
        "render": {"revision": 11, "state": "rendered", "error": null},
    }));
    let listed = preview(serde_json::json!({"state": "stopped", "url": null}));

    assert_eq!(
        preview_row(&shown, now),
        [
            "shop",
            "running",
            "12",
            "11",
            "11",
            "3m 12s",
            "http://preview-shop.localhost:8080/"
        ]
    );
    assert_eq!(
        preview_row(&listed, now),
        ["shop", "stopped", "-", "-", "-", "3m 12s", "-"]
    );
}

#[test]
fn a_preview_block_shows_render_error_runtime_and_steps() {
    let now = at("2026-11-27T10:00:30Z");
    let shown = preview(serde_json::json!({
        "files_revision": 4, "applied_revision": 4, "dev_server": "ready",
        "render": {"revision": 4, "state": "error", "error":
            {"message": "Unexpected token", "file": "src/App.jsx", "line": 4, "origin": "compile"}},
        "runtime": {"framework": "vite-react", "package_manager": "npm", "install_command": "npm install",
            "dev_command": "npm run dev", "dev_port": 41234, "upstream_port": 41234, "gateway_port": 41235},
        "error": "the dev server crashed",
    }));

    let block = preview_block(&shown, now);

    for expected in [
        "app        shop\n",
        "state      running\n",
        "revision   saved 4 · on disk 4 · on screen 4 error\n",
        "render     revision 4 error: compile error src/App.jsx:4 Unexpected token\n",
        "dev server ready\n",
        "runtime    vite-react · npm · npm run dev\n",
        "idle for   30s\n",
        "error      the dev server crashed\n",
        "steps      create_app done\n",
    ] {
        assert!(block.contains(expected), "{expected:?} in\n{block}");
    }
}

#[test]
fn a_log_line_is_its_time_source_and_text() {
    let line = LogLine {
        at: "2026-11-27T10:02:03.412Z".to_owned(),
        source: LogSource::Install,
        text: "added 212 packages".to_owned(),
    };

    assert_eq!(
        log_line(&line),
        "2026-11-27T10:02:03.412Z install    added 212 packages"
    );
}

#[test]
fn a_revision_line_names_its_first_changes_and_counts_the_rest() {
    let change = |path: &str, delete: bool| BatchChange {
        path: path.to_owned(),
        delete: delete.then_some(true),
        ..BatchChange::default()
    };
    let cases = [
        (
            vec![change("src/App.jsx", false)],
            "revision 3: 1 changed (src/App.jsx)",
        ),
        (
            vec![change("a.js", false), change("b.js", true)],
            "revision 3: 2 changed (a.js, deleted b.js)",
        ),
        (
            vec![
                change("a", false),
                change("b", false),
                change("c", false),
                change("d", false),
                change("e", false),
                change("f", true),
            ],
            "revision 3: 6 changed (a, b, c, d, 2 more)",
        ),
    ];
    for (changes, expected) in cases {
        assert_eq!(revision_line(3, &changes), expected);
    }
}

#[test]
fn render_lines_print_each_verdict_once_and_never_an_older_one() {
    let compile_error = serde_json::json!(
        {"message": "Unexpected token", "file": "src/App.jsx", "line": 4, "origin": "compile"});
    let mut lines = RenderLines::new(5);
    let cases = [
        (report(4, "rendered", None), None),
        (report(5, "applied", None), Some("revision 5 applied")),
        (report(5, "applied", None), None),
        (report(5, "compiled", None), None),
        (report(5, "rendered", None), Some("revision 5 on screen")),
        (report(6, "applied", None), Some("revision 6 applied")),
        (
            report(6, "error", Some(compile_error.clone())),
            Some("revision 6: compile error src/App.jsx:4 Unexpected token"),
        ),
        (report(6, "error", Some(compile_error)), None),
        (report(5, "rendered", None), None),
        (report(7, "rendered", None), Some("revision 7 on screen")),
    ];
    for (report, expected) in cases {
        assert_eq!(lines.line(&report).as_deref(), expected, "{report:?}");
    }
}
