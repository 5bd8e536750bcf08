//! The upstream `oidc` connector against a small in-process fake OpenID
//! provider (axum on a loopback port). Unit-level only: the certified peer
//! runs in the separate browser tests.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tusk_connector::{Connector, Error, Identity, Scopes, UpstreamParams, open};
use tusk_jose::{Alg, SigningKey};

const CLIENT_ID: &str = "tusk-client";
const CLIENT_SECRET: &str = "upstream-client-s3cret-value";
const REDIRECT: &str = "https://pach.example/dex/callback";
const PATH: &str = "/oauth2/default";
const SECRET_NONCE: &str = "per-request-secret-0123456789";

// ---------------------------------------------------------------------------
// Fake OP
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct TokenRequest {
    authorization: Option<String>,
    form: HashMap<String, String>,
}

struct OpState {
    /// Where the endpoints live: `http://host:port/oauth2/default`.
    base: String,
    /// What discovery reports as `issuer` (normally `base`).
    issuer: Mutex<String>,
    /// Merged into the discovery document; a `null` removes the key.
    discovery_patch: Mutex<Value>,
    discovery_status: AtomicU16,
    discovery_raw: Mutex<Option<String>>,
    keys: Mutex<Vec<Arc<SigningKey>>>,
    jwks_hits: AtomicUsize,
    token_status: AtomicU16,
    token_response: Mutex<Value>,
    token_requests: Mutex<Vec<TokenRequest>>,
    refuse_basic: AtomicBool,
    userinfo: Mutex<Value>,
    userinfo_auth: Mutex<Vec<String>>,
}

struct Op {
    state: Arc<OpState>,
    addr: SocketAddr,
    key: Arc<SigningKey>,
}

impl Op {
    /// An OP on 127.0.0.1 whose issuer is `http://127.0.0.1:<port>/oauth2/default`.
    async fn start(alg: Alg) -> Op {
        Op::start_as(alg, None).await
    }

    /// `host`: serve under this host name instead of 127.0.0.1 (the
    /// connector must resolve it to the loopback address).
    async fn start_as(alg: Alg, host: Option<&str>) -> Op {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!(
            "http://{}:{}{PATH}",
            host.unwrap_or("127.0.0.1"),
            addr.port()
        );
        let key = Arc::new(SigningKey::generate(alg, "key-1".into()).unwrap());
        let state = Arc::new(OpState {
            issuer: Mutex::new(base.clone()),
            base,
            discovery_patch: Mutex::new(json!({})),
            discovery_status: AtomicU16::new(200),
            discovery_raw: Mutex::new(None),
            keys: Mutex::new(vec![key.clone()]),
            jwks_hits: AtomicUsize::new(0),
            token_status: AtomicU16::new(200),
            token_response: Mutex::new(json!({})),
            token_requests: Mutex::new(Vec::new()),
            refuse_basic: AtomicBool::new(false),
            userinfo: Mutex::new(json!({})),
            userinfo_auth: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(
                &format!("{PATH}/.well-known/openid-configuration"),
                get(discovery),
            )
            .route(&format!("{PATH}/keys"), get(jwks))
            .route(&format!("{PATH}/token"), post(token))
            .route(&format!("{PATH}/userinfo"), get(userinfo))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Op { state, addr, key }
    }

    fn issuer(&self) -> String {
        self.state.base.clone()
    }

    fn config(&self) -> Value {
        json!({
            "issuer": self.issuer(),
            "clientID": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "redirectURI": REDIRECT,
        })
    }

    fn patch_discovery(&self, patch: Value) {
        *self.state.discovery_patch.lock().unwrap() = patch;
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: Vec<Arc<SigningKey>>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    fn respond(&self, body: Value) {
        self.state.token_status.store(200, Ordering::SeqCst);
        *self.state.token_response.lock().unwrap() = body;
    }

    fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.token_requests.lock().unwrap().clone()
    }

    /// ID token claims for `nonce`, signed with the OP's key unless told.
    fn claims(&self, nonce: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer(),
            "sub": "user-1",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "name": "Jane Doe",
            "preferred_username": "jane",
            "email": "jane@example.com",
            "email_verified": true,
        })
    }

    fn sign(&self, claims: &Value) -> String {
        tusk_jose::sign(&self.key, claims).unwrap()
    }
}

async fn discovery(State(s): State<Arc<OpState>>) -> Response {
    let status = s.discovery_status.load(Ordering::SeqCst);
    if let Some(raw) = s.discovery_raw.lock().unwrap().clone() {
        return (StatusCode::from_u16(status).unwrap(), raw).into_response();
    }
    let b = &s.base;
    let mut doc = json!({
        "issuer": *s.issuer.lock().unwrap(),
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/keys"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
    });
    if let Value::Object(patch) = s.discovery_patch.lock().unwrap().clone() {
        for (k, v) in patch {
            if v.is_null() {
                doc.as_object_mut().unwrap().remove(&k);
            } else {
                doc[k] = v;
            }
        }
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(doc)).into_response()
}

async fn jwks(State(s): State<Arc<OpState>>) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys = s.keys.lock().unwrap().clone();
    let refs: Vec<&SigningKey> = keys.iter().map(|k| k.as_ref()).collect();
    axum::Json(tusk_jose::jwks(&refs)).into_response()
}

async fn token(State(s): State<Arc<OpState>>, headers: HeaderMap, body: String) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    s.token_requests.lock().unwrap().push(TokenRequest {
        authorization: authorization.clone(),
        form,
    });
    if authorization.is_some() && s.refuse_basic.load(Ordering::SeqCst) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Client authentication failed"})),
        )
            .into_response();
    }
    let status = StatusCode::from_u16(s.token_status.load(Ordering::SeqCst)).unwrap();
    (status, axum::Json(s.token_response.lock().unwrap().clone())).into_response()
}

