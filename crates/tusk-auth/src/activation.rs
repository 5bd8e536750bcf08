//! Activation and deactivation of the auth plane, and the root token.

use crate::error::AuthError;
use crate::service::{AuthService, ROOT};
use crate::tokens::new_token;
use std::collections::BTreeSet;
use tusk_core::audit::AuditEvent;
use tusk_core::auth::{self, Binding};
use tusk_store::{AuthConfig, AuthToken, GroupMembership, RoleBinding};

/// The auth server's own principal, cluster admin from activation on.
const AUTH_SERVER: &str = "internal:auth-server";

fn binding_of(entries: &[(&str, &str)]) -> Binding {
    entries
        .iter()
        .map(|(p, r)| ((*p).to_owned(), BTreeSet::from([(*r).to_owned()])))
        .collect()
}

impl AuthService {
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
        self.end_sessions(crate::sessions::Ending::All).await?;
        self.changed("*", None);
        self.outwait_other_replicas().await;
        tracing::info!("auth deactivated");
        Ok(())
    }

    pub(crate) async fn delete_quietly<T: tusk_store::Record>(
        &self,
        id: &str,
    ) -> Result<(), AuthError> {
        match self.store.delete::<T>(id).await {
            Ok(()) | Err(tusk_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
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
}
