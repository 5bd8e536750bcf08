//! The auth plane's service: its state, token authentication and
//! permission checks. Its operations, one method per RPC of `auth_v2.API`
//! in domain types, are `impl AuthService` blocks in `activation`,
//! `bindings`, `tokens`, `groups` and `oidc_config`. The gRPC layer maps
//! messages to these calls and errors to statuses; access levels are
//! checked here so no transport can skip them.

use crate::cache::{Cache, CachedToken, Lookup};
use crate::error::AuthError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use tusk_core::Secret;
use tusk_core::audit::AuditEvent;
use tusk_core::auth::{self, CompiledBinding, Evaluation, Permission, Resource};
use tusk_core::clock::Clock;
use tusk_oidc::Provider;
use tusk_store::{AuthToken, Change, Store, token_digest};

pub const ROOT: &str = "pach:root";

/// Who is calling, once their token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `AUTH_ROOT_TOKEN` is set: RotateRootToken is refused.
    pub root_token_from_env: bool,
    /// Lifetime of tokens minted by a login (`SESSION_DURATION_MINUTES`).
    pub session_ttl: i64,
    /// `pachd.enterpriseLicenseKey` is set: the 2.11 enterprise gate is on
    /// and license_v2.Activate is refused.
    pub license_from_config: bool,
    /// RSA public key (PEM) that activation codes must be signed with.
    pub license_public_key: Option<Secret<String>>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            root_token_from_env: false,
            session_ttl: 30 * 24 * 3600,
            license_from_config: false,
            license_public_key: None,
        }
    }
}

pub struct AuthService {
    pub(crate) store: Store,
    pub(crate) cache: Arc<Cache>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: AuthSettings,
    pub(crate) provider: Option<Arc<Provider>>,
}

impl AuthService {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: AuthSettings,
        provider: Option<Arc<Provider>>,
    ) -> Arc<AuthService> {
        let cache = Cache::new(&store);
        Arc::new(AuthService {
            store,
            cache,
            clock,
            settings,
            provider,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn provider(&self) -> Option<&Arc<Provider>> {
        self.provider.as_ref()
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Writes an audit event through the store's one sink; for the
    /// transports, which know the caller of the RPCs that have none here.
    pub async fn audit(&self, event: AuditEvent) {
        self.store.audit(self.now(), event).await;
    }

    /// Invalidates this replica's cache at once, so a check right after a
    /// write sees it; other replicas hear through the store's change feed.
    pub(crate) fn changed(&self, kind: &str, id: Option<&str>) {
        self.cache.apply(&Change {
            kind: kind.to_owned(),
            id: id.map(str::to_owned),
        });
    }

    /// A role binding was written here: marks it stale at once, then
    /// reads it back, so the next check on this replica finds it ready
    /// (other replicas do the same from the change feed).
    pub(crate) async fn binding_written(&self, key: &str) {
        self.changed(
            <tusk_store::RoleBinding as tusk_store::Record>::KIND,
            Some(key),
        );
        // A failed read leaves the key stale; the next check reads it.
        let _ = self.cache.fill(key).await;
    }

    /// The caches, for tests and figures (loads, the binding set).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub async fn is_active(&self) -> Result<bool, AuthError> {
        Ok(self.cache.binding_is_set("CLUSTER:").await?)
    }

    pub(crate) async fn require_active(&self) -> Result<(), AuthError> {
        if self.is_active().await? {
            Ok(())
        } else {
            Err(AuthError::NotActivated)
        }
    }

    /// Checks a token: the hot path of every authenticated RPC. A cached
    /// token costs one hash (its bytes, hex-encoded only for a store read)
    /// and one map lookup; the store is read once per token and replica
    /// until the token changes.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller, AuthError> {
        self.require_active().await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::NotSignedIn)?;
        if token.len() > 1024 {
            return Err(AuthError::BadToken);
        }
        let digest = token_digest(token);
        let seen = self.cache.generation();
        let now = self.now();
        // A stale entry is read again even without a change from the feed:
        // that bounds how long another replica's revocation can go unseen.
        let cached = match self.cache.token(&digest).filter(|c| c.fresh(now)) {
            Some(c) => c,
            None => {
                let hash = hex::encode(digest);
                let record = match self.store.get::<AuthToken>(&hash).await {
                    Ok(r) => r,
                    Err(tusk_store::Error::NotFound { .. }) => return Err(AuthError::BadToken),
                    Err(e) => return Err(e.into()),
                };
                let c = CachedToken {
                    subject: record.subject.into(),
                    expires_at: record.expires_at,
                    checked_at: now,
                };
                self.cache.put_token(seen, digest, c.clone());
                c
            }
        };
        if cached.expires_at.is_some_and(|e| e <= now) {
            return Err(AuthError::ExpiredToken);
        }
        self.check_gate(&cached.subject).await?;
        Ok(Caller {
            subject: cached.subject.as_ref().to_owned(),
            expires_at: cached.expires_at,
        })
    }

    /// Evaluates `wanted` for `subject` on `resource` from the caches.
    pub async fn evaluate(
        &self,
        subject: &str,
        resource: &Resource,
        wanted: &[Permission],
    ) -> Result<Evaluation, AuthError> {
        let groups = self.cache.groups(subject).await?;
        // Bindings marked stale by a change are read from the store (and
        // installed) and the check runs again; at most the three keys a
        // check reads, so this ends.
        let mut read: HashMap<String, Option<CompiledBinding>> = HashMap::new();
        loop {
            let set = self.cache.bindings().await?;
            let stale: RefCell<Option<String>> = RefCell::new(None);
            let result = auth::evaluate(subject, &groups, resource, wanted, |k| {
                if let Some(b) = read.get(k) {
                    return b.as_ref();
                }
                match set.get(k) {
                    Lookup::Found(b) => Some(b),
                    Lookup::Absent => None,
                    Lookup::Stale => {
                        stale.borrow_mut().get_or_insert_with(|| k.to_owned());
                        None
                    }
                }
            });
            match stale.into_inner() {
                None => return Ok(result?),
                Some(key) => {
                    let b = self.cache.fill(&key).await?;
                    read.insert(key, b);
                }
            }
        }
    }

    /// `perm:X` access: the caller must hold `permission` on the cluster.
    pub async fn require(&self, caller: &Caller, permission: Permission) -> Result<(), AuthError> {
        let cluster = Resource::cluster();
        let e = self
            .evaluate(&caller.subject, &cluster, &[permission])
            .await?;
        if e.authorized() {
            Ok(())
        } else {
            Err(AuthError::NotAuthorized(auth::not_authorized(
                &caller.subject,
                &e.missing,
                &cluster,
            )))
        }
    }
}
