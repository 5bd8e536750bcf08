//! OpenID Connect Back-Channel Logout over real HTTP (docs/logout.md): a
//! receiver on 127.0.0.1:0 stands in for the relying parties, one path
//! per behaviour, and gets the logout token when a refresh family ends.
//! Retries wait milliseconds here (`BackchannelLimits`), so nothing waits
//! out the production backoff; nothing measures time either.

use super::*;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc};
use tusk_oidc::ConnectorConfig;
use tusk_server::BackchannelLimits;
use tusk_store::OidcClient;

const PASSWORD: &str = "correct-Horse-7";
const SECRET: &str = "app-Secret-9f2-xyz";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Hang guards, not timing assertions.
const GUARD: Duration = Duration::from_secs(30);

/// One POST the receiver got: its path, content type and logout token.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    content_type: String,
    token: String,
}

#[derive(Clone)]
struct Receiver {
    hits: mpsc::UnboundedSender<Hit>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    /// `/hang` answers only once the test adds a permit.
    release: Arc<Semaphore>,
}

async fn receive(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let n = {
        let mut counts = r.counts.lock().unwrap();
        let n = counts.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let _ = r.hits.send(Hit {
        path: path.clone(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        token,
    });
    match path.as_str() {
        "redirect" => (StatusCode::FOUND, [("location", "/target")], "moved").into_response(),
        "flaky" if n <= 2 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "hang" => {
            let _permit = r.release.acquire().await;
            StatusCode::OK.into_response()
        }
        _ => StatusCode::OK.into_response(),
    }
}

struct Running {
    _server: Server,
    _receiver: tokio::task::JoinHandle<()>,
    issuer: String,
    hits: mpsc::UnboundedReceiver<Hit>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    release: Arc<Semaphore>,
}

/// tusk with one client per receiver path (`<path>-app`, registered at
/// `http://<receiver>/<path>`), each of them requiring `sid`.
async fn start() -> Running {
    start_with(BackchannelLimits {
        // Long enough that `/hang` is never cut off by it.
        timeout: GUARD,
        retry_delays: vec![Duration::from_millis(20), Duration::from_millis(20)],
        ..BackchannelLimits::default()
    })
    .await
}

async fn start_with(limits: BackchannelLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let (tx, hits) = mpsc::unbounded_channel();
    let receiver = Receiver {
        hits: tx,
        counts: Arc::default(),
        release: Arc::new(Semaphore::new(0)),
    };
    let (counts, release) = (receiver.counts.clone(), receiver.release.clone());
    let app = axum::Router::new()
        .route("/{path}", axum::routing::any(receive))
        .with_state(receiver);
    let receiver_task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let port = Port::bind().await.unwrap();
    let issuer = port.issuer();
    let store = Store::memory();
    let connectors = [ConnectorConfig {
        id: "test".into(),
        name: "Test".into(),
        kind: "mockPassword".into(),
        config: json!({"username": "admin", "password": PASSWORD}),
    }];
    let clients: Vec<OidcClient> = ["ok", "flaky", "redirect", "hang"]
        .iter()
        .map(|path| OidcClient {
            id: format!("{path}-app"),
            secret: Secret::new(SECRET.into()),
            name: (*path).into(),
            redirect_uris: vec![REDIRECT.into()],
            backchannel_logout_uri: format!("http://{at}/{path}"),
            backchannel_logout_session_required: true,
            trusted: true,
            ..Default::default()
        })
        .collect();
    let options = ServerOptions {
        backchannel: limits,
        ..provider_options(&issuer, &store, &connectors, &clients).await
    };
    let server = TestServer::start_on(port, store, options);
    Running {
        _server: server,
        _receiver: receiver_task,
        issuer,
        hits,
        counts,
        release,
    }
}

fn http() -> reqwest::Client {
    crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(GUARD)
        .build()
        .unwrap()
}

/// Logs in through the password form as `client` with `offline_access`;
/// returns the token response.
async fn log_in(issuer: &str, client: &str) -> Value {
    let c = http();
    let resp = c
        .get(format!("{issuer}/auth?client_id={client}&redirect_uri={REDIRECT}&response_type=code&scope=openid+offline_access&state=st"))
        .send()
        .await
        .unwrap();
    let to_connector = resp.headers()["location"].to_str().unwrap().to_owned();
    let resp = c.get(&to_connector).send().await.unwrap();
    let form = resp.headers()["location"].to_str().unwrap().to_owned();
    let ok = c
        .post(&form)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("login=admin&password={PASSWORD}"))
        .send()
        .await
        .unwrap();
    let code = code_in(&ok);
    c.post(format!("{issuer}/token"))
        .basic_auth(client, Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /token/revoke` of `token` by `client`; the HTTP status.
async fn revoke(issuer: &str, client: &str, token: &str) -> StatusCode {
    http()
        .post(format!("{issuer}/token/revoke"))
        .basic_auth(client, Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn next_hit(r: &mut Running) -> Hit {
    tokio::time::timeout(GUARD, r.hits.recv())
        .await
        .expect("no back-channel logout reached the receiver")
        .unwrap()
}

/// Verifies `token` against tusk's published JWKS, as a relying party
/// would, and checks it is the logout token of the session `id_token`
/// belongs to, for `client`.
async fn assert_logout_token(issuer: &str, token: &str, id_token: &str, client: &str) {
    let jwks: Value = http()
        .get(format!("{issuer}/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = tusk_jose::VerifyingKeys::from_jwks(&jwks).unwrap();
    let claims = keys.verify(token, &tusk_jose::Alg::ALL).unwrap();
    let id = keys.verify(id_token, &tusk_jose::Alg::ALL).unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], client);
    assert_eq!(claims["sub"], id["sub"]);
    assert_eq!(claims["sid"], id["sid"]);
    assert!(claims["sid"].is_string());
    assert_eq!(claims["events"], json!({EVENT: {}}));
    assert!(claims["jti"].is_string() && claims.get("nonce").is_none());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 120);
}

#[tokio::test]
async fn revoking_a_refresh_token_posts_a_verifiable_logout_token() {
    let mut r = start().await;
    let tokens = log_in(&r.issuer, "ok-app").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(&r.issuer, "ok-app", rt).await, StatusCode::OK);
    let hit = next_hit(&mut r).await;
    assert_eq!(hit.path, "ok");
    assert_eq!(hit.content_type, "application/x-www-form-urlencoded");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_logout_token(&r.issuer, &hit.token, id_token, "ok-app").await;
}

#[tokio::test]
async fn reuse_detection_posts_a_logout_token() {
    let mut r = start().await;
    let tokens = log_in(&r.issuer, "ok-app").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let refresh = |token: String| {
        let issuer = r.issuer.clone();
        async move {
            http()
                .post(format!("{issuer}/token"))
                .basic_auth("ok-app", Some(SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=refresh_token&refresh_token={token}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(refresh(first.to_owned()).await, StatusCode::OK);
    assert_eq!(refresh(first.to_owned()).await, StatusCode::BAD_REQUEST);
    let hit = next_hit(&mut r).await;
    assert_eq!(hit.path, "ok");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_logout_token(&r.issuer, &hit.token, id_token, "ok-app").await;
}

/// A receiver that answers 503 twice gets the same token on the third try.
#[tokio::test]
async fn a_failing_receiver_gets_the_token_on_a_retry() {
    let mut r = start().await;
    let tokens = log_in(&r.issuer, "flaky-app").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(&r.issuer, "flaky-app", rt).await, StatusCode::OK);
    let hits = [
        next_hit(&mut r).await,
        next_hit(&mut r).await,
        next_hit(&mut r).await,
    ];
    assert!(
        hits.iter()
            .all(|h| h.path == "flaky" && h.token == hits[0].token)
    );
    assert_eq!(r.counts.lock().unwrap()["flaky"], 3);
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_logout_token(&r.issuer, &hits[0].token, id_token, "flaky-app").await;
}

/// A 302 from the registered URI is a failure, never followed: the
/// redirect's target sees nothing, and a redirect is not retried.
#[tokio::test]
async fn a_redirect_is_not_followed() {
    let mut r = start().await;
    let failed_before = failed_count(&r.issuer).await;
    let tokens = log_in(&r.issuer, "redirect-app").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(&r.issuer, "redirect-app", rt).await, StatusCode::OK);
    assert_eq!(next_hit(&mut r).await.path, "redirect");
    // The sender counts its outcome once it has given up on the message;
    // a followed redirect would reach `/target` instead.
    let deadline = tokio::time::Instant::now() + GUARD;
    while failed_count(&r.issuer).await <= failed_before
        && !r.counts.lock().unwrap().contains_key("target")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "neither a failure counted nor a request to the redirect's target"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = r.counts.lock().unwrap().clone();
    assert_eq!(counts.get("redirect"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("target"), None, "{counts:?}");
}

/// `tusk_backchannel_logouts_total{outcome="failed"}` as `/metrics` shows
/// it (0 before the first).
async fn failed_count(issuer: &str) -> u64 {
    outcome_count(issuer, "failed").await
}

async fn outcome_count(issuer: &str, outcome: &str) -> u64 {
    let base = issuer.trim_end_matches("/dex");
    let text = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with(&format!(
                "tusk_backchannel_logouts_total{{outcome=\"{outcome}\"}}"
            ))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A receiver that holds the request does not hold up the request that
/// ended the session: the revocation is answered while the receiver still
/// has the logout token's request open.
#[tokio::test]
async fn a_hanging_receiver_does_not_delay_the_request_that_ended_the_session() {
    let mut r = start().await;
    let tokens = log_in(&r.issuer, "hang-app").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let revoked = revoke(&r.issuer, "hang-app", rt).await;
    assert_eq!(revoked, StatusCode::OK);
    let hit = next_hit(&mut r).await;
    assert_eq!(hit.path, "hang");
    // Still held: the receiver has not been released yet.
    assert_eq!(r.release.available_permits(), 0);
    r.release.add_permits(1);
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_logout_token(&r.issuer, &hit.token, id_token, "hang-app").await;
}

/// The pending bound: with one slot, held by a token its receiver has not
/// answered, the next token is dropped (counted, never queued, never
/// waited for), and the first is still delivered once released.
#[tokio::test]
async fn past_the_pending_bound_a_token_is_dropped_not_queued() {
    let mut r = start_with(BackchannelLimits {
        timeout: GUARD,
        retry_delays: Vec::new(),
        max_pending: 1,
        max_concurrent: 1,
    })
    .await;
    let dropped_before = outcome_count(&r.issuer, "dropped").await;
    let first = log_in(&r.issuer, "hang-app").await;
    let second = log_in(&r.issuer, "hang-app").await;
    let rt = |t: &Value| t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        revoke(&r.issuer, "hang-app", &rt(&first)).await,
        StatusCode::OK
    );
    // The first token holds the one slot while the receiver holds it.
    let held = next_hit(&mut r).await;
    assert_eq!(
        revoke(&r.issuer, "hang-app", &rt(&second)).await,
        StatusCode::OK
    );
    let deadline = tokio::time::Instant::now() + GUARD;
    while outcome_count(&r.issuer, "dropped").await <= dropped_before {
        assert!(tokio::time::Instant::now() < deadline, "no drop counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.release.add_permits(1);
    let id_token = first["id_token"].as_str().unwrap();
    assert_logout_token(&r.issuer, &held.token, id_token, "hang-app").await;
    assert_eq!(
        r.counts.lock().unwrap()["hang"],
        1,
        "the second was dropped"
    );
}
