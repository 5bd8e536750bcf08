//! The `ldap` connector against a real OpenLDAP (`tusk_testkit::slapd`):
//! each test starts its own seeded directory on free ports.

use super::{Subject, all_scopes, conformance};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tusk_connector::{Connector, Error, Identity, Scopes, open};
use tusk_core::Secret;
use tusk_testkit::slapd::{
    GROUPS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PW, Slapd, WEIRD_DN, WEIRD_UID, unrelated_ca_pem,
};

fn slapd() -> Slapd {
    Slapd::start().unwrap_or_else(|e| panic!("the LDAP tests need a real directory: {e}"))
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Plain,
    StartTls,
    Ldaps,
}

/// The connector config of the README, pointed at `s` over `mode`.
fn config(s: &Slapd, mode: Mode) -> Value {
    let mut c = json!({
        "bindDN": SERVICE_DN,
        "bindPW": SERVICE_PW,
        "usernamePrompt": "Directory username",
        "userSearch": {
            "baseDN": PEOPLE_DN,
            "filter": "(objectClass=inetOrgPerson)",
            "username": "uid",
            "idAttr": "uid",
            "emailAttr": "mail",
            "nameAttr": "cn",
            "preferredUsernameAttr": "uid",
        },
        "groupSearch": {
            "baseDN": GROUPS_DN,
            "filter": "(|(objectClass=groupOfNames)(objectClass=posixGroup))",
            "userMatchers": [
                {"userAttr": "DN", "groupAttr": "member"},
                {"userAttr": "uid", "groupAttr": "memberUid"},
            ],
            "nameAttr": "cn",
        },
    });
    match mode {
        Mode::Plain => {
            c["host"] = json!(s.ldap_host());
            c["insecureNoSSL"] = json!(true);
        }
        Mode::StartTls => {
            c["host"] = json!(s.ldap_host());
            c["startTLS"] = json!(true);
            c["rootCA"] = json!(s.ca_path());
        }
        Mode::Ldaps => {
            c["host"] = json!(s.ldaps_host());
            c["rootCAData"] = json!(base64_of(s.ca_pem()));
        }
    }
    c
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn connector(config: &Value) -> Arc<dyn Connector> {
    open("ldap", "ldap", config).unwrap()
}

async fn try_login(
    c: &Arc<dyn Connector>,
    scopes: Scopes,
    user: &str,
    pass: &str,
) -> Result<Option<Identity>, Error> {
    c.password()
        .unwrap()
        .login(&scopes, user, &Secret::from(pass))
        .await
}

async fn login(c: &Arc<dyn Connector>, user: &str, pass: &str) -> Identity {
    try_login(c, all_scopes(), user, pass)
        .await
        .unwrap_or_else(|e| panic!("{user}: {e}"))
        .unwrap_or_else(|| panic!("{user}: refused"))
}

#[tokio::test]
async fn ldap_conformance_over_plain_starttls_and_ldaps() {
    let s = slapd();
    for mode in [Mode::Plain, Mode::StartTls, Mode::Ldaps] {
        let c = connector(&config(&s, mode));
        c.open().await.unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let id = conformance(Subject {
            kind: "ldap",
            connector: c.clone(),
            good: Some(("alice", "alice-pw")),
            secrets: &["alice-pw", SERVICE_PW],
            round_trip: None,
        })
        .await;
        assert_eq!(id.user_id, "alice", "{mode:?}");
        assert_eq!(id.email, "alice@example.org");
        assert_eq!(c.password().unwrap().prompt(), "Directory username");
    }
}

#[tokio::test]
async fn ldap_login_maps_the_entry_and_its_groups() {
    let s = slapd();
    let c = connector(&config(&s, Mode::Plain));
    // One row: login name, password, then id, name, email and groups.
    let rows: [(&str, &str, [&str; 3], &[&str]); 3] = [
        (
            "alice",
            "alice-pw",
            ["alice", "Alice Liddell", "alice@example.org"],
            &["admins", "developers"],
        ),
        (
            "bob",
            "bob-pw",
            ["bob", "Bob Builder", "bob@example.org"],
            &["developers", "ops"],
        ),
        (
            WEIRD_UID,
            "obrien-pw",
            [WEIRD_UID, "O'Brien, Jr. (ops*)\\+=", "obrien@example.org"],
            &["developers"],
        ),
    ];
    for (user, pass, [uid, name, email], groups) in rows {
        let id = login(&c, user, pass).await;
        assert_eq!(
            [
                id.user_id.as_str(),
                &id.username,
                &id.email,
                &id.preferred_username
            ],
            [uid, name, email, uid],
            "{user}"
        );
        assert!(id.email_verified);
        assert_eq!(id.groups, groups, "{user}");
        // No groups scope: no group search.
        let plain = try_login(&c, Scopes::default(), user, pass)
            .await
            .unwrap()
            .unwrap();
        assert!(plain.groups.is_empty(), "{user}");
    }
    // The DN with special characters is the one refresh keeps.
    let weird = login(&c, WEIRD_UID, "obrien-pw").await;
    let again = c
        .refresh()
        .unwrap()
        .refresh(&all_scopes(), weird)
        .await
        .unwrap();
    assert_eq!(again.groups, ["developers"]);
    let data = again.connector_data.unwrap();
    assert!(data.expose().contains("Brien"), "stores the DN");
    let _ = WEIRD_DN;
}

#[tokio::test]
async fn ldap_refuses_bad_credentials_and_injection() {
    let s = slapd();
    let c = connector(&config(&s, Mode::Plain));
    // Every row must be refused as wrong credentials, never log anyone in.
    let rows = [
        ("alice", "wrong"),
        ("alice", ""),
        ("alice", " "),
        ("", "alice-pw"),
        ("*", "alice-pw"),
        ("alice*", "alice-pw"),
        ("al*", "alice-pw"),
        ("*)(uid=*", "alice-pw"),
        ("admin)(|(uid=*", "alice-pw"),
        ("alice)(|(uid=*", "alice-pw"),
        ("*)(|(objectClass=*", "alice-pw"),
        ("alice\0", "alice-pw"),
        ("alice\0)(uid=*", "alice-pw"),
        ("alice\\", "alice-pw"),
        ("uid=alice,ou=people,dc=example,dc=org", "alice-pw"),
        ("o'brien*", "obrien-pw"),
        ("o'brien*(x)", "obrien-pw"),
        // Ambiguous: two entries share the uid.
        ("twin", "twin-pw"),
        // The service account is not a user.
        ("tusk", SERVICE_PW),
    ];
    for (user, pass) in rows {
        match try_login(&c, all_scopes(), user, pass).await {
            Ok(None) => {}
            other => panic!("{user:?}/{pass:?}: expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn ldap_empty_password_is_refused_before_any_connection() {
    // Port 9 on loopback answers nothing: had the connector tried to
    // connect, the login would be an error, not a refusal.
    let mut cfg = config(&slapd(), Mode::Plain);
    cfg["host"] = json!("127.0.0.1:9");
    let c = connector(&cfg);
    assert!(matches!(
        try_login(&c, all_scopes(), "alice", "").await,
        Ok(None)
    ));
    assert!(
        try_login(&c, all_scopes(), "alice", "alice-pw")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ldap_missing_email_is_an_error_unless_email_suffix() {
    let s = slapd();
    let c = connector(&config(&s, Mode::Plain));
    let err = try_login(&c, all_scopes(), "nomail", "nomail-pw")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Upstream { .. }), "{err:?}");
    assert!(
        msg.contains("uid=nomail")
            && msg.contains("no `mail` attribute")
            && msg.contains("emailSuffix"),
        "{msg}"
    );

    let mut cfg = config(&s, Mode::Plain);
    cfg["userSearch"]["nameAttr"] = json!("uid");
    cfg["userSearch"]["emailSuffix"] = json!("corp.example");
    let c = connector(&cfg);
    let id = login(&c, "nomail", "nomail-pw").await;
    assert_eq!(id.email, "nomail@corp.example");
}

#[tokio::test]
async fn ldap_refresh_follows_group_changes_and_deletion() {
    let s = slapd();
    let c = connector(&config(&s, Mode::Plain));
    let bob = login(&c, "bob", "bob-pw").await;
    assert_eq!(bob.groups, ["developers", "ops"]);
    let r = c.refresh().unwrap();

    s.modify(
        "dn: cn=developers,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people,dc=example,dc=org\n\n\
         dn: cn=admins,ou=groups,dc=example,dc=org\nchangetype: modify\nadd: member\nmember: uid=bob,ou=people,dc=example,dc=org\n\n\
         dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: modify\nreplace: cn\ncn: Robert Builder\n",
    )
    .unwrap();
    let fresh = r.refresh(&all_scopes(), bob.clone()).await.unwrap();
    assert_eq!(fresh.groups, ["admins", "ops"]);
    assert_eq!(fresh.username, "Robert Builder");
    assert_eq!(fresh.user_id, "bob");

    s.modify("dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: delete\n")
        .unwrap();
    let err = r.refresh(&all_scopes(), fresh.clone()).await.unwrap_err();
    assert!(
        matches!(&err, Error::UserGone { user, .. } if user == "bob"),
        "{err:?}"
    );
    assert!(matches!(
        try_login(&c, all_scopes(), "bob", "bob-pw").await,
        Ok(None)
    ));

    // Re-created under the same DN as someone else (new uid): still gone.
    s.modify("dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: add\nobjectClass: inetOrgPerson\nuid: bob\nuid: bobby\ncn: B\nsn: B\nmail: b@x.org\n").unwrap();
    let mut moved = fresh.clone();
    moved.user_id = "someone-else".into();
    assert!(matches!(
        r.refresh(&all_scopes(), moved).await,
        Err(Error::UserGone { .. })
    ));

    // A session without stored directory data cannot refresh.
    let mut bare = fresh;
    bare.connector_data = Some(Secret::from("not json"));
    let err = r.refresh(&all_scopes(), bare).await.unwrap_err();
    assert!(matches!(err, Error::Refresh { .. }), "{err:?}");
}

#[tokio::test]
async fn ldap_refresh_stops_when_the_filter_no_longer_selects_the_user() {
    let s = slapd();
    let mut cfg = config(&s, Mode::Plain);
    cfg["userSearch"]["filter"] = json!("(&(objectClass=inetOrgPerson)(!(description=disabled)))");
    let c = connector(&cfg);
    let alice = login(&c, "alice", "alice-pw").await;
    s.modify("dn: uid=alice,ou=people,dc=example,dc=org\nchangetype: modify\nadd: description\ndescription: disabled\n").unwrap();
    let err = c
        .refresh()
        .unwrap()
        .refresh(&all_scopes(), alice)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UserGone { .. }), "{err:?}");
}

#[tokio::test]
async fn ldap_tls_trust_is_checked() {
    let s = slapd();
    let wrong = unrelated_ca_pem().unwrap();
    // One row: a config patch, and whether login works (else the words of
    // the open error).
    let mut rows: Vec<(Value, Result<(), &[&str]>)> = Vec::new();
    let mut ldaps_wrong_ca = config(&s, Mode::Ldaps);
    ldaps_wrong_ca["rootCAData"] = json!(base64_of(&wrong));
    rows.push((ldaps_wrong_ca.clone(), Err(&["TLS", "rootCA"])));
    let mut starttls_wrong_ca = config(&s, Mode::StartTls);
    starttls_wrong_ca["rootCA"] = serde_json::Value::Null;
    starttls_wrong_ca["rootCAData"] = json!(wrong);
    rows.push((starttls_wrong_ca, Err(&["TLS", "rootCA"])));
    // The system roots do not know the test CA.
    let mut system = config(&s, Mode::Ldaps);
    system.as_object_mut().unwrap().remove("rootCAData");
    rows.push((system, Err(&["TLS"])));
    // LDAPS to the plain port.
    let mut wrong_port = config(&s, Mode::Ldaps);
    wrong_port["host"] = json!(s.ldap_host());
    rows.push((wrong_port, Err(&["LDAPS"])));
    let mut skip = ldaps_wrong_ca.clone();
    skip["insecureSkipVerify"] = json!(true);
    rows.push((skip, Ok(())));
    let mut localhost = config(&s, Mode::Ldaps);
    localhost["host"] = json!(format!("localhost:{}", s.ldaps_port));
    rows.push((localhost, Ok(())));
    let (cert, key) = s.client_cert_paths();
    let mut client = config(&s, Mode::Ldaps);
    client["clientCert"] = json!(cert);
    client["clientKey"] = json!(key);
    rows.push((client, Ok(())));
    let mut bad_pair = config(&s, Mode::Ldaps);
    bad_pair["clientCert"] = json!(cert);
    bad_pair["clientKey"] = json!(s.ca_path());
    rows.push((bad_pair, Err(&["clientKey"])));
    let mut missing_ca = config(&s, Mode::StartTls);
    missing_ca["rootCA"] = json!("/nonexistent/ca.pem");
    rows.push((
        missing_ca,
        Err(&["cannot read the rootCA file `/nonexistent/ca.pem`"]),
    ));

    for (cfg, want) in rows {
        let c = connector(&cfg);
        let opened = c.open().await;
        match want {
            Ok(()) => {
                opened.unwrap_or_else(|e| panic!("{cfg}: {e}"));
                login(&c, "alice", "alice-pw").await;
            }
            Err(words) => {
                let err = opened.unwrap_err();
                assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
                let msg = err.to_string();
                for w in words {
                    assert!(msg.contains(w), "{cfg}: `{msg}` lacks `{w}`");
                }
                assert!(!msg.contains(SERVICE_PW), "{msg}");
                // Logins fail with an error, never a refusal or a login.
                assert!(
                    try_login(&c, all_scopes(), "alice", "alice-pw")
                        .await
                        .is_err(),
                    "{cfg}"
                );
            }
        }
    }
}

#[tokio::test]
async fn ldap_open_reports_bind_and_base_problems() {
    let s = slapd();
    let mut wrong_pw = config(&s, Mode::Plain);
    wrong_pw["bindPW"] = json!("not-the-service-pw");
    let err = connector(&wrong_pw).open().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("bindDN") && msg.contains("bindPW") && !msg.contains("not-the-service-pw"),
        "{msg}"
    );

    let mut no_base = config(&s, Mode::Plain);
    no_base["userSearch"]["baseDN"] = json!("ou=nobody,dc=example,dc=org");
    let c = connector(&no_base);
    c.open().await.unwrap();
    let msg = try_login(&c, all_scopes(), "alice", "alice-pw")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("userSearch.baseDN `ou=nobody,dc=example,dc=org` does not exist"),
        "{msg}"
    );

    // A missing group base gives no groups, not a failed login.
    let mut no_groups = config(&s, Mode::Plain);
    no_groups["groupSearch"]["baseDN"] = json!("ou=nogroups,dc=example,dc=org");
    let id = login(&connector(&no_groups), "alice", "alice-pw").await;
    assert!(id.groups.is_empty());
}

