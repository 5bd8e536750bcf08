//! The auth plane's operations, one method per RPC of `auth_v2.API`, in
//! domain types. The gRPC layer maps messages to these calls and errors to
//! statuses; access levels are checked here so no transport can skip them.

use crate::cache::{Cache, CachedToken, TOKEN_RECHECK_SECONDS};
use crate::error::AuthError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tusk_core::Secret;
use tusk_core::audit::AuditEvent;
use tusk_core::auth::{self, Binding, Evaluation, Permission, Resource, ResourceType};
use tusk_core::clock::Clock;
use tusk_oidc::Provider;
use tusk_store::{AuthConfig, AuthToken, Change, GroupMembership, RoleBinding, Store, hash_token};

pub const ROOT: &str = "pach:root";
const AUTH_SERVER: &str = "internal:auth-server";

/// Who is calling, once their token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub expires_at: Option<i64>,
}

/// Pachyderm's OIDCConfig (docs/wire-api.md §3).
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub require_email_verified: bool,
    pub localhost_issuer: bool,
    pub user_accessible_issuer_host: String,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// An exported robot token (ExtractAuthTokens / RestoreAuthToken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub subject: String,
    pub expires_at: Option<i64>,
    pub hashed_token: String,
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

/// A fresh token: 32 lowercase hex characters, as the reference's.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// Group names are not validated by the reference, but are bounded like
/// principals, since they are stored in every member's record.
fn check_group(group: &str) -> Result<(), AuthError> {
    if group.len() > auth::MAX_SUBJECT_BYTES {
        return Err(AuthError::Other(auth::too_long(
            "group",
            group.len(),
            auth::MAX_SUBJECT_BYTES,
        )));
    }
    Ok(())
}

