//! Browser sessions (issue 15 item 1): single sign-on across clients,
//! `prompt`, `max_age`, `id_token_hint`, fixation, expiry, and logout and
//! revocation ending what a session issued.

use super::{
    CONFIDENTIAL_REDIRECT, Env, ISSUER, ME, VERIFIER, basic, challenge, env_with, me, params,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use tusk_core::Secret;
use tusk_oidc::{
    AuthorizeError, Browser, ErrorCode, LogoutOutcome, Next, PasswordOutcome, SessionPolicy,
};

const PACHD_REDIRECT: &str = "https://pachd.example.com/cb";

/// Two password connectors, so two users (`sub` names the connector).
async fn two_users(policy: SessionPolicy) -> Env {
    let user = json!({"username": "admin", "password": "password"});
    env_with(
        |s| s.sessions = Some(policy),
        &[
            ("test", "mockPassword", user.clone()),
            ("other", "mockPassword", user),
        ],
    )
    .await
}

fn browser(cookie: &str) -> Browser {
    Browser {
        session_cookies: vec![cookie.to_owned()],
        login_bindings: vec![ME.to_owned()],
    }
}

/// `/auth` parameters of `client` (`app` or `pachd`) plus `extra`.
fn auth(client: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let redirect = if client == "app" {
        CONFIDENTIAL_REDIRECT
    } else {
        PACHD_REDIRECT
    };
    let mut p: Vec<(String, String)> = [
        ("client_id", client),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid email offline_access"),
        ("state", "st"),
        ("code_challenge", &challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    p.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    p
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl Env {
    async fn authorize_in(
        &self,
        client: &str,
        extra: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> Result<Next, AuthorizeError> {
        let b = cookie.map(browser).unwrap_or_else(me);
        let p = tusk_oidc::Params::from_pairs(auth(client, extra));
        self.p.authorize_browser(&p, &b, || Ok(())).await
    }

    /// A full password login at `connector` from a browser holding
    /// `cookie`; returns the new session cookie and the code.
    async fn sign_in(
        &self,
        connector: &str,
        client: &str,
        extra: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> (String, String) {
        let next = self.authorize_in(client, extra, cookie).await.unwrap();
        let req = match next {
            Next::Redirect(to) => query(&to)["req"].clone(),
            Next::Choose { request_id, .. } => request_id,
            other => panic!("expected a login, got {other:?}"),
        };
        self.p
            .start_connector(connector, &req, &me())
            .await
            .unwrap();
        let outcome = self.right_password(connector, &req).await;
        let PasswordOutcome::Next(Next::SignedIn {
            redirect,
            session,
            connector_id,
        }) = outcome
        else {
            panic!("expected a new session, got {outcome:?}")
        };
        assert_eq!(connector_id, connector);
        (session.0.expose().clone(), query(&redirect)["code"].clone())
    }

    /// `/auth` answered from the session: the code.
    async fn silent(&self, client: &str, extra: &[(&str, &str)], cookie: &str) -> String {
        match self.authorize_in(client, extra, Some(cookie)).await {
            Ok(Next::Redirect(url)) if url.contains("code=") => {
                let q = query(&url);
                assert_eq!(q["state"], "st");
                assert_eq!(q["iss"], ISSUER);
                q["code"].clone()
            }
            other => panic!("expected a code from the session, got {other:?}"),
        }
    }

    /// `/auth` that must answer `error` at the client's redirect URI.
    async fn refused(
        &self,
        client: &str,
        extra: &[(&str, &str)],
        cookie: Option<&str>,
        error: &str,
    ) {
        match self.authorize_in(client, extra, cookie).await {
            Err(AuthorizeError::Redirect(url)) => {
                let q = query(&url);
                assert_eq!(q["error"], error, "{url}");
                assert_eq!(q["state"], "st");
            }
            other => panic!("expected {error}, got {other:?}"),
        }
    }

    /// `/auth` with `prompt=none` that must answer `login_required`: the
    /// browser's single sign-on is over.
    async fn sso_ended(&self, client: &str, cookie: &str) {
        self.refused(
            client,
            &[("prompt", "none")],
            Some(cookie),
            "login_required",
        )
        .await;
    }

    /// A fresh password login of `user` at `client` and its tokens.
    async fn signed_in(&self, user: &str, client: &str) -> (String, tusk_oidc::TokenResponse) {
        let (cookie, code) = self.sign_in(user, client, &[], None).await;
        (cookie, self.exchange_for(client, &code).await)
    }

    /// RP-initiated logout from the browser holding `cookie`, back to the
    /// `app` client's registered URI with `state=bye`.
    async fn logout_back_to_app(&self, id_token: &str, cookie: &str) -> LogoutOutcome {
        self.p
            .logout_browser(
                &params(&[
                    ("id_token_hint", id_token),
                    ("post_logout_redirect_uri", CONFIDENTIAL_REDIRECT),
                    ("state", "bye"),
                ]),
                &browser(cookie),
                false,
            )
            .await
            .unwrap()
    }

    /// `/auth` that must ask for a login (no code).
    async fn asks_login(&self, client: &str, extra: &[(&str, &str)], cookie: &str) {
        match self.authorize_in(client, extra, Some(cookie)).await {
            Ok(Next::Redirect(url)) => assert!(url.contains("/auth/"), "{url}"),
            Ok(Next::Choose { .. }) => {}
            other => panic!("expected a login, got {other:?}"),
        }
    }

    async fn exchange_for(&self, client: &str, code: &str) -> tusk_oidc::TokenResponse {
        let (secret, redirect) = match client {
            "app" => ("app-secret", CONFIDENTIAL_REDIRECT),
            _ => ("pachd-secret", PACHD_REDIRECT),
        };
        self.p
            .token(
                Some(&basic(client, secret)),
                &params(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect),
                    ("code_verifier", VERIFIER),
                ]),
            )
            .await
            .unwrap()
    }

    async fn refresh_for(
        &self,
        client: &str,
        token: &str,
    ) -> Result<tusk_oidc::TokenResponse, tusk_oidc::OAuthError> {
        let secret = if client == "app" {
            "app-secret"
        } else {
            "pachd-secret"
        };
        self.p
            .token(
                Some(&basic(client, secret)),
                &params(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
            )
            .await
    }
}

fn policy() -> SessionPolicy {
    SessionPolicy::default()
}

#[tokio::test]
async fn a_second_client_signs_in_from_the_session_without_a_password() {
    let e = two_users(policy()).await;
    let login_time = e.p.now();
    let (cookie, app) = e.signed_in("test", "app").await;
    e.advance(60);
    let code = e.silent("pachd", &[], &cookie).await;
    let pachd = e.exchange_for("pachd", &code).await;
    let (a, p) = (e.verify(&app.id_token), e.verify(&pachd.id_token));
    assert_eq!(a["sub"], p["sub"]);
    // One browser session: one `sid` for both clients (back-channel
    // logout names it), distinct refresh families.
    assert_eq!(a["sid"], p["sid"]);
    assert_ne!(a["family"], p["family"]);
    // auth_time is the login's, not the reuse's.
    assert_eq!(p["auth_time"], json!(login_time));
    assert_eq!(a["auth_time"], json!(login_time));
    // The session lists both clients for the admin API.
    let owner = "user:kilgore@kilgore.trout";
    let sessions = e.p.sessions_of(owner).await.unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].clients, ["app", "pachd"]);
    assert_eq!(sessions[0].id, a["sid"].as_str().unwrap());
    assert_eq!(sessions[0].connector_id, "test");
    // The same client again, and a request naming the session's connector.
    e.silent("app", &[("connector_id", "test")], &cookie).await;
}

#[tokio::test]
async fn prompt_none_answers_from_a_session_or_login_required() {
    let e = two_users(policy()).await;
    e.refused("app", &[("prompt", "none")], None, "login_required")
        .await;
    e.refused(
        "app",
        &[("prompt", "none")],
        Some("not-a-session"),
        "login_required",
    )
    .await;
    let (cookie, _) = e.sign_in("test", "app", &[], None).await;
    e.silent("pachd", &[("prompt", "none")], &cookie).await;
    e.refused(
        "app",
        &[("prompt", "none login")],
        Some(&cookie),
        "invalid_request",
    )
    .await;
    // The session's connector is not the one the client names.
    e.refused(
        "app",
        &[("prompt", "none"), ("connector_id", "other")],
        Some(&cookie),
        "login_required",
    )
    .await;
}

#[tokio::test]
async fn prompt_login_and_max_age_force_a_fresh_login() {
    let e = two_users(policy()).await;
    let (cookie, _) = e.sign_in("test", "app", &[], None).await;
    e.asks_login("app", &[("prompt", "login")], &cookie).await;
    // select_account shows the chooser, not the session's connector.
    assert!(matches!(
        e.authorize_in("app", &[("prompt", "select_account")], Some(&cookie))
            .await,
        Ok(Next::Choose { .. })
    ));
    match e
        .authorize_in("app", &[("prompt", "login")], Some(&cookie))
        .await
    {
        Ok(Next::Redirect(url)) => assert!(url.contains("/auth/test?req="), "{url}"),
        other => panic!("prompt=login goes to the session's connector: {other:?}"),
    }
    e.asks_login("app", &[("max_age", "0")], &cookie).await;
    e.refused(
        "app",
        &[("max_age", "0"), ("prompt", "none")],
        Some(&cookie),
        "login_required",
    )
    .await;
    e.advance(100);
    e.silent("app", &[("max_age", "100")], &cookie).await;
    e.asks_login("app", &[("max_age", "99")], &cookie).await;
    // The fresh login the request forced goes to the session's connector
    // and carries a new auth_time.
    let before = e.p.now();
    let (_, code) = e
        .sign_in("test", "app", &[("max_age", "0")], Some(&cookie))
        .await;
    let id = e.verify(&e.exchange_for("app", &code).await.id_token);
    assert_eq!(id["auth_time"], json!(before));
}

#[tokio::test]
async fn id_token_hint_must_name_the_sessions_user() {
    let e = two_users(policy()).await;
    let (cookie, code) = e.sign_in("test", "app", &[], None).await;
    let mine = e.exchange_for("app", &code).await.id_token;
    let (_, code) = e.sign_in("other", "app", &[], None).await;
    let theirs = e.exchange_for("app", &code).await.id_token;
    e.silent("pachd", &[("id_token_hint", &mine)], &cookie)
        .await;
    e.refused(
        "pachd",
        &[("prompt", "none"), ("id_token_hint", &theirs)],
        Some(&cookie),
        "login_required",
    )
    .await;
    e.asks_login("pachd", &[("id_token_hint", &theirs)], &cookie)
        .await;
    // A hint that does not verify names nobody: never the session's user.
    e.refused(
        "pachd",
        &[("prompt", "none"), ("id_token_hint", "forged.token.x")],
        Some(&cookie),
        "login_required",
    )
    .await;
    e.asks_login("pachd", &[("id_token_hint", "forged.token.x")], &cookie)
        .await;
}

#[tokio::test]
async fn every_login_gets_a_new_session_id_and_the_old_one_dies() {
    let e = two_users(policy()).await;
    // An id planted before the login is never the session's.
    let planted = "planted-by-an-attacker";
    let (first, _) = e.sign_in("test", "app", &[], Some(planted)).await;
    assert_ne!(first, planted);
    e.refused(
        "app",
        &[("prompt", "none")],
        Some(planted),
        "login_required",
    )
    .await;
    let (second, _) = e
        .sign_in("test", "app", &[("prompt", "login")], Some(&first))
        .await;
    assert_ne!(second, first);
    e.sso_ended("app", &first).await;
    e.silent("app", &[("prompt", "none")], &second).await;
    // A different user logging in from the same browser ends the first
    // user's session rather than inheriting it.
    let (third, _) = e
        .sign_in("other", "app", &[("prompt", "login")], Some(&second))
        .await;
    e.sso_ended("app", &second).await;
    e.silent("app", &[("prompt", "none")], &third).await;
}

#[tokio::test]
async fn a_session_of_another_issuer_on_the_same_store_is_ignored() {
    let e = two_users(policy()).await;
    let (cookie, _) = e.sign_in("test", "app", &[], None).await;
    let other = tusk_oidc::Provider::new(
        tusk_oidc::Settings::new("https://login.example.com/other"),
        e.p.store().clone(),
        std::sync::Arc::new(tusk_core::clock::FakeClock::new(e.p.now())),
        &[tusk_oidc::ConnectorConfig {
            id: "test".into(),
            name: "test".into(),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": "password"}),
        }],
    )
    .await
    .unwrap();
    let p = tusk_oidc::Params::from_pairs(auth("app", &[("prompt", "none")]));
    match other
        .authorize_browser(&p, &browser(&cookie), || Ok(()))
        .await
    {
        Err(AuthorizeError::Redirect(url)) => assert!(url.contains("login_required"), "{url}"),
        other => panic!("{other:?}"),
    }
    e.silent("app", &[("prompt", "none")], &cookie).await;
}

#[tokio::test]
async fn idle_and_absolute_limits_end_the_session() {
    let e = two_users(SessionPolicy {
        absolute_lifetime: 100,
        idle_timeout: 30,
    })
    .await;
    let (cookie, _) = e.sign_in("test", "app", &[], None).await;
    // Each use pushes the idle limit out...
    for _ in 0..3 {
        e.advance(25);
        e.silent("app", &[("prompt", "none")], &cookie).await;
    }
    // ...but never past the absolute one (75 s in, now 101 s).
    e.advance(26);
    e.sso_ended("app", &cookie).await;
    let (cookie, _) = e.sign_in("test", "app", &[], None).await;
    e.advance(30);
    e.sso_ended("app", &cookie).await;
    // The expired session's tokens are not revoked: only single sign-on ends.
    let (cookie, t) = e.signed_in("test", "app").await;
    e.advance(31);
    e.p.tick().await;
    e.sso_ended("app", &cookie).await;
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
}

#[tokio::test]
async fn logout_ends_single_sign_on_and_the_tokens_of_every_client() {
    let e = two_users(policy()).await;
    let (cookie, app) = e.signed_in("test", "app").await;
    let code = e.silent("pachd", &[], &cookie).await;
    let pachd = e.exchange_for("pachd", &code).await;
    // Another user's session in another browser.
    let (theirs, other) = e.signed_in("other", "app").await;

    let out = e.logout_back_to_app(&app.id_token, &cookie).await;
    assert!(
        matches!(out, LogoutOutcome::Redirect(ref u) if u == &format!("{CONFIDENTIAL_REDIRECT}?state=bye")),
        "{out:?}"
    );
    e.sso_ended("pachd", &cookie).await;
    for (client, t) in [("app", &app), ("pachd", &pachd)] {
        let refreshed = e
            .refresh_for(client, t.refresh_token.as_deref().unwrap())
            .await;
        assert_eq!(
            refreshed.err().map(|e| e.code),
            Some(ErrorCode::InvalidGrant),
            "{client}"
        );
        assert!(e.p.userinfo(&t.access_token).await.is_err(), "{client}");
        assert!(
            e.p.verify_id_token(&t.id_token, client).await.is_err(),
            "{client}"
        );
    }
    // The other user is untouched.
    e.silent("pachd", &[("prompt", "none")], &theirs).await;
    assert!(e.p.userinfo(&other.access_token).await.is_ok());
    assert!(
        e.refresh_for("app", other.refresh_token.as_deref().unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn logout_without_the_cookie_finds_the_session_by_the_hints_sid() {
    let e = two_users(policy()).await;
    let (cookie, app) = e.signed_in("test", "app").await;
    let out =
        e.p.logout(&params(&[("id_token_hint", &app.id_token)]), false)
            .await
            .unwrap();
    assert!(matches!(out, LogoutOutcome::Done));
    e.sso_ended("app", &cookie).await;
}

#[tokio::test]
async fn a_confirmed_logout_without_a_hint_ends_the_browsers_session() {
    let e = two_users(policy()).await;
    let (cookie, app) = e.signed_in("test", "app").await;
    let b = browser(&cookie);
    let asked = e.p.logout_browser(&params(&[]), &b, false).await.unwrap();
    assert!(matches!(asked, LogoutOutcome::Confirm));
    e.silent("app", &[("prompt", "none")], &cookie).await;
    let done = e.p.logout_browser(&params(&[]), &b, true).await.unwrap();
    assert!(matches!(done, LogoutOutcome::Done));
    e.sso_ended("app", &cookie).await;
    assert!(e.p.userinfo(&app.access_token).await.is_err());
}

#[tokio::test]
async fn revoking_a_users_sessions_ends_them_and_their_tokens() {
    let e = two_users(policy()).await;
    let (cookie, app) = e.signed_in("test", "app").await;
    let (second, _) = e.sign_in("test", "app", &[], None).await;
    let owner = "user:kilgore@kilgore.trout";
    let listed = e.p.sessions_of(owner).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    // By public id: only that one.
    let sid = e.verify(&app.id_token)["sid"].as_str().unwrap().to_owned();
    assert_eq!(e.p.end_sessions_of(owner, Some(&sid)).await.unwrap(), 1);
    e.sso_ended("app", &cookie).await;
    e.silent("app", &[("prompt", "none")], &second).await;
    assert!(e.p.userinfo(&app.access_token).await.is_err());
    assert_eq!(e.p.end_sessions_of(owner, None).await.unwrap(), 1);
    e.sso_ended("app", &second).await;
    assert!(e.p.sessions_of(owner).await.unwrap().is_empty());
}

#[tokio::test]
async fn revoking_one_family_denies_its_access_token_but_not_the_sessions_other_clients() {
    let e = two_users(policy()).await;
    let (cookie, app) = e.signed_in("test", "app").await;
    let code = e.silent("pachd", &[], &cookie).await;
    let pachd = e.exchange_for("pachd", &code).await;
    e.p.revoke(
        Some(&basic("app", "app-secret")),
        &params(&[("token", app.refresh_token.as_deref().unwrap())]),
    )
    .await
    .unwrap();
    let denied = e.p.userinfo(&app.access_token).await;
    assert_eq!(denied.err().map(|e| e.code), Some(ErrorCode::InvalidToken));
    let info: Value = e.p.userinfo(&pachd.access_token).await.unwrap();
    assert_eq!(info["email"], "kilgore@kilgore.trout");
}

#[tokio::test]
async fn sessions_off_means_every_request_logs_in() {
    let e = env_with(
        |s| s.sessions = None,
        &[(
            "test",
            "mockPassword",
            json!({"username": "admin", "password": "password"}),
        )],
    )
    .await;
    let next = e.authorize_in("app", &[], None).await.unwrap();
    let req = query(next.redirect_url().unwrap())["req"].clone();
    let out = e.right_password("test", &req).await;
    assert!(
        matches!(out, PasswordOutcome::Next(Next::Redirect(_))),
        "{out:?}"
    );
}

/// The `oidc` connector reads `end_session_endpoint` from discovery.
#[tokio::test]
async fn the_oidc_connector_advertises_the_upstreams_end_session_endpoint() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = format!("http://127.0.0.1:{port}");
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(super::serve_fake_op(listener, upstream.clone(), hits));
    let e = env_with(super::fast_retry, &[super::oidc_connector(port)]).await;
    let slot = super::wait_for_slot(&e.p, "okta", |s| s.status.is_ok()).await;
    let connector = slot.status.as_ref().unwrap();
    assert_eq!(
        connector.end_session_endpoint(),
        Some(format!("{upstream}/session/end"))
    );
}

/// Logout continues at the upstream's `end_session_endpoint` with the
/// upstream ID token, and its return goes on to the client's registered
/// URI with the client's `state`, once.
#[tokio::test]
async fn logout_follows_the_upstream_end_session_endpoint_and_comes_back() {
    let e = two_users(policy()).await;
    let (cookie, app) = e.signed_in("test", "app").await;
    // What a login through an upstream with RP-initiated logout stores.
    e.p.store()
        .update::<tusk_store::BrowserSession, _>(&tusk_store::hash_token(&cookie), |s| {
            s.upstream_end_session = "https://idp.example.com/logout".into();
            s.upstream_id_token = Secret::new("upstream.id.token".into());
            Ok(())
        })
        .await
        .unwrap();
    let out = e.logout_back_to_app(&app.id_token, &cookie).await;
    let LogoutOutcome::Redirect(upstream) = out else {
        panic!("{out:?}")
    };
    assert!(
        upstream.starts_with("https://idp.example.com/logout?"),
        "{upstream}"
    );
    let q = query(&upstream);
    assert_eq!(q["id_token_hint"], "upstream.id.token");
    assert_eq!(
        q["post_logout_redirect_uri"],
        format!("{ISSUER}/logout/callback")
    );
    // tusk's session is already over.
    e.sso_ended("app", &cookie).await;
    // A forged state goes nowhere.
    let forged =
        e.p.logout_callback(&params(&[("state", "forged")]))
            .await
            .unwrap();
    assert!(matches!(forged, LogoutOutcome::Done));
    let back =
        e.p.logout_callback(&params(&[("state", &q["state"])]))
            .await
            .unwrap();
    assert!(
        matches!(&back, LogoutOutcome::Redirect(u) if u == &format!("{CONFIDENTIAL_REDIRECT}?state=bye")),
        "{back:?}"
    );
    let again =
        e.p.logout_callback(&params(&[("state", &q["state"])]))
            .await
            .unwrap();
    assert!(
        matches!(again, LogoutOutcome::Done),
        "the state is single use"
    );
}

/// The upstream logout redirect carries the upstream ID token as
/// `id_token_hint`: `Debug` must not print it.
#[test]
fn a_logout_redirect_debug_shows_no_query() {
    let out = LogoutOutcome::Redirect(
        "https://idp.example.com/logout?id_token_hint=eyJ.secret.sig&state=s".into(),
    );
    let shown = format!("{out:?}");
    assert!(!shown.contains("eyJ.secret.sig"), "{shown}");
    assert!(shown.contains("https://idp.example.com/logout"), "{shown}");
}
