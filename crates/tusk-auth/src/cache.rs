//! In-memory caches for the hot path: token → subject, role bindings and
//! group memberships. A check (WhoAmI, Authorize) reads only these; the
//! store's change feed keeps them current, including writes made by other
//! replicas when the backend relays them (PostgreSQL LISTEN/NOTIFY).
//!
//! Role bindings are one immutable [`BindingSet`] behind an atomic pointer
//! (`arc-swap`): a check reads it without a lock. A change to one binding
//! marks that one key stale in a copy of its shard (1/64 of the set) and
//! re-reads only that record; only a change to "any number" of bindings (a
//! prefix delete, a lagged feed) drops the set, and the next caller loads
//! it again while every concurrent caller waits for that one load. A load
//! reads the store a page at a time ([`LOAD_PAGE`] rows), so it never
//! holds every raw row at once: the allocator keeps a load's peak as
//! resident memory.
//!
//! Memory per entry is kept small for the scale goal (64 MB at
//! 100k bindings and tokens): a compiled binding is one shared sorted
//! slice ([`CompiledBinding`]), a token is keyed by its 32-byte digest,
//! not its hex text, and a subject's name is shared, not copied per map.

use arc_swap::ArcSwapOption;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use tusk_core::auth::CompiledBinding;
use tusk_store::{AuthToken, Change, EnterpriseState, GroupMembership, RoleBinding, Store};

/// Bounds memory if a client sprays valid-looking tokens; clearing is
/// cheap, and entries come back on the next use.
const MAX_TOKENS: usize = 100_000;

/// Keys changed while no binding set is installed, remembered so a load
/// in flight marks them stale; past this many, the load is discarded
/// instead (a storm of writes during a cold load).
const MAX_PENDING: usize = 10_000;

/// How long a replica trusts a cached token before reading the store
/// again. The change feed usually invalidates within milliseconds, but it
/// is asynchronous (and lost while a listener reconnects), so this is the
/// bound on revocation across replicas: a token revoked anywhere is
/// refused everywhere less than this many seconds after the revoking call
/// returns. Cost: one store read per active token, replica and interval.
pub const TOKEN_RECHECK_SECONDS: i64 = 1;

/// Shards of a [`BindingSet`]: a one-binding change copies one shard,
/// so a write costs O(bindings / SHARDS), not O(bindings).
const SHARDS: usize = 64;

/// Rows per store read during a full load: large enough that the round
/// trips do not matter (100 reads at 100k bindings), small enough that a
/// page's raw text is a rounding error beside the compiled set.
pub const LOAD_PAGE: usize = 1000;

#[derive(Debug, Clone)]
pub struct CachedToken {
    /// Shared: a check hands it out without copying the name.
    pub subject: Arc<str>,
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

#[derive(Debug, Clone)]
enum Slot {
    /// A compiled binding is a shared handle: copying a shard copies
    /// reference counts, not bindings.
    Ready(CompiledBinding),
    /// Changed since it was read; the ticket tells a fill that read it
    /// before a later change from one that read it after.
    Stale(u64),
}

/// What a [`BindingSet`] knows about one key.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    Found(&'a CompiledBinding),
    /// No such binding in the store.
    Absent,
    /// Changed since it was read: read the store ([`Cache::fill`]).
    Stale,
}

/// The caches' maps are read on every check: foldhash (seeded per map)
/// costs a fraction of SipHash on these keys.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One of a [`BindingSet`]'s shards: store id → slot.
type Shard = Map<Box<str>, Slot>;

/// Every role binding, compiled, at one moment: never mutated once
/// published, so a reader needs no lock.
#[derive(Debug, Clone)]
pub struct BindingSet {
    shards: Box<[Arc<Shard>]>,
    /// The cluster binding's slot, also in its shard: every check reads
    /// it (twice: the activation check, then evaluation), so it is found
    /// without hashing.
    cluster: Option<Slot>,
}

const CLUSTER: &str = "CLUSTER:";

/// foldhash with a fixed seed: a check computes this once per binding it
/// reads, so it must be cheap (FNV-1a, used before, takes one dependent
/// multiply per byte). The shard only spreads work, so a client that
/// chooses names cannot make a check slower, only one shard's copy larger.
fn shard_of(key: &str) -> usize {
    use std::hash::BuildHasher;
    let h = foldhash::fast::FixedState::default().hash_one(key);
    (h % SHARDS as u64) as usize
}

// A full load decodes raw rows itself (below), which is only right while
// role bindings are stored plain.
const _: () = assert!(!<RoleBinding as tusk_store::Record>::SEALED);