async fn userinfo(State(s): State<Arc<OpState>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    s.userinfo_auth.lock().unwrap().push(auth);
    axum::Json(s.userinfo.lock().unwrap().clone()).into_response()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn params() -> UpstreamParams {
    UpstreamParams {
        nonce: SECRET_NONCE.into(),
        pkce_verifier: None,
    }
}

fn scopes(offline: bool) -> Scopes {
    Scopes {
        offline_access: offline,
        groups: true,
    }
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn opened(config: &Value) -> Arc<dyn Connector> {
    let c = open("okta", "oidc", config).unwrap();
    c.open().await.unwrap();
    c
}

/// One login round trip: the login URL, then the callback with an ID
/// token built by `token` from the nonce the URL carried.
async fn login_with(
    op: &Op,
    c: &Arc<dyn Connector>,
    token: impl FnOnce(&str) -> Value,
) -> Result<Identity, Error> {
    let cb = c.callback().unwrap();
    let url = cb
        .login_url(&scopes(true), REDIRECT, "state-1", &params())
        .unwrap();
    let nonce = query(&url).remove("nonce").unwrap();
    op.respond(token(&nonce));
    let q = vec![
        ("code".to_owned(), "code-1".to_owned()),
        ("state".to_owned(), "state-1".to_owned()),
    ];
    cb.handle_callback(&scopes(true), REDIRECT, &q, &params())
        .await
}

/// A login whose ID token has the OP's default claims changed by `edit`.
async fn login_claims(
    op: &Op,
    c: &Arc<dyn Connector>,
    edit: impl FnOnce(&mut Value),
) -> Result<Identity, Error> {
    login_with(op, c, |nonce| {
        let mut claims = op.claims(nonce);
        edit(&mut claims);
        json!({"access_token": "at-1", "token_type": "Bearer", "id_token": op.sign(&claims), "refresh_token": "rt-1"})
    })
    .await
}

/// Asserts an error is `Upstream` for connector `okta` and contains every
/// `want`; returns the message. No message may contain the client secret.
fn upstream_error(result: Result<Identity, Error>, want: &[&str]) -> String {
    let err = match result {
        Ok(id) => panic!("expected an error, logged in {id:?}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::Upstream { connector, .. } if connector == "okta"),
        "{err:?}"
    );
    for w in want {
        assert!(msg.contains(w), "`{msg}` lacks `{w}`");
    }
    assert!(!msg.contains(CLIENT_SECRET) && !format!("{err:?}").contains(CLIENT_SECRET));
    msg
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

#[tokio::test]
async fn discovery_and_login_url() {
    let op = Op::start(Alg::RS256).await;
    let mut config = op.config();
    config["acrValues"] = json!(["urn:mfa", "phr"]);
    let c = open("okta", "oidc", &config).unwrap();
    assert_eq!(c.kind(), "oidc");
    assert!(c.callback().is_some() && c.refresh().is_some() && c.password().is_none());

    // Not opened yet: no login URL.
    let err = c
        .callback()
        .unwrap()
        .login_url(&scopes(false), REDIRECT, "s", &params())
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");

    c.open().await.unwrap();
    assert_eq!(op.jwks_hits(), 1);
    let cb = c.callback().unwrap();
    let url = cb
        .login_url(&scopes(false), REDIRECT, "req-42", &params())
        .unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", op.issuer())),
        "{url}"
    );
    let q = query(&url);
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "openid profile email");
    assert_eq!(q["state"], "req-42");
    assert_eq!(q["acr_values"], "urn:mfa phr");
    assert_eq!(q["code_challenge_method"], "S256");
    // The nonce is derived from the stored secret, never the secret itself.
    assert!(
        q["nonce"].len() >= 43 && !url.contains(SECRET_NONCE),
        "{url}"
    );
    assert!(!q.contains_key("prompt") && !q.contains_key("access_type"));
    // Stable for one auth request: the callback recomputes it.
    let again = cb
        .login_url(&scopes(false), REDIRECT, "req-42", &params())
        .unwrap();
    assert_eq!(again, url);

    // offline_access: prompt (consent by default) and access_type=offline.
    let q = query(
        &cb.login_url(&scopes(true), REDIRECT, "s", &params())
            .unwrap(),
    );
    assert_eq!(
        (q["prompt"].as_str(), q["access_type"].as_str()),
        ("consent", "offline")
    );

    // Configured scopes replace the defaults; openid stays first, once.
    let mut config = op.config();
    config["scopes"] = json!(["groups", "openid", "email", "offline_access"]);
    config["promptType"] = json!("login");
    let c = opened(&config).await;
    let q = query(
        &c.callback()
            .unwrap()
            .login_url(&scopes(true), REDIRECT, "s", &params())
            .unwrap(),
    );
    assert_eq!(q["scope"], "openid groups email offline_access");
    assert_eq!(q["prompt"], "login");
}

#[tokio::test]
async fn issuer_trailing_slash_mismatch_explains_the_fix() {
    let op = Op::start(Alg::ES256).await;
    // Configured with a slash, provider reports none (the seed's crash).
    let mut config = op.config();
    let issuer = op.issuer();
    config["issuer"] = json!(format!("{issuer}/"));
    let c = open("okta", "oidc", &config).unwrap();
    let err = c.open().await.unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { connector, .. } if connector == "okta"),
        "{err:?}"
    );
    let msg = err.to_string();
    let want = format!(
        "unable to open connector: failed to get provider: oidc: issuer did not match the issuer returned by provider, expected \"{issuer}/\" got \"{issuer}\"; hint: the provider reports its issuer without a trailing slash; set issuer to \"{issuer}\""
    );
    assert!(msg.contains(&want), "{msg}\nwant: {want}");
    assert!(!msg.contains(CLIENT_SECRET));

    // The other way round.
    *op.state.issuer.lock().unwrap() = format!("{issuer}/");
    let err = open("okta", "oidc", &op.config())
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "expected \"{issuer}\" got \"{issuer}/\"; hint: the provider reports its issuer with a trailing slash; set issuer to \"{issuer}/\""
        )),
        "{err}"
    );

    // Another issuer altogether: no slash hint.
    *op.state.issuer.lock().unwrap() = "https://elsewhere.example".into();
    let err = open("okta", "oidc", &op.config())
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("got \"https://elsewhere.example\"") && !err.contains("trailing slash"),
        "{err}"
    );

    // issuerAlias skips the discovery check and is the expected `iss`.
    let mut config = op.config();
    config["issuerAlias"] = json!("https://elsewhere.example");
    let c = opened(&config).await;
    let id = login_claims(&op, &c, |claims| {
        claims["iss"] = json!("https://elsewhere.example");
    })
    .await
    .unwrap();
    assert_eq!(id.user_id, "user-1");
}

