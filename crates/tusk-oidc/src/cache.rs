//! What the provider's read paths answer from without the store (issue 16,
//! item 1): the OAuth client records and the revocation deny-list.
//!
//! Both are kept current through the store's change feed, the same feed
//! tusk-auth's caches use (`crates/tusk-auth/src/cache.rs`), with the same
//! two guards: a generation counter, so a fill that read the store before
//! an invalidation is discarded, and a bounded recheck, because the feed
//! between replicas is asynchronous and lost while a PostgreSQL listener
//! reconnects. One difference in shape: the feed is drained on every read
//! (`try_recv`, no background task), so a change made through this replica's
//! store is applied before the next read here; a revocation is therefore
//! refused on the same replica as soon as the revoking call returns, with
//! no window at all.
//!
//! The bound across replicas: a revocation or client change made on
//! another replica is applied as soon as its notification arrives
//! (PostgreSQL LISTEN/NOTIFY, usually milliseconds), and in every case
//! within [`RECHECK_SECONDS`] of this replica's clock, because the
//! deny-list is reloaded whole and the client records dropped at that
//! interval, and at once after any sign that changes were lost (a lagged
//! receiver, the listener's `*` after a reconnect, a GC).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;
use tusk_store::{Change, OidcClient, Record, Revocation, Store};

/// The longest a replica answers from its deny-list and client records
/// without a full reload. Cost: one listing of the revocation records
/// (they expire with the tokens they cover) and one read per client in
/// use, per replica and interval.
pub const RECHECK_SECONDS: i64 = 5;

/// Bounds the client map if someone sprays client ids that exist; only
/// found clients are cached, so unknown ids cost a store read each.
const MAX_CLIENTS: usize = 10_000;

/// Expiry of an id learnt from the feed, which carries no data: kept until
/// the next reload reads the record's real expiry.
const UNKNOWN_EXPIRY: i64 = i64::MAX;

