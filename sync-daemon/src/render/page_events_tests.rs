use axum::http::HeaderValue;
use sync_protocol::render::PageEventType;

use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_static(value));
    }
    map
}

async fn answer(inbox: &PageInbox, headers: &HeaderMap, body: &str) -> (StatusCode, String) {
    let response = inbox.receive(headers, Bytes::from(body.to_owned())).await;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Answers every delivery with revision 4 and keeps what it got.
fn acknowledging(mut receiver: mpsc::Receiver<Delivery>) -> Arc<Mutex<Vec<PageEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Some(Delivery { event, reply, .. }) = receiver.recv().await {
            kept.lock().unwrap().push(event);
            let _ = reply.send(Ack {
                revision: Some(4),
                state: Some(RenderState::Rendered),
            });
        }
    });
    seen
}

#[tokio::test]
async fn an_event_is_tied_to_the_revision_and_its_texts_are_bounded() {
    let (inbox, receiver) = PageInbox::new(HmrPushes::default());
    let seen = acknowledging(receiver);
    let long = "x".repeat(MAX_TEXT_CHARS + 50);
    let body =
        serde_json::json!({"type": "console-error", "message": long, "revision": 99}).to_string();
    let (status, text) = answer(&inbox, &headers(&[("host", "p.test")]), &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, r#"{"revision":4,"state":"rendered"}"#);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].event_type, PageEventType::ConsoleError);
    assert_eq!(
        seen[0].message.as_ref().unwrap().chars().count(),
        MAX_TEXT_CHARS
    );
    assert_eq!(
        seen[0].revision, None,
        "the page does not name its revision"
    );
}

#[tokio::test]
async fn bad_events_get_named_errors() {
    let (inbox, receiver) = PageInbox::new(HmrPushes::default());
    let _seen = acknowledging(receiver);
    let own = headers(&[
        ("host", "localhost:1"),
        ("x-forwarded-host", "preview-a.localhost:8080"),
        ("origin", "http://preview-a.localhost:8080"),
    ]);
    let foreign = headers(&[
        ("host", "preview-a.localhost:8080"),
        ("origin", "https://evil.test"),
    ]);
    let big = format!(
        r#"{{"type":"error","message":"{}"}}"#,
        "y".repeat(MAX_EVENT_BYTES)
    );
    let cases = [
        (&own, r#"{"type":"load"}"#.to_owned(), StatusCode::OK, ""),
        (
            &foreign,
            r#"{"type":"load"}"#.to_owned(),
            StatusCode::FORBIDDEN,
            "page_event_origin",
        ),
        (
            &own,
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "page_event_too_large",
        ),
        (
            &own,
            r#"{"type":"mine"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "page_event_invalid",
        ),
    ];
    for (headers, body, status, code) in cases {
        let (got, text) = answer(&inbox, headers, &body).await;
        assert_eq!(got, status, "{text}");
        assert!(text.contains(code), "{text}");
    }
}

#[tokio::test]
async fn more_than_the_rate_is_refused() {
    let (inbox, receiver) = PageInbox::new(HmrPushes::default());
    let seen = acknowledging(receiver);
    let plain = headers(&[("host", "p.test")]);
    let mut refused = 0;
    for _ in 0..EVENTS_PER_SECOND + 10 {
        let (status, text) = answer(&inbox, &plain, r#"{"type":"navigation","url":"/"}"#).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(text.contains("page_events_rate_limited"), "{text}");
            refused += 1;
        }
    }
    assert!(refused >= 10, "{refused} refused");
    assert!(seen.lock().unwrap().len() <= EVENTS_PER_SECOND as usize);
}

#[tokio::test]
async fn an_hmr_event_comes_with_the_push_its_message_was() {
    let pushes = HmrPushes::default();
    let (inbox, mut receiver) = PageInbox::new(pushes.clone());
    pushes.record();
    let pushed = Instant::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let cases = [
        (r#"{"type":"hmr-applied","age_ms":5}"#, true),
        (r#"{"type":"hmr-applied"}"#, false),
        (r#"{"type":"load","age_ms":5}"#, false),
        (r#"{"type":"hmr-applied","age_ms":5000}"#, false),
    ];
    for (body, tied) in cases {
        let inbox = inbox.clone();
        let sent = tokio::spawn(async move { answer(&inbox, &plain_headers(), body).await });
        let delivery = receiver.recv().await.expect("a delivery");
        assert_eq!(
            delivery.pushed_at.is_some_and(|at| at <= pushed),
            tied,
            "{body}: {:?}",
            delivery.pushed_at
        );
        let _ = delivery.reply.send(Ack {
            revision: Some(1),
            state: None,
        });
        assert_eq!(sent.await.unwrap().0, StatusCode::OK, "{body}");
    }
}

fn plain_headers() -> HeaderMap {
    headers(&[("host", "p.test")])
}