#[tokio::test]
async fn discovery_failures_are_clear() {
    let op = Op::start(Alg::ES256).await;
    op.state.discovery_status.store(404, Ordering::SeqCst);
    *op.state.discovery_raw.lock().unwrap() = Some("no such tenant".into());
    let msg = open("okta", "oidc", &op.config())
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("failed to get provider: 404 Not Found: no such tenant"),
        "{msg}"
    );

    op.state.discovery_status.store(200, Ordering::SeqCst);
    *op.state.discovery_raw.lock().unwrap() = Some("<html>login</html>".into());
    let msg = open("okta", "oidc", &op.config())
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("oidc: failed to decode provider discovery object"),
        "{msg}"
    );
    *op.state.discovery_raw.lock().unwrap() = None;

    // Missing endpoints, unusable algorithms, userinfo wanted but absent.
    let cases = [
        (
            json!({"token_endpoint": null}),
            json!({}),
            "no token_endpoint",
        ),
        (
            json!({"id_token_signing_alg_values_supported": ["HS256", "PS512"]}),
            json!({}),
            "only with HS256, PS512",
        ),
        (
            json!({"userinfo_endpoint": null}),
            json!({"getUserInfo": true}),
            "advertises no userinfo_endpoint",
        ),
    ];
    for (patch, extra, want) in cases {
        op.patch_discovery(patch);
        let mut config = op.config();
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        let msg = open("okta", "oidc", &config)
            .unwrap()
            .open()
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains(want), "{msg}");
    }
    op.patch_discovery(json!({}));

    // An empty JWKS.
    op.publish(Vec::new());
    let msg = open("okta", "oidc", &op.config())
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("failed to fetch the provider's signing keys")
            && msg.contains("no signing key"),
        "{msg}"
    );

    // Nobody listening: the network cause, never the secret.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = op.config();
    config["issuer"] = json!(format!("http://127.0.0.1:{port}"));
    let err = open("okta", "oidc", &config)
        .unwrap()
        .open()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "failed to get provider: GET http://127.0.0.1:{port}/.well-known/openid-configuration"
        )) && msg.to_lowercase().contains("refused"),
        "{msg}"
    );
    assert!(!msg.contains(CLIENT_SECRET) && !format!("{err:?}").contains(CLIENT_SECRET));
}

// ---------------------------------------------------------------------------
// Code exchange and ID token verification
// ---------------------------------------------------------------------------

#[tokio::test]
async fn full_code_exchange_rs256_and_es256() {
    for alg in [Alg::RS256, Alg::ES256] {
        let op = Op::start(alg).await;
        let c = opened(&op.config()).await;
        let cb = c.callback().unwrap();
        let url = cb
            .login_url(&scopes(true), REDIRECT, "state-1", &params())
            .unwrap();
        let q = query(&url);
        let claims = op.claims(&q["nonce"]);
        op.respond(json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600,
            "id_token": op.sign(&claims), "refresh_token": "rt-1",
        }));
        let callback = vec![
            ("code".to_owned(), "the-code".to_owned()),
            ("state".to_owned(), "state-1".to_owned()),
            ("iss".to_owned(), op.issuer()),
        ];
        let id = cb
            .handle_callback(&scopes(true), REDIRECT, &callback, &params())
            .await
            .unwrap();
        assert_eq!(id.user_id, "user-1", "{alg}");
        assert_eq!(id.username, "Jane Doe");
        assert_eq!(id.preferred_username, "jane");
        assert_eq!(id.email, "jane@example.com");
        assert!(id.email_verified);
        assert!(id.groups.is_empty(), "groups need insecureEnableGroups");
        assert_eq!(
            id.connector_data.as_ref().map(|d| d.expose().as_str()),
            Some("rt-1")
        );
        assert!(!format!("{id:?}").contains("rt-1"));

        let reqs = op.token_requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.form["grant_type"], "authorization_code");
        assert_eq!(r.form["code"], "the-code");
        assert_eq!(r.form["redirect_uri"], REDIRECT);
        // PKCE: the verifier sent now matches the challenge sent before.
        let verifier = &r.form["code_verifier"];
        assert_eq!(
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            q["code_challenge"]
        );
        // client_secret_basic by default.
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Basic {basic}").as_str())
        );
        assert!(!r.form.contains_key("client_secret"));
    }
}

