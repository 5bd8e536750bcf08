//! Issue 16, item 1: userinfo, introspection and client authentication
//! answer from memory (client records, the revocation deny-list), and a
//! revocation is never weakened: refused at once on the replica that
//! revoked, and on every other replica when the feed brings the change or,
//! if the feed is lost, within `CACHE_RECHECK_SECONDS` of its clock. And
//! an access token verified once is remembered by its key ring, which still
//! checks its expiry at every use and forgets it with the keys.

use super::probe::Probe;
use super::*;
use tusk_oidc::CACHE_RECHECK_SECONDS;
use tusk_store::{Backend, MemoryBackend};

fn mock_password() -> [(&'static str, &'static str, Value); 1] {
    [(
        "test",
        "mockPassword",
        json!({"username": "admin", "password": "password"}),
    )]
}

async fn revoke(e: &Env, token: &str) {
    e.p.revoke(
        Some(&basic("app", "app-secret")),
        &params(&[("token", token)]),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn userinfo_and_introspection_of_a_valid_token_read_no_store() {
    let probe = Probe::default();
    let calls = probe.calls.clone();
    let store = Store::new(probe);
    let e = env_in(
        store,
        Arc::new(FakeClock::new(1_800_000_000)),
        |_| {},
        &mock_password(),
    )
    .await;
    let code = e.code("openid email offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    // The first check loads the deny-list and the client record.
    e.p.userinfo(&t.access_token).await.unwrap();
    assert_eq!(e.introspect(&t.access_token).await["active"], true);
    calls.store(0, Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(
            e.p.userinfo(&t.access_token).await.unwrap()["email"],
            "kilgore@kilgore.trout"
        );
        assert_eq!(e.introspect(&t.access_token).await["active"], true);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "store calls on the hot path"
    );
    // The counter is live: a refresh token is looked up in the store.
    let rt = t.refresh_token.as_deref().unwrap();
    assert_eq!(e.introspect(rt).await["active"], true);
    assert!(calls.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn a_revoked_token_or_session_is_refused_at_once_on_the_same_replica() {
    let e = env().await;
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
    revoke(&e, &t.access_token).await;
    assert_eq!(
        e.p.userinfo(&t.access_token).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
    assert_eq!(e.introspect(&t.access_token).await["active"], false);
    // A session ended by revoking its refresh token denies its other
    // access tokens too (`sid`).
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
    revoke(&e, t.refresh_token.as_deref().unwrap()).await;
    assert_eq!(
        e.p.userinfo(&t.access_token).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
}

/// Two replicas over one backend that relays no change feed (the memory
/// backend): the worst case, a feed lost for good. The other replica
/// refuses within `CACHE_RECHECK_SECONDS` of its clock.
#[tokio::test]
async fn without_a_feed_another_replica_refuses_within_the_recheck_bound() {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::default());
    let clock = Arc::new(FakeClock::new(1_800_000_000));
    let a = env_in(
        Store::from_arc(backend.clone()),
        clock.clone(),
        |_| {},
        &mock_password(),
    )
    .await;
    let b = env_in(
        Store::from_arc(backend.clone()),
        clock.clone(),
        |_| {},
        &mock_password(),
    )
    .await;
    let code = a.code("openid offline_access").await;
    let t = a.exchange(&code, VERIFIER).await.unwrap();
    assert_eq!(b.introspect(&t.access_token).await["active"], true);
    revoke(&a, &t.access_token).await;
    assert!(a.p.userinfo(&t.access_token).await.is_err());
    clock.advance(CACHE_RECHECK_SECONDS);
    assert_eq!(
        b.p.userinfo(&t.access_token).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
    assert_eq!(b.introspect(&t.access_token).await["active"], false);
    // A client deleted on one replica stops authenticating on the other
    // within the same bound.
    Store::from_arc(backend.clone())
        .delete::<OidcClient>("app")
        .await
        .unwrap();
    clock.advance(CACHE_RECHECK_SECONDS);
    let refused =
        b.p.introspect(
            Some(&basic("app", "app-secret")),
            &params(&[("token", &t.access_token)]),
        )
        .await;
    assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::InvalidClient));
}

/// Two replicas on one PostgreSQL database, whose LISTEN/NOTIFY relays
/// the feed: once the revocation's notification has reached replica two
/// (waited for on its feed, no clock moved, no timing asserted), replica
/// two refuses the token. PostgreSQL comes from `TUSK_TEST_POSTGRES`; an
/// unreachable server fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_postgres_replicas_the_feed_carries_a_revocation() {
    let base = std::env::var("TUSK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db = format!("tusk_oidc_cache_{}", std::process::id());
    let psql = |sql: String| {
        std::process::Command::new("psql")
            .args([
                &format!("{base}/postgres"),
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                &sql,
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        psql(format!("DROP DATABASE IF EXISTS {db}")) && psql(format!("CREATE DATABASE {db}")),
        "PostgreSQL at {base} is not reachable; start it or set TUSK_TEST_POSTGRES"
    );
    let url = format!("{base}/{db}");
    let clock = Arc::new(FakeClock::new(1_800_000_000));
    let a = env_in(
        tusk_store_sql::open(&url).await.unwrap(),
        clock.clone(),
        |_| {},
        &mock_password(),
    )
    .await;
    let store_b = tusk_store_sql::open(&url).await.unwrap();
    let mut feed_b = store_b.subscribe();
    let b = env_in(store_b, clock.clone(), |_| {}, &mock_password()).await;
    let code = a.code("openid offline_access").await;
    let t = a.exchange(&code, VERIFIER).await.unwrap();
    assert!(b.p.userinfo(&t.access_token).await.is_ok());
    revoke(&a, &t.access_token).await;
    // Wait for the notification itself, however long it takes.
    let wait = async {
        loop {
            match feed_b.recv().await {
                Ok(c) if c.kind == "revocation" => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("replica two's feed closed: {e}"),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), wait)
        .await
        .expect("the revocation's notification never reached replica two");
    assert_eq!(
        b.p.userinfo(&t.access_token).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
    drop((a, b));
    psql(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

/// The `exp` of a JWT, read without verifying it.
fn exp_of(jwt: &str) -> i64 {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"].as_i64().unwrap()
}

/// A token whose signature was checked once is not trusted forever: its
/// expiry is checked at every use (the clock moves, the claims stay).
#[tokio::test]
async fn a_verified_token_still_expires() {
    let e = env().await;
    let code = e.code("openid email").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    // Verified twice: the second use is answered from what the first proved.
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
    assert_eq!(e.introspect(&t.access_token).await["active"], true);
    let now = tusk_core::clock::Clock::now(&*e.clock);
    e.advance(exp_of(&t.access_token) - now);
    let refused = e.p.userinfo(&t.access_token).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidToken);
    assert!(
        refused.description.contains("expired"),
        "{}",
        refused.description
    );
    assert_eq!(e.introspect(&t.access_token).await["active"], false);
}

/// Keys withdrawn (here the stored key set deleted, so the next tick makes
/// a new one) take what was verified under them along: a token signed by
/// a key no longer in the JWKS is refused at once, though it was accepted
/// a moment before.
#[tokio::test]
async fn a_verified_token_is_refused_once_its_key_is_gone() {
    let e = env().await;
    let code = e.code("openid email").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
    assert_eq!(e.introspect(&t.access_token).await["active"], true);
    let before = e.p.jwks_json();
    e.p.store()
        .delete::<tusk_store::SigningKeys>(tusk_store::SigningKeys::ID)
        .await
        .unwrap();
    e.p.tick().await;
    assert_ne!(*e.p.jwks_json(), *before, "the key set was not replaced");
    let refused = e.p.userinfo(&t.access_token).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidToken);
    assert_eq!(e.introspect(&t.access_token).await["active"], false);
    // Tokens signed by the new key work.
    let code = e.code("openid email").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
}

/// Only what the signature covers is remembered: the same payload under
/// a forged signature, presented after the real token was verified, is
/// still refused (the key is the whole token, signature included).
#[tokio::test]
async fn a_forged_signature_on_a_verified_payload_is_refused() {
    let e = env().await;
    let code = e.code("openid email").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
    let (signed, signature) = t.access_token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(
        e.p.userinfo(&forged).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidToken)
    );
    assert_eq!(e.introspect(&forged).await["active"], false);
    assert!(e.p.userinfo(&t.access_token).await.is_ok());
}
