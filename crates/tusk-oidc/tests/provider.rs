#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity
)]
//! The provider's flows end to end, without HTTP, on the memory store with
//! a fake clock: the happy paths and every bad input the issue lists.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tusk_core::Secret;
use tusk_core::clock::FakeClock;
use tusk_jose::{Alg, VerifyingKeys};
use tusk_oidc::{
    AuthorizeError, ConnectorConfig, ErrorCode, LogoutOutcome, Next, Params, PasswordOutcome,
    Provider, Settings,
};
use tusk_store::{OidcClient, Store};

#[path = "provider/backchannel.rs"]
mod backchannel;
#[path = "provider/binding.rs"]
mod binding;
#[path = "provider/cache.rs"]
mod cache;
#[path = "provider/outage.rs"]
mod outage;
#[path = "provider/probe.rs"]
mod probe;
#[path = "provider/sessions.rs"]
mod sessions;

const ISSUER: &str = "https://login.example.com/dex";
const CONFIDENTIAL_REDIRECT: &str = "https://app.example.com/cb";
const THIRD_REDIRECT: &str = "https://third.example.com/cb";
const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Env {
    p: Arc<Provider>,
    clock: Arc<FakeClock>,
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The login-binding cookie value of the test's one browser.
const ME: &str = "binding-of-the-test-browser";

/// The browser every test login runs in, unless a test says otherwise.
fn me() -> tusk_oidc::Browser {
    tusk_oidc::Browser::with_binding(ME)
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn env_with(settings: impl FnOnce(&mut Settings), connectors: &[(&str, &str, Value)]) -> Env {
    let clock = Arc::new(FakeClock::new(1_800_000_000));
    env_in(Store::memory(), clock, settings, connectors).await
}

/// A provider over `store` (a replica, when several share one backend).
async fn env_in(
    store: Store,
    clock: Arc<FakeClock>,
    settings: impl FnOnce(&mut Settings),
    connectors: &[(&str, &str, Value)],
) -> Env {
    let mut s = Settings::new(ISSUER);
    settings(&mut s);
    let connectors: Vec<ConnectorConfig> = connectors
        .iter()
        .map(|(id, kind, config)| ConnectorConfig {
            id: (*id).into(),
            name: (*id).into(),
            kind: (*kind).into(),
            config: config.clone(),
        })
        .collect();
    let p = Provider::new(s, store, clock.clone(), &connectors)
        .await
        .unwrap();
    p.seed_clients(&[
        OidcClient {
            id: "app".into(),
            secret: Secret::new("app-secret".into()),
            name: "App".into(),
            redirect_uris: vec![CONFIDENTIAL_REDIRECT.into()],
            trusted_peers: vec![],
            // Consent is not the point of most tests; `consent` has its own.
            trusted: true,
            ..Default::default()
        },
        OidcClient {
            id: "cli".into(),
            name: "CLI".into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            public: true,
            trusted: true,
            ..Default::default()
        },
        OidcClient {
            id: "pachd".into(),
            secret: Secret::new("pachd-secret".into()),
            name: "pachd".into(),
            redirect_uris: vec!["https://pachd.example.com/cb".into()],
            trusted_peers: vec!["app".into(), "third".into()],
            trusted: true,
            ..Default::default()
        },
        OidcClient {
            id: "third".into(),
            secret: Secret::new("third-secret".into()),
            name: "Third Party Notebook".into(),
            redirect_uris: vec![THIRD_REDIRECT.into()],
            ..Default::default()
        },
    ])
    .await
    .unwrap();
    Env { p, clock }
}

async fn env() -> Env {
    env_with(
        |_| {},
        &[(
            "test",
            "mockPassword",
            json!({"username": "admin", "password": "password"}),
        )],
    )
    .await
}

impl Env {
    fn advance(&self, secs: i64) {
        self.clock.advance(secs);
    }

    /// Runs the browser leg through the password form; returns the
    /// redirect back to the client.
    async fn login(&self, auth: &[(&str, &str)]) -> String {
        let next = self.p.authorize(&params(auth), &me()).await.unwrap();
        let Next::Redirect(to_connector) = next else {
            panic!("expected a redirect to the only connector")
        };
        let req = url::Url::parse(&to_connector)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "req")
            .unwrap()
            .1
            .into_owned();
        let Next::Redirect(form) = self.p.start_connector("test", &req, &me()).await.unwrap()
        else {
            panic!("expected the form")
        };
        assert!(form.contains("/auth/test/login?state="), "{form}");
        let bad = self
            .p
            .password_login(
                "test",
                &req,
                "admin",
                &Secret::new("nope".into()),
                LOCAL,
                &me(),
            )
            .await
            .unwrap();
        assert!(
            matches!(bad, PasswordOutcome::Invalid(_)),
            "a wrong password must re-render the form"
        );
        match self.right_password("test", &req).await {
            PasswordOutcome::Next(next) => next.redirect_url().unwrap().to_owned(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The mock connector's right password for the login request `req`,
    /// at `connector`, from the local address.
    async fn right_password(&self, connector: &str, req: &str) -> PasswordOutcome {
        self.p
            .password_login(
                connector,
                req,
                "admin",
                &Secret::new("password".into()),
                LOCAL,
                &me(),
            )
            .await
            .unwrap()
    }

    async fn code(&self, scope: &str) -> String {
        let c = challenge(VERIFIER);
        let url = self
            .login(&[
                ("client_id", "app"),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "s1"),
                ("nonce", "n1"),
                ("code_challenge", &c),
                ("code_challenge_method", "S256"),
            ])
            .await;
        let u = url::Url::parse(&url).unwrap();
        assert!(url.starts_with(CONFIDENTIAL_REDIRECT), "{url}");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q.get("state").map(String::as_str), Some("s1"));
        assert_eq!(q.get("iss").map(String::as_str), Some(ISSUER));
        q["code"].clone()
    }

    async fn exchange(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<tusk_oidc::TokenResponse, tusk_oidc::OAuthError> {
        self.p
            .token(
                Some(&basic("app", "app-secret")),
                &params(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", CONFIDENTIAL_REDIRECT),
                    ("code_verifier", verifier),
                ]),
            )
            .await
    }

    async fn refresh(
        &self,
        token: &str,
    ) -> Result<tusk_oidc::TokenResponse, tusk_oidc::OAuthError> {
        self.p
            .token(
                Some(&basic("app", "app-secret")),
                &params(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
            )
            .await
    }

    fn verify(&self, jwt: &str) -> Value {
        let jwks: Value = serde_json::from_str(&self.p.jwks_json()).unwrap();
        VerifyingKeys::from_jwks(&jwks)
            .unwrap()
            .verify(jwt, &Alg::ALL)
            .unwrap()
    }

    async fn introspect(&self, token: &str) -> Value {
        self.p
            .introspect(
                Some(&basic("app", "app-secret")),
                &params(&[("token", token)]),
            )
            .await
            .unwrap()
    }
}

#[path = "provider/consent.rs"]
mod consent;

fn code_of(e: Result<tusk_oidc::TokenResponse, tusk_oidc::OAuthError>) -> ErrorCode {
    e.err().map(|e| e.code).expect("expected an error")
}

#[tokio::test]
async fn code_flow_with_pkce_issues_verifiable_tokens_with_dex_subjects() {
    let e = env().await;
    let code = e
        .code("openid email profile groups federated:id offline_access")
        .await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    let id = e.verify(&t.id_token);
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], "app");
    assert_eq!(id["sub"], "Cg0wLTM4NS0yODA4OS0wEgR0ZXN0");
    assert_eq!(id["nonce"], "n1");
    assert_eq!(id["email"], "kilgore@kilgore.trout");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Kilgore Trout");
    assert_eq!(
        id["federated_claims"],
        json!({"connector_id": "test", "user_id": "0-385-28089-0"})
    );
    assert_eq!(
        id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
        24 * 3600
    );
    assert_eq!(
        id["at_hash"],
        tusk_jose::half_hash(Alg::ES256, &t.access_token)
    );
    assert!(t.refresh_token.is_some());
    let info = e.p.userinfo(&t.access_token).await.unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["email"], "kilgore@kilgore.trout");
    // Scope gating: without `email`, no email claim.
    let code = e.code("openid").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    let id = e.verify(&t.id_token);
    assert!(
        id.get("email").is_none() && id.get("name").is_none() && t.refresh_token.is_none(),
        "{id}"
    );
}

