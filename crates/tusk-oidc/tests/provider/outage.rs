//! Pages for people while the store is down: they say "right now" and
//! answer 503, never "something is wrong on our side" (a setup fault), so
//! nobody is sent to an administrator for an outage that ends by itself.

use super::probe::Probe;
use super::*;

/// RP-initiated logout with an `id_token_hint` while the store is down:
/// the session cannot be ended now, which is transient (503, "right now",
/// try again), not tusk being set up wrongly; and once the store is back
/// the same request ends it.
#[tokio::test]
async fn logout_while_the_store_is_down_is_a_transient_page() {
    let probe = Probe::default();
    let down = probe.down.clone();
    let clock = Arc::new(FakeClock::new(1_800_000_000));
    let p = Provider::new(
        Settings::new(ISSUER),
        Store::new(probe),
        clock.clone(),
        &[ConnectorConfig {
            id: "test".into(),
            name: "test".into(),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": "password"}),
        }],
    )
    .await
    .unwrap();
    p.seed_clients(&[OidcClient {
        id: "app".into(),
        secret: Secret::new("app-secret".into()),
        name: "App".into(),
        redirect_uris: vec![CONFIDENTIAL_REDIRECT.into()],
        trusted: true,
        ..Default::default()
    }])
    .await
    .unwrap();
    let e = Env { p, clock };
    let code = e.code("openid offline_access").await;
    let t = e.exchange(&code, VERIFIER).await.unwrap();
    let hint = params(&[("id_token_hint", &t.id_token)]);

    down.store(true, Ordering::SeqCst);
    let page = e.p.logout(&hint, false).await.unwrap_err();
    assert_eq!(page.status, 503, "{page:?}");
    assert_eq!(page.fault, tusk_oidc::Fault::Transient, "{page:?}");
    assert!(
        !page.message.contains("administrator"),
        "a transient page sends nobody to an administrator: {page:?}"
    );
    assert!(
        page.detail.contains("storage"),
        "the log names the cause: {page:?}"
    );
    assert!(page.title.contains("Sign-out"), "{page:?}");

    down.store(false, Ordering::SeqCst);
    assert!(matches!(
        e.p.logout(&hint, false).await.unwrap(),
        LogoutOutcome::Done
    ));
    assert_eq!(
        code_of(e.refresh(t.refresh_token.as_deref().unwrap()).await),
        ErrorCode::InvalidGrant
    );
}
