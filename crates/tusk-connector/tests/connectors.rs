#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Connector tests: a conformance suite every connector runs, then what is
//! particular to each type and to `open`.

use serde_json::{Value, json};
use std::sync::Arc;
use tusk_connector::{
    Connector, Error, HashPool, HashPoolSize, Identity, Scopes, UpstreamParams, hash_password, open,
};
use tusk_core::Secret;

#[path = "connectors/github.rs"]
mod github;
#[path = "connectors/ldap.rs"]
mod ldap;
#[path = "connectors/oidc.rs"]
mod oidc;
#[path = "connectors/saml.rs"]
mod saml;

const CALLBACK: &str = "https://pach.example/dex/callback";

fn all_scopes() -> Scopes {
    Scopes {
        offline_access: true,
        groups: true,
    }
}

fn upstream() -> UpstreamParams {
    UpstreamParams {
        nonce: "nonce-s3cret".into(),
        pkce_verifier: Some("verifier-s3cret".into()),
    }
}

/// The pool the tests' password checks run on: roomy, because tests run in
/// parallel and check many passwords at once, which the process-wide
/// default pool (sized for one server) would refuse as a storm.
fn roomy() -> HashPool {
    static POOL: std::sync::OnceLock<HashPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        HashPool::new(HashPoolSize {
            workers: Some(2),
            queue: Some(4096),
        })
        .unwrap()
    })
    .clone()
}

/// A cheap argon2id hash (test speed only; production uses the defaults).
fn cheap_argon2(password: &str) -> String {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let params = Params::new(64, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

/// Dex's example password database entry: `admin@example.com` / `password`.
const DEX_BCRYPT: &str = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W";

// ---------------------------------------------------------------------------
// Conformance suite
// ---------------------------------------------------------------------------

/// What the suite needs to know about one connector under test.
struct Subject<'a> {
    kind: &'a str,
    connector: Arc<dyn Connector>,
    /// A login that must succeed, for password connectors.
    good: Option<(&'a str, &'a str)>,
    /// Strings that must never show in `Debug` or error output.
    secrets: &'a [&'a str],
    /// For callback connectors with a real upstream: follows the login URL
    /// and returns the callback's query. `None`: the callback gets only
    /// `state` (the mocks).
    round_trip: Option<&'a RoundTrip>,
}

type RoundTrip = dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<(String, String)>> + Send>>
    + Sync;

/// Checks the capabilities a connector declares are consistent and behave
/// like the provider expects. Returns the identity it logged in.
async fn conformance(s: Subject<'_>) -> Identity {
    let c = &s.connector;
    let name = format!("{} `{}`", s.kind, c.id());
    assert_eq!(c.kind(), s.kind, "{name}: kind");
    assert!(!c.id().is_empty(), "{name}: id");
    assert!(
        c.password().is_some() || c.callback().is_some(),
        "{name}: offers no way to log in"
    );
    assert_eq!(
        c.password().is_some(),
        s.good.is_some(),
        "{name}: test setup"
    );
    let debug = format!("{c:?}");
    for secret in s.secrets {
        assert!(
            !debug.contains(secret),
            "{name}: Debug leaks a secret: {debug}"
        );
    }
    let scopes = all_scopes();

    let identity = if let Some(p) = c.password() {
        let (user, pass) = s.good.unwrap();
        assert!(!p.prompt().is_empty(), "{name}: prompt");
        let secret = Secret::from(pass);
        let id = roomy()
            .scope(p.login(&scopes, user, &secret))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: good credentials refused"));
        let huge = "x".repeat(1 << 20);
        let wrong_pass = format!("{pass}x");
        let long_good = format!("{pass}{}", "y".repeat(100));
        let bad: &[(&str, &str, &str)] = &[
            ("wrong password", user, "definitely-wrong"),
            ("password with a suffix", user, &wrong_pass),
            ("good password then 100 bytes", user, &long_good),
            ("password prefix", user, &pass[..pass.len() - 1]),
            ("wrong user", "nobody@nowhere.example", pass),
            ("empty password", user, ""),
            ("empty user", "", pass),
            ("both empty", "", ""),
            ("1 MiB password", user, &huge),
            ("1 MiB user", &huge, pass),
            ("non-ASCII password", user, "pässwörd-🔑"),
            ("non-ASCII user", "kilgöre@trout.example", pass),
            ("NUL in password", user, "pass\0word"),
        ];
        for (what, u, pw) in bad {
            let secret = Secret::from(*pw);
            let got = roomy().scope(p.login(&scopes, u, &secret)).await;
            match got {
                Ok(None) => {}
                other => panic!("{name}: {what}: expected Ok(None), got {other:?}"),
            }
        }
        id
    } else {
        let cb = c.callback().unwrap();
        let url = cb
            .login_url(&scopes, CALLBACK, "req-42", &upstream())
            .unwrap();
        assert!(url.contains("state=req-42"), "{name}: login URL {url}");
        let query = match s.round_trip {
            Some(follow) => follow(url).await,
            None => vec![("state".to_owned(), "req-42".to_owned())],
        };
        cb.handle_callback(&scopes, CALLBACK, &query, &upstream())
            .await
            .unwrap()
    };

    assert!(!identity.user_id.is_empty(), "{name}: empty user id");
    let debug = format!("{identity:?}");
    for secret in s.secrets {
        assert!(
            !debug.contains(secret),
            "{name}: identity Debug leaks: {debug}"
        );
    }
    let stored: Identity =
        serde_json::from_str(&serde_json::to_string(&identity).unwrap()).unwrap();
    assert_eq!(stored, identity, "{name}: serde round trip");

    if let Some(r) = c.refresh() {
        let again = r.refresh(&scopes, identity.clone()).await.unwrap();
        assert_eq!(again.user_id, identity.user_id, "{name}: refresh user id");
        let twice = r.refresh(&scopes, again).await.unwrap();
        assert_eq!(twice.user_id, identity.user_id, "{name}: second refresh");
    }
    identity
}

