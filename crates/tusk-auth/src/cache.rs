//! In-memory caches for the hot path: token → subject, role bindings and
//! group memberships. A check (WhoAmI, Authorize) reads only these; the
//! store's change feed invalidates them, including writes made by other
//! replicas when the backend relays them (PostgreSQL LISTEN/NOTIFY).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use tusk_core::auth::CompiledBinding;
use tusk_store::{AuthToken, Change, EnterpriseState, GroupMembership, RoleBinding, Store};

/// Bounds memory if a client sprays valid-looking tokens; clearing is
/// cheap, and entries come back on the next use.
const MAX_TOKENS: usize = 100_000;

/// How long a replica trusts a cached token before reading the store
/// again. The change feed usually invalidates within milliseconds, but it
/// is asynchronous (and lost while a listener reconnects), so this is the
/// bound on revocation across replicas: a token revoked anywhere is
/// refused everywhere less than this many seconds after the revoking call
/// returns. Cost: one store read per active token, replica and interval.
pub const TOKEN_RECHECK_SECONDS: i64 = 1;

#[derive(Debug, Clone)]
pub struct CachedToken {
    pub subject: String,
    pub expires_at: Option<i64>,
    /// Clock time just before the store read this entry came from.
    pub checked_at: i64,
}

impl CachedToken {
    /// Whether the entry may still answer without the store (see
    /// [`TOKEN_RECHECK_SECONDS`]).
    pub fn fresh(&self, now: i64) -> bool {
        now.saturating_sub(self.checked_at) < TOKEN_RECHECK_SECONDS
    }
}

#[derive(Default)]
pub struct Cache {
    /// Bumped by every invalidation. A fill that read the store before an
    /// invalidation is discarded, so a stale read never outlives the change.
    generation: std::sync::atomic::AtomicU64,
    tokens: RwLock<HashMap<String, CachedToken>>,
    /// `None`: not loaded (or invalidated); load all bindings on next use.
    bindings: RwLock<Option<Arc<HashMap<String, CompiledBinding>>>>,
    groups: RwLock<HashMap<String, Arc<Vec<String>>>>,
    /// The enterprise record, for the 2.11 gate on every check: `None` is
    /// not loaded; `Some(None)` is loaded and absent.
    enterprise: RwLock<Option<Option<Arc<EnterpriseState>>>>,
}

impl Cache {
    pub fn new(store: &Store) -> Arc<Cache> {
        let cache = Arc::new(Cache::default());
        let feed = store.subscribe();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(invalidate(Arc::downgrade(&cache), feed));
        }
        cache
    }

    pub fn token(&self, hash: &str) -> Option<CachedToken> {
        self.tokens.read().ok()?.get(hash).cloned()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn current(&self, seen: u64) -> bool {
        self.generation() == seen
    }

    /// Caches a token read at generation `seen`.
    pub fn put_token(&self, seen: u64, hash: String, token: CachedToken) {
        if !self.current(seen) {
            return;
        }
        if let Ok(mut t) = self.tokens.write() {
            if t.len() >= MAX_TOKENS {
                t.clear();
            }
            t.insert(hash, token);
        }
    }

    pub async fn bindings(
        &self,
        store: &Store,
    ) -> Result<Arc<HashMap<String, CompiledBinding>>, tusk_store::Error> {
        if let Some(b) = self.bindings.read().ok().and_then(|g| g.clone()) {
            return Ok(b);
        }
        let seen = self.generation();
        let all = store.list::<RoleBinding>().await?;
        let map: HashMap<String, CompiledBinding> = all
            .iter()
            .map(|b| (b.id.clone(), CompiledBinding::compile(&b.entries)))
            .collect();
        let map = Arc::new(map);
        if let Ok(mut g) = self.bindings.write()
            && self.current(seen)
        {
            *g = Some(map.clone());
        }
        Ok(map)
    }

    pub async fn groups(
        &self,
        store: &Store,
        subject: &str,
    ) -> Result<Arc<Vec<String>>, tusk_store::Error> {
        if let Some(g) = self
            .groups
            .read()
            .ok()
            .and_then(|m| m.get(subject).cloned())
        {
            return Ok(g);
        }
        let seen = self.generation();
        let groups = match store.get::<GroupMembership>(subject).await {
            Ok(m) => m.groups.into_iter().collect(),
            Err(tusk_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let groups = Arc::new(groups);
        if let Ok(mut m) = self.groups.write() {
            if m.len() >= MAX_TOKENS {
                m.clear();
            }
            if self.current(seen) {
                m.insert(subject.to_owned(), groups.clone());
            }
        }
        Ok(groups)
    }

    pub async fn enterprise(
        &self,
        store: &Store,
    ) -> Result<Option<Arc<EnterpriseState>>, tusk_store::Error> {
        if let Some(e) = self.enterprise.read().ok().and_then(|g| g.clone()) {
            return Ok(e);
        }
        let seen = self.generation();
        let record = match store.get::<EnterpriseState>(EnterpriseState::ID).await {
            Ok(r) => Some(Arc::new(r)),
            Err(tusk_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Ok(mut g) = self.enterprise.write()
            && self.current(seen)
        {
            *g = Some(record.clone());
        }
        Ok(record)
    }

    pub fn apply(&self, change: &Change) {
        let all = change.kind == "*";
        let relevant = all
            || [
                <RoleBinding as tusk_store::Record>::KIND,
                <GroupMembership as tusk_store::Record>::KIND,
                <AuthToken as tusk_store::Record>::KIND,
                <EnterpriseState as tusk_store::Record>::KIND,
            ]
            .contains(&change.kind.as_str());
        if !relevant {
            return;
        }
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if (all || change.kind == <EnterpriseState as tusk_store::Record>::KIND)
            && let Ok(mut g) = self.enterprise.write()
        {
            *g = None;
        }
        if (all || change.kind == <RoleBinding as tusk_store::Record>::KIND)
            && let Ok(mut g) = self.bindings.write()
        {
            *g = None;
        }
        if (all || change.kind == <GroupMembership as tusk_store::Record>::KIND)
            && let Ok(mut m) = self.groups.write()
        {
            match (&change.id, all) {
                (Some(id), false) => {
                    m.remove(id);
                }
                _ => m.clear(),
            }
        }
        if (all || change.kind == <AuthToken as tusk_store::Record>::KIND)
            && let Ok(mut t) = self.tokens.write()
        {
            match (&change.id, all) {
                (Some(id), false) => {
                    t.remove(id);
                }
                _ => t.clear(),
            }
        }
    }

    pub fn clear(&self) {
        self.apply(&Change {
            kind: "*".into(),
            id: None,
        });
    }
}

/// Runs until the cache is dropped. A lagged receiver lost changes, so it
/// drops everything rather than serve stale permissions.
async fn invalidate(cache: Weak<Cache>, mut feed: tokio::sync::broadcast::Receiver<Change>) {
    loop {
        let change = match feed.recv().await {
            Ok(c) => c,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Change {
                kind: "*".into(),
                id: None,
            },
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Some(cache) = cache.upgrade() else { return };
        cache.apply(&change);
    }
}