#[tokio::test]
async fn bad_id_tokens_are_refused_with_clear_errors() {
    let op = Op::start(Alg::RS256).await;
    let c = opened(&op.config()).await;
    let stranger = SigningKey::generate(Alg::RS256, "key-1".into()).unwrap();
    let raw = |header: Value, claims: &Value, sig: &[u8]| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(sig)
        )
    };
    type Make<'a> = Box<dyn Fn(&str) -> String + 'a>;
    let op_ref = &op;
    let with = |edit: fn(&mut Value)| -> Make<'_> {
        Box::new(move |nonce: &str| {
            let op = op_ref;
            let mut claims = op.claims(nonce);
            edit(&mut claims);
            op.sign(&claims)
        })
    };
    let cases: Vec<(&str, Make<'_>, &str)> = vec![
        (
            "wrong aud",
            with(|c| c["aud"] = json!("someone-else")),
            "oidc: expected audience \"tusk-client\" got [\"someone-else\"]",
        ),
        (
            "several audiences without azp",
            with(|c| c["aud"] = json!([CLIENT_ID, "other"])),
            "no authorized party (azp)",
        ),
        (
            "azp of another client",
            with(|c| c["azp"] = json!("other")),
            "authorized party (azp) is \"other\"",
        ),
        (
            "expired",
            with(|c| {
                c["exp"] = json!(now() - 120);
                c["iat"] = json!(now() - 600);
            }),
            "token expired",
        ),
        (
            "not yet valid",
            with(|c| c["nbf"] = json!(now() + 600)),
            "not valid before",
        ),
        (
            "issued in the future",
            with(|c| c["iat"] = json!(now() + 600)),
            "in the future",
        ),
        (
            "wrong issuer",
            with(|c| c["iss"] = json!("https://evil.example")),
            "oidc: id token issued by a different provider",
        ),
        (
            "missing nonce",
            with(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
            "has no nonce",
        ),
        (
            "wrong nonce",
            with(|c| c["nonce"] = json!("guessed")),
            "nonce does not match",
        ),
        (
            "bad signature",
            Box::new(|nonce: &str| tusk_jose::sign(&stranger, &op.claims(nonce)).unwrap()),
            "signature does not verify",
        ),
        (
            "alg none",
            Box::new(|nonce: &str| raw(json!({"alg": "none"}), &op.claims(nonce), b"")),
            "\"alg\": \"none\"",
        ),
        (
            "HS256 keyed with anything",
            Box::new(|nonce: &str| {
                raw(
                    json!({"alg": "HS256", "kid": "key-1"}),
                    &op.claims(nonce),
                    &[7u8; 32],
                )
            }),
            "symmetric algorithm",
        ),
        (
            "garbage",
            Box::new(|_: &str| "not-a-jwt".into()),
            "dot-separated parts",
        ),
    ];
    for (what, make, want) in cases {
        let result = login_with(
            &op,
            &c,
            |nonce| json!({"access_token": "at", "token_type": "Bearer", "id_token": make(nonce)}),
        )
        .await;
        let msg = upstream_error(result, &[want]);
        assert!(!msg.contains("at-1"), "{what}: {msg}");
    }

    // ES256 tokens when discovery allows only RS256.
    op.patch_discovery(json!({"id_token_signing_alg_values_supported": ["RS256"]}));
    let es = Arc::new(SigningKey::generate(Alg::ES256, "ec-1".into()).unwrap());
    op.publish(vec![op.key.clone(), es.clone()]);
    let c = opened(&op.config()).await;
    let result = login_with(&op, &c, |nonce| {
        json!({"access_token": "at", "id_token": tusk_jose::sign(&es, &op.claims(nonce)).unwrap()})
    })
    .await;
    upstream_error(result, &["ES256 is not allowed"]);

    // Within the 60 s leeway an expired token still passes.
    let id = login_claims(&op, &c, |claims| claims["exp"] = json!(now() - 30))
        .await
        .unwrap();
    assert_eq!(id.user_id, "user-1");

    // No id_token, token endpoint errors, upstream errors, no code.
    let result = login_with(
        &op,
        &c,
        |_| json!({"access_token": "at", "token_type": "Bearer"}),
    )
    .await;
    upstream_error(result, &["oidc: no id_token in token response"]);
    op.state.token_status.store(400, Ordering::SeqCst);
    *op.state.token_response.lock().unwrap() =
        json!({"error": "invalid_grant", "error_description": "code expired"});
    let cb = c.callback().unwrap();
    let q = vec![("code".to_owned(), "c".to_owned())];
    let result = cb
        .handle_callback(&scopes(false), REDIRECT, &q, &params())
        .await;
    upstream_error(
        result,
        &["oidc: failed to get token: oauth2: \"invalid_grant\" \"code expired\""],
    );
    let q = vec![
        ("error".to_owned(), "access_denied".to_owned()),
        ("error_description".to_owned(), "user said no".to_owned()),
    ];
    let result = cb
        .handle_callback(&scopes(false), REDIRECT, &q, &params())
        .await;
    upstream_error(result, &["access_denied: user said no"]);
    let result = cb
        .handle_callback(&scopes(false), REDIRECT, &[], &params())
        .await;
    upstream_error(result, &["neither a code nor an error"]);
    // RFC 9207 mix-up defence.
    let q = vec![
        ("code".to_owned(), "c".to_owned()),
        ("iss".to_owned(), "https://evil.example".to_owned()),
    ];
    let result = cb
        .handle_callback(&scopes(false), REDIRECT, &q, &params())
        .await;
    upstream_error(result, &["iss parameter"]);
}