#[tokio::test]
async fn conformance_mock_password() {
    let c = open(
        "test",
        "mockPassword",
        &json!({"username": "admin", "password": "hunter2-pw"}),
    )
    .unwrap();
    let id = conformance(Subject {
        kind: "mockPassword",
        connector: c,
        good: Some(("admin", "hunter2-pw")),
        secrets: &["hunter2-pw"],
        round_trip: None,
    })
    .await;
    let want = Identity {
        user_id: "0-385-28089-0".into(),
        username: "Kilgore Trout".into(),
        email: "kilgore@kilgore.trout".into(),
        email_verified: true,
        ..Identity::default()
    };
    assert_eq!(id, want);
}

#[tokio::test]
async fn conformance_mock_callback() {
    for config in [json!({}), Value::Null] {
        let c = open("mock", "mockCallback", &config).unwrap();
        let id = conformance(Subject {
            kind: "mockCallback",
            connector: c,
            good: None,
            secrets: &["nonce-s3cret", "verifier-s3cret"],
            round_trip: None,
        })
        .await;
        assert_eq!(id.user_id, "0-385-28089-0");
        assert_eq!(id.email, "kilgore@kilgore.trout");
        assert_eq!(id.groups, vec!["authors".to_owned()]);
    }
}

#[tokio::test]
async fn conformance_local() {
    let argon = cheap_argon2("correct horse");
    let argon_default = hash_password("battery staple").unwrap();
    let bcrypt_2b = bcrypt::hash("tr0ub4dor", 4).unwrap();
    let bcrypt_2y = bcrypt_2b.replacen("$2b$", "$2y$", 1);
    let config = json!({"users": [
        {"email": "alice@example.com", "hash": argon, "groups": ["eng"]},
        {"email": "bob@example.com", "hash": argon_default, "username": "Bobby", "userID": "u-bob"},
        {"email": "carol@example.com", "hash": bcrypt_2b},
        {"email": "dave@example.com", "hash": bcrypt_2y},
        {"email": "admin@example.com", "hash": DEX_BCRYPT},
    ]});
    let c = open("local", "local", &config).unwrap();
    let secrets: Vec<&str> = vec![&argon, &argon_default, &bcrypt_2b, DEX_BCRYPT];
    let cases = [
        ("alice@example.com", "correct horse"),
        ("bob@example.com", "battery staple"),
        ("carol@example.com", "tr0ub4dor"),
        ("dave@example.com", "tr0ub4dor"),
        ("admin@example.com", "password"),
    ];
    for (user, pass) in cases {
        let mut secrets = secrets.clone();
        secrets.push(pass);
        let id = conformance(Subject {
            kind: "local",
            connector: c.clone(),
            good: Some((user, pass)),
            secrets: &secrets,
            round_trip: None,
        })
        .await;
        assert_eq!(id.email, user);
        assert!(id.email_verified);
    }
}

