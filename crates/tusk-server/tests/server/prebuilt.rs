//! Issue 16, item 6: discovery and the JWKS carry an `ETag`, a matching
//! `If-None-Match` gets `304 Not Modified` with no body, and the JWKS's
//! tag changes when the keys rotate.

use super::*;
use tusk_oidc::ConnectorConfig;
use tusk_store::OidcClient;

#[tokio::test]
async fn discovery_and_jwks_answer_304_to_their_etag_and_the_tag_follows_rotation() {
    let port = Port::bind().await.unwrap();
    let issuer = port.issuer();
    let store = Store::memory();
    let clock = tusk_testkit::clock_now();
    let provider = tusk_testkit::provider(
        &issuer,
        &store,
        clock.clone(),
        &[ConnectorConfig {
            id: "test".into(),
            name: "Test".into(),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": "password"}),
        }],
        &[OidcClient {
            id: "app".into(),
            secret: Secret::new("app-secret".into()),
            name: "App".into(),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            ..Default::default()
        }],
    )
    .await
    .unwrap();
    let options = ServerOptions {
        provider: Some(provider.clone()),
        ..ServerOptions::new(issuer.clone())
    };
    let _server = TestServer::start_on(port, store, options);
    let c = crate::browser_client().build().unwrap();
    let get = |path: &str, inm: &[&str]| {
        let mut req = c.get(format!("{issuer}{path}"));
        for v in inm {
            req = req.header("if-none-match", *v);
        }
        req.send()
    };
    for path in ["/.well-known/openid-configuration", "/keys"] {
        let first = get(path, &[]).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let cache_control = first.headers().get("cache-control").cloned();
        let body = first.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&body).is_ok(), "{path}");
        let weak = format!("W/{etag}");
        let listed = format!("\"other\", {etag}");
        // (If-None-Match values, expected status)
        let rows: [(&[&str], StatusCode); 6] = [
            (&[etag.as_str()], StatusCode::NOT_MODIFIED),
            (&[weak.as_str()], StatusCode::NOT_MODIFIED),
            (&["*"], StatusCode::NOT_MODIFIED),
            (&[listed.as_str()], StatusCode::NOT_MODIFIED),
            (&["\"other\""], StatusCode::OK),
            (&["not-a-tag"], StatusCode::OK),
        ];
        for (inm, status) in rows {
            let r = get(path, inm).await.unwrap();
            assert_eq!(r.status(), status, "{path} {inm:?}");
            assert_eq!(r.headers()["etag"], etag.as_str(), "{path} {inm:?}");
            assert_eq!(r.headers()["access-control-allow-origin"], "*");
            assert_eq!(r.headers().get("cache-control"), cache_control.as_ref());
            let text = r.text().await.unwrap();
            if status == StatusCode::NOT_MODIFIED {
                assert!(text.is_empty(), "{path} {inm:?}: a 304 has no body");
            } else {
                assert_eq!(text, body, "{path} {inm:?}");
            }
        }
    }
    assert!(
        get("/keys", &[])
            .await
            .unwrap()
            .headers()
            .contains_key("cache-control")
    );
    // Rotation: past the rotation period the key set changes, and so does
    // the tag; the old tag no longer gets a 304.
    let old = get("/keys", &[]).await.unwrap();
    let old_tag = old.headers()["etag"].to_str().unwrap().to_owned();
    let old_body = old.text().await.unwrap();
    clock.advance(provider.settings().rotation.period_secs + 1);
    provider.refresh_keys().await.unwrap();
    let new = get("/keys", &[&old_tag]).await.unwrap();
    assert_eq!(new.status(), StatusCode::OK);
    assert_ne!(new.headers()["etag"].to_str().unwrap(), old_tag);
    assert_ne!(new.text().await.unwrap(), old_body);
}
