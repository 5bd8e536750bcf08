//! Pages for people while the store is down: they say "right now" and
//! answer 503, never "something is wrong on our side" (a setup fault), so
//! nobody is sent to an administrator for an outage that ends by itself.

use super::*;
use async_trait::async_trait;
use std::sync::atomic::AtomicBool;
use tusk_store::{Backend, MemoryBackend, RawAudit, RawRecord};

/// The memory backend, failing every call while `down` is set.
#[derive(Default)]
struct Flaky {
    inner: MemoryBackend,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> tusk_store::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(tusk_store::Error::Backend("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Backend for Flaky {
    async fn create(&self, kind: &'static str, rec: RawRecord) -> tusk_store::Result<()> {
        self.check()?;
        self.inner.create(kind, rec).await
    }
    async fn get(&self, kind: &'static str, id: &str) -> tusk_store::Result<RawRecord> {
        self.check()?;
        self.inner.get(kind, id).await
    }
    async fn list(&self, kind: &'static str) -> tusk_store::Result<Vec<RawRecord>> {
        self.check()?;
        self.inner.list(kind).await
    }
    async fn list_by_owner(
        &self,
        kind: &'static str,
        owner: &str,
    ) -> tusk_store::Result<Vec<RawRecord>> {
        self.check()?;
        self.inner.list_by_owner(kind, owner).await
    }
    async fn put(&self, kind: &'static str, rec: RawRecord) -> tusk_store::Result<()> {
        self.check()?;
        self.inner.put(kind, rec).await
    }
    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        rec: RawRecord,
    ) -> tusk_store::Result<bool> {
        self.check()?;
        self.inner
            .compare_and_swap(kind, id, expected_version, rec)
            .await
    }
    async fn delete(&self, kind: &'static str, id: &str) -> tusk_store::Result<()> {
        self.check()?;
        self.inner.delete(kind, id).await
    }
    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> tusk_store::Result<u64> {
        self.check()?;
        self.inner.delete_by_owner(kind, owner).await
    }
    async fn delete_with_prefix(
        &self,
        kind: &'static str,
        id: &str,
        prefix: &str,
    ) -> tusk_store::Result<u64> {
        self.check()?;
        self.inner.delete_with_prefix(kind, id, prefix).await
    }
    async fn take(&self, kind: &'static str, id: &str) -> tusk_store::Result<RawRecord> {
        self.check()?;
        self.inner.take(kind, id).await
    }
    async fn gc(&self, now: i64) -> tusk_store::Result<u64> {
        self.check()?;
        self.inner.gc(now).await
    }
    async fn ping(&self) -> tusk_store::Result<()> {
        self.check()
    }
    fn backend_name(&self) -> &'static str {
        "flaky memory"
    }
    async fn append_audit(&self, row: RawAudit) -> tusk_store::Result<()> {
        self.check()?;
        self.inner.append_audit(row).await
    }
    async fn list_audit(
        &self,
        query: &tusk_store::audit::AuditQuery,
    ) -> tusk_store::Result<Vec<RawAudit>> {
        self.check()?;
        self.inner.list_audit(query).await
    }
    async fn purge_audit(&self, before: i64) -> tusk_store::Result<u64> {
        self.check()?;
        self.inner.purge_audit(before).await
    }
}

/// RP-initiated logout with an `id_token_hint` while the store is down:
/// the session cannot be ended now, which is transient (503, "right now",
/// try again), not tusk being set up wrongly; and once the store is back
/// the same request ends it.
#[tokio::test]
async fn logout_while_the_store_is_down_is_a_transient_page() {
    let flaky = Flaky::default();
    let down = flaky.down.clone();
    let clock = Arc::new(FakeClock::new(1_800_000_000));
    let p = Provider::new(
        Settings::new(ISSUER),
        Store::new(flaky),
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