impl BindingSet {
    /// Compiles one page of raw rows into `shards`, each row's text and
    /// decoded form freed before the next.
    fn add_page(
        shards: &mut [Shard],
        rows: Vec<tusk_store::RawRecord>,
    ) -> Result<(), tusk_store::Error> {
        for row in rows {
            let b: RoleBinding = serde_json::from_str(&row.data).map_err(|e| {
                tusk_store::Error::Backend(format!(
                    "role binding \"{}\" in the store is not valid JSON ({:?} error at line {}, column {}); restore it from a backup or delete it and set its roles again",
                    row.id,
                    e.classify(),
                    e.line(),
                    e.column()
                ))
            })?;
            let slot = Slot::Ready(CompiledBinding::compile(&b.entries));
            shards[shard_of(&row.id)].insert(row.id.into_boxed_str(), slot);
        }
        Ok(())
    }

    /// Reads every role binding a page at a time and compiles it.
    async fn load(store: &Store) -> Result<BindingSet, tusk_store::Error> {
        let kind = <RoleBinding as tusk_store::Record>::KIND;
        let mut shards: Vec<Shard> = vec![Shard::default(); SHARDS];
        let mut after: Option<String> = None;
        loop {
            let rows = store
                .backend()
                .list_page(kind, after.as_deref(), LOAD_PAGE)
                .await?;
            let full = rows.len() >= LOAD_PAGE;
            after = rows.last().map(|r| r.id.clone());
            BindingSet::add_page(&mut shards, rows)?;
            if !full || after.is_none() {
                break;
            }
        }
        let cluster = shards[shard_of(CLUSTER)].get(CLUSTER).cloned();
        Ok(BindingSet {
            cluster,
            // Growth leaves up to half of a shard's table empty; a write
            // copies the shard (and shrinks it) anyway.
            shards: shards
                .into_iter()
                .map(|mut s| {
                    s.shrink_to_fit();
                    Arc::new(s)
                })
                .collect(),
        })
    }

    fn slot(&self, key: &str) -> Option<&Slot> {
        if key == CLUSTER {
            return self.cluster.as_ref();
        }
        self.shards[shard_of(key)].get(key)
    }