#[tokio::test]
async fn jwks_is_refetched_once_for_an_unknown_kid() {
    let op = Op::start(Alg::ES256).await;
    let c = opened(&op.config()).await;
    assert_eq!(op.jwks_hits(), 1);
    login_claims(&op, &c, |_| {}).await.unwrap();
    assert_eq!(op.jwks_hits(), 1, "known kid: no refetch");

    // The provider rotates: tokens now come from key-2.
    let rotated = Arc::new(SigningKey::generate(Alg::ES256, "key-2".into()).unwrap());
    op.publish(vec![op.key.clone(), rotated.clone()]);
    let id = login_with(&op, &c, |nonce| {
        json!({"access_token": "at", "id_token": tusk_jose::sign(&rotated, &op.claims(nonce)).unwrap()})
    })
    .await
    .unwrap();
    assert_eq!(id.user_id, "user-1");
    assert_eq!(op.jwks_hits(), 2, "one refetch for the new kid");

    // A made-up kid right after: refused without another fetch (rate limit).
    let unknown = SigningKey::generate(Alg::ES256, "key-made-up".into()).unwrap();
    let result = login_with(&op, &c, |nonce| {
        json!({"access_token": "at", "id_token": tusk_jose::sign(&unknown, &op.claims(nonce)).unwrap()})
    })
    .await;
    upstream_error(result, &["not in the key set"]);
    assert_eq!(op.jwks_hits(), 2, "refetches are rate-limited");
    // The rotated key stays known.
    login_with(&op, &c, |nonce| {
        json!({"access_token": "at", "id_token": tusk_jose::sign(&rotated, &op.claims(nonce)).unwrap()})
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------

/// What a claims case expects.
enum Want {
    Id(fn(&Identity)),
    Err(&'static str),
}

#[tokio::test]
async fn claims_to_identity_rules() {
    let op = Op::start(Alg::ES256).await;
    let remove = |c: &mut Value, keys: &[&str]| {
        for k in keys {
            c.as_object_mut().unwrap().remove(*k);
        }
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Value, Edit, Want)> = vec![
        (
            "defaults",
            json!({}),
            Box::new(|_| {}),
            Want::Id(|id| {
                assert_eq!(
                    (id.user_id.as_str(), id.username.as_str(), id.email.as_str()),
                    ("user-1", "Jane Doe", "jane@example.com")
                );
                assert!(id.email_verified);
            }),
        ),
        (
            "no name: preferred_username",
            json!({}),
            Box::new(move |c| remove(c, &["name"])),
            Want::Id(|id| assert_eq!(id.username, "jane")),
        ),
        (
            "no name, no preferred_username: email",
            json!({}),
            Box::new(move |c| remove(c, &["name", "preferred_username"])),
            Want::Id(|id| {
                assert_eq!(id.username, "jane@example.com");
                assert_eq!(id.preferred_username, "");
            }),
        ),
        (
            "no name at all",
            json!({"scopes": ["profile"], "insecureSkipEmailVerified": true}),
            Box::new(move |c| remove(c, &["name", "preferred_username", "email"])),
            Want::Err("missing \"name\" claim"),
        ),
        (
            "userNameKey",
            json!({"userNameKey": "email"}),
            Box::new(|_| {}),
            Want::Id(|id| assert_eq!(id.username, "jane@example.com")),
        ),
        (
            "userNameKey missing falls back",
            json!({"userNameKey": "display"}),
            Box::new(move |c| remove(c, &["name"])),
            Want::Id(|id| assert_eq!(id.username, "jane")),
        ),
        (
            "userIDKey",
            json!({"userIDKey": "email"}),
            Box::new(|_| {}),
            Want::Id(|id| assert_eq!(id.user_id, "jane@example.com")),
        ),
        (
            "userIDKey missing",
            json!({"userIDKey": "uid"}),
            Box::new(|_| {}),
            Want::Err("oidc: not found uid claim"),
        ),
        (
            "no sub",
            json!({}),
            Box::new(move |c| remove(c, &["sub"])),
            Want::Err("missing \"sub\" claim"),
        ),
        (
            "email_verified as the string \"true\" (Cognito)",
            json!({}),
            Box::new(|c| c["email_verified"] = json!("true")),
            Want::Id(|id| assert!(id.email_verified)),
        ),
        (
            "email_verified as the string \"false\"",
            json!({}),
            Box::new(|c| c["email_verified"] = json!("false")),
            Want::Id(|id| assert!(!id.email_verified)),
        ),
        (
            "email_verified false passes through",
            json!({"insecureSkipEmailVerified": true}),
            Box::new(|c| c["email_verified"] = json!(false)),
            Want::Id(|id| assert!(!id.email_verified)),
        ),
        (
            "email_verified missing with the email scope",
            json!({}),
            Box::new(move |c| remove(c, &["email_verified"])),
            Want::Err("missing \"email_verified\" claim"),
        ),
        (
            "email_verified missing, insecureSkipEmailVerified",
            json!({"insecureSkipEmailVerified": true}),
            Box::new(move |c| remove(c, &["email_verified"])),
            Want::Id(|id| assert!(id.email_verified)),
        ),
        (
            "email_verified missing without the email scope",
            json!({"scopes": ["profile"]}),
            Box::new(move |c| remove(c, &["email_verified"])),
            Want::Id(|id| assert!(!id.email_verified)),
        ),
        (
            "email missing with the email scope",
            json!({}),
            Box::new(move |c| remove(c, &["email"])),
            Want::Err("missing email claim, not found \"email\" key"),
        ),
        (
            "claimMapping.email when email is missing",
            json!({"claimMapping": {"email": "mail"}}),
            Box::new(move |c| {
                remove(c, &["email"]);
                c["mail"] = json!("j@corp.example");
            }),
            Want::Id(|id| assert_eq!(id.email, "j@corp.example")),
        ),
        (
            "claimMapping only when the standard claim is missing",
            json!({"claimMapping": {"email": "mail", "preferred_username": "login"}}),
            Box::new(|c| {
                c["mail"] = json!("j@corp.example");
                c["login"] = json!("jd");
            }),
            Want::Id(|id| {
                assert_eq!(id.email, "jane@example.com");
                assert_eq!(id.preferred_username, "jane");
            }),
        ),
        (
            "overrideClaimMapping: the mapped key wins",
            json!({"overrideClaimMapping": true, "claimMapping": {"email": "mail", "preferred_username": "login"}}),
            Box::new(|c| {
                c["mail"] = json!("j@corp.example");
                c["login"] = json!("jd");
            }),
            Want::Id(|id| {
                assert_eq!(id.email, "j@corp.example");
                assert_eq!(id.preferred_username, "jd");
            }),
        ),
        (
            "groups ignored without insecureEnableGroups",
            json!({}),
            Box::new(|c| c["groups"] = json!(["eng"])),
            Want::Id(|id| assert!(id.groups.is_empty())),
        ),
        (
            "groups with insecureEnableGroups",
            json!({"insecureEnableGroups": true}),
            Box::new(|c| c["groups"] = json!(["eng", "ops"])),
            Want::Id(|id| assert_eq!(id.groups, ["eng", "ops"])),
        ),
        (
            "one group as a string",
            json!({"insecureEnableGroups": true}),
            Box::new(|c| c["groups"] = json!("eng")),
            Want::Id(|id| assert_eq!(id.groups, ["eng"])),
        ),
        (
            "malformed groups",
            json!({"insecureEnableGroups": true}),
            Box::new(|c| c["groups"] = json!(["eng", 7])),
            Want::Err("malformed \"groups\" claim"),
        ),
        (
            "claimMapping.groups (Cognito)",
            json!({"insecureEnableGroups": true, "claimMapping": {"groups": "cognito:groups"}}),
            Box::new(|c| c["cognito:groups"] = json!(["admins"])),
            Want::Id(|id| assert_eq!(id.groups, ["admins"])),
        ),
        (
            "allowedGroups keeps only those",
            json!({"insecureEnableGroups": true, "allowedGroups": ["ops", "sre"]}),
            Box::new(|c| c["groups"] = json!(["eng", "ops"])),
            Want::Id(|id| assert_eq!(id.groups, ["ops"])),
        ),
        (
            "allowedGroups without a match",
            json!({"insecureEnableGroups": true, "allowedGroups": ["sre"]}),
            Box::new(|c| c["groups"] = json!(["eng"])),
            Want::Err("user not a member of allowed groups"),
        ),
        (
            "claimModifications",
            json!({"insecureEnableGroups": true, "claimModifications": {
                "newGroupFromClaims": [{"claims": ["org", "team"], "delimiter": ":", "clearDelimiter": true, "prefix": "gh"}],
                "filterGroupClaims": {"groupsFilter": "^team-"},
                "modifyGroupNames": {"prefix": "okta/"},
            }}),
            Box::new(|c| {
                c["groups"] = json!(["team-a", "everyone"]);
                c["org"] = json!("acme:inc");
                c["team"] = json!("web");
            }),
            Want::Id(|id| assert_eq!(id.groups, ["okta/team-a", "okta/gh:acmeinc:web"])),
        ),
    ];
    for (what, extra, edit, want) in cases {
        let mut config = op.config();
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        let c = opened(&config).await;
        let result = login_claims(&op, &c, |claims| edit(claims)).await;
        match (want, result) {
            (Want::Id(check), Ok(id)) => check(&id),
            (Want::Err(w), result) => {
                upstream_error(result, &[w]);
            }
            (Want::Id(_), Err(e)) => panic!("{what}: {e}"),
        }
    }
}

#[tokio::test]
async fn missing_claims_name_the_option_that_fixes_them() {
    let op = Op::start(Alg::ES256).await;
    let c = opened(&op.config()).await;
    let msg = upstream_error(
        login_claims(&op, &c, |claims| {
            claims.as_object_mut().unwrap().remove("email_verified");
        })
        .await,
        &["insecureSkipEmailVerified: true", "getUserInfo: true"],
    );
    assert!(msg.contains("connector `okta`"), "{msg}");
    upstream_error(
        login_claims(&op, &c, |claims| {
            claims.as_object_mut().unwrap().remove("email");
        })
        .await,
        &["claimMapping.email", "scopes"],
    );
}

#[tokio::test]
async fn get_user_info_merges_claims() {
    let op = Op::start(Alg::ES256).await;
    let mut config = op.config();
    config["getUserInfo"] = json!(true);
    config["insecureEnableGroups"] = json!(true);
    let c = opened(&config).await;
    *op.state.userinfo.lock().unwrap() =
        json!({"sub": "user-1", "groups": ["from-userinfo"], "name": "Jane Userinfo"});
    let id = login_claims(&op, &c, |claims| {
        claims.as_object_mut().unwrap().remove("name");
    })
    .await
    .unwrap();
    assert_eq!(id.username, "Jane Userinfo");
    assert_eq!(id.groups, ["from-userinfo"]);
    assert_eq!(
        op.state.userinfo_auth.lock().unwrap().last().unwrap(),
        "Bearer at-1"
    );

    *op.state.userinfo.lock().unwrap() = json!({"sub": "someone-else"});
    upstream_error(login_claims(&op, &c, |_| {}).await, &["another subject"]);
}

// ---------------------------------------------------------------------------
// Client authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn client_secret_post_for_okta_issuers() {
    assert!(tusk_connector::oidc::is_okta(
        "https://trial-1839456.okta.com"
    ));
    assert!(tusk_connector::oidc::is_okta(
        "https://x.oktapreview.com/oauth2/default"
    ));
    assert!(tusk_connector::oidc::is_okta("https://okta.com"));
    assert!(!tusk_connector::oidc::is_okta("https://notokta.com"));
    assert!(!tusk_connector::oidc::is_okta(
        "https://okta.com.evil.example"
    ));

    let host = "trial-1839456.okta.com";
    let op = Op::start_as(Alg::RS256, Some(host)).await;
    let loopback: SocketAddr = ([127, 0, 0, 1], op.addr.port()).into();
    let config = op.config();
    assert!(op.issuer().starts_with("http://trial-1839456.okta.com:"));
    let c = tusk_connector::oidc::open_resolving("okta", &config, &[(host, loopback)]).unwrap();
    c.open().await.unwrap();
    login_claims(&op, &c, |_| {}).await.unwrap();
    let r = &op.token_requests()[0];
    assert_eq!(r.authorization, None, "no Basic header for Okta");
    assert_eq!(r.form["client_id"], CLIENT_ID);
    assert_eq!(r.form["client_secret"], CLIENT_SECRET);

    // basicAuthUnsupported: false overrides the Okta rule.
    let mut config = op.config();
    config["basicAuthUnsupported"] = json!(false);
    let c = tusk_connector::oidc::open_resolving("okta", &config, &[(host, loopback)]).unwrap();
    c.open().await.unwrap();
    login_claims(&op, &c, |_| {}).await.unwrap();
    let r = op.token_requests().pop().unwrap();
    assert!(r.authorization.is_some() && !r.form.contains_key("client_secret"));
}

#[tokio::test]
async fn client_authentication_styles() {
    let op = Op::start(Alg::ES256).await;
    // Forced POST anywhere.
    let mut config = op.config();
    config["basicAuthUnsupported"] = json!(true);
    let c = opened(&config).await;
    login_claims(&op, &c, |_| {}).await.unwrap();
    let r = op.token_requests().pop().unwrap();
    assert!(r.authorization.is_none() && r.form["client_secret"] == CLIENT_SECRET);

    // Auto-detect: the provider refuses Basic, so tusk retries in the body
    // and keeps doing so.
    op.state.refuse_basic.store(true, Ordering::SeqCst);
    let c = opened(&op.config()).await;
    let before = op.token_requests().len();
    login_claims(&op, &c, |_| {}).await.unwrap();
    let reqs = op.token_requests();
    assert_eq!(reqs.len() - before, 2, "Basic, then POST");
    assert!(reqs[before].authorization.is_some());
    assert_eq!(reqs[before + 1].form["client_secret"], CLIENT_SECRET);
    login_claims(&op, &c, |_| {}).await.unwrap();
    assert_eq!(op.token_requests().len() - before, 3, "POST straight away");

    // Discovery that lists only client_secret_post.
    op.state.refuse_basic.store(false, Ordering::SeqCst);
    op.patch_discovery(json!({"token_endpoint_auth_methods_supported": ["client_secret_post"]}));
    let c = opened(&op.config()).await;
    login_claims(&op, &c, |_| {}).await.unwrap();
    let r = op.token_requests().pop().unwrap();
    assert!(r.authorization.is_none() && r.form["client_secret"] == CLIENT_SECRET);
}

#[tokio::test]
async fn pkce_follows_discovery_and_config() {
    let op = Op::start(Alg::ES256).await;
    op.patch_discovery(json!({"code_challenge_methods_supported": null}));
    let c = opened(&op.config()).await;
    let url = c
        .callback()
        .unwrap()
        .login_url(&scopes(false), REDIRECT, "s", &params())
        .unwrap();
    assert!(!query(&url).contains_key("code_challenge"), "{url}");
    login_claims(&op, &c, |_| {}).await.unwrap();
    assert!(
        !op.token_requests()
            .pop()
            .unwrap()
            .form
            .contains_key("code_verifier")
    );

    // Forced, and with a verifier the provider passes in.
    let mut config = op.config();
    config["pkceChallenge"] = json!("plain");
    let c = opened(&config).await;
    let p = UpstreamParams {
        nonce: SECRET_NONCE.into(),
        pkce_verifier: Some("v".repeat(50)),
    };
    let q = query(
        &c.callback()
            .unwrap()
            .login_url(&scopes(false), REDIRECT, "s", &p)
            .unwrap(),
    );
    assert_eq!(
        (
            q["code_challenge"].as_str(),
            q["code_challenge_method"].as_str()
        ),
        ("v".repeat(50).as_str(), "plain")
    );
}

// ---------------------------------------------------------------------------
// Redirect URI, refresh, config and Debug
// ---------------------------------------------------------------------------

#[tokio::test]
async fn redirect_uri_must_match_the_callback() {
    let op = Op::start(Alg::ES256).await;
    let mut config = op.config();
    config["redirectURI"] = json!("http://localhost:30658/callback");
    let c = opened(&config).await;
    let err = c
        .callback()
        .unwrap()
        .login_url(&scopes(false), REDIRECT, "s", &params())
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "expected callback URL \"{REDIRECT}\" did not match the URL in the config \"http://localhost:30658/callback\""
        )),
        "{msg}"
    );

    config["insecureSkipIssuerCallbackDomainCheck"] = json!(true);
    let c = opened(&config).await;
    let url = c
        .callback()
        .unwrap()
        .login_url(&scopes(false), REDIRECT, "s", &params())
        .unwrap();
    assert_eq!(
        query(&url)["redirect_uri"],
        "http://localhost:30658/callback"
    );
}

