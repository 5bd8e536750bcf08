//! OpenID Connect Back-Channel Logout: the logout token a client gets when
//! a session of it ends (docs/logout.md), checked claim by claim, header
//! and signature against the JWKS, through a recording delivery.

use super::*;
use std::time::Duration;
use tokio::sync::mpsc;
use tusk_oidc::{EndedSession, LogoutDelivery, LogoutMessage, NotSent, Unsent};

const LOGOUT_URI: &str = "https://app.example.com/backchannel";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A hang guard for the background task, not a timing assertion.
const GUARD: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum Heard {
    Sent(LogoutMessage),
    NotSent(String, NotSent),
}

struct Recorder(mpsc::UnboundedSender<Heard>);

impl LogoutDelivery for Recorder {
    fn deliver(&self, message: LogoutMessage) {
        let _ = self.0.send(Heard::Sent(message));
    }
    fn not_sent(&self, client_id: &str, reason: NotSent) {
        let _ = self.0.send(Heard::NotSent(client_id.to_owned(), reason));
    }
}

/// `env()` with client `app` registered for back-channel logout and a
/// recording delivery wired.
async fn wired(session_required: bool) -> (Env, mpsc::UnboundedReceiver<Heard>) {
    let e = env().await;
    e.p.seed_clients(&[OidcClient {
        id: "app".into(),
        secret: Secret::new("app-secret".into()),
        name: "App".into(),
        redirect_uris: vec![CONFIDENTIAL_REDIRECT.into()],
        backchannel_logout_uri: LOGOUT_URI.into(),
        backchannel_logout_session_required: session_required,
        trusted: true,
        ..Default::default()
    }])
    .await
    .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    e.p.deliver_logouts(Arc::new(Recorder(tx)));
    (e, rx)
}

/// The next logout token handed to the delivery.
async fn next(rx: &mut mpsc::UnboundedReceiver<Heard>) -> LogoutMessage {
    let heard = tokio::time::timeout(GUARD, rx.recv())
        .await
        .expect("no logout within the guard")
        .expect("the delivery is gone");
    match heard {
        Heard::Sent(m) => m,
        Heard::NotSent(client, reason) => panic!("no token for {client}: {reason:?}"),
    }
}

fn header(jwt: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// A session with a refresh token: its ID token's claims and the token.
async fn session(e: &Env) -> (Value, tusk_oidc::TokenResponse) {
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    (e.verify(&t.id_token), t)
}

/// Asserts `token` is exactly the logout token for the session `id`
/// names, issued at the fake clock's now.
fn assert_logout_token(e: &Env, token: &str, id: &Value, with_sid: bool) {
    let h = header(token);
    assert_eq!(h["typ"], "logout+jwt", "{h}");
    let claims = e.verify(token); // signature, against the published JWKS
    let now = e.p.now();
    let mut want = json!({
        "iss": ISSUER,
        "aud": "app",
        "sub": id["sub"],
        "iat": now,
        "exp": now + 120,
        "jti": claims["jti"],
        "events": {EVENT: {}},
    });
    if with_sid {
        want["sid"] = id["sid"].clone();
    }
    assert_eq!(claims, want);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 20));
    assert!(claims.get("nonce").is_none(), "never a nonce");
}

