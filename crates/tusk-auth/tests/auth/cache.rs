//! The role-binding cache (issue 16, item 3): one load however many cold
//! callers, a change re-reads only its own binding, and a read that
//! raced a later change is never installed. A counting backend over the
//! memory store sees every read; a gate holds a chosen read open.

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tusk_auth::cache::Lookup;
use tusk_auth::{AuthService, AuthSettings};
use tusk_core::audit::AuditQuery;
use tusk_core::auth::{CompiledBinding, Permission, Resource, ResourceType};
use tusk_core::clock::FakeClock;
use tusk_store::{
    Backend, Change, MemoryBackend, RawAudit, RawRecord, Record, Result, RoleBinding, Store,
};

const KIND: &str = <RoleBinding as Record>::KIND;

/// The memory backend, counting role-binding reads; a list or a get of
/// the armed key waits, after reading, until the test releases it.
struct Counting {
    inner: MemoryBackend,
    lists: AtomicUsize,
    /// Role-binding pages read, and the most rows one page returned.
    pages: AtomicUsize,
    largest_page: AtomicUsize,
    gets: Mutex<Vec<String>>,
    gate_list: Mutex<bool>,
    gate_get: Mutex<Option<String>>,
    entered: Semaphore,
    release: Semaphore,
}

impl Counting {
    fn new() -> Counting {
        Counting {
            inner: MemoryBackend::default(),
            lists: AtomicUsize::new(0),
            pages: AtomicUsize::new(0),
            largest_page: AtomicUsize::new(0),
            gets: Mutex::default(),
            gate_list: Mutex::default(),
            gate_get: Mutex::default(),
            entered: Semaphore::new(0),
            release: Semaphore::new(0),
        }
    }

    fn gets(&self) -> Vec<String> {
        self.gets.lock().unwrap().clone()
    }

    async fn held(&self) {
        self.entered.add_permits(1);
        self.release.acquire().await.unwrap().forget();
    }
}

#[async_trait]
impl Backend for Counting {
    async fn create(&self, kind: &'static str, rec: RawRecord) -> Result<()> {
        self.inner.create(kind, rec).await
    }
    async fn get(&self, kind: &'static str, id: &str) -> Result<RawRecord> {
        let r = self.inner.get(kind, id).await;
        if kind == KIND {
            self.gets.lock().unwrap().push(id.to_owned());
            let armed = {
                let mut g = self.gate_get.lock().unwrap();
                let hit = g.as_deref() == Some(id);
                if hit {
                    *g = None;
                }
                hit
            };
            if armed {
                self.held().await;
            }
        }
        r
    }
    async fn list(&self, kind: &'static str) -> Result<Vec<RawRecord>> {
        let r = self.inner.list(kind).await;
        if kind == KIND {
            self.lists.fetch_add(1, Ordering::SeqCst);
            let armed = std::mem::take(&mut *self.gate_list.lock().unwrap());
            if armed {
                self.held().await;
            }
        }
        r
    }
    /// A full load pages through the records: its first page counts as
    /// one load, and is where the gate holds it.
    async fn list_page(
        &self,
        kind: &'static str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RawRecord>> {
        let r = self.inner.list_page(kind, after, limit).await;
        if kind == KIND {
            self.pages.fetch_add(1, Ordering::SeqCst);
            let rows = r.as_ref().map_or(0, Vec::len);
            self.largest_page.fetch_max(rows, Ordering::SeqCst);
        }
        if kind == KIND && after.is_none() {
            self.lists.fetch_add(1, Ordering::SeqCst);
            let armed = std::mem::take(&mut *self.gate_list.lock().unwrap());
            if armed {
                self.held().await;
            }
        }
        r
    }
    async fn list_by_owner(&self, kind: &'static str, owner: &str) -> Result<Vec<RawRecord>> {
        self.inner.list_by_owner(kind, owner).await
    }
    async fn put(&self, kind: &'static str, rec: RawRecord) -> Result<()> {
        self.inner.put(kind, rec).await
    }
    async fn compare_and_swap(
        &self,
        kind: &'static str,
        id: &str,
        expected_version: i64,
        rec: RawRecord,
    ) -> Result<bool> {
        self.inner
            .compare_and_swap(kind, id, expected_version, rec)
            .await
    }
    async fn delete(&self, kind: &'static str, id: &str) -> Result<()> {
        self.inner.delete(kind, id).await
    }
    async fn delete_by_owner(&self, kind: &'static str, owner: &str) -> Result<u64> {
        self.inner.delete_by_owner(kind, owner).await
    }
    async fn delete_with_prefix(&self, kind: &'static str, id: &str, prefix: &str) -> Result<u64> {
        self.inner.delete_with_prefix(kind, id, prefix).await
    }
    async fn take(&self, kind: &'static str, id: &str) -> Result<RawRecord> {
        self.inner.take(kind, id).await
    }
    async fn gc(&self, now: i64) -> Result<u64> {
        self.inner.gc(now).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    fn backend_name(&self) -> &'static str {
        "counting"
    }
    async fn append_audit(&self, row: RawAudit) -> Result<()> {
        self.inner.append_audit(row).await
    }
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<RawAudit>> {
        self.inner.list_audit(query).await
    }
    async fn purge_audit(&self, before: i64) -> Result<u64> {
        self.inner.purge_audit(before).await
    }
}