#[tokio::test]
async fn ldap_directory_going_away_and_coming_back() {
    let mut s = slapd();
    for mode in [Mode::Plain, Mode::Ldaps] {
        let c = connector(&config(&s, mode));
        let alice = login(&c, "alice", "alice-pw").await;
        s.stop();
        let started = Instant::now();
        let err = try_login(&c, all_scopes(), "alice", "alice-pw")
            .await
            .unwrap_err();
        let open_err = c.open().await.unwrap_err();
        let refresh_err = c
            .refresh()
            .unwrap()
            .refresh(&all_scopes(), alice.clone())
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < tusk_connector::ldap::TIMEOUT * 2,
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, Error::Upstream { .. }), "{err:?}");
        assert!(
            matches!(open_err, Error::Unavailable { .. }),
            "{open_err:?}"
        );
        assert!(
            matches!(refresh_err, Error::Refresh { .. }),
            "{refresh_err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("connecting") && msg.contains("127.0.0.1") && msg.contains("reachable"),
            "{msg}"
        );
        s.restart().unwrap();
        c.open().await.unwrap();
        login(&c, "alice", "alice-pw").await;
        c.refresh()
            .unwrap()
            .refresh(&all_scopes(), alice)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn ldap_unreachable_host_fails_within_the_timeout() {
    // A blackholed address (TEST-NET-1) never answers the SYN.
    let mut cfg = config(&slapd(), Mode::Plain);
    cfg["host"] = json!("192.0.2.1:389");
    let c = connector(&cfg);
    let started = Instant::now();
    let err = c.open().await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took < tusk_connector::ldap::TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
    assert!(err.to_string().contains("192.0.2.1:389"), "{err}");
}