// ---------------------------------------------------------------------------
// local
// ---------------------------------------------------------------------------

async fn login(c: &Arc<dyn Connector>, scopes: Scopes, user: &str, pass: &str) -> Option<Identity> {
    let secret = Secret::from(pass);
    let check = c.password().unwrap().login(&scopes, user, &secret);
    roomy().scope(check).await.unwrap()
}

/// Issue 16, item 4: with every hashing worker busy and no queue room, a
/// `local` login is refused at once with `Busy`, for a known user and an
/// unknown email alike (the refusal says nothing about the account).
#[tokio::test]
async fn local_login_on_a_full_pool_is_refused_at_once() {
    let c = open(
        "local",
        "local",
        &json!({"users": [{"email": "a@x.io", "hash": cheap_argon2("pw")}]}),
    )
    .unwrap();
    let pool = HashPool::new(HashPoolSize {
        workers: Some(1),
        queue: Some(0),
    })
    .unwrap();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel();
    let holder = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            let _ = held.recv();
        })
        .unwrap();
    started.recv().unwrap();
    let p = c.password().unwrap();
    for (user, pass) in [("a@x.io", "pw"), ("a@x.io", "wrong"), ("ghost@x.io", "pw")] {
        let (scopes, secret) = (all_scopes(), Secret::from(pass));
        let got = pool.scope(p.login(&scopes, user, &secret)).await;
        match got {
            Err(e @ Error::Busy { .. }) => {
                let text = e.to_string();
                assert!(text.contains("retry") && !text.contains(pass), "{text}");
            }
            other => panic!("{user}: expected Busy, got {other:?}"),
        }
    }
    release.send(()).unwrap();
    holder.await.unwrap();
    let (scopes, secret) = (all_scopes(), Secret::from("pw"));
    let ok = pool
        .scope(p.login(&scopes, "a@x.io", &secret))
        .await
        .unwrap();
    assert_eq!(ok.unwrap().email, "a@x.io");
}

#[tokio::test]
async fn local_identity_fields() {
    let h = cheap_argon2("pw");
    let c = open(
        "local",
        "local",
        &json!({"users": [
            {"email": "Alice@Example.com", "hash": h, "groups": ["eng", "ops"]},
            {"email": "bob@example.com", "hash": h, "username": "Bobby", "userID": "u-bob"},
        ]}),
    )
    .unwrap();
    assert_eq!(c.password().unwrap().prompt(), "Email Address");

    // Email matches case-insensitively; the identity keeps the configured
    // spelling. Defaults: user id = email, username = local part.
    let alice = login(&c, all_scopes(), "aLiCe@example.COM", "pw")
        .await
        .unwrap();
    assert_eq!(alice.email, "Alice@Example.com");
    assert_eq!(alice.user_id, "Alice@Example.com");
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.preferred_username, "Alice");
    assert_eq!(alice.groups, ["eng", "ops"]);
    // Groups only when asked for.
    let no_groups = login(&c, Scopes::default(), "alice@example.com", "pw")
        .await
        .unwrap();
    assert!(no_groups.groups.is_empty());

    let bob = login(&c, all_scopes(), "bob@example.com", "pw")
        .await
        .unwrap();
    assert_eq!(
        (bob.user_id.as_str(), bob.username.as_str()),
        ("u-bob", "Bobby")
    );
    assert!(bob.groups.is_empty());
}

#[tokio::test]
async fn local_refresh_rereads_the_user() {
    let h = cheap_argon2("pw");
    let before = open(
        "local",
        "local",
        &json!({"users": [{"email": "a@x.io", "hash": h, "username": "old", "groups": ["g1"]}]}),
    )
    .unwrap();
    let id = login(&before, all_scopes(), "a@x.io", "pw").await.unwrap();

    // Config changed: new username and groups show on refresh.
    let renamed = open(
        "local",
        "local",
        &json!({"users": [{"email": "a@x.io", "hash": h, "username": "new", "groups": ["g2"]}]}),
    )
    .unwrap();
    let fresh = renamed
        .refresh()
        .unwrap()
        .refresh(&all_scopes(), id.clone())
        .await
        .unwrap();
    assert_eq!(
        (fresh.username.as_str(), fresh.groups.as_slice()),
        ("new", &["g2".to_owned()][..])
    );
    assert_eq!(fresh.user_id, id.user_id);

    // Removed, or re-added as someone else (other user id): refresh fails.
    let configs = [
        json!({"users": []}),
        json!({"users": [{"email": "other@x.io", "hash": h}]}),
        json!({"users": [{"email": "a@x.io", "hash": h, "userID": "someone-else"}]}),
    ];
    for config in configs {
        let c = open("local", "local", &config).unwrap();
        let err = c
            .refresh()
            .unwrap()
            .refresh(&all_scopes(), id.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::UserGone { connector, user } if connector == "local" && user == "a@x.io"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("no longer exists") && msg.contains("log in again"),
            "{msg}"
        );
    }
}