#[tokio::test]
async fn refresh_uses_the_upstream_refresh_token() {
    let op = Op::start(Alg::ES256).await;
    let c = opened(&op.config()).await;
    let id = login_claims(&op, &c, |_| {}).await.unwrap();
    let r = c.refresh().unwrap();

    // A new ID token (without nonce) and a rotated refresh token.
    let mut claims = op.claims("");
    claims.as_object_mut().unwrap().remove("nonce");
    claims["email"] = json!("jane@new.example");
    op.respond(
        json!({"access_token": "at-2", "id_token": op.sign(&claims), "refresh_token": "rt-2"}),
    );
    let fresh = r.refresh(&scopes(true), id.clone()).await.unwrap();
    assert_eq!(fresh.user_id, id.user_id);
    assert_eq!(fresh.email, "jane@new.example");
    assert_eq!(fresh.connector_data.as_ref().unwrap().expose(), "rt-2");
    let req = op.token_requests().pop().unwrap();
    assert_eq!(req.form["grant_type"], "refresh_token");
    assert_eq!(req.form["refresh_token"], "rt-1");

    // No ID token on refresh: claims stay, the token is kept.
    op.respond(json!({"access_token": "at-3"}));
    let kept = r.refresh(&scopes(true), fresh.clone()).await.unwrap();
    assert_eq!(kept.email, "jane@new.example");
    assert_eq!(kept.connector_data.as_ref().unwrap().expose(), "rt-2");

    // Another subject, a refused refresh, no stored token: clear errors.
    claims["sub"] = json!("user-2");
    op.respond(json!({"access_token": "at", "id_token": op.sign(&claims)}));
    let err = r.refresh(&scopes(true), kept.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Refresh { .. }), "{err:?}");
    assert!(err.to_string().contains("user-2"), "{err}");

    op.state.token_status.store(400, Ordering::SeqCst);
    *op.state.token_response.lock().unwrap() = json!({"error": "invalid_grant"});
    let msg = r
        .refresh(&scopes(true), kept.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("oidc: failed to get refresh token: oauth2: \"invalid_grant\"")
            && msg.contains("log in again")
            && !msg.contains("rt-2")
            && !msg.contains(CLIENT_SECRET),
        "{msg}"
    );

    let none = Identity {
        connector_data: None,
        ..kept
    };
    let msg = r
        .refresh(&scopes(true), none)
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("offline_access"), "{msg}");
}