#[tokio::test]
async fn ldap_dn_as_id_one_level_scope_and_legacy_matchers() {
    let s = slapd();
    let mut cfg = config(&s, Mode::StartTls);
    cfg["userSearch"]["idAttr"] = json!("DN");
    cfg["userSearch"]["scope"] = json!("one");
    cfg["groupSearch"] = json!({
        "baseDN": GROUPS_DN,
        "scope": "one",
        "userAttr": "uid",
        "groupAttr": "memberUid",
        "nameAttr": "cn",
    });
    let c = connector(&cfg);
    let bob = login(&c, "bob", "bob-pw").await;
    assert_eq!(bob.user_id, "uid=bob,ou=people,dc=example,dc=org");
    assert_eq!(bob.groups, ["ops"]);
    // One level: the twin under ou=contractors is out of scope, so the
    // name is no longer ambiguous.
    let twin = login(&c, "twin", "twin-pw").await;
    assert_eq!(twin.email, "twin1@example.org");
    let again = c
        .refresh()
        .unwrap()
        .refresh(&all_scopes(), bob)
        .await
        .unwrap();
    assert_eq!(again.user_id, "uid=bob,ou=people,dc=example,dc=org");
}

/// Everything the connector logs, at every level, through logins that
/// succeed, fail, are ambiguous or error, holds no password or bindPW.
#[test]
fn ldap_logs_never_hold_a_password() {
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let s = slapd();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The process-wide subscriber, not a scoped one: a scoped subscriber
    // misses events whose callsites other test threads registered first.
    // It also sees the other tests' logs, which must not hold these
    // passwords either. This is the only test that sets it.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let c = connector(&config(&s, Mode::Plain));
                login(&c, "alice", "alice-pw").await;
                for (user, pass) in [
                    ("alice", "Wr0ng-secret-pw"),
                    ("twin", "twin-pw"),
                    ("ghost", "ghost-pw"),
                ] {
                    assert!(matches!(
                        try_login(&c, all_scopes(), user, pass).await,
                        Ok(None)
                    ));
                }
                assert!(
                    try_login(&c, all_scopes(), "nomail", "nomail-pw")
                        .await
                        .is_err()
                );
                let mut wrong = config(&s, Mode::Plain);
                wrong["bindPW"] = json!("wrong-bind-pw");
                assert!(connector(&wrong).open().await.is_err());
            });
    }
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("more than one entry") && logs.contains("refused the password"),
        "{logs}"
    );
    for secret in [
        "alice-pw",
        "Wr0ng-secret-pw",
        "twin-pw",
        "ghost-pw",
        "nomail-pw",
        SERVICE_PW,
        "wrong-bind-pw",
    ] {
        assert!(!logs.contains(secret), "the log holds `{secret}`:\n{logs}");
    }
}