#[test]
fn local_logins_from_many_tasks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let users: Vec<Value> = (0..4)
            .map(
                |i| json!({"email": format!("u{i}@x.io"), "hash": cheap_argon2(&format!("pw{i}"))}),
            )
            .collect();
        let c = open("local", "local", &json!({ "users": users })).unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let c = c.clone();
                tokio::spawn(async move {
                    let i = n % 4;
                    let ok =
                        login(&c, all_scopes(), &format!("u{i}@x.io"), &format!("pw{i}")).await;
                    let bad = login(&c, all_scopes(), &format!("u{i}@x.io"), "nope").await;
                    let unknown = login(&c, all_scopes(), &format!("ghost{n}@x.io"), "pw").await;
                    (i, ok, bad, unknown)
                })
            })
            .collect();
        for t in tasks {
            let (i, ok, bad, unknown) = t.await.unwrap();
            assert_eq!(ok.unwrap().email, format!("u{i}@x.io"));
            assert!(bad.is_none() && unknown.is_none());
        }
    });
}

#[test]
fn hash_password_makes_distinct_argon2id_hashes() {
    let a = hash_password("same").unwrap();
    let b = hash_password("same").unwrap();
    assert!(a.starts_with("$argon2id$v=19$"), "{a}");
    assert_ne!(a, b, "salts must differ");
}

// ---------------------------------------------------------------------------
// open
// ---------------------------------------------------------------------------

/// Opens and expects a `Config` error whose message has every `want` and
/// none of `never`.
fn check_config_error(kind: &str, config: Value, want: &[&str], never: &[&str]) {
    let err = match open("c1", kind, &config) {
        Ok(c) => panic!("{kind} {config}: opened {c:?}"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, Error::Config { connector, .. } if connector == "c1"),
        "{err:?}"
    );
    let msg = err.to_string();
    for w in want {
        assert!(msg.contains(w), "{config}: `{msg}` lacks `{w}`");
    }
    for n in never {
        if !n.is_empty() {
            assert!(
                !msg.contains(n) && !format!("{err:?}").contains(n),
                "{config}: `{msg}` leaks `{n}`"
            );
        }
    }
}

#[test]
fn open_rejects_malformed_hashes() {
    let good = cheap_argon2("pw");
    let bad_hashes = [
        "plaintext-password",
        "$argon2id$garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$2a$10$tooshort",
        "$2x$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W",
        "$2a$1x$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W",
        "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
        "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
    ];
    for bad in bad_hashes {
        let config = json!({"users": [
            {"email": "ok@x.io", "hash": good},
            {"email": "broken@x.io", "hash": bad},
        ]});
        check_config_error(
            "local",
            config,
            &["broken@x.io", "malformed"],
            &[bad, &good],
        );
    }
}