    pub fn get(&self, key: &str) -> Lookup<'_> {
        match self.slot(key) {
            Some(Slot::Ready(b)) => Lookup::Found(b),
            Some(Slot::Stale(_)) => Lookup::Stale,
            None => Lookup::Absent,
        }
    }

    /// The compiled binding itself, shared with the set (tests compare
    /// pointers to prove a change left the other bindings alone).
    pub fn shared(&self, key: &str) -> Option<CompiledBinding> {
        match self.slot(key) {
            Some(Slot::Ready(b)) => Some(b.clone()),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn ticket(&self, key: &str) -> Option<u64> {
        match self.slot(key) {
            Some(Slot::Stale(t)) => Some(*t),
            _ => None,
        }
    }

    /// A copy with `key` set to `slot` (`None` removes it); only its
    /// shard is copied.
    fn with(&self, key: &str, slot: Option<Slot>) -> BindingSet {
        let i = shard_of(key);
        let mut shard = Shard::clone(&self.shards[i]);
        let cluster = if key == CLUSTER {
            slot.clone()
        } else {
            self.cluster.clone()
        };
        match slot {
            Some(s) => {
                shard.insert(key.into(), s);
            }
            None => {
                shard.remove(key);
            }
        }
        let mut shards = self.shards.clone();
        shards[i] = Arc::new(shard);
        BindingSet { shards, cluster }
    }
}

/// Bookkeeping of binding edits, under one mutex; readers never take it.
#[derive(Default)]
struct Edits {
    /// Bumped when the whole set is dropped: a load that started before
    /// is not installed.
    epoch: u64,
    next_ticket: u64,
    /// Keys changed while no set was installed (see [`MAX_PENDING`]).
    pending: HashSet<String>,
}

pub struct Cache {
    store: Store,
    /// Bumped by every invalidation. A token, group or enterprise fill that
    /// read the store before an invalidation is discarded, so a stale read
    /// never outlives the change.
    generation: AtomicU64,
    /// Keyed by the token's SHA-256 ([`tusk_store::token_digest`]).
    tokens: RwLock<Map<[u8; 32], CachedToken>>,
    /// `None`: not loaded (or dropped); loaded on next use, once.
    bindings: ArcSwapOption<BindingSet>,
    edits: Mutex<Edits>,
    /// Single flight for loading every binding.
    loading: tokio::sync::Mutex<()>,
    /// Times every binding was read from the store, for tests and figures.
    loads: AtomicU64,
    groups: RwLock<Map<Box<str>, Arc<Vec<String>>>>,
    /// The groups of every subject without any, shared.
    no_groups: Arc<Vec<String>>,
    /// The enterprise record, for the 2.11 gate on every check: `None` is
    /// not loaded; `Some(None)` is loaded and absent.
    enterprise: RwLock<Option<Option<Arc<EnterpriseState>>>>,
}

impl Cache {
    pub fn new(store: &Store) -> Arc<Cache> {
        let cache = Arc::new(Cache {
            store: store.clone(),
            generation: AtomicU64::new(0),
            tokens: RwLock::default(),
            bindings: ArcSwapOption::empty(),
            edits: Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
            loads: AtomicU64::new(0),
            groups: RwLock::default(),
            no_groups: Arc::default(),
            enterprise: RwLock::default(),
        });
        let feed = store.subscribe();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(follow(Arc::downgrade(&cache), feed));
        }
        cache
    }

    pub fn token(&self, digest: &[u8; 32]) -> Option<CachedToken> {
        self.tokens.read().ok()?.get(digest).cloned()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn current(&self, seen: u64) -> bool {
        self.generation() == seen
    }

    /// Caches a token read at generation `seen`.
    pub fn put_token(&self, seen: u64, digest: [u8; 32], token: CachedToken) {
        if !self.current(seen) {
            return;
        }
        if let Ok(mut t) = self.tokens.write() {
            if t.len() >= MAX_TOKENS {
                t.clear();
            }
            t.insert(digest, token);
        }
    }

    /// How many times every binding has been read from the store.
    pub fn binding_loads(&self) -> u64 {
        self.loads.load(Ordering::SeqCst)
    }

    /// The installed binding set, if any, without touching the store.
    pub fn binding_set(&self) -> Option<Arc<BindingSet>> {
        self.bindings.load_full()
    }

    /// The binding set, loading it if none is installed. Of concurrent
    /// callers that find none, one reads the store and the others wait for
    /// its result.
    pub async fn bindings(&self) -> Result<Arc<BindingSet>, tusk_store::Error> {
        if let Some(set) = self.bindings.load_full() {
            return Ok(set);
        }
        let _one = self.loading.lock().await;
        if let Some(set) = self.bindings.load_full() {
            return Ok(set);
        }
        let epoch = match self.edits.lock() {
            Ok(mut e) => {
                e.pending.clear();
                e.epoch
            }
            Err(_) => return Err(poisoned()),
        };
        self.loads.fetch_add(1, Ordering::SeqCst);
        let mut set = BindingSet::load(&self.store).await?;
        let Ok(mut e) = self.edits.lock() else {
            return Err(poisoned());
        };
        if e.epoch != epoch {
            // Dropped while loading: this caller may use what it read (as
            // if it had run just before the change), nobody else will.
            return Ok(Arc::new(set));
        }
        for key in std::mem::take(&mut e.pending) {
            e.next_ticket += 1;
            set = set.with(&key, Some(Slot::Stale(e.next_ticket)));
        }
        let set = Arc::new(set);
        self.bindings.store(Some(set.clone()));
        Ok(set)
    }

    /// Whether `key` has a non-empty binding (the activation check of
    /// every call): one lookup, nothing cloned.
    pub async fn binding_is_set(&self, key: &str) -> Result<bool, tusk_store::Error> {
        // Without taking a reference count when the answer is at hand.
        if let Some(set) = &*self.bindings.load() {
            match set.get(key) {
                Lookup::Found(b) => return Ok(!b.is_empty()),
                Lookup::Absent => return Ok(false),
                Lookup::Stale => {}
            }
        }
        let set = self.bindings().await?;
        match set.get(key) {
            Lookup::Found(b) => Ok(!b.is_empty()),
            Lookup::Absent => Ok(false),
            Lookup::Stale => Ok(self.fill(key).await?.is_some_and(|b| !b.is_empty())),
        }
    }

    /// One binding, read from the store if it is stale.
    pub async fn binding(&self, key: &str) -> Result<Option<CompiledBinding>, tusk_store::Error> {
        let set = self.bindings().await?;
        match set.get(key) {
            Lookup::Found(_) => Ok(set.shared(key)),
            Lookup::Absent => Ok(None),
            Lookup::Stale => self.fill(key).await,
        }
    }

    /// Reads one binding from the store and installs it, unless it changed
    /// again meanwhile (that change's own fill installs the newer one).
    /// Returns what it read, current as of the read, for the caller's check.
    pub async fn fill(&self, key: &str) -> Result<Option<CompiledBinding>, tusk_store::Error> {
        let ticket = self.bindings.load_full().and_then(|s| s.ticket(key));
        let read = match self.store.get::<RoleBinding>(key).await {
            Ok(b) => Some(CompiledBinding::compile(&b.entries)),
            Err(tusk_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let Some(ticket) = ticket else {
            return Ok(read);
        };
        let Ok(_e) = self.edits.lock() else {
            return Err(poisoned());
        };
        if let Some(set) = self.bindings.load_full()
            && set.ticket(key) == Some(ticket)
        {
            let slot = read.clone().map(Slot::Ready);
            self.bindings.store(Some(Arc::new(set.with(key, slot))));
        }
        Ok(read)
    }

    /// A binding changed: `Some(key)` marks that one stale; `None` (any
    /// number of them) drops the set.
    fn binding_changed(&self, key: Option<&str>) {
        let Ok(mut e) = self.edits.lock() else {
            // A panic while holding the lock left unknown state: forget all.
            self.bindings.store(None);
            return;
        };
        let set = self.bindings.load_full();
        match (key, set) {
            (Some(key), Some(set)) => {
                e.next_ticket += 1;
                let ticket = e.next_ticket;
                self.bindings
                    .store(Some(Arc::new(set.with(key, Some(Slot::Stale(ticket))))));
            }
            (Some(key), None) if e.pending.len() < MAX_PENDING => {
                e.pending.insert(key.to_owned());
            }
            _ => {
                e.epoch += 1;
                e.pending.clear();
                self.bindings.store(None);
            }
        }
    }

    pub async fn groups(&self, subject: &str) -> Result<Arc<Vec<String>>, tusk_store::Error> {
        if let Some(g) = self
            .groups
            .read()
            .ok()
            .and_then(|m| m.get(subject).cloned())
        {
            return Ok(g);
        }
        let seen = self.generation();
        let groups = match self.store.get::<GroupMembership>(subject).await {
            Ok(m) if !m.groups.is_empty() => Arc::new(m.groups.into_iter().collect()),
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => self.no_groups.clone(),
            Err(e) => return Err(e),
        };
        if let Ok(mut m) = self.groups.write() {
            if m.len() >= MAX_TOKENS {
                m.clear();
            }
            if self.current(seen) {
                m.insert(subject.into(), groups.clone());
            }
        }
        Ok(groups)
    }

    pub async fn enterprise(&self) -> Result<Option<Arc<EnterpriseState>>, tusk_store::Error> {
        if let Some(e) = self.enterprise.read().ok().and_then(|g| g.clone()) {
            return Ok(e);
        }
        let seen = self.generation();
        let record = match self.store.get::<EnterpriseState>(EnterpriseState::ID).await {
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
        self.generation.fetch_add(1, Ordering::SeqCst);
        if (all || change.kind == <EnterpriseState as tusk_store::Record>::KIND)
            && let Ok(mut g) = self.enterprise.write()
        {
            *g = None;
        }
        if all {
            self.binding_changed(None);
        } else if change.kind == <RoleBinding as tusk_store::Record>::KIND {
            self.binding_changed(change.id.as_deref());
        }
        if (all || change.kind == <GroupMembership as tusk_store::Record>::KIND)
            && let Ok(mut m) = self.groups.write()
        {
            match (&change.id, all) {
                (Some(id), false) => {
                    m.remove(id.as_str());
                }
                _ => m.clear(),
            }
        }
        if (all || change.kind == <AuthToken as tusk_store::Record>::KIND)
            && let Ok(mut t) = self.tokens.write()
        {
            let mut digest = [0u8; 32];
            match (&change.id, all) {
                // Token ids are the hex of the digest; any other id cannot
                // be cached, but forgetting everything is the safe answer.
                (Some(id), false) if hex::decode_to_slice(id, &mut digest).is_ok() => {
                    t.remove(&digest);
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

fn poisoned() -> tusk_store::Error {
    tusk_store::Error::Backend(
        "the role-binding cache's lock was poisoned by a panic; restart the server".into(),
    )
}

/// Runs until the cache is dropped. A lagged receiver lost changes, so it
/// drops everything rather than serve stale permissions. A changed binding
/// is read again here, off the request path, so the next check finds it
/// ready.
async fn follow(cache: Weak<Cache>, mut feed: tokio::sync::broadcast::Receiver<Change>) {
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
        if change.kind == <RoleBinding as tusk_store::Record>::KIND
            && let Some(key) = change.id
        {
            tokio::spawn(async move {
                // A failed read leaves the key stale: the next check that
                // needs it reads it itself.
                let _ = cache.fill(&key).await;
            });
        }
    }
}