#[test]
fn oidc_config_errors() {
    let base = || json!({"issuer": "https://x.okta.com", "clientID": "cid", "clientSecret": "pw-xyz", "redirectURI": REDIRECT});
    let with = |k: &str, v: Value| {
        let mut c = base();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = base();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let cases = vec![
        (without("issuer"), "no issuer supplied"),
        (without("clientID"), "no clientID supplied"),
        (without("redirectURI"), "no redirectURI supplied"),
        (with("issuer", json!("not a url")), "not an absolute URL"),
        (
            with("clientSecret", json!(12345)),
            "`clientSecret` must be a string",
        ),
        (
            with("scopes", json!("openid")),
            "`scopes` must be a list of strings",
        ),
        (
            with("pkceChallenge", json!("S512")),
            "`pkceChallenge` is `S512`",
        ),
        (
            with("insecureEnableGroups", json!(3)),
            "must be true or false",
        ),
        (
            with("allowedGroups", json!(["a"])),
            "insecureEnableGroups: true",
        ),
        (
            with("hostedDomains", json!(["x.com"])),
            "`hostedDomains` was removed",
        ),
        (
            with("providerDiscoveryOverrides", json!({"tokenURL": "nope"})),
            "providerDiscoveryOverrides.tokenURL",
        ),
    ];
    for (config, want) in cases {
        let err = open("okta", "oidc", &config).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{config}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(want), "{config}: `{msg}` lacks `{want}`");
        assert!(!msg.contains("pw-xyz") && !msg.contains("12345"), "{msg}");
    }
    // Helm-style strings for booleans and unknown keys (later Dex options)
    // are accepted.
    let mut config = with("insecureSkipEmailVerified", json!("true"));
    config["someFutureOption"] = json!(1);
    open("okta", "oidc", &config).unwrap();
}

