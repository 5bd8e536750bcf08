//! The `github` connector against the stand-in (`github/standin.rs`),
//! which answers with GitHub's documented shapes from `github/fixtures/`.
//! github.com is reached through `open_at` (the stand-in is not at
//! api.github.com); GitHub Enterprise through `hostName` and `rootCA`
//! exactly as configured in production, over TLS with a generated CA.

#[path = "github/standin.rs"]
mod standin;

use super::{CALLBACK, RoundTrip, Subject, conformance};
use serde_json::{Value, json};
use standin::{CLIENT_ID, CLIENT_SECRET, StandIn};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tusk_connector::github::{Endpoints, open_at};
use tusk_connector::{Connector, Error, Identity, Scopes, UpstreamParams, open};

fn config(extra: Value) -> Value {
    let mut c = json!({
        "clientID": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "redirectURI": CALLBACK,
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn dotcom(gh: &StandIn, extra: Value) -> Arc<dyn Connector> {
    dotcom_with_timeout(gh, extra, Duration::from_secs(10))
}

fn dotcom_with_timeout(gh: &StandIn, extra: Value, timeout: Duration) -> Arc<dyn Connector> {
    open_at(
        "github",
        &config(extra),
        Endpoints::at(&gh.origin(), &gh.api()),
        timeout,
    )
    .unwrap()
}

fn scopes(offline_access: bool, groups: bool) -> Scopes {
    Scopes {
        offline_access,
        groups,
    }
}

fn upstream() -> UpstreamParams {
    UpstreamParams {
        nonce: "per-request-secret-github".into(),
        pkce_verifier: None,
    }
}

/// The whole browser round trip: login URL, the stand-in's authorize,
/// the callback.
async fn login(gh: &StandIn, c: &Arc<dyn Connector>, scopes: &Scopes) -> Result<Identity, Error> {
    let cb = c.callback().unwrap();
    let url = cb.login_url(scopes, CALLBACK, "req-7", &upstream())?;
    let query = gh.authorize(&url).await;
    assert!(
        query.contains(&("state".into(), "req-7".into())),
        "{query:?}"
    );
    cb.handle_callback(scopes, CALLBACK, &query, &upstream())
        .await
}

/// Errors and Debug output never hold the client secret or a token.
fn assert_clean(text: &str) {
    assert!(
        !text.contains(CLIENT_SECRET),
        "leaks the client secret: {text}"
    );
    assert!(
        !text.contains("gho_standin"),
        "leaks an access token: {text}"
    );
}

#[tokio::test]
async fn conformance_github() {
    let gh = Arc::new(StandIn::start().await);
    let c = dotcom(&gh, json!({"orgs": [{"name": "acme"}]}));
    let follow_gh = gh.clone();
    let follow: Box<RoundTrip> = Box::new(move |url: String| {
        let gh = follow_gh.clone();
        Box::pin(async move { gh.authorize(&url).await })
    });
    let id = conformance(Subject {
        kind: "github",
        connector: c.clone(),
        good: None,
        secrets: &[CLIENT_SECRET, "gho_standin"],
        round_trip: Some(&*follow),
    })
    .await;
    assert_eq!(id.user_id, "583231");
    assert_eq!(id.groups, vec!["acme:Data Engineers", "acme:Admins"]);
    assert_clean(&format!("{c:?}"));
}

/// What one login should yield.
enum Want<'a> {
    Ok {
        user_id: &'a str,
        username: &'a str,
        email: &'a str,
        groups: &'a [&'a str],
    },
    Err(&'a str),
}

/// One row: connector config additions, who logs in, whether the client
/// asked for groups, and the outcome.
async fn check(rows: &[(&str, Value, &str, bool, Want<'_>)]) {
    let gh = StandIn::start().await;
    for (what, extra, user, groups, want) in rows {
        gh.set_browser_user(user);
        let c = dotcom(&gh, extra.clone());
        let got = login(&gh, &c, &scopes(false, *groups)).await;
        match (got, want) {
            (
                Ok(id),
                Want::Ok {
                    user_id,
                    username,
                    email,
                    groups,
                },
            ) => {
                assert_eq!(id.user_id, *user_id, "{what}");
                assert_eq!(id.username, *username, "{what}");
                assert_eq!(id.preferred_username, *user, "{what}");
                assert_eq!(id.email, *email, "{what}");
                assert!(id.email_verified, "{what}");
                assert_eq!(id.groups, *groups, "{what}");
                assert!(
                    id.connector_data.is_none(),
                    "{what}: kept a token without offline_access"
                );
            }
            (Err(e), Want::Err(frag)) => {
                let text = e.to_string();
                assert!(text.contains(frag), "{what}: `{text}` lacks `{frag}`");
                assert!(matches!(e, Error::Upstream { .. }), "{what}: {e:?}");
                assert_clean(&text);
            }
            (Ok(id), Want::Err(frag)) => panic!("{what}: logged in {id:?}, want `{frag}`"),
            (Err(e), Want::Ok { .. }) => panic!("{what}: refused: {e}"),
        }
    }
}

#[tokio::test]
async fn logins_orgs_teams_groups_and_emails() {
    let octo = |groups: &'static [&'static str]| Want::Ok {
        user_id: "583231",
        username: "The Octocat",
        email: "octocat@github.example",
        groups,
    };
    check(&[
        ("no orgs, no groups scope: anyone, no groups", json!({}), "octocat", false, octo(&[])),
        ("no orgs, groups scope, no loadAllGroups: no groups", json!({}), "octocat", true, octo(&[])),
        (
            "loadAllGroups with the groups scope: orgs and org:team over every page",
            json!({"loadAllGroups": true}),
            "octocat",
            true,
            octo(&["acme", "acme:Data Engineers", "acme:Admins", "umbrella", "umbrella:Research"]),
        ),
        ("loadAllGroups without the groups scope: none", json!({"loadAllGroups": true}), "octocat", false, octo(&[])),
        (
            "org member, no teams listed: every team of the org",
            json!({"orgs": [{"name": "acme"}]}),
            "octocat",
            false,
            octo(&["acme:Data Engineers", "acme:Admins"]),
        ),
        (
            "two orgs",
            json!({"orgs": [{"name": "acme"}, {"name": "umbrella"}]}),
            "octocat",
            true,
            octo(&["acme:Data Engineers", "acme:Admins", "umbrella:Research"]),
        ),
        (
            "not a member of the org",
            json!({"orgs": [{"name": "acme"}]}),
            "mona",
            false,
            Want::Err("GitHub user `mona` is not a member of an organization allowed to log in here"),
        ),
        (
            "in a listed team",
            json!({"orgs": [{"name": "acme", "teams": ["Admins"]}]}),
            "octocat",
            false,
            octo(&["acme:Admins"]),
        ),
        (
            "in the org but in no listed team",
            json!({"orgs": [{"name": "acme", "teams": ["Ops"]}]}),
            "octocat",
            false,
            Want::Err("GitHub user `octocat` is not in a team allowed to log in here"),
        ),
        (
            "a listed team of another org does not count",
            json!({"orgs": [{"name": "acme", "teams": ["Research"]}]}),
            "octocat",
            false,
            Want::Err("not in a team allowed"),
        ),
        (
            "teamNameField slug",
            json!({"orgs": [{"name": "acme", "teams": ["data-engineers"]}], "teamNameField": "slug"}),
            "octocat",
            false,
            octo(&["acme:data-engineers"]),
        ),
        (
            "teamNameField both: the filter matches either name",
            json!({"orgs": [{"name": "acme", "teams": ["data-engineers", "Admins"]}], "teamNameField": "both"}),
            "octocat",
            false,
            octo(&["acme:data-engineers", "acme:Admins"]),
        ),
        (
            "teamNameField name does not match slugs",
            json!({"orgs": [{"name": "acme", "teams": ["data-engineers"]}]}),
            "octocat",
            false,
            Want::Err("not in a team allowed"),
        ),
        (
            "legacy org: bare team names, membership required",
            json!({"org": "umbrella"}),
            "octocat",
            false,
            octo(&["Research"]),
        ),
        ("legacy org, not a member", json!({"org": "umbrella"}), "mona", false, Want::Err("not a member of an organization")),
        (
            "useLoginAsID",
            json!({"useLoginAsID": true}),
            "octocat",
            false,
            Want::Ok { user_id: "octocat", username: "The Octocat", email: "octocat@github.example", groups: &[] },
        ),
        (
            "preferredEmailDomain, exact",
            json!({"preferredEmailDomain": "users.noreply.github.com"}),
            "octocat",
            false,
            Want::Ok { user_id: "583231", username: "The Octocat", email: "583231+octocat@users.noreply.github.com", groups: &[] },
        ),
        (
            "preferredEmailDomain with a wildcard label, on the second page",
            json!({"preferredEmailDomain": "*.acme.example"}),
            "octocat",
            false,
            Want::Ok { user_id: "583231", username: "The Octocat", email: "octocat@eu.acme.example", groups: &[] },
        ),
        (
            "preferredEmailDomain only unverified: the primary",
            json!({"preferredEmailDomain": "old-corp.example"}),
            "octocat",
            false,
            octo(&[]),
        ),
        (
            "public profile email is taken as is; no name: the login",
            json!({}),
            "mona",
            false,
            Want::Ok { user_id: "4924517", username: "Mona Lisa", email: "mona@public.example", groups: &[] },
        ),
        (
            "no verified email",
            json!({}),
            "hubot",
            false,
            Want::Err("GitHub user `hubot` has no verified primary email address; verify an address at GitHub"),
        ),
    ])
    .await;
}

#[tokio::test]
async fn login_url_asks_what_it_needs_and_checks_the_callback() {
    let gh = StandIn::start().await;
    let plain = dotcom(&gh, json!({}));
    let cb = plain.callback().unwrap();
    let url = cb
        .login_url(&scopes(false, false), CALLBACK, "s1", &upstream())
        .unwrap();
    let u = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(u.path(), "/login/oauth/authorize");
    assert_eq!(q["scope"], "user:email");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], CALLBACK);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    let url = cb
        .login_url(&scopes(false, true), CALLBACK, "s1", &upstream())
        .unwrap();
    assert!(url.contains("scope=user%3Aemail+read%3Aorg"), "{url}");
    let orgs = dotcom(&gh, json!({"orgs": [{"name": "acme"}]}));
    let url = orgs
        .callback()
        .unwrap()
        .login_url(&scopes(false, false), CALLBACK, "s1", &upstream())
        .unwrap();
    assert!(url.contains("read%3Aorg"), "{url}");
    let err = cb
        .login_url(
            &scopes(false, false),
            "https://other.example/dex/callback",
            "s1",
            &upstream(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("set `redirectURI` to \"https://other.example/dex/callback\""),
        "{err}"
    );
}

#[tokio::test]
async fn token_exchange_errors_are_clear() {
    let gh = StandIn::start().await;
    let c = dotcom(&gh, json!({}));
    let cb = c.callback().unwrap();
    let s = scopes(false, false);
    let url = cb.login_url(&s, CALLBACK, "r", &upstream()).unwrap();
    let query = gh.authorize(&url).await;

    // Another request's verifier: PKCE refuses the code.
    let other = UpstreamParams {
        nonce: "another-request".into(),
        pkce_verifier: None,
    };
    let e = cb
        .handle_callback(&s, CALLBACK, &query, &other)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad_verification_code"), "{e}");
    // The code was used (single use at GitHub): the right verifier is too late.
    let e = cb
        .handle_callback(&s, CALLBACK, &query, &upstream())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("github: failed to get token"), "{e}");
    assert!(
        e.to_string()
            .contains("The code passed is incorrect or expired"),
        "{e}"
    );

    let wrong_secret = open_at(
        "github",
        &json!({"clientID": CLIENT_ID, "clientSecret": "not-the-secret", "redirectURI": CALLBACK}),
        Endpoints::at(&gh.origin(), &gh.api()),
        Duration::from_secs(5),
    )
    .unwrap();
    let e = login(&gh, &wrong_secret, &s).await.unwrap_err();
    assert!(
        e.to_string().contains("incorrect_client_credentials"),
        "{e}"
    );
    assert!(!e.to_string().contains("not-the-secret"), "{e}");

    let rows: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user has denied your application access.",
                ),
            ],
            "GitHub answered access_denied: The user has denied",
        ),
        (&[("state", "r")], "neither a code nor an error"),
        (&[("code", "")], "neither a code nor an error"),
        (&[("code", "made-up")], "bad_verification_code"),
        // Odd characters travel form-encoded and are simply a wrong code.
        (&[("code", "a&b=c#d%00\u{0}<x> +")], "bad_verification_code"),
        // Parameter pollution (RFC 6749 §3.1: never more than once).
        (
            &[("code", "made-up"), ("code", "other")],
            "the callback has the parameter `code` more than once",
        ),
        (
            &[("code", "made-up"), ("error", "a"), ("error", "b")],
            "the callback has the parameter `error` more than once",
        ),
    ];
    for (pairs, frag) in rows {
        let q: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let e = cb
            .handle_callback(&s, CALLBACK, &q, &upstream())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Upstream { .. }), "{e:?}");
        assert!(e.to_string().contains(frag), "{pairs:?}: {e}");
        assert_clean(&e.to_string());
    }
    let forms = gh.state.token_forms.lock().unwrap();
    assert!(
        forms.iter().all(|f| f.get("code_verifier").is_some()),
        "PKCE verifier sent"
    );
}