/// A server that accepts the connection and then never answers (a hung
/// directory, or a firewall that swallows replies): every transport gives
/// up after the operation or handshake limit, with the reason.
#[tokio::test]
async fn ldap_silent_server_fails_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let s = slapd();
    // The three run at once, so the test takes one timeout, not three.
    let tasks: Vec<_> = [Mode::Plain, Mode::StartTls, Mode::Ldaps]
        .into_iter()
        .map(|mode| {
            let mut cfg = config(&s, mode);
            cfg["host"] = json!(addr.to_string());
            let c = connector(&cfg);
            tokio::spawn(async move {
                let started = Instant::now();
                let err = try_login(&c, all_scopes(), "alice", "alice-pw")
                    .await
                    .unwrap_err();
                (mode, started.elapsed(), err.to_string())
            })
        })
        .collect();
    for task in tasks {
        let (mode, took, msg) = task.await.unwrap();
        assert!(
            took >= tusk_connector::ldap::TIMEOUT - Duration::from_millis(100)
                && took < tusk_connector::ldap::TIMEOUT + Duration::from_secs(2),
            "{mode:?}: {took:?}"
        );
        assert!(
            msg.contains("did not answer within 5s") && msg.contains(&addr.to_string()),
            "{mode:?}: {msg}"
        );
    }
}