#[tokio::test]
async fn oidc_debug_never_prints_the_client_secret() {
    let op = Op::start(Alg::ES256).await;
    let c = opened(&op.config()).await;
    let dbg = format!("{c:?}");
    assert!(dbg.contains("okta") && dbg.contains(CLIENT_ID), "{dbg}");
    assert!(!dbg.contains(CLIENT_SECRET), "{dbg}");
    let id = login_claims(&op, &c, |_| {}).await.unwrap();
    let dbg = format!("{id:?}");
    assert!(!dbg.contains("rt-1"), "{dbg}");
}

/// Issue 14: with the document's config (no `scopes` key), a client asking
/// for offline access must get an upstream refresh token, which Okta issues
/// only for `offline_access`; an admin's explicit `scopes` is sent as written.
#[tokio::test]
async fn offline_access_is_asked_upstream_when_the_client_asks() {
    struct Row {
        name: &'static str,
        scopes: Option<Value>,
        supported: Value,
        offline: bool,
        want: &'static str,
    }
    async fn check(row: Row) {
        let op = Op::start(Alg::ES256).await;
        op.patch_discovery(json!({ "scopes_supported": row.supported }));
        let mut config = op.config();
        if let Some(s) = row.scopes {
            config["scopes"] = s;
        }
        let c = opened(&config).await;
        let url = c
            .callback()
            .unwrap()
            .login_url(&scopes(row.offline), REDIRECT, "s", &params())
            .unwrap();
        assert_eq!(query(&url)["scope"], row.want, "row `{}`: {url}", row.name);
    }
    let listed = json!(["openid", "profile", "email", "offline_access", "groups"]);
    let rows = vec![
        Row {
            name: "document config, client asks, upstream lists it",
            scopes: None,
            supported: listed.clone(),
            offline: true,
            want: "openid profile email offline_access",
        },
        Row {
            name: "client does not ask",
            scopes: None,
            supported: listed.clone(),
            offline: false,
            want: "openid profile email",
        },
        Row {
            name: "upstream does not list it",
            scopes: None,
            supported: json!(["openid", "profile", "email"]),
            offline: true,
            want: "openid profile email",
        },
        Row {
            name: "no scopes_supported in discovery",
            scopes: None,
            supported: Value::Null,
            offline: true,
            want: "openid profile email",
        },
        Row {
            name: "admin scopes without offline_access are kept as written",
            scopes: Some(json!(["profile", "email", "groups"])),
            supported: listed.clone(),
            offline: true,
            want: "openid profile email groups",
        },
        Row {
            name: "admin scopes with offline_access are kept as written",
            scopes: Some(json!(["profile", "offline_access"])),
            supported: listed.clone(),
            offline: false,
            want: "openid profile offline_access",
        },
    ];
    for row in rows {
        check(row).await;
    }
}