fn binding_of(entries: &[(&str, &str)]) -> Binding {
    entries
        .iter()
        .map(|(p, r)| ((*p).to_owned(), BTreeSet::from([(*r).to_owned()])))
        .collect()
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

    pub async fn is_active(&self) -> Result<bool, AuthError> {
        let bindings = self.cache.bindings(&self.store).await?;
        Ok(bindings.get("CLUSTER:").is_some_and(|b| !b.is_empty()))
    }

    async fn require_active(&self) -> Result<(), AuthError> {
        if self.is_active().await? {
            Ok(())
        } else {
            Err(AuthError::NotActivated)
        }
    }

    /// Checks a token: the hot path of every authenticated RPC. A cached
    /// token costs one hash and one map lookup; the store is read once per
    /// token and replica until the token changes.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller, AuthError> {
        self.require_active().await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::NotSignedIn)?;
        if token.len() > 1024 {
            return Err(AuthError::BadToken);
        }
        let hash = hash_token(token);
        let seen = self.cache.generation();
        let now = self.now();
        // A stale entry is read again even without a change from the feed:
        // that bounds how long another replica's revocation can go unseen.
        let cached = match self.cache.token(&hash).filter(|c| c.fresh(now)) {
            Some(c) => c,
            None => {
                let record = match self.store.get::<AuthToken>(&hash).await {
                    Ok(r) => r,
                    Err(tusk_store::Error::NotFound { .. }) => return Err(AuthError::BadToken),
                    Err(e) => return Err(e.into()),
                };
                let c = CachedToken {
                    subject: record.subject,
                    expires_at: record.expires_at,
                    checked_at: now,
                };
                self.cache.put_token(seen, hash, c.clone());
                c
            }
        };
        if cached.expires_at.is_some_and(|e| e <= now) {
            return Err(AuthError::ExpiredToken);
        }
        self.check_gate(&cached.subject).await?;
        Ok(Caller {
            subject: cached.subject,
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
        let bindings = self.cache.bindings(&self.store).await?;
        let groups = self.cache.groups(&self.store, subject).await?;
        Ok(auth::evaluate(subject, &groups, resource, wanted, |k| {
            bindings.get(k)
        })?)
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

    pub async fn activate(&self, root_token: Option<&str>) -> Result<String, AuthError> {
        if self.is_active().await? {
            return Err(AuthError::AlreadyActivated);
        }
        let token = match root_token.filter(|t| !t.is_empty()) {
            Some(t) => t.to_owned(),
            None => new_token(),
        };
        let cluster = RoleBinding {
            id: "CLUSTER:".into(),
            entries: binding_of(&[
                (ROOT, "clusterAdmin"),
                (AUTH_SERVER, "clusterAdmin"),
                (auth::ALL_CLUSTER_USERS, "projectCreator"),
            ]),
        };
        // Create, not put: of two replicas activating at once, one wins.
        match self.store.create(&cluster).await {
            Ok(()) => {}
            Err(tusk_store::Error::AlreadyExists { .. }) => {
                let existing = self.store.get::<RoleBinding>("CLUSTER:").await?;
                if !existing.entries.is_empty() {
                    return Err(AuthError::AlreadyActivated);
                }
                self.store.put(&cluster).await?;
            }
            Err(e) => return Err(e.into()),
        }
        // What PFS does when the data plane activates (docs/auth-model.md §6).
        let default_project = RoleBinding {
            id: "PROJECT:default".into(),
            entries: binding_of(&[(auth::ALL_CLUSTER_USERS, "projectWriter")]),
        };
        match self.store.create(&default_project).await {
            Ok(()) | Err(tusk_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.store.delete_by_owner::<AuthToken>(ROOT).await?;
        self.insert_token(&token, ROOT, None).await?;
        self.changed("*", None);
        tracing::info!("auth activated");
        // Activation has no caller: whoever reaches an inactive cluster may
        // activate it, as in the reference.
        self.audit(AuditEvent::Activated { actor: None }).await;
        Ok(token)
    }

    async fn insert_token(
        &self,
        token: &str,
        subject: &str,
        expires_at: Option<i64>,
    ) -> Result<(), AuthError> {
        let record = AuthToken {
            id: hash_token(token),
            subject: subject.to_owned(),
            expires_at,
            created_at: self.now(),
        };
        match self.store.create(&record).await {
            Ok(()) => Ok(()),
            Err(tusk_store::Error::AlreadyExists { .. }) => Err(AuthError::other(
                "cannot overwrite existing token with same hash",
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn deactivate(&self) -> Result<(), AuthError> {
        for b in self.store.list::<RoleBinding>().await? {
            self.delete_quietly::<RoleBinding>(&b.id).await?;
        }
        for t in self.store.list::<AuthToken>().await? {
            self.delete_quietly::<AuthToken>(&t.id).await?;
        }
        for m in self.store.list::<GroupMembership>().await? {
            self.delete_quietly::<GroupMembership>(&m.id).await?;
        }
        self.delete_quietly::<AuthConfig>(AuthConfig::ID).await?;
        self.changed("*", None);
        self.outwait_other_replicas().await;
        tracing::info!("auth deactivated");
        Ok(())
    }

    async fn delete_quietly<T: tusk_store::Record>(&self, id: &str) -> Result<(), AuthError> {
        match self.store.delete::<T>(id).await {
            Ok(()) | Err(tusk_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_role_binding(&self, resource: &Resource) -> Result<Binding, AuthError> {
        match self.store.get::<RoleBinding>(&resource.binding_key()).await {
            Ok(b) => Ok(b.entries),
            Err(tusk_store::Error::NotFound { .. }) => Ok(Binding::new()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn modify_role_binding(
        &self,
        caller: &Caller,
        resource: &Resource,
        principal: &str,
        roles: &[String],
    ) -> Result<(), AuthError> {
        self.require_active().await?;
        auth::check_subject(principal).map_err(AuthError::Other)?;
        resource.check_name().map_err(AuthError::Other)?;
        if principal.starts_with("pach:") && resource.kind == ResourceType::Cluster {
            return Err(AuthError::other(
                "cannot modify cluster role bindings for pach: users",
            ));
        }
        let needed = match resource.kind {
            ResourceType::Cluster => Permission::CLUSTER_MODIFY_BINDINGS,
            ResourceType::Project => Permission::PROJECT_MODIFY_BINDINGS,
            ResourceType::Repo => Permission::REPO_MODIFY_BINDINGS,
            other => {
                return Err(AuthError::Other(format!(
                    "unknown resource type {}",
                    other.name()
                )));
            }
        };
        let e = self.evaluate(&caller.subject, resource, &[needed]).await?;
        if !e.authorized() {
            return Err(AuthError::NotAuthorized(auth::not_authorized(
                &caller.subject,
                &e.missing,
                resource,
            )));
        }
        let mut wanted = BTreeSet::new();
        for r in roles {
            let Some(role) = auth::role(r) else {
                return Err(AuthError::Other(format!("unknown role {r:?}")));
            };
            auth::check_role_applies(role, resource).map_err(AuthError::Other)?;
            wanted.insert(r.clone());
        }
        let key = resource.binding_key();
        let mut before = BTreeSet::new();
        let result = self
            .store
            .update::<RoleBinding, _>(&key, |b| {
                // Runs again on a lost race; the last run saw what was replaced.
                before = b.entries.get(principal).cloned().unwrap_or_default();
                if wanted.is_empty() {
                    b.entries.remove(principal);
                } else {
                    b.entries.insert(principal.to_owned(), wanted.clone());
                }
                Ok(())
            })
            .await;
        match result {
            Ok(_) => {}
            Err(tusk_store::Error::NotFound { .. }) => {
                return Err(AuthError::NoRoleBinding {
                    kind: resource.kind.name().to_owned(),
                    name: resource.name.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.changed(<RoleBinding as tusk_store::Record>::KIND, Some(&key));
        self.audit(AuditEvent::RoleBindingChanged {
            actor: caller.subject.clone(),
            resource: key,
            principal: principal.to_owned(),
            before: before.into_iter().collect(),
            after: wanted.into_iter().collect(),
        })
        .await;
        Ok(())
    }

    /// Creates a resource's binding, as PFS does when it creates a project
    /// or repo (the creator becomes its owner). For `tusk.resources.v1`.
    pub async fn create_resource_binding(
        &self,
        resource: &Resource,
        owner: Option<&str>,
    ) -> Result<(), AuthError> {
        let role = match resource.kind {
            ResourceType::Project => "projectOwner",
            ResourceType::Repo => "repoOwner",
            other => {
                return Err(AuthError::Other(format!(
                    "unknown resource type {}",
                    other.name()
                )));
            }
        };
        if resource.kind == ResourceType::Project {
            self.clear_orphaned_repos(resource).await?;
        }
        let mut entries = Binding::new();
        if let Some(owner) =
            owner.filter(|o| !o.starts_with("pach:") && !o.starts_with("internal:"))
        {
            entries.insert(owner.to_owned(), BTreeSet::from([role.to_owned()]));
        }
        let record = RoleBinding {
            id: resource.binding_key(),
            entries,
        };
        match self.store.create(&record).await {
            Ok(()) => {}
            Err(tusk_store::Error::AlreadyExists { .. }) => {
                return Err(AuthError::Other(format!(
                    "{} {} already exists",
                    resource.kind.name(),
                    resource.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed(<RoleBinding as tusk_store::Record>::KIND, Some(&record.id));
        Ok(())
    }

    /// Repo bindings under a project that has no binding are orphans (a
    /// project deleted before deletes took its repos along): no repo can
    /// be registered under a missing project, so they are cleared before
    /// the project is created again, and the new project starts empty.
    async fn clear_orphaned_repos(&self, project: &Resource) -> Result<(), AuthError> {
        let key = project.binding_key();
        match self.store.get::<RoleBinding>(&key).await {
            Ok(_) => return Ok(()),
            Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let repos = Resource {
            kind: ResourceType::Repo,
            name: format!("{}/", project.name),
        };
        // Only the repos go: the prefix doubles as the exact id, which no
        // record has (a repo name is never empty), so a project binding a
        // concurrent creator just wrote is never touched.
        let prefix = repos.binding_key();
        let n = self
            .store
            .delete_with_prefix::<RoleBinding>(&prefix, &prefix)
            .await?;
        if n > 0 {
            tracing::warn!(project = %project.name, bindings = n, "removed orphaned repo role bindings before creating the project");
            self.changed(<RoleBinding as tusk_store::Record>::KIND, None);
        }
        Ok(())
    }

    /// Deletes a resource's binding. A project takes its repos' bindings
    /// with it in the same store step, so a project re-created under the
    /// old name cannot inherit grants on repos of the same names.
    pub async fn delete_resource_binding(&self, resource: &Resource) -> Result<(), AuthError> {
        let key = resource.binding_key();
        let deleted = if resource.kind == ResourceType::Project {
            let repos = Resource {
                kind: ResourceType::Repo,
                name: format!("{}/", resource.name),
            };
            self.store
                .delete_with_prefix::<RoleBinding>(&key, &repos.binding_key())
                .await?
        } else {
            match self.store.delete::<RoleBinding>(&key).await {
                Ok(()) => 1,
                Err(tusk_store::Error::NotFound { .. }) => 0,
                Err(e) => return Err(e.into()),
            }
        };
        if deleted == 0 {
            return Err(AuthError::NoRoleBinding {
                kind: resource.kind.name().to_owned(),
                name: resource.name.clone(),
            });
        }
        self.changed(<RoleBinding as tusk_store::Record>::KIND, None);
        Ok(())
    }

    pub async fn get_robot_token(&self, robot: &str, ttl: i64) -> Result<String, AuthError> {
        let name = robot.strip_prefix("robot:").unwrap_or(robot);
        if name.contains(':') {
            return Err(AuthError::other("robot names cannot contain colons (':')"));
        }
        if name.is_empty() {
            return Err(AuthError::other(
                "robot name is empty; pass a name such as `ci`",
            ));
        }
        if name.len() > auth::MAX_NAME_BYTES {
            return Err(AuthError::Other(auth::too_long(
                "robot name",
                name.len(),
                auth::MAX_NAME_BYTES,
            )));
        }
        let token = new_token();
        let expires = (ttl > 0).then(|| self.now().saturating_add(ttl));
        // Audited by the transport, which knows the admin asking.
        self.insert_token(&token, &format!("robot:{name}"), expires)
            .await?;
        Ok(token)
    }

    /// Mints a token for a subject (login flows, pipelines).
    pub async fn mint(&self, subject: &str, ttl: Option<i64>) -> Result<String, AuthError> {
        let token = new_token();
        let expires = ttl.map(|t| self.now().saturating_add(t));
        self.insert_token(&token, subject, expires).await?;
        self.audit(AuditEvent::TokenMinted {
            actor: None,
            subject: subject.to_owned(),
            kind: "session".into(),
            client: None,
        })
        .await;
        Ok(token)
    }

    pub async fn revoke_token(&self, token: &str) -> Result<i64, AuthError> {
        let hash = hash_token(token);
        // Read first only to name whose token it was in the audit record.
        let subject = self
            .store
            .get::<AuthToken>(&hash)
            .await
            .ok()
            .map(|t| t.subject);
        let n = match self.store.delete::<AuthToken>(&hash).await {
            Ok(()) => 1,
            Err(tusk_store::Error::NotFound { .. }) => 0,
            Err(e) => return Err(e.into()),
        };
        self.changed(<AuthToken as tusk_store::Record>::KIND, Some(&hash));
        if n > 0 {
            self.audit(AuditEvent::TokenRevoked {
                actor: None,
                subject,
                count: n,
            })
            .await;
            self.outwait_other_replicas().await;
        }
        Ok(n)
    }

    /// Returns once no replica can still accept a token deleted before
    /// the call. Another replica may hold it in its cache, trusted for less
    /// than [`TOKEN_RECHECK_SECONDS`] after its last store read, which came
    /// before the delete; so waiting that long makes the revocation
    /// effective everywhere before the revoking call returns, whether or
    /// not the change feed has arrived. Only PostgreSQL has replicas
    /// sharing the store; the memory and SQLite stores serve one process,
    /// whose cache was invalidated at once.
    async fn outwait_other_replicas(&self) {
        if self.store.backend_name() == "postgres" {
            let secs = u64::try_from(TOKEN_RECHECK_SECONDS).unwrap_or(1);
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
        }
    }

    pub async fn revoke_tokens_for_user(&self, username: &str) -> Result<i64, AuthError> {
        if username.starts_with("pach:") {
            return Err(AuthError::other("cannot revoke tokens for pach: users"));
        }
        let n = self.store.delete_by_owner::<AuthToken>(username).await?;
        self.changed(<AuthToken as tusk_store::Record>::KIND, None);
        // Audited by the transport, which knows the admin asking.
        if n > 0 {
            self.outwait_other_replicas().await;
        }
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    pub async fn set_groups_for_user(
        &self,
        username: &str,
        groups: &[String],
    ) -> Result<(), AuthError> {
        auth::check_subject(username).map_err(AuthError::Other)?;
        for g in groups {
            check_group(g)?;
        }
        let record = GroupMembership {
            id: username.to_owned(),
            groups: groups.iter().cloned().collect(),
        };
        if record.groups.is_empty() {
            self.delete_quietly::<GroupMembership>(username).await?;
        } else {
            self.store.put(&record).await?;
        }
        self.changed(
            <GroupMembership as tusk_store::Record>::KIND,
            Some(username),
        );
        Ok(())
    }

    pub async fn modify_members(
        &self,
        group: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), AuthError> {
        check_group(group)?;
        for s in add.iter().chain(remove) {
            auth::check_subject(s).map_err(AuthError::Other)?;
        }
        for (subjects, adding) in [(add, true), (remove, false)] {
            for subject in subjects {
                let mut m = match self.store.get::<GroupMembership>(subject).await {
                    Ok(m) => m,
                    Err(tusk_store::Error::NotFound { .. }) => GroupMembership {
                        id: subject.clone(),
                        ..Default::default()
                    },
                    Err(e) => return Err(e.into()),
                };
                if adding {
                    m.groups.insert(group.to_owned());
                } else {
                    m.groups.remove(group);
                }
                if m.groups.is_empty() {
                    self.delete_quietly::<GroupMembership>(subject).await?;
                } else {
                    self.store.put(&m).await?;
                }
                self.changed(<GroupMembership as tusk_store::Record>::KIND, Some(subject));
            }
        }
        Ok(())
    }

    pub async fn groups_of(&self, subject: &str) -> Result<Vec<String>, AuthError> {
        Ok(self.cache.groups(&self.store, subject).await?.to_vec())
    }

    pub async fn users_in(&self, group: &str) -> Result<Vec<String>, AuthError> {
        let all = self.store.list::<GroupMembership>().await?;
        Ok(all
            .into_iter()
            .filter(|m| group.is_empty() || m.groups.contains(group))
            .map(|m| m.id)
            .collect())
    }

    pub async fn extract_tokens(&self) -> Result<Vec<TokenInfo>, AuthError> {
        let all = self.store.list::<AuthToken>().await?;
        Ok(all
            .into_iter()
            .filter(|t| t.subject.starts_with("robot:"))
            .map(|t| TokenInfo {
                subject: t.subject,
                expires_at: t.expires_at,
                hashed_token: t.id,
            })
            .collect())
    }

    pub async fn restore_token(&self, info: &TokenInfo) -> Result<(), AuthError> {
        if info.expires_at.is_some_and(|e| e <= self.now()) {
            return Err(AuthError::ExpiredToken);
        }
        let valid_hash = info.hashed_token.len() == 64
            && info.hashed_token.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_hash {
            return Err(AuthError::other(
                "error restoring auth token: hashed_token must be 64 hex characters (a SHA-256)",
            ));
        }
        auth::check_subject(&info.subject).map_err(AuthError::Other)?;
        let record = AuthToken {
            id: info.hashed_token.to_ascii_lowercase(),
            subject: info.subject.clone(),
            expires_at: info.expires_at,
            created_at: self.now(),
        };
        match self.store.create(&record).await {
            Ok(()) => Ok(()),
            Err(tusk_store::Error::AlreadyExists { .. }) => Err(AuthError::other(
                "error restoring auth token: cannot overwrite existing token with same hash",
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_expired_tokens(&self) -> Result<(), AuthError> {
        self.store.gc(self.now()).await?;
        self.changed(<AuthToken as tusk_store::Record>::KIND, None);
        Ok(())
    }

    pub async fn rotate_root_token(&self, new: Option<&str>) -> Result<String, AuthError> {
        if self.settings.root_token_from_env {
            return Err(AuthError::FailedPrecondition(
                "RotateRootToken() is disabled when the root token is configured in the environment; change AUTH_ROOT_TOKEN (Helm pachd.rootToken) and restart instead".into(),
            ));
        }
        let token = self.set_root_token(new).await?;
        self.outwait_other_replicas().await;
        Ok(token)
    }

    /// Replaces every root token; used by rotation and by the bootstrap
    /// from `AUTH_ROOT_TOKEN`.
    pub async fn set_root_token(&self, new: Option<&str>) -> Result<String, AuthError> {
        let token = new
            .filter(|t| !t.is_empty())
            .map_or_else(new_token, str::to_owned);
        self.store.delete_by_owner::<AuthToken>(ROOT).await?;
        match self.insert_token(&token, ROOT, None).await {
            Ok(()) => {}
            // The same token again (a restart with the same env): keep it.
            Err(AuthError::Other(m)) if m.contains("same hash") => {}
            Err(e) => return Err(e),
        }
        self.changed(<AuthToken as tusk_store::Record>::KIND, None);
        Ok(token)
    }

    pub async fn get_config(&self) -> Result<OidcConfig, AuthError> {
        match self.store.get::<AuthConfig>(AuthConfig::ID).await {
            Ok(c) => serde_json::from_str(c.config.expose())
                .map_err(|e| AuthError::Other(format!("stored OIDC config is corrupt: {e}"))),
            Err(tusk_store::Error::NotFound { .. }) => Ok(OidcConfig::default()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn set_config(&self, config: &OidcConfig) -> Result<(), AuthError> {
        if !config.issuer.is_empty() || !config.client_id.is_empty() {
            if url::Url::parse(&config.issuer).is_err() {
                return Err(AuthError::other("OIDC issuer must be a valid URL"));
            }
            if config.client_id.is_empty() {
                return Err(AuthError::other(
                    "OIDC configuration must have a non-empty client_id",
                ));
            }
            if url::Url::parse(&config.redirect_uri).is_err() {
                return Err(AuthError::other("OIDC redirect_uri must be a valid URL"));
            }
            self.discover(&config.issuer).await?;
        }
        let text = serde_json::to_string(config).map_err(|e| AuthError::Other(e.to_string()))?;
        self.store
            .put(&AuthConfig {
                id: AuthConfig::ID.into(),
                config: Secret::new(text),
            })
            .await?;
        Ok(())
    }

    /// The issuer must speak OIDC. Our own provider answers in-process;
    /// anything else is asked over HTTP.
    async fn discover(&self, issuer: &str) -> Result<(), AuthError> {
        let ours = self
            .provider
            .as_ref()
            .is_some_and(|p| p.settings().issuer == issuer.trim_end_matches('/'));
        if ours {
            return Ok(());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let fail = |cause: String| {
            AuthError::Other(format!(
                "provided OIDC issuer does not implement OIDC protocol: {cause}"
            ))
        };
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let resp = client
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("{url} answered {}", resp.status())));
        }
        let doc: serde_json::Value = resp.json().await.map_err(|e| fail(e.to_string()))?;
        if doc.get("issuer").and_then(|v| v.as_str()).is_none() {
            return Err(fail(format!("{url} has no issuer")));
        }
        Ok(())
    }

    /// Roles, for GetRolesForPermission.
    pub fn roles_for_permission(p: Permission) -> Vec<&'static auth::Role> {
        auth::roles_for_permission(p)
    }

    /// GetPermissions*: every permission, then the roles returned for the
    /// resource's type (sorted) and their concatenated permissions.
    pub async fn permissions(
        &self,
        subject: &str,
        resource: &Resource,
    ) -> Result<(Vec<Permission>, Vec<String>), AuthError> {
        let e = self.evaluate(subject, resource, &[]).await?;
        let kind = if resource.kind == ResourceType::SpecRepo {
            ResourceType::Repo
        } else {
            resource.kind
        };
        let mut roles: Vec<&auth::Role> = e
            .roles
            .iter()
            .filter_map(|n| auth::role(n))
            .filter(|r| r.returned_for.contains(&kind))
            .collect();
        roles.sort_by_key(|r| r.name);
        let permissions = roles
            .iter()
            .flat_map(|r| r.permissions.iter().copied())
            .collect();
        Ok((
            permissions,
            roles.iter().map(|r| r.name.to_owned()).collect(),
        ))
    }

    /// Reconciles the cluster binding with `AUTH_CLUSTER_RBAC` (auth-model
    /// §6): every principal not listed is removed, except `pach:` and
    /// `internal:` ones; each listed one is set. Removals are logged.
    pub async fn reconcile_cluster_bindings(
        &self,
        wanted: &BTreeMap<String, Vec<String>>,
    ) -> Result<(), AuthError> {
        let updated = self
            .store
            .update::<RoleBinding, _>("CLUSTER:", |b| {
                let keep = |p: &str| {
                    p.starts_with("pach:") || p.starts_with("internal:") || wanted.contains_key(p)
                };
                b.entries.retain(|p, _| keep(p));
                for (p, roles) in wanted {
                    b.entries.insert(p.clone(), roles.iter().cloned().collect());
                }
                Ok(())
            })
            .await;
        match updated {
            Ok(_) => {}
            Err(tusk_store::Error::NotFound { .. }) => return Err(AuthError::NotActivated),
            Err(e) => return Err(e.into()),
        }
        self.changed(<RoleBinding as tusk_store::Record>::KIND, Some("CLUSTER:"));
        Ok(())
    }
}