#[tokio::test]
async fn revoking_a_refresh_token_sends_the_client_a_signed_logout_token_with_sid() {
    let (e, mut rx) = wired(false).await;
    let (id, t) = session(&e).await;
    e.p.revoke(
        Some(&basic("app", "app-secret")),
        &params(&[("token", t.refresh_token.as_deref().unwrap())]),
    )
    .await
    .unwrap();
    let m = next(&mut rx).await;
    assert_eq!((m.client_id.as_str(), m.uri.as_str()), ("app", LOGOUT_URI));
    assert!(
        !format!("{m:?}").contains(&m.token),
        "Debug masks the token"
    );
    assert_logout_token(&e, &m.token, &id, true);
    assert_eq!(id["sid"].as_str().map(str::len), Some(22), "sid is known");
    // One session, one token.
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn reuse_detection_ends_the_session_and_sends_a_logout_token() {
    let (e, mut rx) = wired(true).await;
    let (id, t) = session(&e).await;
    let first = t.refresh_token.unwrap();
    e.refresh(&first).await.unwrap();
    assert!(rx.try_recv().is_err(), "a rotation ends nothing");
    assert_eq!(code_of(e.refresh(&first).await), ErrorCode::InvalidGrant);
    let m = next(&mut rx).await;
    assert_logout_token(&e, &m.token, &id, true);
}

/// `sid` goes in whenever the session's id is known; without one, a client
/// that requires it gets nothing (it would refuse the token), the others
/// a token naming only the user. Clients that registered no URI are not
/// mentioned; each client is told once.
#[tokio::test]
async fn sid_is_sent_when_known_and_a_client_that_requires_it_gets_none_without() {
    for required in [false, true] {
        let (e, _rx) = wired(required).await;
        let subject = "Cg0wLTM4NS0yODA4OS0wEgR0ZXN0".to_owned();
        let known = EndedSession {
            subject: subject.clone(),
            sid: Some("S1".into()),
            client_ids: vec!["app".into(), "cli".into(), "app".into(), "nobody".into()],
        };
        let out = e.p.logout_messages(&known).await;
        assert_eq!(out.len(), 1, "{out:?}");
        let m = out[0].clone().unwrap();
        let claims = e.verify(&m.token);
        assert_eq!(claims["sid"], "S1", "required={required}");
        assert_eq!(claims["sub"], subject.as_str());

        let unknown = EndedSession { sid: None, ..known };
        let out = e.p.logout_messages(&unknown).await;
        if required {
            assert_eq!(
                out,
                vec![Err(Unsent {
                    client_id: "app".into(),
                    reason: NotSent::SessionIdUnknown
                })]
            );
        } else {
            let claims = e.verify(&out[0].clone().unwrap().token);
            assert!(claims.get("sid").is_none(), "{claims}");
            assert_eq!(claims["sub"], subject.as_str());
        }
    }
}

/// Signed like the client's ID tokens: a client pinned to RS256 gets an
/// RS256 logout token.
#[tokio::test]
async fn a_logout_token_respects_the_clients_signing_algorithm() {
    let (e, _rx) = wired(false).await;
    e.p.seed_clients(&[OidcClient {
        id: "legacy".into(),
        secret: Secret::new("legacy-secret".into()),
        redirect_uris: vec!["https://legacy.example.com/cb".into()],
        id_token_signing_alg: "RS256".into(),
        backchannel_logout_uri: "https://legacy.example.com/bc".into(),
        trusted: true,
        ..Default::default()
    }])
    .await
    .unwrap();
    let out =
        e.p.logout_messages(&EndedSession {
            subject: "s".into(),
            sid: Some("x".into()),
            client_ids: vec!["legacy".into(), "app".into()],
        })
        .await;
    let algs: Vec<String> = out
        .iter()
        .map(|m| {
            header(&m.clone().unwrap().token)["alg"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);
}

/// A logout token is signed with the ID tokens' keys, so the provider
/// itself must never take it for an access token or an ID token.
#[tokio::test]
async fn a_logout_token_is_no_credential_here() {
    let (e, _rx) = wired(false).await;
    let out =
        e.p.logout_messages(&EndedSession {
            subject: "s".into(),
            sid: Some("x".into()),
            client_ids: vec!["app".into()],
        })
        .await;
    let token = out[0].clone().unwrap().token;
    let userinfo = e.p.userinfo(&token).await.map_err(|e| e.code);
    assert_eq!(userinfo, Err(ErrorCode::InvalidToken));
    let err = e.p.verify_id_token(&token, "app").await.unwrap_err();
    assert!(
        err.description.contains("logout token"),
        "{}",
        err.description
    );
    let hint =
        e.p.logout(&params(&[("id_token_hint", &token)]), false)
            .await;
    assert!(hint.is_err(), "{hint:?}");
}

#[tokio::test]
async fn discovery_advertises_back_channel_logout_with_sid() {
    let e = env().await;
    let doc: Value = serde_json::from_str(&e.p.discovery_json()).unwrap();
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
}