fn project(i: usize) -> Resource {
    Resource {
        kind: ResourceType::Project,
        name: format!("p{i}"),
    }
}

fn list_repo() -> [Permission; 1] {
    [Permission::PROJECT_LIST_REPO]
}

/// An active auth plane over a counting backend with `n` projects, each
/// owned by `user:owner@x`; also a second store over the same backend, a
/// replica whose writes this service's feed does not hear.
async fn plane(n: usize) -> (Arc<AuthService>, Arc<Counting>, Store) {
    let backend = Arc::new(Counting::new());
    let store = Store::from_arc(backend.clone());
    let clock = Arc::new(FakeClock::new(1_800_000_000));
    let svc = AuthService::new(store, clock, AuthSettings::default(), None);
    svc.activate(None).await.unwrap();
    for i in 0..n {
        svc.create_resource_binding(&project(i), Some("user:owner@x"))
            .await
            .unwrap();
    }
    let replica = Store::from_arc(backend.clone());
    // The feed's news of those writes is handled before any test counts.
    settle().await;
    (svc, backend, replica)
}

/// Lets every spawned task of a current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// Issue 16, item 3: a cold load holds one page of raw rows at a time,
/// not every binding, and still finds every binding.
#[tokio::test]
async fn a_cold_load_reads_the_store_a_page_at_a_time() {
    let (svc, backend, replica) = plane(1).await;
    let n = 2 * tusk_auth::cache::LOAD_PAGE + 5;
    for i in 1..n {
        let entries = BTreeMap::from([(
            "user:owner@x".to_owned(),
            BTreeSet::from(["projectOwner".to_owned()]),
        )]);
        replica
            .put(&RoleBinding {
                id: project(i).binding_key(),
                entries,
            })
            .await
            .unwrap();
    }
    svc.cache().clear();
    let pages = backend.pages.load(Ordering::SeqCst);
    for i in [0, 1, tusk_auth::cache::LOAD_PAGE, n - 1] {
        let e = svc
            .evaluate("user:owner@x", &project(i), &list_repo())
            .await
            .unwrap();
        assert!(e.authorized(), "project {i}");
    }
    // n projects and the bindings activation made: three pages, the last
    // short.
    let stored = replica.list::<RoleBinding>().await.unwrap().len();
    assert!(stored > n && stored < 3 * tusk_auth::cache::LOAD_PAGE);
    assert_eq!(backend.pages.load(Ordering::SeqCst) - pages, 3);
    assert_eq!(
        backend.largest_page.load(Ordering::SeqCst),
        tusk_auth::cache::LOAD_PAGE
    );
    assert_eq!(svc.cache().binding_set().unwrap().len(), stored);
}

#[tokio::test]
async fn concurrent_cold_checks_load_every_binding_once() {
    let (svc, backend, _) = plane(20).await;
    svc.cache().clear();
    let before = backend.lists.load(Ordering::SeqCst);
    *backend.gate_list.lock().unwrap() = true;
    let checks: Vec<_> = (0..16)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move {
                svc.evaluate("user:owner@x", &project(i), &list_repo())
                    .await
                    .map(|e| e.authorized())
            })
        })
        .collect();
    // Every caller has reached the load (or the wait for it) before the
    // one read in flight is let go.
    backend.entered.acquire().await.unwrap().forget();
    settle().await;
    backend.release.add_permits(1);
    for c in checks {
        assert_eq!(c.await.unwrap(), Ok(true));
    }
    assert_eq!(backend.lists.load(Ordering::SeqCst) - before, 1);
}

#[tokio::test]
async fn a_binding_change_rereads_only_its_own_binding() {
    let (svc, backend, _) = plane(100).await;
    let root = svc
        .authenticate(Some(&svc.mint(tusk_auth::ROOT, None).await.unwrap()))
        .await
        .unwrap();
    // Warm, then note each compiled binding.
    svc.evaluate("user:owner@x", &project(0), &list_repo())
        .await
        .unwrap();
    let set = svc.cache().binding_set().unwrap();
    let keys: Vec<String> = (0..100).map(|i| project(i).binding_key()).collect();
    let before: Vec<_> = keys.iter().map(|k| set.shared(k).unwrap()).collect();
    let lists = backend.lists.load(Ordering::SeqCst);
    let gets = backend.gets().len();

    svc.modify_role_binding(&root, &project(7), "user:bob@x", &["projectViewer".into()])
        .await
        .unwrap();
    // The feed's own re-read of the change, off the request path.
    settle().await;
    let bob = svc
        .evaluate("user:bob@x", &project(7), &list_repo())
        .await
        .unwrap();
    assert!(bob.authorized(), "the change is seen by the next check");

    assert_eq!(backend.lists.load(Ordering::SeqCst), lists, "no full load");
    let reads = backend.gets()[gets..].to_vec();
    assert!(
        !reads.is_empty() && reads.iter().all(|k| *k == keys[7]),
        "only the changed binding is read: {reads:?}"
    );
    let set = svc.cache().binding_set().unwrap();
    for (i, k) in keys.iter().enumerate() {
        let now = set.shared(k).unwrap();
        assert_eq!(CompiledBinding::same(&now, &before[i]), i != 7, "{k}");
    }
}

