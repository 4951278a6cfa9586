use serde_json::json;

use super::*;

fn patch(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn settings(value: Value) -> AppSettings {
    apply_patch(&AppSettings::default(), &patch(value)).expect("a valid patch")
}

#[test]
fn a_patch_sets_what_it_names_and_null_clears_it() {
    let current = settings(json!({
        "install_command": "pnpm install", "dev_command": "pnpm dev", "port": 5173,
        "env": {"API_URL": "https://api.example", "DEBUG": "1"}, "visibility": "private"
    }));
    let cases = [
        (json!({}), current.clone()),
        (
            json!({"port": null}),
            AppSettings {
                port: None,
                ..current.clone()
            },
        ),
        (
            json!({"dev_command": null, "install_command": "npm ci"}),
            AppSettings {
                dev_command: None,
                install_command: Some("npm ci".into()),
                ..current.clone()
            },
        ),
        (
            json!({"env": {"DEBUG": null, "NEW": "x"}}),
            AppSettings {
                env: [
                    ("API_URL".to_owned(), "https://api.example".to_owned()),
                    ("NEW".to_owned(), "x".to_owned()),
                ]
                .into(),
                ..current.clone()
            },
        ),
        (
            json!({"visibility": "public"}),
            AppSettings {
                visibility: Some(Visibility::Public),
                ..current.clone()
            },
        ),
        (
            json!({"visibility": null}),
            AppSettings {
                visibility: None,
                ..current.clone()
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            apply_patch(&current, &patch(body.clone())),
            Ok(expected),
            "{body}"
        );
    }
}

#[test]
fn every_refusal_names_the_field_and_what_to_change() {
    let long = "x".repeat(MAX_COMMAND_BYTES + 1);
    let long_value = "v".repeat(MAX_ENV_VALUE_BYTES + 1);
    let cases = [
        (
            json!({"dev_comand": "vite"}),
            "unknown",
            "`dev_comand` is not a setting",
        ),
        (json!({"dev_command": ""}), "invalid", "send null"),
        (json!({"dev_command": 5}), "invalid", "must be a string"),
        (
            json!({"dev_command": long}),
            "too_large",
            "package.json script",
        ),
        (json!({"port": 0}), "invalid", "1 to 65535"),
        (json!({"port": 70000}), "invalid", "1 to 65535"),
        (json!({"port": "3000"}), "invalid", "1 to 65535"),
        (json!({"visibility": "secret"}), "invalid", "\"private\""),
        (json!({"env": ["A=1"]}), "invalid", "object of NAME"),
        (
            json!({"env": {"1A": "x"}}),
            "invalid",
            "not a variable name",
        ),
        (
            json!({"env": {"A-B": "x"}}),
            "invalid",
            "not a variable name",
        ),
        (json!({"env": {"PORT": "1"}}), "invalid", "`port` setting"),
        (json!({"env": {"SYNC_TOKEN": "x"}}), "invalid", "reserved"),
        (
            json!({"env": {"A": 1}}),
            "invalid",
            "`env.A` must be a string",
        ),
        (json!({"env": {"A": long_value}}), "too_large", "at most"),
    ];
    for (body, kind, words) in cases {
        let error = apply_patch(&AppSettings::default(), &patch(body.clone()))
            .expect_err(&body.to_string());
        let actual_kind = match &error {
            SettingsError::UnknownField(_) => "unknown",
            SettingsError::Invalid { .. } => "invalid",
            SettingsError::TooLarge { .. } => "too_large",
        };
        assert_eq!(actual_kind, kind, "{body}: {error}");
        assert!(error.to_string().contains(words), "{body}: {error}");
    }
}

#[test]
fn the_number_of_variables_is_bounded() {
    let mut env = Map::new();
    for index in 0..=MAX_ENV_VARS {
        env.insert(format!("VAR_{index}"), json!("x"));
    }
    let error = apply_patch(&AppSettings::default(), &patch(json!({"env": env}))).unwrap_err();
    assert!(matches!(error, SettingsError::TooLarge { .. }), "{error}");
}

#[test]
fn the_view_never_shows_an_env_value() {
    let stored = settings(json!({"env": {"SECRET_KEY": "hunter2"}}));
    let view = serde_json::to_string(&stored.view(Visibility::Private)).unwrap();
    assert!(!view.contains("hunter2"), "{view}");
    assert!(view.contains("SECRET_KEY"), "{view}");
    assert!(
        view.contains("\"visibility\":\"private\""),
        "the default applies: {view}"
    );
}