#[tokio::test]
async fn codes_are_single_use_and_a_replay_revokes_the_first_exchange() {
    let e = env().await;
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert_eq!(
        code_of(e.exchange(&code, VERIFIER).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        code_of(e.refresh(t.refresh_token.as_deref().unwrap()).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        e.p.userinfo(&t.access_token).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
    // Fifty concurrent exchanges of one code: exactly one wins.
    let code = e.code("openid").await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let e2 = Env {
            p: e.p.clone(),
            clock: e.clock.clone(),
        };
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            e2.exchange(&code, VERIFIER).await.is_ok()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn token_endpoint_bad_inputs() {
    let e = env().await;
    let code = e.code("openid").await;
    let cases: Vec<(&str, Option<String>, Vec<(&str, &str)>, ErrorCode, &str)> = vec![
        (
            "wrong PKCE verifier",
            Some(basic("app", "app-secret")),
            vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
                ("code_verifier", "x".repeat(43).leak()),
            ],
            ErrorCode::InvalidGrant,
            "Invalid code_verifier.",
        ),
        (
            "missing verifier",
            Some(basic("app", "app-secret")),
            vec![
                ("grant_type", "authorization_code"),
                ("code", "unknown-code"),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
            ],
            ErrorCode::InvalidGrant,
            "Invalid or expired code",
        ),
        (
            "wrong client secret",
            Some(basic("app", "wrong")),
            vec![("grant_type", "authorization_code"), ("code", &code)],
            ErrorCode::InvalidClient,
            "client authentication failed",
        ),
        (
            "unknown client",
            Some(basic("ghost", "x")),
            vec![("grant_type", "authorization_code"), ("code", &code)],
            ErrorCode::InvalidClient,
            "client authentication failed",
        ),
        (
            "no client at all",
            None,
            vec![("grant_type", "authorization_code"), ("code", &code)],
            ErrorCode::InvalidClient,
            "no client_id",
        ),
        (
            "two auth methods",
            Some(basic("app", "app-secret")),
            vec![
                ("grant_type", "authorization_code"),
                ("client_secret", "app-secret"),
            ],
            ErrorCode::InvalidRequest,
            "one client authentication method",
        ),
        (
            "unknown grant",
            Some(basic("app", "app-secret")),
            vec![("grant_type", "password")],
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        ),
        (
            "missing grant",
            Some(basic("app", "app-secret")),
            vec![],
            ErrorCode::InvalidRequest,
            "grant_type",
        ),
        (
            "malformed basic",
            Some("Basic !!!".into()),
            vec![("grant_type", "authorization_code")],
            ErrorCode::InvalidClient,
            "malformed Basic",
        ),
        (
            "garbage refresh token",
            Some(basic("app", "app-secret")),
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "garbage"),
            ],
            ErrorCode::InvalidGrant,
            "Refresh token is invalid",
        ),
        (
            "garbage device code",
            Some(basic("app", "app-secret")),
            vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", "garbage"),
            ],
            ErrorCode::ExpiredToken,
            "unknown",
        ),
    ];
    for (name, auth, form, want, text) in cases {
        let got = e.p.token(auth.as_deref(), &params(&form)).await;
        let err = got
            .err()
            .unwrap_or_else(|| panic!("{name}: expected an error"));
        assert_eq!(err.code, want, "{name}: {err}");
        assert!(
            err.description.contains(text),
            "{name}: {}",
            err.description
        );
    }
    // The redirect URI must repeat the authorization request's.
    let code = e.code("openid").await;
    let r =
        e.p.token(
            Some(&basic("app", "app-secret")),
            &params(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example.com/other"),
                ("code_verifier", VERIFIER),
            ]),
        )
        .await;
    assert_eq!(
        r.err().map(|e| e.description),
        Some("redirect_uri did not match URI from initial request.".into())
    );
    // Expired code: ten minutes and one second later.
    let code = e.code("openid").await;
    e.advance(601);
    assert_eq!(
        code_of(e.exchange(&code, VERIFIER).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn authorization_errors_never_redirect_to_an_unverified_uri() {
    let e = env().await;
    let page = |r: Result<Next, AuthorizeError>| match r {
        Err(AuthorizeError::Page(p)) => p,
        other => panic!("expected an error page, got {other:?}"),
    };
    let p = page(
        e.p.authorize(
            &params(&[
                ("client_id", "ghost"),
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "code"),
                ("scope", "openid"),
            ]),
            &me(),
        )
        .await,
    );
    assert!(p.detail.contains("`ghost`"), "{p:?}");
    let p = page(
        e.p.authorize(
            &params(&[
                ("client_id", "app"),
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "code"),
                ("scope", "openid"),
            ]),
            &me(),
        )
        .await,
    );
    assert!(
        p.detail.contains("https://evil.example/cb") && p.detail.contains("`app`"),
        "{p:?}"
    );
    // Issue 15: what the user reads names neither the requested URI nor
    // the registered ones; only the log's detail does.
    assert!(
        !p.title.contains("evil")
            && !p.message.contains("evil")
            && !p.message.contains(CONFIDENTIAL_REDIRECT),
        "{p:?}"
    );
    assert!(p.detail.contains(CONFIDENTIAL_REDIRECT), "{p:?}");
    assert!(p.links.back.is_none() && p.links.retry.is_none(), "{p:?}");
    // Prefix and suffix tricks are not matches.
    for uri in [
        "https://app.example.com/cb/../evil",
        "https://app.example.com/cb?x=1",
        "https://app.example.com/cb#f",
        "https://app.example.com/c",
    ] {
        page(
            e.p.authorize(
                &params(&[
                    ("client_id", "app"),
                    ("redirect_uri", uri),
                    ("response_type", "code"),
                    ("scope", "openid"),
                ]),
                &me(),
            )
            .await,
        );
    }
    let p = page(
        e.p.authorize(
            &params(&[("client_id", "app"), ("client_id", "app")]),
            &me(),
        )
        .await,
    );
    assert!(p.detail.contains("repeated"), "{p:?}");
    // Once the redirect URI is trusted, protocol errors go back to it.
    let redirect = |r: Result<Next, AuthorizeError>| match r {
        Err(AuthorizeError::Redirect(u)) => u,
        other => panic!("expected an error redirect, got {other:?}"),
    };
    let base = [
        ("client_id", "app"),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
        ("state", "st"),
    ];
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("response_type", "token"), ("scope", "openid")],
            "error=unsupported_response_type",
        ),
        (&[("scope", "openid")], "error=invalid_request"),
        (
            &[("response_type", "code"), ("scope", "email")],
            "error=invalid_scope",
        ),
        (
            &[("response_type", "code"), ("scope", "openid bogus")],
            "Unrecognized+scope",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &"a".repeat(43)),
                ("code_challenge_method", "S512"),
            ],
            "Unsupported+PKCE",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none"),
            ],
            "error=login_required",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("request", "eyJ"),
            ],
            "error=request_not_supported",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid audience:server:client_id:cli"),
            ],
            "Client+can%27t+request+scope",
        ),
    ];
    for (extra, want) in cases {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.extend_from_slice(extra);
        let url = redirect(e.p.authorize(&params(&all), &me()).await);
        assert!(
            url.starts_with(CONFIDENTIAL_REDIRECT)
                && url.contains(want)
                && url.contains("state=st"),
            "{extra:?}: {url}"
        );
    }
    // Public clients must use PKCE, and may use any loopback port.
    let url = redirect(
        e.p.authorize(
            &params(&[
                ("client_id", "cli"),
                ("redirect_uri", "http://127.0.0.1:5555/cb"),
                ("response_type", "code"),
                ("scope", "openid"),
            ]),
            &me(),
        )
        .await,
    );
    assert!(url.contains("PKCE+is+required"), "{url}");
    let c = challenge(VERIFIER);
    assert!(
        e.p.authorize(
            &params(&[
                ("client_id", "cli"),
                ("redirect_uri", "http://127.0.0.1:5555/cb"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &c),
                ("code_challenge_method", "S256")
            ]),
            &me()
        )
        .await
        .is_ok()
    );
    page(
        e.p.authorize(
            &params(&[
                ("client_id", "cli"),
                ("redirect_uri", "http://127.0.0.1:5555/other"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &c),
            ]),
            &me(),
        )
        .await,
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let e = env().await;
    let code = e.code("openid offline_access").await;
    let first = e
        .exchange(&code, VERIFIER)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let second = e.refresh(&first).await.unwrap();
    let second_rt = second.refresh_token.clone().unwrap();
    assert_ne!(first, second_rt, "refresh must rotate");
    assert_eq!(e.introspect(&second_rt).await["active"], true);
    assert_eq!(e.introspect(&first).await["active"], false);
    // Reuse of the rotated token: refused, and the whole session is gone.
    assert_eq!(code_of(e.refresh(&first).await), ErrorCode::InvalidGrant);
    assert_eq!(
        code_of(e.refresh(&second_rt).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        e.p.userinfo(&second.access_token).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
}

#[tokio::test]
async fn refresh_policy_reuse_interval_idle_and_absolute_limits() {
    let e = env_with(
        |s| {
            s.refresh.reuse_interval = 10;
            s.refresh.valid_if_not_used_for = Some(3600);
            s.refresh.absolute_lifetime = Some(48 * 3600);
        },
        &[(
            "test",
            "mockPassword",
            json!({"username": "admin", "password": "password"}),
        )],
    )
    .await;
    let code = e.code("openid offline_access").await;
    let first = e
        .exchange(&code, VERIFIER)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let second = e.refresh(&first).await.unwrap().refresh_token.unwrap();
    e.advance(5);
    // Within the reuse interval, the old token still works (a racing client).
    let third = e.refresh(&first).await.unwrap().refresh_token.unwrap();
    assert!(e.refresh(&second).await.is_ok());
    // Idle limit: unused for an hour, dead.
    e.advance(3601);
    assert_eq!(code_of(e.refresh(&third).await), ErrorCode::InvalidGrant);
    // Absolute limit: a chain refreshed every 30 minutes dies after 48 h.
    let code = e.code("openid offline_access").await;
    let mut rt = e
        .exchange(&code, VERIFIER)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let mut steps = 0;
    loop {
        e.advance(1800);
        match e.refresh(&rt).await {
            Ok(t) => rt = t.refresh_token.unwrap(),
            Err(err) => {
                assert_eq!(err.code, ErrorCode::InvalidGrant);
                break;
            }
        }
        steps += 1;
        assert!(steps < 200, "absolute lifetime never ended the session");
    }
    assert_eq!(steps, 95, "48 h / 30 min - 1 successful refreshes");
}

#[tokio::test]
async fn device_flow_pending_slow_down_approve_and_expire() {
    let e = env().await;
    let auth = basic("app", "app-secret");
    let d =
        e.p.device_authorization(
            Some(&auth),
            &params(&[("scope", "openid email offline_access")]),
        )
        .await
        .unwrap();
    let device_code = d["device_code"].as_str().unwrap().to_owned();
    let user_code = d["user_code"].as_str().unwrap().to_owned();
    assert_eq!(d["verification_uri"], format!("{ISSUER}/device"));
    assert_eq!(d["interval"], 5);
    let poll_params = params(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", &device_code),
    ]);
    let poll = || e.p.token(Some(&auth), &poll_params);
    assert_eq!(code_of(poll().await), ErrorCode::AuthorizationPending);
    assert_eq!(code_of(poll().await), ErrorCode::SlowDown);
    e.advance(11);
    assert_eq!(code_of(poll().await), ErrorCode::AuthorizationPending);
    // The user enters the code (any case, with or without the dash).
    assert!(e.p.device_verify("BBBB-BBBB", &me()).await.is_err());
    let Next::ConfirmDevice(confirm) =
        e.p.device_verify(&user_code.to_lowercase(), &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    // RFC 8628 §5.4: the page names the client and shows the code, and
    // until it is answered no login step runs on the request.
    assert_eq!(confirm.client_name, "App");
    assert_eq!(confirm.user_code, user_code);
    assert!(
        e.p.start_connector("test", &confirm.request_id, &me())
            .await
            .is_err()
    );
    assert!(
        e.p.device_confirm(&confirm.request_id, "forged", true, &me())
            .await
            .is_err()
    );
    let Next::Redirect(to) =
        e.p.device_confirm(&confirm.request_id, &confirm.token, true, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    assert!(
        e.p.device_confirm(&confirm.request_id, &confirm.token, true, &me())
            .await
            .is_err(),
        "the confirmation token is single use"
    );
    let req = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "req")
        .unwrap()
        .1
        .into_owned();
    e.p.start_connector("test", &req, &me()).await.unwrap();
    let done = e.right_password("test", &req).await;
    assert!(
        matches!(done, PasswordOutcome::Next(Next::DeviceApproved { .. })),
        "{done:?}"
    );
    e.advance(11);
    let t = poll().await.unwrap();
    assert_eq!(e.verify(&t.id_token)["email"], "kilgore@kilgore.trout");
    assert!(t.refresh_token.is_some());
    assert_eq!(
        code_of(poll().await),
        ErrorCode::ExpiredToken,
        "a device code is single use"
    );
    // Another request left alone expires.
    let d =
        e.p.device_authorization(Some(&auth), &params(&[]))
            .await
            .unwrap();
    e.advance(301);
    let r =
        e.p.token(
            Some(&auth),
            &params(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", d["device_code"].as_str().unwrap()),
            ]),
        )
        .await;
    assert_eq!(code_of(r), ErrorCode::ExpiredToken);
}

#[tokio::test]
async fn tampered_tokens_are_inactive_at_introspection() {
    let e = env().await;
    let code = e.code("openid email").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert_eq!(e.introspect(&t.access_token).await["active"], true);
    assert_eq!(e.introspect(&t.access_token).await["client_id"], "app");
    let parts: Vec<&str> = t.access_token.split('.').collect();
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut changed = payload.clone();
    changed["email"] = json!("admin@evil.example");
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let jwks: Value = serde_json::from_str(&e.p.jwks_json()).unwrap();
    let public_key_bytes = jwks["keys"][0].to_string();
    let hs256 = {
        let header = b64(&json!({"alg": "HS256", "typ": "JWT", "kid": jwks["keys"][0]["kid"]}));
        let signing_input = format!("{header}.{}", b64(&payload));
        let key =
            aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_key_bytes.as_bytes());
        let mac = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    };
    let tampered = [
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            parts[1]
        ),
        hs256,
        format!("{}.{}.{}", parts[0], b64(&changed), parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        "garbage".to_owned(),
        "a".repeat(1 << 20),
    ];
    for token in tampered {
        let got = e.introspect(&token).await;
        assert_eq!(
            got,
            json!({"active": false}),
            "token {}",
            &token[..token.len().min(60)]
        );
        assert!(e.p.userinfo(&token).await.is_err());
    }
    // An ID token is not an access token.
    assert!(e.p.userinfo(&t.id_token).await.is_err());
    // Revoking the access token makes it inactive.
    e.p.revoke(
        Some(&basic("app", "app-secret")),
        &params(&[("token", &t.access_token)]),
    )
    .await
    .unwrap();
    assert_eq!(e.introspect(&t.access_token).await["active"], false);
    // Unknown tokens revoke fine (RFC 7009 §2.2); bad hints do not.
    e.p.revoke(
        Some(&basic("app", "app-secret")),
        &params(&[("token", "unknown")]),
    )
    .await
    .unwrap();
    let bad =
        e.p.revoke(
            Some(&basic("app", "app-secret")),
            &params(&[("token", "x"), ("token_type_hint", "saml")]),
        )
        .await;
    assert_eq!(
        bad.map_err(|e| e.code),
        Err(ErrorCode::UnsupportedTokenType)
    );
}