#[tokio::test]
async fn ldap_username_may_be_a_list_of_attributes() {
    let s = slapd();
    let mut cfg = config(&s, Mode::Ldaps);
    cfg["userSearch"]["username"] = json!(["uid", "mail"]);
    let c = connector(&cfg);
    for name in ["alice", "alice@example.org"] {
        assert_eq!(login(&c, name, "alice-pw").await.user_id, "alice", "{name}");
    }
    assert!(matches!(
        try_login(&c, all_scopes(), "*@example.org", "alice-pw").await,
        Ok(None)
    ));
}

/// A directory that demands a client certificate: without `clientCert` the
/// handshake is refused; with it, over LDAPS and StartTLS, logins work.
#[tokio::test]
async fn ldap_client_certificates_are_presented() {
    let s = Slapd::start_with(true)
        .unwrap_or_else(|e| panic!("the LDAP tests need a real directory: {e}"));
    let (cert, key) = s.client_cert_paths();
    for mode in [Mode::Ldaps, Mode::StartTls] {
        let without = connector(&config(&s, mode));
        let err = without.open().await.unwrap_err();
        assert!(
            matches!(err, Error::Unavailable { .. }),
            "{mode:?}: {err:?}"
        );
        let mut cfg = config(&s, mode);
        cfg["clientCert"] = json!(cert);
        cfg["clientKey"] = json!(key);
        let with = connector(&cfg);
        with.open()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        login(&with, "alice", "alice-pw").await;
    }
}

