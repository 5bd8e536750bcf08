//! One storage backend for tests that watch or break the store: it counts
//! every storage call (so a test can prove a path made no round trip
//! without measuring time) and fails every call while `down` is set (an
//! outage that ends when the test says so).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tusk_core::audit::AuditQuery;
use tusk_store::{Backend, Change, MemoryBackend, RawAudit, RawRecord};

pub(crate) struct Probe {
    inner: Arc<dyn Backend>,
    pub(crate) calls: Arc<AtomicUsize>,
    pub(crate) down: Arc<AtomicBool>,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            inner: Arc::new(MemoryBackend::default()),
            calls: Arc::default(),
            down: Arc::default(),
        }
    }
}

impl Probe {
    /// Counts the call, then refuses it while the store is down.
    fn enter(&self) -> tusk_store::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(tusk_store::Error::Backend("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl Backend for Probe {
    async fn create(&self, kind: &'static str, rec: RawRecord) -> tusk_store::Result<()> {
        self.enter()?;
        self.inner.create(kind, rec).await
    }
    async fn get(&self, kind: &'static str, id: &str) -> tusk_store::Result<RawRecord> {
        self.enter()?;
        self.inner.get(kind, id).await
    }
    async fn list(&self, kind: &'static str) -> tusk_store::Result<Vec<RawRecord>> {
        self.enter()?;
        self.inner.list(kind).await
    }
    async fn list_by_owner(
        &self,
        kind: &'static str,
        owner: &str,
    ) -> tusk_store::Result<Vec<RawRecord>> {
        self.enter()?;
        self.inner.list_by_owner(kind, owner).await
    }
    async fn put(&self, kind: &'static str, rec: RawRecord) -> tusk_store::Result<()> {
        self.enter()?;
        self.inner.put(kind, rec).await
    }
    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        rec: RawRecord,
    ) -> tusk_store::Result<bool> {
        self.enter()?;
        self.inner
            .compare_and_swap(kind, id, expected_version, rec)
            .await
    }
    async fn delete(&self, kind: &'static str, id: &str) -> tusk_store::Result<()> {
        self.enter()?;
        self.inner.delete(kind, id).await
    }
    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> tusk_store::Result<u64> {
        self.enter()?;
        self.inner.delete_by_owner(kind, owner).await
    }
    async fn delete_with_prefix(
        &self,
        kind: &'static str,
        id: &str,
        prefix: &str,
    ) -> tusk_store::Result<u64> {
        self.enter()?;
        self.inner.delete_with_prefix(kind, id, prefix).await
    }
    async fn take(&self, kind: &'static str, id: &str) -> tusk_store::Result<RawRecord> {
        self.enter()?;
        self.inner.take(kind, id).await
    }
    async fn gc(&self, now: i64) -> tusk_store::Result<u64> {
        self.enter()?;
        self.inner.gc(now).await
    }
    async fn ping(&self) -> tusk_store::Result<()> {
        self.enter()?;
        self.inner.ping().await
    }
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    async fn append_audit(&self, row: RawAudit) -> tusk_store::Result<()> {
        self.enter()?;
        self.inner.append_audit(row).await
    }
    async fn list_audit(&self, query: &AuditQuery) -> tusk_store::Result<Vec<RawAudit>> {
        self.enter()?;
        self.inner.list_audit(query).await
    }
    async fn purge_audit(&self, before: i64) -> tusk_store::Result<u64> {
        self.enter()?;
        self.inner.purge_audit(before).await
    }
    async fn announce(&self, change: &Change) -> tusk_store::Result<()> {
        self.inner.announce(change).await
    }
    fn listen(&self, changes: tokio::sync::broadcast::Sender<Change>) {
        self.inner.listen(changes)
    }
}