#[tokio::test]
async fn a_read_that_raced_a_later_change_is_not_installed() {
    let (svc, backend, replica) = plane(3).await;
    svc.evaluate("user:owner@x", &project(1), &list_repo())
        .await
        .unwrap();
    let key = project(1).binding_key();
    let write = |entries: BTreeMap<String, BTreeSet<String>>| {
        let replica = replica.clone();
        let key = key.clone();
        async move {
            replica
                .put(&RoleBinding { id: key, entries })
                .await
                .unwrap()
        }
    };
    let change = Change {
        kind: KIND.into(),
        id: Some(key.clone()),
    };
    // Another replica grants alice, and this one hears of it.
    write(BTreeMap::from([(
        "user:alice@x".to_owned(),
        BTreeSet::from(["projectOwner".to_owned()]),
    )]))
    .await;
    svc.cache().apply(&change);
    // A fill reads the grant and is held before it installs it...
    *backend.gate_get.lock().unwrap() = Some(key.clone());
    let fill = tokio::spawn({
        let svc = svc.clone();
        let key = key.clone();
        async move { svc.cache().fill(&key).await.map(|b| b.is_some()) }
    });
    backend.entered.acquire().await.unwrap().forget();
    // ...while the grant is revoked and the change arrives.
    write(BTreeMap::new()).await;
    svc.cache().apply(&change);
    backend.release.add_permits(1);
    assert!(fill.await.unwrap().unwrap(), "the fill read the grant");

    let set = svc.cache().binding_set().unwrap();
    assert!(
        matches!(set.get(&key), Lookup::Stale),
        "the stale read was installed"
    );
    let alice = svc
        .evaluate("user:alice@x", &project(1), &list_repo())
        .await
        .unwrap();
    assert!(!alice.authorized(), "a revoked grant still applied");
}

#[tokio::test]
async fn a_change_during_a_cold_load_is_not_lost() {
    let (svc, backend, replica) = plane(3).await;
    svc.cache().clear();
    *backend.gate_list.lock().unwrap() = true;
    let load = tokio::spawn({
        let svc = svc.clone();
        async move {
            svc.evaluate("user:owner@x", &project(0), &list_repo())
                .await
                .map(|e| e.authorized())
        }
    });
    backend.entered.acquire().await.unwrap().forget();
    // The load has read every binding; then alice is granted on p2.
    let key = project(2).binding_key();
    replica
        .put(&RoleBinding {
            id: key.clone(),
            entries: BTreeMap::from([(
                "user:alice@x".to_owned(),
                BTreeSet::from(["projectViewer".to_owned()]),
            )]),
        })
        .await
        .unwrap();
    svc.cache().apply(&Change {
        kind: KIND.into(),
        id: Some(key.clone()),
    });
    backend.release.add_permits(1);
    assert_eq!(load.await.unwrap(), Ok(true));
    let alice = svc
        .evaluate("user:alice@x", &project(2), &list_repo())
        .await
        .unwrap();
    assert!(
        alice.authorized(),
        "the grant made during the load was lost"
    );
}

#[tokio::test]
async fn an_undecodable_binding_fails_the_load_by_name_and_loses_nothing() {
    let (svc, _, replica) = plane(2).await;
    replica
        .backend()
        .put(
            KIND,
            RawRecord {
                id: "REPO:p0/broken".into(),
                owner: None,
                data: "{not json".into(),
                expires_at: None,
                version: 0,
            },
        )
        .await
        .unwrap();
    svc.cache().clear();
    let err = svc
        .evaluate("user:owner@x", &project(0), &list_repo())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("REPO:p0/broken")
            && err.contains("not valid JSON")
            && err.contains("delete it"),
        "{err}"
    );
    // Nothing was installed from the failed load; fixed, it loads.
    assert!(svc.cache().binding_set().is_none());
    replica
        .backend()
        .delete(KIND, "REPO:p0/broken")
        .await
        .unwrap();
    let ok = svc
        .evaluate("user:owner@x", &project(0), &list_repo())
        .await
        .unwrap();
    assert!(ok.authorized());
}
