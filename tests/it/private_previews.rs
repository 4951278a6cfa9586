//! Per-app settings and private previews, through a real provisioner with
//! the local driver: settings reach the app's dev server; a private preview
//! lets in only a valid link (which becomes a cookie), that cookie or a
//! bearer token, at the edge and in the preview's own gateway, and a
//! stranger's visit does not wake it.

use std::time::Duration;

use preview_tests::local_preview::{DEV_SERVER, LocalProvisioner};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, COOKIE, HOST, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sync_protocol::access::AccessKey;
use sync_protocol::{AppId, PreviewState};

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// GET `path` of `app`'s preview through the edge proxy with extra headers.
async fn get(
    provisioner: &LocalProvisioner,
    app: &str,
    path: &str,
    headers: &[(reqwest::header::HeaderName, String)],
) -> reqwest::Response {
    let mut request = browser()
        .get(format!("{}{path}", provisioner.base_url()))
        .header(
            HOST,
            format!("preview-{app}.localhost:{}", provisioner.port()),
        );
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.expect("the edge proxy answers")
}

async fn patch(provisioner: &LocalProvisioner, app: &str, body: Value) -> (u16, Value) {
    provisioner
        .call(
            Method::PATCH,
            &format!("/v1/apps/{app}/settings"),
            Some(body),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn settings_show_env_names_never_values_and_refuse_what_they_cannot_keep() {
    let provisioner = LocalProvisioner::start(&[]).await.unwrap();
    let (status, view) = patch(
        &provisioner,
        "configured",
        json!({
            "dev_command": "node server.js", "port": 5173, "env": {"API_KEY": "hunter2"}
        }),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["env_keys"], json!(["API_KEY"]));
    assert_eq!(view["visibility"], "public", "the serve default applies");
    let (status, read) = provisioner
        .call(Method::GET, "/v1/apps/configured/settings", None)
        .await
        .unwrap();
    assert_eq!((status, &read), (200, &view));
    assert!(!read.to_string().contains("hunter2"), "{read}");

    let refusals = [
        (json!({"dev_comand": "x"}), "unknown_setting", "dev_comand"),
        (json!({"port": 0}), "setting_invalid", "1 to 65535"),
        (
            json!({"env": {"SYNC_TOKEN": "x"}}),
            "setting_invalid",
            "reserved",
        ),
        (
            json!({"env": {"A": "x".repeat(40_000)}}),
            "setting_too_large",
            "at most",
        ),
        (
            json!(["not", "an", "object"]),
            "body_invalid",
            "JSON object",
        ),
    ];
    for (body, code, words) in refusals {
        let (status, error) = patch(&provisioner, "configured", body.clone()).await;
        assert_eq!(status, 400, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{body} -> {error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(words),
            "{error}"
        );
    }
    let (_, unchanged) = provisioner
        .call(Method::GET, "/v1/apps/configured/settings", None)
        .await
        .unwrap();
    assert_eq!(unchanged, view, "a refused patch changes nothing");

    // The daemon's view, with a sync token: every value.
    let (_, minted) = provisioner
        .call(Method::POST, "/v1/apps/configured/sync-token", None)
        .await
        .unwrap();
    let token = minted["token"].as_str().unwrap();
    let daemon_view: Value = browser()
        .get(format!(
            "{}/v1/apps/configured/sync-settings",
            provisioner.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(daemon_view["env"]["API_KEY"], "hunter2");
    assert_eq!(daemon_view["port"], 5173);
    let (status, _) = provisioner
        .call(Method::GET, "/v1/apps/configured/sync-settings", None)
        .await
        .unwrap();
    assert_eq!(status, 403, "the operator key does not read env values");
}

#[tokio::test]
async fn an_apps_environment_and_dev_command_from_its_settings_reach_its_dev_server() {
    let provisioner = LocalProvisioner::start(&[]).await.unwrap();
    let greeter = "require('http').createServer((q, r) => r.end('greeter says ' + process.env.GREETING))\
                   .listen(Number(process.env.PORT), '127.0.0.1');";
    provisioner
        .push(
            "greeted",
            &[
                ("server.js", DEV_SERVER),
                ("greeter.js", greeter),
                ("message.txt", "default"),
            ],
        )
        .await
        .unwrap();
    let (status, _) = patch(
        &provisioner,
        "greeted",
        json!({
            "dev_command": "node greeter.js", "env": {"GREETING": "hello from settings"}
        }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/greeted/provision-preview", None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    provisioner
        .visit_until("greeted", "/", Duration::from_secs(30), |status, body| {
            status == 200 && body == "greeter says hello from settings"
        })
        .await
        .unwrap();
    let preview = provisioner.preview("greeted").await.unwrap();
    assert_eq!(preview.runtime.unwrap().dev_command, "node greeter.js");

    // A new value reaches the running dev server without anything else asked.
    let (status, _) = patch(
        &provisioner,
        "greeted",
        json!({"env": {"GREETING": "hello again"}}),
    )
    .await;
    assert_eq!(status, 200);
    provisioner
        .visit_until("greeted", "/", Duration::from_secs(30), |status, body| {
            status == 200 && body == "greeter says hello again"
        })
        .await
        .unwrap();
}

/// The kept secret, to sign what the provisioner would not (an expired link).
fn key_of(provisioner: &LocalProvisioner, app: &str) -> AccessKey {
    let secret = std::fs::read_to_string(provisioner.data_dir().join("preview-secret")).unwrap();
    AccessKey::derive(secret.trim().as_bytes(), &AppId::parse(app).unwrap(), 0)
}

#[tokio::test]
async fn a_private_preview_lets_in_only_a_valid_link_cookie_or_token_and_strangers_do_not_wake_it()
{
    // Arrange: a private preview that goes idle quickly.
    let provisioner = LocalProvisioner::start(&["--idle-timeout", "3s", "--loop-interval", "1s"])
        .await
        .unwrap();
    let (status, _) = patch(&provisioner, "secret", json!({"visibility": "private"})).await;
    assert_eq!(status, 200);
    provisioner
        .push_and_provision("secret", "for your eyes only")
        .await
        .unwrap();

    // A stranger gets 401, with nothing of the app.
    let anonymous = get(&provisioner, "secret", "/", &[]).await;
    assert_eq!(anonymous.status(), 401);
    assert!(!anonymous.text().await.unwrap().contains("for your eyes"));

    // A link sets the cookie and sends the browser to the clean URL.
    let (status, link) = provisioner
        .call(
            Method::POST,
            "/v1/apps/secret/preview-links",
            Some(json!({"ttl_seconds": 600})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}__preview/access?token=",
            provisioner.preview_url("secret")
        )),
        "{url}"
    );
    let path = &url[url.find("/__preview").unwrap()..];
    let visit = get(&provisioner, "secret", path, &[]).await;
    assert_eq!(visit.status(), 303);
    assert_eq!(visit.headers()[LOCATION], "/");
    let cookie = visit.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["Secure", "HttpOnly", "SameSite=None", "Partitioned"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let cookie_pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = get(
        &provisioner,
        "secret",
        "/",
        &[(COOKIE, cookie_pair.clone())],
    )
    .await;
    assert_eq!(with_cookie.status(), 200);
    assert_eq!(with_cookie.text().await.unwrap(), "for your eyes only");
    let token = link["token"].as_str().unwrap();
    let with_bearer = get(
        &provisioner,
        "secret",
        "/",
        &[(AUTHORIZATION, format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(with_bearer.status(), 200);

    // Tampered and expired links are refused; so is a life out of bounds.
    let tampered = path.replace("token=pa1.secret.", "token=pa1.secret.9");
    assert_eq!(
        get(&provisioner, "secret", &tampered, &[]).await.status(),
        401
    );
    let expired = key_of(&provisioner, "secret").sign(&AppId::parse("secret").unwrap(), 1_000);
    let expired_visit = get(
        &provisioner,
        "secret",
        &format!("/__preview/access?token={expired}"),
        &[],
    )
    .await;
    assert_eq!(expired_visit.status(), 401);
    assert!(expired_visit.text().await.unwrap().contains("expired"));
    let (status, error) = provisioner
        .call(
            Method::POST,
            "/v1/apps/secret/preview-links",
            Some(json!({"ttl_seconds": 5})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("ttl_out_of_range"))
    );

    // The preview's own gateway checks too, as it does on Fly.
    let gateway_port = provisioner
        .preview("secret")
        .await
        .unwrap()
        .runtime
        .unwrap()
        .gateway_port;
    let direct = browser()
        .get(format!("http://127.0.0.1:{gateway_port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        direct.status(),
        401,
        "the gateway refuses a request without access"
    );
    let direct = browser()
        .get(format!("http://127.0.0.1:{gateway_port}/"))
        .header(COOKIE, cookie_pair.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);

    // Idle: it sleeps, and strangers knocking do not wake it.
    provisioner
        .wait_asleep("secret", Duration::from_secs(15))
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(get(&provisioner, "secret", "/", &[]).await.status(), 401);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let state = provisioner.preview("secret").await.unwrap().state;
    assert!(
        matches!(state, PreviewState::Stopped | PreviewState::Suspended),
        "an anonymous visit woke a private preview: {state:?}"
    );
    let woken = get(
        &provisioner,
        "secret",
        "/",
        &[
            (COOKIE, cookie_pair.clone()),
            (reqwest::header::ACCEPT, "*/*".to_owned()),
        ],
    )
    .await;
    assert_eq!(woken.status(), 200, "the cookie's holder wakes it");

    // Revoking every link ends the cookie at once.
    let (status, _) = provisioner
        .call(Method::DELETE, "/v1/apps/secret/preview-links", None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(
        get(&provisioner, "secret", "/", &[(COOKIE, cookie_pair)])
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_private_preview_opens_inside_a_cross_site_editor_iframe_from_its_link_in_chromium() {
    let provisioner = LocalProvisioner::start(&["--preview-visibility", "private"])
        .await
        .unwrap();
    provisioner
        .push_and_provision("framed", "framed and private")
        .await
        .unwrap();
    let (status, link) = provisioner
        .call(
            Method::POST,
            "/v1/apps/framed/preview-links",
            Some(json!({"ttl_seconds": 600})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{link}");
    let env = [
        ("LINK", link["url"].as_str().unwrap().to_owned()),
        ("PREVIEW_URL", provisioner.preview_url("framed")),
        ("SHOWN", "framed and private".to_owned()),
    ];
    let summary =
        preview_tests::browser::run_script("private-frame.mjs", &env, Duration::from_secs(120))
            .await
            .unwrap();
    println!("private frame: {summary}");
    assert_eq!(summary["refused_without_link"], true, "{summary}");
}