#[test]
fn open_rejects_bad_configs() {
    let h = cheap_argon2("pw");
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "mockPassword",
            json!({"username": "", "password": "pw-xyz"}),
            vec!["no username supplied"],
        ),
        (
            "mockPassword",
            json!({"username": "admin"}),
            vec!["no password supplied"],
        ),
        (
            "mockPassword",
            json!({"username": "admin", "password": 12345}),
            vec!["`password` must be a string"],
        ),
        ("mockPassword", json!("admin:pw-xyz"), vec!["must be a map"]),
        ("local", json!({}), vec!["`users` must be a list"]),
        (
            "local",
            json!({"users": [{"hash": h}]}),
            vec!["no email supplied", "users[0].email"],
        ),
        (
            "local",
            json!({"users": [{"email": "a@x.io"}]}),
            vec!["user `a@x.io` has no password hash", "users[0].hash"],
        ),
        (
            "local",
            json!({"users": [{"email": "a@x.io", "hash": ""}]}),
            vec!["user `a@x.io` has no password hash"],
        ),
        (
            "local",
            json!({"users": [{"email": "a@x.io", "hash": h, "groups": "eng"}]}),
            vec!["users[0].groups", "list of strings"],
        ),
        (
            "local",
            json!({"users": [{"email": "a@x.io", "hash": h}, {"email": "A@X.io", "hash": h, "userID": "2"}]}),
            vec!["`A@X.io` is listed twice"],
        ),
        (
            "local",
            json!({"users": [{"email": "a@x.io", "hash": h, "userID": "1"}, {"email": "b@x.io", "hash": h, "userID": "1"}]}),
            vec!["share the user id `1`"],
        ),
    ];
    for (kind, config, want) in cases {
        check_config_error(kind, config, &want, &["pw-xyz", "12345", &h]);
    }
}

#[test]
fn open_refuses_unsupported_kinds() {
    for kind in ["no-such-type", ""] {
        let err = open("up", kind, &json!({"issuer": "https://idp.example"})).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { kind: k } if k == kind),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("cannot open") && msg.contains(&format!("`{kind}`")),
            "{msg}"
        );
        assert!(
            msg.contains("mockPassword, mockCallback, local, oidc, github, ldap, saml"),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------------------
// mockCallback and Debug
// ---------------------------------------------------------------------------

#[test]
fn mock_callback_login_url() {
    let c = open("mock", "mockCallback", &json!({})).unwrap();
    let cb = c.callback().unwrap();
    let cases = [
        (
            CALLBACK,
            "abc",
            "https://pach.example/dex/callback?state=abc",
        ),
        ("https://h/cb?a=1", "abc", "https://h/cb?a=1&state=abc"),
        (
            "https://h/cb?state=old&b=2",
            "new",
            "https://h/cb?b=2&state=new",
        ),
        (
            "https://h/cb",
            "a b&c=d/é",
            "https://h/cb?state=a+b%26c%3Dd%2F%C3%A9",
        ),
    ];
    for (callback, state, want) in cases {
        let got = cb
            .login_url(&all_scopes(), callback, state, &upstream())
            .unwrap();
        assert_eq!(got, want, "{callback} {state}");
    }
    let err = cb
        .login_url(&all_scopes(), "not a url", "s", &upstream())
        .unwrap_err();
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
}

#[tokio::test]
async fn mock_callback_reports_upstream_errors() {
    let c = open("mock", "mockCallback", &json!({})).unwrap();
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let query = q(&[
        ("error", "access_denied"),
        ("error_description", "user said no"),
        ("state", "s"),
    ]);
    let err = c
        .callback()
        .unwrap()
        .handle_callback(&all_scopes(), CALLBACK, &query, &upstream())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Upstream { connector, .. } if connector == "mock"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("access_denied") && msg.contains("user said no"),
        "{msg}"
    );
}

#[test]
fn debug_never_prints_secrets() {
    let id = Identity {
        user_id: "u1".into(),
        connector_data: Some(Secret::from("upstream-refresh-token")),
        ..Identity::default()
    };
    let dbg = format!("{id:?}");
    assert!(
        dbg.contains("u1") && !dbg.contains("upstream-refresh-token"),
        "{dbg}"
    );
    // ...but storage keeps it.
    assert!(
        serde_json::to_string(&id)
            .unwrap()
            .contains("upstream-refresh-token")
    );

    let dbg = format!("{:?}", upstream());
    assert!(
        !dbg.contains("nonce-s3cret") && !dbg.contains("verifier-s3cret"),
        "{dbg}"
    );

    let h = cheap_argon2("pw");
    let local = open(
        "l",
        "local",
        &json!({"users": [{"email": "a@x.io", "hash": h}]}),
    )
    .unwrap();
    let dbg = format!("{local:?}");
    assert!(
        dbg.contains("a@x.io") && !dbg.contains(&h) && !dbg.contains("argon2"),
        "{dbg}"
    );
    let mock = open(
        "m",
        "mockPassword",
        &json!({"username": "admin", "password": "pw-xyz"}),
    )
    .unwrap();
    let dbg = format!("{mock:?}");
    assert!(dbg.contains("admin") && !dbg.contains("pw-xyz"), "{dbg}");
}