/// Active Directory answers subtree searches at a domain root with search
/// continuation references (DomainDnsZones, Configuration, ...) besides
/// the entries. They are not entries: logins and group searches skip them
/// (never following them) instead of failing.
#[tokio::test]
async fn ldap_search_continuation_references_are_skipped() {
    let s = slapd();
    s.modify(
        "dn: ou=elsewhere,ou=people,dc=example,dc=org\nchangetype: add\nobjectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\nref: ldap://other.invalid/ou=people,dc=example,dc=org\n\n\
         dn: cn=faraway,ou=groups,dc=example,dc=org\nchangetype: add\nobjectClass: referral\nobjectClass: extensibleObject\ncn: faraway\nref: ldap://other.invalid/ou=groups,dc=example,dc=org\n",
    )
    .unwrap();
    let c = connector(&config(&s, Mode::Plain));
    c.open().await.unwrap();
    let bob = login(&c, "bob", "bob-pw").await;
    assert_eq!(bob.groups, ["developers", "ops"]);
    let fresh = c
        .refresh()
        .unwrap()
        .refresh(&all_scopes(), bob)
        .await
        .unwrap();
    assert_eq!(fresh.groups, ["developers", "ops"]);
    assert!(matches!(
        try_login(&c, all_scopes(), "nobody", "x").await,
        Ok(None)
    ));
}

/// Real directories hold non-ASCII logins and passwords, group DNs with
/// escaped commas, and users type spaces around their login name: the
/// name is trimmed, the rest is matched exactly as the directory does.
#[tokio::test]
async fn ldap_unicode_logins_passwords_and_escaped_group_dns() {
    let s = slapd();
    s.modify(
        "dn: uid=jürgen,ou=people,dc=example,dc=org\nchangetype: add\nobjectClass: inetOrgPerson\nuid: jürgen\ncn: Jürgen Groß\nsn: Groß\nmail: jurgen@example.org\nuserPassword: pässwörd ✓ 密码\n\n\
         dn: cn=R\\2CD,ou=groups,dc=example,dc=org\nchangetype: add\nobjectClass: groupOfNames\ncn: R,D\nmember: uid=jürgen,ou=people,dc=example,dc=org\n\n\
         dn: cn=Ünïcødé,ou=groups,dc=example,dc=org\nchangetype: add\nobjectClass: groupOfNames\ncn: Ünïcødé\nmember: uid=jürgen,ou=people,dc=example,dc=org\n",
    )
    .unwrap();
    let c = connector(&config(&s, Mode::Plain));
    // Login as typed, password, accepted?
    let rows: &[(&str, &str, bool)] = &[
        ("jürgen", "pässwörd ✓ 密码", true),
        ("  jürgen\t", "pässwörd ✓ 密码", true),
        ("JÜRGEN", "pässwörd ✓ 密码", true),
        ("jürgen", "passwörd ✓ 密码", false),
        ("jürgen", "pässwörd ✓ 密码 ", false),
        ("jurgen", "pässwörd ✓ 密码", false),
    ];
    for (user, pass, ok) in rows {
        let got = try_login(&c, all_scopes(), user, pass)
            .await
            .unwrap_or_else(|e| panic!("{user:?}: {e}"));
        match (got, ok) {
            (Some(id), true) => {
                assert_eq!(id.user_id, "jürgen", "{user:?}");
                assert_eq!(id.username, "Jürgen Groß");
                assert_eq!(id.groups, ["R,D", "Ünïcødé"], "{user:?}");
                let fresh = c
                    .refresh()
                    .unwrap()
                    .refresh(&all_scopes(), id)
                    .await
                    .unwrap();
                assert_eq!(fresh.groups, ["R,D", "Ünïcødé"], "{user:?}");
            }
            (None, false) => {}
            (got, _) => panic!("{user:?} / {pass:?}: {got:?}"),
        }
    }
}