pub(crate) struct Cache {
    feed: Mutex<Receiver<Change>>,
    /// Bumped by every change applied. A client fill read at an older
    /// generation is discarded; a deny-list reload that raced a change
    /// keeps the entries the change added (a union never weakens it).
    generation: AtomicU64,
    /// Bumped when changes may have been lost (lag, `*`, a kind-wide
    /// change): a reload that raced one of these does not count as fresh.
    lost: AtomicU64,
    clients: RwLock<HashMap<String, Arc<OidcClient>>>,
    deny: RwLock<DenyList>,
    /// Single flight for the deny-list reload.
    reload: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct DenyList {
    /// Revocation id (`jti:<id>`, `sid:<family>`) → when it expires.
    ids: HashMap<String, i64>,
    /// When the list was last read whole; `None`: it must be read before
    /// it may answer.
    loaded_at: Option<i64>,
}

impl Cache {
    pub(crate) fn new(store: &Store) -> Cache {
        Cache {
            feed: Mutex::new(store.subscribe()),
            generation: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            clients: RwLock::new(HashMap::new()),
            deny: RwLock::new(DenyList::default()),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Applies every change the feed holds, and starts the recheck when
    /// the deny-list is [`RECHECK_SECONDS`] old. Never touches the store.
    pub(crate) fn sync(&self, now: i64) {
        if let Ok(mut feed) = self.feed.lock() {
            loop {
                match feed.try_recv() {
                    Ok(change) => self.apply(&change),
                    Err(TryRecvError::Lagged(_)) => self.apply(&Change {
                        kind: "*".into(),
                        id: None,
                    }),
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                }
            }
        }
        let due = self
            .deny
            .read()
            .ok()
            .and_then(|d| d.loaded_at)
            .is_some_and(|at| now.saturating_sub(at) >= RECHECK_SECONDS);
        if due {
            self.generation.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut d) = self.deny.write() {
                d.loaded_at = None;
            }
            if let Ok(mut c) = self.clients.write() {
                c.clear();
            }
        }
    }

    fn apply(&self, change: &Change) {
        let all = change.kind == "*";
        let client = change.kind == OidcClient::KIND;
        let revocation = change.kind == Revocation::KIND;
        if !(all || client || revocation) {
            return;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        if (all || client)
            && let Ok(mut c) = self.clients.write()
        {
            match (&change.id, all) {
                (Some(id), false) => {
                    c.remove(id);
                }
                _ => c.clear(),
            }
        }
        if (all || revocation)
            && let Ok(mut d) = self.deny.write()
        {
            match (&change.id, all) {
                // A revocation record is only ever written to deny its id
                // (and removed only by GC, which announces `*`).
                (Some(id), false) => {
                    d.ids.entry(id.clone()).or_insert(UNKNOWN_EXPIRY);
                }
                _ => {
                    self.lost.fetch_add(1, Ordering::SeqCst);
                    d.loaded_at = None;
                }
            }
        }
    }

    /// The client `id`, from memory when this replica has read it since
    /// the last change to it.
    pub(crate) async fn client(
        &self,
        store: &Store,
        id: &str,
        now: i64,
    ) -> Result<Option<OidcClient>, tusk_store::Error> {
        self.sync(now);
        if let Some(c) = self.clients.read().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(Some(OidcClient::clone(&c)));
        }
        let seen = self.generation();
        let client = match store.get::<OidcClient>(id).await {
            Ok(c) => c,
            Err(tusk_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        self.fill_client(seen, now, &client);
        Ok(Some(client))
    }

    /// Keeps a client read at generation `seen`, unless a change was
    /// applied since (the read may predate it).
    fn fill_client(&self, seen: u64, now: i64, client: &OidcClient) {
        // Apply what arrived while the store was read, so a change that
        // raced the read is seen by the generation check below.
        self.sync(now);
        if let Ok(mut m) = self.clients.write()
            && self.generation() == seen
        {
            if m.len() >= MAX_CLIENTS {
                m.clear();
            }
            m.insert(client.id.clone(), Arc::new(client.clone()));
        }
    }

    /// Whether any of `ids` (`jti:…`, `sid:…`) is revoked. Reads the store
    /// only to (re)load the whole deny-list: at start, every
    /// [`RECHECK_SECONDS`], and after changes may have been lost.
    pub(crate) async fn revoked(
        &self,
        store: &Store,
        ids: &[&str],
        now: i64,
    ) -> Result<bool, tusk_store::Error> {
        self.sync(now);
        if !self.deny_loaded() {
            self.reload_deny(store, now).await?;
        }
        Ok(self
            .deny
            .read()
            .map(|d| {
                ids.iter()
                    .any(|id| d.ids.get(*id).is_some_and(|e| *e > now))
            })
            // A poisoned lock cannot say "not revoked".
            .unwrap_or(true))
    }

    fn deny_loaded(&self) -> bool {
        self.deny.read().is_ok_and(|d| d.loaded_at.is_some())
    }

    async fn reload_deny(&self, store: &Store, now: i64) -> Result<(), tusk_store::Error> {
        let _single = self.reload.lock().await;
        self.sync(now);
        if self.deny_loaded() {
            return Ok(());
        }
        let seen = self.generation();
        let lost = self.lost.load(Ordering::SeqCst);
        let rows = store.list::<Revocation>().await?;
        self.sync(now);
        self.install_deny(seen, lost, now, rows);
        Ok(())
    }

    /// Installs a listing read at generation `seen`. Replaces the list when
    /// nothing changed meanwhile; otherwise adds to it (entries the feed
    /// added during the read stay), and stays unloaded if changes may have
    /// been lost during the read.
    fn install_deny(&self, seen: u64, lost: u64, now: i64, rows: Vec<Revocation>) {
        let fresh = rows
            .into_iter()
            .filter(|r| r.expires_at > now)
            .map(|r| (r.id, r.expires_at));
        let Ok(mut d) = self.deny.write() else { return };
        if self.generation() == seen {
            d.ids = fresh.collect();
        } else {
            d.ids.extend(fresh);
        }
        if self.lost.load(Ordering::SeqCst) == lost {
            d.loaded_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn client(id: &str, name: &str) -> OidcClient {
        OidcClient {
            id: id.into(),
            name: name.into(),
            public: true,
            ..Default::default()
        }
    }

    fn revocation(id: &str, expires_at: i64) -> Revocation {
        Revocation {
            id: id.into(),
            expires_at,
        }
    }

    /// Writes a record behind the feed's back, as another replica whose
    /// notification was lost would.
    async fn plant<T: Record>(store: &Store, value: &T) {
        let other = Store::from_arc(store.backend().clone());
        other.put(value).await.unwrap();
    }

    const NOW: i64 = 1_800_000_000;

    #[tokio::test]
    async fn a_cached_client_answers_until_a_put_or_delete_invalidates_it() {
        let store = Store::memory();
        store.put(&client("a", "first")).await.unwrap();
        let cache = Cache::new(&store);
        assert_eq!(
            cache.client(&store, "a", NOW).await.unwrap().unwrap().name,
            "first"
        );
        // Hit: a write the feed did not carry is not seen.
        plant(&store, &client("a", "unseen")).await;
        assert_eq!(
            cache.client(&store, "a", NOW).await.unwrap().unwrap().name,
            "first"
        );
        // A put through the store invalidates.
        store.put(&client("a", "second")).await.unwrap();
        assert_eq!(
            cache.client(&store, "a", NOW).await.unwrap().unwrap().name,
            "second"
        );
        store.delete::<OidcClient>("a").await.unwrap();
        assert!(cache.client(&store, "a", NOW).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_client_fill_that_raced_an_invalidation_is_discarded() {
        let store = Store::memory();
        store.put(&client("a", "old")).await.unwrap();
        let cache = Cache::new(&store);
        let seen = cache.generation();
        let stale = store.get::<OidcClient>("a").await.unwrap();
        // The change lands between the read and the fill.
        store.put(&client("a", "new")).await.unwrap();
        cache.fill_client(seen, NOW, &stale);
        assert!(cache.clients.read().unwrap().get("a").is_none());
        assert_eq!(
            cache.client(&store, "a", NOW).await.unwrap().unwrap().name,
            "new"
        );
    }

    #[tokio::test]
    async fn client_records_are_reread_after_the_recheck_interval() {
        let store = Store::memory();
        store.put(&client("a", "first")).await.unwrap();
        let cache = Cache::new(&store);
        assert!(!cache.revoked(&store, &["jti:x"], NOW).await.unwrap());
        cache.client(&store, "a", NOW).await.unwrap();
        plant(&store, &client("a", "unseen")).await;
        let later = NOW + RECHECK_SECONDS - 1;
        assert_eq!(
            cache
                .client(&store, "a", later)
                .await
                .unwrap()
                .unwrap()
                .name,
            "first"
        );
        let due = NOW + RECHECK_SECONDS;
        assert_eq!(
            cache.client(&store, "a", due).await.unwrap().unwrap().name,
            "unseen"
        );
    }

    #[tokio::test]
    async fn a_revocation_through_this_store_is_denied_at_once() {
        let store = Store::memory();
        let cache = Cache::new(&store);
        assert!(
            !cache
                .revoked(&store, &["jti:a", "sid:s"], NOW)
                .await
                .unwrap()
        );
        store.put(&revocation("sid:s", NOW + 60)).await.unwrap();
        assert!(
            cache
                .revoked(&store, &["jti:a", "sid:s"], NOW)
                .await
                .unwrap()
        );
        assert!(!cache.revoked(&store, &["jti:a"], NOW).await.unwrap());
    }

    #[tokio::test]
    async fn a_lost_revocation_is_denied_after_the_recheck_interval() {
        let store = Store::memory();
        let cache = Cache::new(&store);
        assert!(!cache.revoked(&store, &["jti:a"], NOW).await.unwrap());
        plant(&store, &revocation("jti:a", NOW + 600)).await;
        assert!(
            !cache
                .revoked(&store, &["jti:a"], NOW + RECHECK_SECONDS - 1)
                .await
                .unwrap()
        );
        assert!(
            cache
                .revoked(&store, &["jti:a"], NOW + RECHECK_SECONDS)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_lagged_feed_reloads_the_deny_list() {
        let store = Store::memory();
        let cache = Cache::new(&store);
        assert!(!cache.revoked(&store, &["jti:a"], NOW).await.unwrap());
        plant(&store, &revocation("jti:a", NOW + 600)).await;
        // More changes than the feed holds (1024): the receiver lags.
        for i in 0..1100 {
            store.put(&client(&format!("c{i}"), "x")).await.unwrap();
        }
        assert!(cache.revoked(&store, &["jti:a"], NOW).await.unwrap());
    }

    #[tokio::test]
    async fn gc_reloads_the_deny_list_and_expired_entries_go() {
        let store = Store::memory();
        store.put(&revocation("jti:a", NOW + 10)).await.unwrap();
        let cache = Cache::new(&store);
        assert!(cache.revoked(&store, &["jti:a"], NOW).await.unwrap());
        assert!(!cache.revoked(&store, &["jti:a"], NOW + 10).await.unwrap());
        store.gc(NOW + 10).await.unwrap();
        cache.sync(NOW + 10);
        assert!(!cache.deny_loaded(), "GC's `*` must force a reload");
        assert!(!cache.revoked(&store, &["jti:a"], NOW + 10).await.unwrap());
        assert!(cache.deny.read().unwrap().ids.is_empty());
    }

    #[tokio::test]
    async fn a_reload_that_raced_a_revocation_keeps_it() {
        let store = Store::memory();
        let cache = Cache::new(&store);
        let seen = cache.generation();
        let lost = cache.lost.load(Ordering::SeqCst);
        // The listing was read before the revocation was written.
        let rows = store.list::<Revocation>().await.unwrap();
        store.put(&revocation("jti:a", NOW + 60)).await.unwrap();
        cache.sync(NOW);
        cache.install_deny(seen, lost, NOW, rows);
        assert!(cache.deny_loaded());
        assert!(cache.revoked(&store, &["jti:a"], NOW).await.unwrap());
    }

    #[tokio::test]
    async fn a_reload_that_raced_lost_changes_does_not_count_as_fresh() {
        let store = Store::memory();
        let cache = Cache::new(&store);
        let seen = cache.generation();
        let lost = cache.lost.load(Ordering::SeqCst);
        let rows = store.list::<Revocation>().await.unwrap();
        cache.apply(&Change {
            kind: "*".into(),
            id: None,
        });
        cache.install_deny(seen, lost, NOW, rows);
        assert!(!cache.deny_loaded());
    }
}