#[tokio::test]
async fn trusted_peers_add_audiences() {
    let e = env().await;
    let code = e.code("openid audience:server:client_id:pachd").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    let id = e.verify(&t.id_token);
    assert_eq!(id["aud"], json!(["pachd", "app"]));
    assert_eq!(id["azp"], "app");
}

#[tokio::test]
async fn keys_rotate_with_publish_ahead_and_old_tokens_still_verify() {
    let e = env().await;
    let code = e.code("openid").await;
    let old = e.exchange(&code, VERIFIER).await.unwrap();
    let kid = |jwt: &str| {
        let h: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    let first_kid = kid(&old.id_token);
    let keys = |e: &Env| -> usize {
        serde_json::from_str::<Value>(&e.p.jwks_json()).unwrap()["keys"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(keys(&e), 1);
    // Five hours in: the next key is published, not yet signing.
    e.advance(5 * 3600);
    e.p.tick().await;
    assert_eq!(keys(&e), 2);
    let code = e.code("openid").await;
    assert_eq!(
        kid(&e.exchange(&code, VERIFIER).await.unwrap().id_token),
        first_kid
    );
    // Six hours in: the new key signs; the old token still verifies.
    e.advance(3600);
    e.p.tick().await;
    let code = e.code("openid").await;
    let new = e.exchange(&code, VERIFIER).await.unwrap();
    assert_ne!(kid(&new.id_token), first_kid);
    e.verify(&old.id_token);
    e.verify(&new.id_token);
    // A second provider on the same store loads the same keys: no second rotation.
    let other = Provider::new(
        Settings::new(ISSUER),
        e.p.store().clone(),
        e.clock.clone(),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(*other.jwks_json(), *e.p.jwks_json());
}

#[tokio::test]
async fn logout_with_hint_ends_the_session_and_redirects_exactly() {
    let e = env().await;
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    let out =
        e.p.logout(
            &params(&[
                ("id_token_hint", &t.id_token),
                ("post_logout_redirect_uri", CONFIDENTIAL_REDIRECT),
                ("state", "bye"),
            ]),
            false,
        )
        .await
        .unwrap();
    match out {
        LogoutOutcome::Redirect(u) => assert_eq!(u, format!("{CONFIDENTIAL_REDIRECT}?state=bye")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        code_of(e.refresh(t.refresh_token.as_deref().unwrap()).await),
        ErrorCode::InvalidGrant
    );
    assert!(matches!(
        e.p.logout(&params(&[]), false).await.unwrap(),
        LogoutOutcome::Confirm
    ));
    assert!(matches!(
        e.p.logout(&params(&[]), true).await.unwrap(),
        LogoutOutcome::Done
    ));
    assert!(
        e.p.logout(
            &params(&[
                ("id_token_hint", &t.id_token),
                ("post_logout_redirect_uri", "https://evil.example/")
            ]),
            false
        )
        .await
        .is_err()
    );
    assert!(
        e.p.logout(&params(&[("id_token_hint", "forged.token.x")]), false)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_broken_connector_does_not_take_the_others_down() {
    let e = env_with(
        |_| {},
        &[
            (
                "test",
                "mockPassword",
                json!({"username": "admin", "password": "password"}),
            ),
            (
                "broken",
                "local",
                json!({"users": [{"email": "a@example.com", "hash": "not-a-hash"}]}),
            ),
            ("cb", "mockCallback", json!({})),
        ],
    )
    .await;
    let slots = e.p.connectors();
    assert!(
        slots
            .iter()
            .find(|s| s.id == "broken")
            .unwrap()
            .status
            .is_err()
    );
    let next =
        e.p.authorize(
            &params(&[
                ("client_id", "app"),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid groups"),
            ]),
            &me(),
        )
        .await
        .unwrap();
    let Next::Choose {
        request_id,
        connectors,
    } = next
    else {
        panic!("several connectors need the chooser")
    };
    assert_eq!(connectors.len(), 3);
    let err =
        e.p.start_connector("broken", &request_id, &me())
            .await
            .unwrap_err();
    assert_eq!(err.status, 503);
    // A configuration error is no "try again": it says who can fix it,
    // and offers no retry that would fail the same way.
    assert_eq!(err.fault, tusk_oidc::Fault::Setup, "{err:?}");
    assert!(
        err.title.ends_with("isn't set up correctly")
            && err.message.contains("administrator")
            && !err.message.contains("hash")
            && err.detail.contains("invalid config"),
        "{err:?}"
    );
    assert!(
        err.links.retry.is_none() && err.links.chooser.is_some(),
        "{err:?}"
    );
    // The callback connector still logs in.
    let Next::Redirect(upstream) = e.p.start_connector("cb", &request_id, &me()).await.unwrap()
    else {
        panic!()
    };
    let u = url::Url::parse(&upstream).unwrap();
    assert_eq!(u.path(), "/dex/callback");
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let back =
        e.p.callback(None, &Params::from_pairs(pairs), &me())
            .await
            .unwrap()
            .redirect_url()
            .unwrap()
            .to_owned();
    assert!(
        back.starts_with(CONFIDENTIAL_REDIRECT) && back.contains("code="),
        "{back}"
    );
}

// ---------------------------------------------------------------------------
// Connector health: upstream connectors open in the background
// ---------------------------------------------------------------------------

/// A minimal upstream OpenID provider over raw HTTP/1.1: discovery and
/// JWKS, which is all the `oidc` connector needs to open. Counts requests.
async fn serve_fake_op(
    listener: tokio::net::TcpListener,
    issuer: String,
    hits: Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let key = tusk_jose::SigningKey::generate(Alg::ES256, "k1".into()).unwrap();
    let jwks = tusk_jose::jwks(&[&key]).to_string();
    let discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/keys"),
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "end_session_endpoint": format!("{issuer}/session/end"),
    })
    .to_string();
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        hits.fetch_add(1, Ordering::SeqCst);
        let (discovery, jwks) = (discovery.clone(), jwks.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = if path == "/.well-known/openid-configuration" {
                ("200 OK", discovery)
            } else if path == "/keys" {
                ("200 OK", jwks)
            } else {
                ("404 Not Found", "{}".to_owned())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(response.as_bytes()).await;
        });
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn oidc_connector(port: u16) -> (&'static str, &'static str, Value) {
    (
        "okta",
        "oidc",
        json!({
            "issuer": format!("http://127.0.0.1:{port}"),
            "clientID": "tusk",
            "clientSecret": "upstream-secret-xyz",
            "redirectURI": format!("{ISSUER}/callback"),
        }),
    )
}

fn fast_retry(s: &mut Settings) {
    s.connector_retry = tusk_oidc::provider::ConnectorRetry {
        initial: std::time::Duration::from_millis(50),
        max: std::time::Duration::from_millis(200),
    };
}

/// Polls the provider's slot `id` until `done` holds; bounded, no timing
/// assertion.
async fn wait_for_slot(
    p: &Provider,
    id: &str,
    done: impl Fn(&tusk_oidc::ConnectorSlot) -> bool,
) -> tusk_oidc::ConnectorSlot {
    for _ in 0..1200 {
        let slots = p.connectors();
        let slot = slots.iter().find(|s| s.id == id).unwrap();
        if done(slot) {
            return slot.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("connector `{id}` never reached the expected state");
}

#[tokio::test]
async fn an_unreachable_oidc_connector_is_retried_until_it_recovers() {
    use tusk_oidc::provider::ConnectorState;
    let port = free_port();
    let e = env_with(
        fast_retry,
        &[
            (
                "test",
                "mockPassword",
                json!({"username": "admin", "password": "password"}),
            ),
            oidc_connector(port),
        ],
    )
    .await;
    // The mock is ready at once; the upstream one cannot be.
    let slots = e.p.connectors();
    assert_eq!(slots[0].state, ConnectorState::Ready);
    assert!(slots[0].status.is_ok());
    let failed = wait_for_slot(&e.p, "okta", |s| {
        s.state == ConnectorState::Failed { retrying: true }
    })
    .await;
    let reason = failed.status.as_ref().err().unwrap();
    assert!(
        reason.contains("unable to open connector: failed to get provider")
            && !reason.contains("upstream-secret-xyz"),
        "{reason}"
    );

    let Next::Choose {
        request_id,
        connectors,
    } =
        e.p.authorize(
            &params(&[
                ("client_id", "app"),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid email"),
            ]),
            &me(),
        )
        .await
        .unwrap()
    else {
        panic!("two connectors need the chooser")
    };
    assert!(
        connectors
            .iter()
            .any(|c| c.id == "okta" && c.status.is_err())
    );
    let err =
        e.p.start_connector("okta", &request_id, &me())
            .await
            .unwrap_err();
    assert_eq!(err.status, 503);
    // Issue 15: the user reads plain words and what to do; the chain is
    // the log's detail only.
    assert_eq!(err.fault, tusk_oidc::Fault::Transient, "{err:?}");
    assert!(
        err.title.ends_with("sign-in is unavailable right now")
            && !err.message.contains("unable to open")
            && err.detail.contains("unable to open connector")
            && err.detail.contains("recovers by itself"),
        "{err:?}"
    );
    // A transient fault offers another try, the other method, and the way
    // back to the app at its registered URI with the OAuth error.
    let retry = err.links.retry.as_ref().unwrap();
    assert!(retry.href.contains("/auth/okta?req="), "{retry:?}");
    assert!(
        err.links
            .chooser
            .as_ref()
            .unwrap()
            .href
            .contains("/choose?req=")
    );
    let back = &err.links.back.as_ref().unwrap().href;
    assert!(
        back.starts_with(CONFIDENTIAL_REDIRECT) && back.contains("error=temporarily_unavailable"),
        "{back}"
    );
    // The mock keeps working meanwhile.
    let Next::Redirect(form) =
        e.p.start_connector("test", &request_id, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    assert!(form.contains("/auth/test/login"), "{form}");

    // The provider comes up on that port: the connector recovers by itself.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    tokio::spawn(serve_fake_op(listener, issuer.clone(), hits.clone()));
    let ready = wait_for_slot(&e.p, "okta", |s| s.state == ConnectorState::Ready).await;
    assert!(ready.status.is_ok());
    let Next::Redirect(upstream) =
        e.p.start_connector("okta", &request_id, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    assert!(
        upstream.starts_with(&format!("{issuer}/authorize?")),
        "{upstream}"
    );
    let q: std::collections::HashMap<String, String> = url::Url::parse(&upstream)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["state"], request_id);
    assert_eq!(q["redirect_uri"], format!("{ISSUER}/callback"));
    assert!(q.contains_key("nonce") && q["code_challenge_method"] == "S256");
}

#[tokio::test]
async fn background_retries_stop_with_the_provider() {
    use tusk_oidc::provider::ConnectorState;
    let port = free_port();
    let e = env_with(fast_retry, &[oidc_connector(port)]).await;
    wait_for_slot(&e.p, "okta", |s| {
        s.state == ConnectorState::Failed { retrying: true }
    })
    .await;
    let weak = Arc::downgrade(&e.p);
    drop(e);
    assert!(weak.upgrade().is_none(), "nothing else holds the provider");

    // A provider appearing afterwards is never contacted.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(serve_fake_op(
        listener,
        format!("http://127.0.0.1:{port}"),
        hits.clone(),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn replacing_connectors_ends_the_old_retries() {
    use tusk_oidc::provider::ConnectorState;
    let port = free_port();
    let e = env_with(fast_retry, &[oidc_connector(port)]).await;
    wait_for_slot(&e.p, "okta", |s| {
        s.state == ConnectorState::Failed { retrying: true }
    })
    .await;
    e.p.set_connectors(&[ConnectorConfig {
        id: "test".into(),
        name: "test".into(),
        kind: "mockPassword".into(),
        config: json!({"username": "admin", "password": "password"}),
    }]);
    let slots = e.p.connectors();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].state, ConnectorState::Ready);
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(serve_fake_op(
        listener,
        format!("http://127.0.0.1:{port}"),
        hits.clone(),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_eq!(e.p.connectors().len(), 1);
}

#[tokio::test]
async fn a_client_pinned_to_rs256_gets_rs256_tokens_and_others_keep_es256() {
    let e = env().await;
    e.p.seed_clients(&[OidcClient {
        id: "legacy".into(),
        secret: Secret::new("legacy-secret".into()),
        name: "Legacy".into(),
        redirect_uris: vec!["https://legacy.example.com/cb".into()],
        id_token_signing_alg: "RS256".into(),
        trusted: true,
        ..Default::default()
    }])
    .await
    .unwrap();
    let jwks: Value = serde_json::from_str(&e.p.jwks_json()).unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    assert!(
        algs.contains(&"ES256") && algs.contains(&"RS256"),
        "{algs:?}"
    );
    let alg_of = |jwt: &str| {
        let h: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        h["alg"].as_str().unwrap().to_owned()
    };
    // The default client still gets ES256.
    let code = e.code("openid").await;
    assert_eq!(
        alg_of(&e.exchange(&code, VERIFIER).await.unwrap().id_token),
        "ES256"
    );
    // The pinned client gets RS256, verifiable against the same JWKS.
    let next =
        e.p.authorize(
            &params(&[
                ("client_id", "legacy"),
                ("redirect_uri", "https://legacy.example.com/cb"),
                ("response_type", "code"),
                ("scope", "openid email"),
            ]),
            &me(),
        )
        .await
        .unwrap();
    let Next::Redirect(to) = next else {
        panic!("expected the connector")
    };
    let req = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "req")
        .unwrap()
        .1
        .into_owned();
    e.p.start_connector("test", &req, &me()).await.unwrap();
    let PasswordOutcome::Next(back) = e.right_password("test", &req).await else {
        panic!()
    };
    let code = url::Url::parse(back.redirect_url().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t =
        e.p.token(
            Some(&basic("legacy", "legacy-secret")),
            &params(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://legacy.example.com/cb"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(alg_of(&t.id_token), "RS256");
    assert_eq!(alg_of(&t.access_token), "RS256");
    let claims = e.verify(&t.id_token);
    assert_eq!(
        claims["at_hash"],
        tusk_jose::half_hash(Alg::RS256, &t.access_token)
    );
    assert_eq!(
        e.p.userinfo(&t.access_token).await.unwrap()["email"],
        "kilgore@kilgore.trout"
    );
}

#[tokio::test]
async fn hostile_inputs_are_bounded_and_failed_attempts_do_not_burn_codes() {
    let e = env().await;
    // Huge scope lists are refused at once, not deduplicated quadratically.
    let many: String = (0..20_000).map(|i| format!("s{i} ")).collect();
    assert_eq!(
        e.p.device_authorization(
            Some(&basic("app", "app-secret")),
            &params(&[("scope", &many)])
        )
        .await
        .map_err(|e| e.code)
        .err(),
        Some(ErrorCode::InvalidScope)
    );
    let audiences: String = (0..20)
        .map(|i| format!("audience:server:client_id:c{i} "))
        .collect();
    let scope = format!("openid {audiences}");
    assert_eq!(
        e.p.device_authorization(
            Some(&basic("app", "app-secret")),
            &params(&[("scope", &scope)])
        )
        .await
        .map_err(|e| e.code)
        .err(),
        Some(ErrorCode::InvalidScope)
    );
    // A wrong verifier (an attacker holding the code) leaves the code usable
    // by the legitimate client.
    let code = e.code("openid").await;
    assert_eq!(
        code_of(e.exchange(&code, &"x".repeat(43)).await),
        ErrorCode::InvalidGrant
    );
    assert!(e.exchange(&code, VERIFIER).await.is_ok());
    // Public clients may not fall back to `plain` PKCE.
    let r =
        e.p.authorize(
            &params(&[
                ("client_id", "cli"),
                ("redirect_uri", "http://127.0.0.1:5555/cb"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ]),
            &me(),
        )
        .await;
    assert!(
        matches!(r, Err(AuthorizeError::Redirect(u)) if u.contains("PKCE+method+plain+is+not+accepted"))
    );
    // The auth plane's ID-token check refuses access tokens and revoked sessions.
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert!(e.p.verify_id_token(&t.id_token, "app").await.is_ok());
    assert!(e.p.verify_id_token(&t.access_token, "app").await.is_err());
    e.p.revoke(
        Some(&basic("app", "app-secret")),
        &params(&[("token", t.refresh_token.as_deref().unwrap())]),
    )
    .await
    .unwrap();
    assert!(e.p.verify_id_token(&t.id_token, "app").await.is_err());
}

/// Starts a login at the only connector; returns the auth request id.
async fn pending_login(e: &Env) -> String {
    let Next::Redirect(to_connector) =
        e.p.authorize(
            &params(&[
                ("client_id", "app"),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ]),
            &me(),
        )
        .await
        .unwrap()
    else {
        panic!("expected a redirect to the only connector")
    };
    url::Url::parse(&to_connector)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "req")
        .unwrap()
        .1
        .into_owned()
}

/// Issue 11, defect 2: one unauthenticated `/auth` stored a 60 KB `state`.
#[tokio::test]
async fn oversize_authorize_parameters_are_refused_and_nothing_is_stored() {
    let e = env().await;
    let huge = "s".repeat(60_000);
    let base = [
        ("client_id", "app"),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    for name in [
        "state",
        "nonce",
        "login_hint",
        "acr_values",
        "code_challenge",
    ] {
        let mut p = base.to_vec();
        p.push((name, &huge));
        match e.p.authorize(&params(&p), &me()).await {
            Err(AuthorizeError::Redirect(url)) => {
                let q: Vec<(String, String)> = url::Url::parse(&url)
                    .unwrap()
                    .query_pairs()
                    .into_owned()
                    .collect();
                let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                assert_eq!(get("error").as_deref(), Some("invalid_request"), "{name}");
                let d = get("error_description").unwrap();
                assert!(
                    d.contains(&format!("`{name}`")) && d.contains("limit"),
                    "{d}"
                );
                assert!(url.len() < 2_000, "the oversize value is not echoed");
            }
            other => panic!("{name}: expected a redirect with the error, got {other:?}"),
        }
    }
    // Before the redirect URI is validated, the error is a page.
    let long_uri = format!("{CONFIDENTIAL_REDIRECT}?{huge}");
    let r =
        e.p.authorize(
            &params(&[("client_id", "app"), ("redirect_uri", &long_uri)]),
            &me(),
        )
        .await;
    assert!(
        matches!(&r, Err(AuthorizeError::Page(p)) if p.detail.contains("`redirect_uri`")),
        "{r:?}"
    );
    let r = e.p.authorize(&params(&[("client_id", &huge)]), &me()).await;
    assert!(
        matches!(&r, Err(AuthorizeError::Page(p)) if p.detail.contains("`client_id`")),
        "{r:?}"
    );
    let stored = e.p.store().list::<tusk_store::AuthRequest>().await.unwrap();
    assert!(stored.is_empty(), "{} requests stored", stored.len());
    // Values at the limit still pass.
    let state = "s".repeat(512);
    let mut p = base.to_vec();
    p.push(("state", &state));
    assert!(e.p.authorize(&params(&p), &me()).await.is_ok());
}

/// Issue 11, defect 4: 8 addresses × 5 guesses on one account went
/// unthrottled, and a per-address-only limit locks everyone out behind a
/// proxy. Failures are counted per (account, address) and per account.
#[tokio::test]
async fn password_guessing_is_throttled_per_account_but_the_owner_can_still_log_in() {
    let e = env().await;
    let req = pending_login(&e).await;
    let mut checked = 0;
    let mut throttled_addresses = 0;
    for a in 1..=8u8 {
        let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, a));
        let mut throttled = false;
        for _ in 0..5 {
            match e
                .p
                .password_login(
                    "test",
                    &req,
                    "Admin",
                    &Secret::new("guess".into()),
                    ip,
                    &me(),
                )
                .await
                .unwrap()
            {
                PasswordOutcome::Invalid(_) => checked += 1,
                PasswordOutcome::Throttled { retry_after, .. } => {
                    assert!(retry_after > 0);
                    throttled = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        throttled_addresses += u32::from(throttled);
    }
    assert_eq!(throttled_addresses, 8, "every address hits its back-off");
    // Three addresses use their 3 free guesses (9 failures); the account
    // budget (10) is then spent and every later address gets one guess.
    assert_eq!(checked, 3 * 3 + 5, "passwords checked out of 40 guesses");
    // The same address with another spelling of the login is the same pair.
    let last = std::net::IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 8));
    assert!(matches!(
        e.p.password_login(
            "test",
            &req,
            " admin",
            &Secret::new("password".into()),
            last,
            &me()
        )
        .await
        .unwrap(),
        PasswordOutcome::Throttled { .. }
    ));
    // The owner, from their own address, logs in at once.
    let victim = std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    assert!(matches!(
        e.p.password_login(
            "test",
            &req,
            "admin",
            &Secret::new("password".into()),
            victim,
            &me()
        )
        .await
        .unwrap(),
        PasswordOutcome::Next(_)
    ));
    // Back-off ends: after the wait, a throttled address may try again.
    e.advance(tusk_oidc::throttle::BACKOFF_MAX);
    let req = pending_login(&e).await;
    assert!(matches!(
        e.p.password_login(
            "test",
            &req,
            "admin",
            &Secret::new("nope".into()),
            last,
            &me()
        )
        .await
        .unwrap(),
        PasswordOutcome::Invalid(_)
    ));
}

/// The throttle must not turn a burst of right passwords (a load test, many
/// sessions of one account behind one NAT) into refusals: with a real
/// password hash, checked on the provider's hashing pool, the logins
/// overlap, and the default queue has room for the burst.
#[tokio::test]
async fn parallel_logins_with_the_right_password_all_succeed() {
    let hash = tusk_connector::hash_password("correct horse").unwrap();
    let e = env_with(
        |_| {},
        &[(
            "local",
            "local",
            json!({"users": [{"email": "alice@example.com", "hash": hash}]}),
        )],
    )
    .await;
    let mut states = Vec::new();
    for _ in 0..10 {
        states.push(pending_login(&e).await);
    }
    let mut logins = tokio::task::JoinSet::new();
    for state in states {
        let p = e.p.clone();
        logins.spawn(async move {
            p.password_login(
                "local",
                &state,
                "alice@example.com",
                &Secret::new("correct horse".into()),
                LOCAL,
                &me(),
            )
            .await
        });
    }
    while let Some(outcome) = logins.join_next().await {
        let outcome = outcome.unwrap();
        assert!(
            matches!(outcome, Ok(PasswordOutcome::Next(_))),
            "{outcome:?}"
        );
    }
}

/// Issue 11, defect 6: introspection answered for other clients' tokens.
/// A token issued to `app` is, to `pachd`, exactly `{"active": false}`,
/// both the access token and the refresh token.
#[tokio::test]
async fn introspection_of_another_clients_token_is_inactive() {
    let e = env().await;
    let code = e.code("openid email offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    let refresh = t.refresh_token.clone().unwrap();
    for token in [&t.access_token, &refresh] {
        assert_eq!(e.introspect(token).await["active"], true);
        let by_other =
            e.p.introspect(
                Some(&basic("pachd", "pachd-secret")),
                &params(&[("token", token)]),
            )
            .await
            .unwrap();
        assert_eq!(by_other, json!({"active": false}));
    }
}

/// Issue 11, defect 8: PKCE `plain` (explicit, or implied by a challenge
/// without a method) was accepted for confidential clients. Only S256 is,
/// for every client, and discovery says so.
#[tokio::test]
async fn pkce_plain_is_refused_for_every_client() {
    let e = env().await;
    for (client, redirect) in [
        ("app", CONFIDENTIAL_REDIRECT),
        ("cli", "http://127.0.0.1:5555/cb"),
    ] {
        for method in [Some("plain"), None] {
            let mut p = vec![
                ("client_id", client),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", VERIFIER),
            ];
            if let Some(m) = method {
                p.push(("code_challenge_method", m));
            }
            let r = e.p.authorize(&params(&p), &me()).await;
            let Err(AuthorizeError::Redirect(u)) = r else {
                panic!("{client} {method:?}: expected an error redirect, got {r:?}")
            };
            let q: std::collections::HashMap<_, _> = url::Url::parse(&u)
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect();
            assert_eq!(q["error"], "invalid_request", "{client} {method:?}");
            assert!(
                q["error_description"].contains("code_challenge_method=S256"),
                "{client} {method:?}: {}",
                q["error_description"]
            );
        }
    }
    let doc: Value = serde_json::from_str(&e.p.discovery_json()).unwrap();
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
}

/// The provider's audit events: a failed and a good password login, a code
/// and a refresh mint, a detected reuse; then `tick` purges what is past
/// `audit_retention` and keeps the rest.
#[tokio::test]
async fn logins_mints_and_reuse_are_audited_and_purged_after_retention() {
    use tusk_core::audit::AuditQuery;
    let e = env_with(
        |s| s.audit_retention = 3600,
        &[(
            "test",
            "mockPassword",
            json!({"username": "admin", "password": "password"}),
        )],
    )
    .await;
    let code = e.code("openid offline_access").await;
    let first = e
        .exchange(&code, VERIFIER)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    e.refresh(&first).await.unwrap();
    assert_eq!(code_of(e.refresh(&first).await), ErrorCode::InvalidGrant);
    let store = e.p.store();
    let names = |records: Vec<tusk_core::audit::AuditRecord>| {
        records
            .iter()
            .rev()
            .map(|r| r.event.name())
            .collect::<Vec<_>>()
    };
    let all = store.list_audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(
        names(all.clone()),
        [
            "login_failed",
            "login_succeeded",
            "token_minted",
            "token_minted",
            "refresh_reuse_detected"
        ]
    );
    let details = serde_json::to_string(&all.iter().map(|r| &r.event).collect::<Vec<_>>()).unwrap();
    for secret in ["nope", "app-secret", code.as_str(), first.as_str()] {
        assert!(!details.contains(secret), "{secret} in {details}");
    }
    assert!(details.contains(r#""kind":"refresh""#), "{details}");
    assert!(
        details.contains(r#""reason":"invalid_credentials""#),
        "{details}"
    );

    e.advance(1800);
    e.p.store()
        .audit(
            e.p.now(),
            tusk_core::audit::AuditEvent::Deactivated {
                actor: "pach:root".into(),
            },
        )
        .await;
    e.advance(1801);
    e.p.tick().await;
    let kept = store.list_audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(names(kept), ["deactivated"]);
}

/// A login name is whatever the form sent (up to the 1 MB body limit): the
/// audit record of a failed attempt keeps a bounded prefix, so guessing
/// with huge names cannot fill the store through the audit trail.
#[tokio::test]
async fn a_huge_login_name_is_bounded_in_the_audit_trail() {
    let e = env().await;
    let c = challenge(VERIFIER);
    let next =
        e.p.authorize(
            &params(&[
                ("client_id", "app"),
                ("redirect_uri", CONFIDENTIAL_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &c),
                ("code_challenge_method", "S256"),
            ]),
            &me(),
        )
        .await
        .unwrap();
    let Next::Redirect(to_connector) = next else {
        panic!("expected a redirect to the only connector")
    };
    let req = url::Url::parse(&to_connector)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "req")
        .unwrap()
        .1
        .into_owned();
    let huge = "é".repeat(100_000);
    let outcome =
        e.p.password_login(
            "test",
            &req,
            &huge,
            &Secret::new("nope".into()),
            LOCAL,
            &me(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, PasswordOutcome::Invalid(_)));
    let records =
        e.p.store()
            .list_audit(&tusk_core::audit::AuditQuery::default())
            .await
            .unwrap();
    let tusk_core::audit::AuditEvent::LoginFailed { user, .. } = &records[0].event else {
        panic!("{records:?}")
    };
    assert!(user.len() <= 1024, "{} bytes kept", user.len());
    assert!(user.starts_with("éé"), "{user}");
}

/// Issue 11's race proof: one code redeemed by two concurrent requests.
/// The loser's replay revokes the session (RFC 6749 §4.1.2), and it used
/// to do so while the winner was still answering, so both got
/// `invalid_grant` in some races. The request that won the single-use
/// step answers; what it issued is revoked all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_raced_by_two_requests_has_exactly_one_winner_and_is_revoked() {
    let e = env().await;
    let mut not_one = Vec::new();
    for i in 0..1000 {
        let code = e.code("openid offline_access").await;
        let race = |code: String| {
            let e2 = Env {
                p: e.p.clone(),
                clock: e.clock.clone(),
            };
            tokio::spawn(async move { e2.exchange(&code, VERIFIER).await })
        };
        let (a, b) = (race(code.clone()), race(code));
        let results = [a.await.unwrap(), b.await.unwrap()];
        let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        if wins.len() != 1 {
            not_one.push((i, wins.len()));
            continue;
        }
        // The replay revoked the winner's session.
        let t = wins[0];
        assert_eq!(
            code_of(e.refresh(t.refresh_token.as_deref().unwrap()).await),
            ErrorCode::InvalidGrant,
            "race {i}"
        );
        assert_eq!(
            e.p.userinfo(&t.access_token).await.map_err(|e| e.code),
            Err(ErrorCode::InvalidToken),
            "race {i}"
        );
    }
    assert!(
        not_one.is_empty(),
        "races without exactly one winner: {not_one:?}"
    );
}

/// A token request's parameters hold the client secret, the password, the
/// code and the refresh token; a `{:?}` of them (a log line, a test
/// failure) must show which parameters came, never their secret values.
#[test]
fn debug_of_params_and_redirects_hides_secrets() {
    let p = params(&[
        ("grant_type", "authorization_code"),
        ("client_id", "app"),
        ("client_secret", "client-secret-value"),
        ("password", "hunter2-password"),
        ("code", "code-value-123"),
        ("refresh_token", "refresh-value-456"),
        ("code_verifier", VERIFIER),
    ]);
    let shown = format!("{p:?}");
    for secret in [
        "client-secret-value",
        "hunter2-password",
        "code-value-123",
        "refresh-value-456",
        VERIFIER,
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    for key in [
        "client_secret",
        "password",
        "grant_type",
        "authorization_code",
        "app",
    ] {
        assert!(shown.contains(key), "{key} missing from {shown}");
    }

    let next = Next::Redirect(format!(
        "{CONFIDENTIAL_REDIRECT}?code=code-value-123&state=xyz"
    ));
    let shown = format!("{next:?}");
    assert!(!shown.contains("code-value-123"), "{shown}");
    assert!(shown.contains(CONFIDENTIAL_REDIRECT), "{shown}");

    let connector = ConnectorConfig {
        id: "okta".into(),
        name: "Okta".into(),
        kind: "oidc".into(),
        config: json!({"issuer": "https://x.okta.com", "clientID": "app", "clientSecret": "upstream-secret-value"}),
    };
    let shown = format!("{connector:?}");
    assert!(!shown.contains("upstream-secret-value"), "{shown}");
    assert!(shown.contains("x.okta.com"), "{shown}");
}

/// Records each refreshed identity; answers `answer` instead while set.
#[derive(Default)]
struct Recorder {
    seen: std::sync::Mutex<Vec<tusk_oidc::RefreshedIdentity>>,
    answer: std::sync::Mutex<Option<ErrorCode>>,
}

#[async_trait::async_trait]
impl tusk_oidc::IdentityObserver for Recorder {
    async fn refreshed(
        &self,
        identity: &tusk_oidc::RefreshedIdentity,
    ) -> Result<(), tusk_oidc::OAuthError> {
        if let Some(code) = *self.answer.lock().unwrap() {
            return Err(tusk_oidc::OAuthError::new(code, "the observer says no"));
        }
        self.seen.lock().unwrap().push(identity.clone());
        Ok(())
    }
}

/// Issue 14: the observer hears of every identity a connector re-read on a
/// refresh, with groups only when the session holds the `groups` scope.
/// When it cannot apply one for now, no token is issued and the presented
/// refresh token stays usable (a retry is not reuse); when it refuses one,
/// the refresh is refused like a connector's refusal and the token is spent.
#[tokio::test]
async fn a_refresh_reports_the_reread_identity_and_the_observer_can_defer_or_refuse_it() {
    let e = env().await;
    let recorder = Arc::new(Recorder::default());
    e.p.observe_identities(recorder.clone());
    let answer = |code: Option<ErrorCode>| *recorder.answer.lock().unwrap() = code;
    let with_groups = e.code("openid email groups offline_access").await;
    let rt = e
        .exchange(&with_groups, VERIFIER)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert!(
        recorder.seen.lock().unwrap().is_empty(),
        "a code exchange is a login, not a refresh: the auth plane syncs it itself"
    );

    answer(Some(ErrorCode::TemporarilyUnavailable));
    assert_eq!(
        code_of(e.refresh(&rt).await),
        ErrorCode::TemporarilyUnavailable
    );
    answer(None);
    let next = e.refresh(&rt).await.expect("the same token, retried");
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].connector_id, "test");
    assert_eq!(seen[0].email, "kilgore@kilgore.trout");
    assert_eq!(seen[0].groups, Some(vec![]), "{seen:?}");

    answer(Some(ErrorCode::InvalidGrant));
    let spent = next.refresh_token.unwrap();
    assert_eq!(code_of(e.refresh(&spent).await), ErrorCode::InvalidGrant);
    answer(None);
    assert_eq!(
        code_of(e.refresh(&spent).await),
        ErrorCode::InvalidGrant,
        "a refused refresh spends its token"
    );

    let without = e.code("openid email offline_access").await;
    let rt = e
        .exchange(&without, VERIFIER)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    e.refresh(&rt).await.unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].groups, None, "no groups scope, no word on groups");
}