#[tokio::test]
async fn refresh_rereads_membership_and_ends_when_the_user_leaves() {
    let gh = StandIn::start().await;
    let c = dotcom(
        &gh,
        json!({"orgs": [{"name": "acme", "teams": ["Admins", "Ops"]}]}),
    );
    let s = scopes(true, true);
    let id = login(&gh, &c, &s).await.unwrap();
    assert_eq!(id.groups, vec!["acme:Admins"]);
    let data = id
        .connector_data
        .as_ref()
        .expect("offline_access keeps the token");
    assert!(
        !format!("{id:?}").contains(data.expose()),
        "Debug shows the token"
    );
    let r = c.refresh().unwrap();

    gh.join_team("octocat", "acme", "Ops", "ops");
    let again = r.refresh(&s, id.clone()).await.unwrap();
    assert_eq!(again.groups, vec!["acme:Admins", "acme:Ops"]);
    assert_eq!(again.user_id, id.user_id);

    gh.set_user_field("octocat", "name", json!("Octo Cat"));
    let renamed = r.refresh(&s, again.clone()).await.unwrap();
    assert_eq!(renamed.username, "Octo Cat");

    gh.leave_org("octocat", "acme");
    let e = r.refresh(&s, renamed.clone()).await.unwrap_err();
    assert!(matches!(e, Error::Refresh { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("is not a member of an organization allowed to log in here"),
        "{e}"
    );
    // And cannot log in again either.
    let e = login(&gh, &c, &s).await.unwrap_err();
    assert!(e.to_string().contains("not a member"), "{e}");

    // A revoked token ends the session too.
    let open_c = dotcom(&gh, json!({}));
    let id = login(&gh, &open_c, &s).await.unwrap();
    gh.revoke_all();
    let e = open_c.refresh().unwrap().refresh(&s, id).await.unwrap_err();
    assert!(matches!(e, Error::Refresh { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("GitHub no longer accepts the session's access token"),
        "{e}"
    );
    assert_clean(&e.to_string());

    // No stored token (no offline_access at login): a clear refusal.
    let id = login(&gh, &open_c, &scopes(false, false)).await.unwrap();
    let e = open_c.refresh().unwrap().refresh(&s, id).await.unwrap_err();
    assert!(
        e.to_string().contains("no GitHub access token is stored"),
        "{e}"
    );
}

#[tokio::test]
async fn api_failures_and_timeouts_are_clear() {
    let gh = StandIn::start().await;
    let c = dotcom_with_timeout(
        &gh,
        json!({"orgs": [{"name": "acme"}]}),
        Duration::from_millis(700),
    );
    let s = scopes(true, true);
    let id = login(&gh, &c, &s).await.unwrap();
    let r = c.refresh().unwrap();

    gh.state.api_status.store(502, Ordering::SeqCst);
    let e = login(&gh, &c, &s).await.unwrap_err();
    assert!(matches!(e, Error::Upstream { .. }), "{e:?}");
    assert!(e.to_string().contains("/user: 502 Bad Gateway"), "{e}");
    // On refresh a 5xx is transient: the provider keeps the session.
    let e = r.refresh(&s, id.clone()).await.unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");

    gh.state.api_status.store(403, Ordering::SeqCst);
    let e = r.refresh(&s, id.clone()).await.unwrap_err();
    assert!(e.to_string().contains("rate limit"), "{e}");
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");

    gh.state.api_status.store(0, Ordering::SeqCst);
    gh.state.api_delay_ms.store(3000, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let e = r.refresh(&s, id.clone()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout held"
    );
    assert!(
        e.to_string().contains("no answer within the timeout"),
        "{e}"
    );
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    gh.state.api_delay_ms.store(0, Ordering::SeqCst);

    // A next-page link to another origin is not followed with the token.
    *gh.state.link_origin.lock().unwrap() = Some("http://127.0.0.2:9".into());
    let e = r.refresh(&s, id.clone()).await.unwrap_err();
    assert!(e.to_string().contains("leaves the API"), "{e}");
    *gh.state.link_origin.lock().unwrap() = None;
    r.refresh(&s, id).await.unwrap();

    // Nothing listens: a connection error, named.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = open_at(
        "github",
        &config(json!({})),
        Endpoints::at(
            &format!("http://127.0.0.1:{port}"),
            &format!("http://127.0.0.1:{port}/api/v3"),
        ),
        Duration::from_secs(2),
    )
    .unwrap();
    let q = vec![("code".to_owned(), "c".to_owned())];
    let e = dead
        .callback()
        .unwrap()
        .handle_callback(&s, CALLBACK, &q, &upstream())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "POST http://127.0.0.1:{port}/login/oauth/access_token"
        )),
        "{e}"
    );
}

#[tokio::test]
async fn enterprise_through_host_name_and_root_ca() {
    let gh = StandIn::start_tls().await;
    let ca = gh.ca_pem.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    use base64::Engine;
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(&ca);
    for root in [ca.clone(), ca_file.display().to_string(), ca_b64] {
        let c = open(
            "ghe",
            "github",
            &config(
                json!({"hostName": gh.host_name(), "rootCA": root, "orgs": [{"name": "acme"}]}),
            ),
        )
        .unwrap();
        let url = c
            .callback()
            .unwrap()
            .login_url(&scopes(false, false), CALLBACK, "x", &upstream())
            .unwrap();
        assert!(
            url.starts_with(&format!(
                "https://{}/login/oauth/authorize?",
                gh.host_name()
            )),
            "{url}"
        );
        // Enterprise Server cannot verify addresses: hubot's counts.
        gh.set_browser_user("hubot");
        let id = login(&gh, &c, &scopes(false, false)).await.unwrap();
        assert_eq!(id.email, "hubot@unverified.example");
        assert_eq!(id.username, "hubot");
        assert!(
            gh.state
                .api_calls
                .lock()
                .unwrap()
                .iter()
                .any(|c| c == "/orgs/acme/members/hubot")
        );
    }
    // Without the CA the certificate is refused, clearly.
    let c = open(
        "ghe",
        "github",
        &config(json!({"hostName": gh.host_name()})),
    )
    .unwrap();
    let q = vec![("code".to_owned(), "c".to_owned())];
    let e = c
        .callback()
        .unwrap()
        .handle_callback(&scopes(false, false), CALLBACK, &q, &upstream())
        .await
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // A rootCA that is not a certificate is a config error at open.
    let e = open(
        "ghe",
        "github",
        &config(json!({"hostName": "h", "rootCA": "/no/such/ca.pem"})),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("cannot read the file `/no/such/ca.pem`"),
        "{e}"
    );
}

#[tokio::test]
async fn open_refuses_bad_configs_without_echoing_secrets() {
    let rows: &[(Value, &str)] = &[
        (
            json!({"org": "a", "orgs": [{"name": "b"}]}),
            "`org` and `orgs` are both set",
        ),
        (json!({"rootCA": "x"}), "without `hostName`"),
        (json!({"teamNameField": "login"}), "`teamNameField`"),
        (
            json!({"hostName": "https://ghe.example"}),
            "must be a host name",
        ),
    ];
    for (extra, frag) in rows {
        let e = open("gh", "github", &config(extra.clone())).unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert!(e.to_string().contains(frag), "{extra}: {e}");
        assert_clean(&e.to_string());
    }
    let e = open("gh", "github", &json!("not a map")).unwrap_err();
    assert!(e.to_string().contains("must be a map"), "{e}");
}

/// GitHub Apps' expiring user tokens: a token about to expire is renewed
/// with its refresh token before the refresh reads the user, and the
/// rotated refresh token is kept for the next time.
#[tokio::test]
async fn refresh_renews_an_expiring_token_first() {
    let gh = StandIn::start().await;
    gh.state.expires_in.store(10, Ordering::SeqCst);
    let c = dotcom(&gh, json!({"orgs": [{"name": "acme"}]}));
    let s = scopes(true, false);
    let id = login(&gh, &c, &s).await.unwrap();
    let first = id.connector_data.clone().unwrap();
    assert!(
        first.expose().contains("ghr_standin"),
        "the refresh token is kept"
    );
    let r = c.refresh().unwrap();
    let again = r.refresh(&s, id.clone()).await.unwrap();
    let second = again.connector_data.clone().unwrap();
    assert_ne!(first.expose(), second.expose(), "renewed and rotated");
    let forms = gh.state.token_forms.lock().unwrap().clone();
    let grant = forms.last().unwrap();
    assert_eq!(grant["grant_type"], "refresh_token");
    assert_eq!(grant["client_secret"], CLIENT_SECRET);
    // The old refresh token was rotated away: reusing it is refused.
    let e = r.refresh(&s, id).await.unwrap_err();
    assert!(e.to_string().contains("bad_refresh_token"), "{e}");
    assert_clean(&e.to_string());
    // The rotated one still works.
    r.refresh(&s, again).await.unwrap();

    // A token far from expiry is used as it is.
    gh.state.expires_in.store(3600, Ordering::SeqCst);
    let id = login(&gh, &c, &s).await.unwrap();
    let calls = gh.state.token_calls.load(Ordering::SeqCst);
    let same = r.refresh(&s, id.clone()).await.unwrap();
    assert_eq!(
        gh.state.token_calls.load(Ordering::SeqCst),
        calls,
        "no renewal"
    );
    assert_eq!(same.connector_data, id.connector_data);
}

/// Tokens without the email permission (fine-grained tokens, GitHub Apps
/// without "Email addresses") get 403 or 404 from `/user/emails`: a user
/// with a public profile email still logs in; one without gets an error
/// that names the missing permission.
#[tokio::test]
async fn emails_refused_to_the_token() {
    let gh = StandIn::start().await;
    let c = dotcom(&gh, json!({}));
    for status in [403, 404] {
        gh.state.emails_status.store(status, Ordering::SeqCst);
        gh.set_browser_user("mona");
        let mona = login(&gh, &c, &scopes(false, false)).await.unwrap();
        assert_eq!(mona.email, "mona@public.example");
        gh.set_browser_user("octocat");
        let err = login(&gh, &c, &scopes(false, false)).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/user/emails")
                && text.contains("`user:email` scope")
                && text.contains("\"Email addresses\" permission"),
            "{status}: {text}"
        );
        assert_clean(&text);
    }
}
