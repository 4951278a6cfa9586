//! The gateway's own answers, through its router: what a visitor who is
//! not let in learns of the app.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sync_protocol::DevServerState;
use sync_protocol::access::{AccessKey, Visibility};
use sync_protocol::settings::DaemonAccess;
use tower::ServiceExt;

use super::*;
use crate::render::hmr::HmrPushes;

const SECRET_LINE: &str = "DATABASE_URL=postgres://app:hunter2@db";

fn state(access: Option<DaemonAccess>) -> (GatewayState, AccessKey) {
    let app_id = sync_protocol::AppId::parse("shop").unwrap();
    let key = AccessKey::derive(b"deployment secret", &app_id, 1);
    let output = OutputTail::new();
    output.push("dev-server", SECRET_LINE);
    let board = StatusBoard::new(DevServerState::Starting);
    let (_, upstream) = watch::channel(None);
    let (_, access) = watch::channel(access);
    let (page, _) = PageInbox::new(HmrPushes::default());
    let state = GatewayState {
        upstream,
        output,
        board,
        forwarder: Forwarder::new(HmrPushes::default()),
        page,
        script: Arc::from(""),
        app_id,
        access,
    };
    (state, key)
}

fn private(key: &AccessKey) -> DaemonAccess {
    DaemonAccess {
        visibility: Visibility::Private,
        key: Some(key.to_hex()),
        frame_ancestors: None,
    }
}

async fn get(
    state: GatewayState,
    path: &str,
    headers: &[(header::HeaderName, String)],
) -> (StatusCode, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = router(state)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_shows_the_apps_output_only_to_visitors_let_in() {
    let (state_of_private, key) = state(None);
    let token = key.sign(
        &state_of_private.app_id,
        sync_protocol::access::unix_now() + 600,
    );
    let bearer = [(header::AUTHORIZATION, format!("Bearer {token}"))];
    let cases = [
        ("settings not read yet", None, &[][..], false),
        (
            "public",
            Some(DaemonAccess {
                visibility: Visibility::Public,
                key: None,
                frame_ancestors: None,
            }),
            &[][..],
            true,
        ),
        ("private, anonymous", Some(private(&key)), &[][..], false),
        (
            "private, with a token",
            Some(private(&key)),
            &bearer[..],
            true,
        ),
    ];
    for (name, access, headers, shows) in cases {
        let (state, _) = state(access);
        let (status, body) = get(state, pages::HEALTH_PATH, headers).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(
            body.contains(r#""dev_server":"starting""#),
            "{name}: {body}"
        );
        assert_eq!(body.contains("hunter2"), shows, "{name}: {body}");
    }
}

#[tokio::test]
async fn before_its_settings_are_read_a_browser_gets_the_loading_page_without_the_apps_text() {
    let (state, _) = state(None);
    let html = [(header::ACCEPT, "text/html".to_owned())];
    let (status, body) = get(state.clone(), "/", &html).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains(r#"<meta name="preview-gateway" content="loading">"#),
        "{body}"
    );
    assert!(!body.contains("hunter2"), "{body}");

    let (status, body) = get(state, "/assets/app.js", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("dev_server_not_ready"), "{body}");
}
