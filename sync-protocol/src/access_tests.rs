use super::*;

const NOW: u64 = 1_800_000_000;

fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap()
}

fn key(generation: u64) -> AccessKey {
    AccessKey::derive(b"deployment secret", &app("shop"), generation)
}

fn visit<'a>(
    path: &'a str,
    query: Option<&'a str>,
    cookies: Vec<&'a str>,
    authorization: Option<&'a str>,
) -> Visit<'a> {
    Visit {
        path,
        query,
        cookies,
        authorization,
    }
}

#[test]
fn a_token_grants_access_to_its_own_app_until_it_expires() {
    let token = key(0).sign(&app("shop"), NOW + 60);
    assert_eq!(key(0).verify(&app("shop"), &token, NOW), Ok(NOW + 60));
    assert_eq!(
        key(0).verify(&app("shop"), &token, NOW + 60),
        Err(AccessRefused::Expired)
    );
    assert_eq!(
        key(0).verify(&app("other"), &token, NOW),
        Err(AccessRefused::OtherApp)
    );
    assert_eq!(
        key(1).verify(&app("shop"), &token, NOW),
        Err(AccessRefused::BadSignature),
        "rotation revokes"
    );
    let other_secret = AccessKey::derive(b"another secret", &app("shop"), 0);
    assert_eq!(
        other_secret.verify(&app("shop"), &token, NOW),
        Err(AccessRefused::BadSignature)
    );
}

#[test]
fn a_tampered_or_malformed_token_is_refused() {
    let token = key(0).sign(&app("shop"), NOW + 60);
    let later = token.replace(&format!(".{}.", NOW + 60), &format!(".{}.", NOW + 6000));
    let cases = [
        (later.as_str(), AccessRefused::BadSignature),
        ("pa1.shop.notanumber.00", AccessRefused::Malformed),
        ("pa1.shop.1.zz", AccessRefused::Malformed),
        ("pa2.shop.1.00", AccessRefused::Malformed),
        ("", AccessRefused::Malformed),
        (&format!("{token}.extra"), AccessRefused::Malformed),
    ];
    for (token, expected) in cases {
        assert_eq!(
            key(0).verify(&app("shop"), token, NOW),
            Err(expected),
            "{token}"
        );
    }
}

#[test]
fn keys_are_per_app_and_round_trip_through_hex() {
    assert_ne!(
        key(0),
        AccessKey::derive(b"deployment secret", &app("other"), 0)
    );
    assert_eq!(AccessKey::from_hex(&key(3).to_hex()), Some(key(3)));
    assert_eq!(AccessKey::from_hex("abc"), None);
    assert_eq!(format!("{:?}", key(0)), "AccessKey(..)");
}

#[test]
fn the_policy_as_a_table() {
    let good = key(0).sign(&app("shop"), NOW + 60);
    let expired = key(0).sign(&app("shop"), NOW - 1);
    let cookie = format!("theme=dark; {ACCESS_COOKIE}={good}");
    let expired_cookie = format!("{ACCESS_COOKIE}={expired}");
    let bearer = format!("Bearer {good}");
    let link_query = format!("token={good}&to=%2Fdocs%3Fx%3D1");
    let evil_query = format!("token={good}&to=%2F%2Fevil.example");
    let expired_link = format!("token={expired}");
    let private = Visibility::Private;
    let k = Some(key(0));
    let cases: Vec<(
        &str,
        Visibility,
        Option<AccessKey>,
        Visit<'_>,
        AccessDecision,
    )> = vec![
        (
            "public lets anyone in",
            Visibility::Public,
            None,
            visit("/", None, vec![], None),
            AccessDecision::Allow,
        ),
        (
            "private without anything",
            private,
            k.clone(),
            visit("/", None, vec![], None),
            AccessDecision::Refuse(AccessRefused::Missing),
        ),
        (
            "private without a key refuses",
            private,
            None,
            visit("/", None, vec![&cookie], None),
            AccessDecision::Refuse(AccessRefused::Missing),
        ),
        (
            "a valid cookie among others",
            private,
            k.clone(),
            visit("/app.js", None, vec![&cookie], None),
            AccessDecision::Allow,
        ),
        (
            "a valid bearer token",
            private,
            k.clone(),
            visit("/api", None, vec![], Some(&bearer)),
            AccessDecision::Allow,
        ),
        (
            "an expired cookie",
            private,
            k.clone(),
            visit("/", None, vec![&expired_cookie], None),
            AccessDecision::Refuse(AccessRefused::Expired),
        ),
        (
            "an expired cookie beside a valid one",
            private,
            k.clone(),
            visit("/", None, vec![&expired_cookie, &cookie], None),
            AccessDecision::Allow,
        ),
        (
            "a link becomes a cookie and a clean redirect",
            private,
            k.clone(),
            visit(ACCESS_PATH, Some(&link_query), vec![], None),
            AccessDecision::SetCookie {
                token: good.clone(),
                max_age_seconds: 60,
                location: "/docs?x=1".to_owned(),
            },
        ),
        (
            "a link never redirects to another site",
            private,
            k.clone(),
            visit(ACCESS_PATH, Some(&evil_query), vec![], None),
            AccessDecision::SetCookie {
                token: good.clone(),
                max_age_seconds: 60,
                location: "/".to_owned(),
            },
        ),
        (
            "an expired link",
            private,
            k.clone(),
            visit(ACCESS_PATH, Some(&expired_link), vec![], None),
            AccessDecision::Refuse(AccessRefused::Expired),
        ),
        (
            "a link without a token",
            private,
            k.clone(),
            visit(ACCESS_PATH, None, vec![], None),
            AccessDecision::Refuse(AccessRefused::Missing),
        ),
        (
            "a token in the query of another path is not a link",
            private,
            k.clone(),
            visit("/", Some(&link_query), vec![], None),
            AccessDecision::Refuse(AccessRefused::Missing),
        ),
    ];
    for (name, visibility, key, visit, expected) in cases {
        assert_eq!(
            decide(visibility, key.as_ref(), &app("shop"), &visit, NOW),
            expected,
            "{name}"
        );
    }
}

#[test]
fn the_app_never_sees_the_access_cookie_or_bearer_token() {
    let header = format!("a=1; {ACCESS_COOKIE}=pa1.x; b=2");
    assert_eq!(
        cookie_header_without_access(&header).as_deref(),
        Some("a=1; b=2")
    );
    assert_eq!(
        cookie_header_without_access(&format!("{ACCESS_COOKIE}=pa1.x")),
        None
    );
    assert!(is_access_bearer("Bearer pa1.shop.1.00"));
    assert!(!is_access_bearer("Bearer the-apps-own-token"));
    let cookie = set_cookie_value("pa1.t", 60);
    for attribute in [
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Partitioned",
        "Max-Age=60",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
}
