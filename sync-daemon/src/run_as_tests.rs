//! `--run-as` as tables, and the real switch where the test may make it.

use super::*;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                      node:x:1000:1000::/home/node:/bin/bash\n\
                      app:x:1001:1001::/home/app:/usr/sbin/nologin\n\
                      broken:x:notanumber:1::/:/bin/sh\n";

fn account(name: &str, uid: u32) -> RunAs {
    RunAs {
        name: name.to_owned(),
        uid,
        gid: uid,
        home: PathBuf::from(if uid == 0 {
            "/root".to_owned()
        } else {
            format!("/home/{name}")
        }),
    }
}

#[test]
fn a_user_is_found_by_name_or_by_uid() {
    let cases = [
        ("node", Some(account("node", 1000))),
        ("1001", Some(account("app", 1001))),
        ("nobody-here", None),
        ("broken", None),
        ("", None),
    ];
    for (user, expected) in cases {
        assert_eq!(find_account(PASSWD, user), expected, "{user}");
    }
}

#[test]
fn changing_user_needs_both_capabilities() {
    let cases = [
        ("000001ffffffffff", true),
        ("00000000000000c0", true),
        ("0000000000000080", false),
        ("0000000000000040", false),
        ("0000000000000000", false),
        ("not hex", false),
    ];
    for (capabilities, expected) in cases {
        assert_eq!(can_change_user(capabilities), expected, "{capabilities}");
    }
}

/// A rule, the account found, the daemon's rights, and the uid or the refusal's words.
type Case = (
    &'static str,
    Option<RunAs>,
    Rights,
    Result<u32, &'static str>,
);

#[test]
fn run_as_is_refused_unless_it_separates_the_app_from_the_daemon() {
    let root = Rights {
        uid: 0,
        can_change_user: true,
    };
    let unprivileged = Rights {
        uid: 1000,
        can_change_user: false,
    };
    let cases: [Case; 5] = [
        (
            "a root daemon runs the app as node",
            Some(account("node", 1000)),
            root,
            Ok(1000),
        ),
        ("an unknown user", None, root, Err("no such user")),
        (
            "root gives the app everything",
            Some(account("root", 0)),
            root,
            Err("is root"),
        ),
        (
            "the daemon's own user separates nothing",
            Some(account("node", 1000)),
            unprivileged,
            Err("the daemon's own user"),
        ),
        (
            "a daemon without the right to change user",
            Some(account("app", 1001)),
            unprivileged,
            Err("needs the right to change user"),
        ),
    ];
    for (rule, found, rights, expected) in cases {
        let decision = decide("someone", found, rights).map(|account| account.uid);
        match (decision, expected) {
            (Ok(uid), Ok(expected)) => assert_eq!(uid, expected, "{rule}"),
            (Err(message), Err(expected)) => {
                assert!(message.contains(expected), "{rule}: {message}");
                assert!(message.contains("--run-as someone"), "{rule}: {message}");
            }
            (decision, _) => panic!("{rule}: {decision:?}"),
        }
    }
}

#[tokio::test]
async fn a_child_run_as_another_user_cannot_read_the_daemons_environment() {
    // `nobody` (65534) is in every Debian image's /etc/passwd.
    let decision = resolve("nobody");
    let rights = own_rights();
    if !rights.can_change_user || rights.uid == 65534 {
        // This machine cannot switch: the refusal must say so.
        let message = decision.unwrap_err();
        assert!(message.contains("--run-as nobody"), "{message}");
        return;
    }
    let run_as = decision.unwrap();
    let daemon = std::process::id();
    let mut command = tokio::process::Command::new("sh");
    command.arg("-c").arg(format!(
        "id -u; id -G; echo $HOME; cat /proc/{daemon}/environ >/dev/null 2>&1 && echo read || echo refused"
    ));
    apply(&mut command, &run_as);

    let output = command.output().await.unwrap();

    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "65534", "{text}");
    assert_eq!(
        lines[1],
        run_as.gid.to_string(),
        "no other group kept: {text}"
    );
    assert_eq!(lines[2], run_as.home.display().to_string());
    assert_eq!(lines[3], "refused", "the daemon's environment was readable");
}
