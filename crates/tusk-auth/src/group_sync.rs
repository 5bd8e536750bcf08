//! IdP groups on a refresh (docs/oidc-connector.md §3, issue 14): the
//! provider reports each identity a connector re-read on a refresh grant
//! (`tusk_oidc::IdentityObserver`), and the user's auth-plane groups are
//! replaced by the ones reported, as a login replaces them, so a `group:`
//! role binding stops granting once the identity provider drops the group.

use crate::error::AuthError;
use crate::groups::group_principals;
use crate::service::AuthService;
use async_trait::async_trait;
use std::sync::{Arc, Weak};
use tusk_oidc::{ErrorCode, IdentityObserver, OAuthError, RefreshedIdentity};
use tusk_store::{AuthToken, GroupMembership};

/// What a refresh did to the auth plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshSync {
    /// The user's groups are now exactly these principals.
    Replaced(Vec<String>),
    /// Nothing was written, for this reason.
    Skipped(&'static str),
}

impl AuthService {
    /// Replaces the groups of `user:<email>` with a refreshed identity's,
    /// under the rules of a login (the same subject, the same
    /// `require_email_verified`), but only for a user the auth plane
    /// already knows: one holding an unexpired session token or a group
    /// membership. A refresh never creates an auth-plane user: the
    /// reference writes groups only when someone logs in to the auth plane,
    /// and a user of another relying party has not.
    pub async fn sync_refreshed_groups(
        &self,
        identity: &RefreshedIdentity,
    ) -> Result<RefreshSync, AuthError> {
        let Some(groups) = &identity.groups else {
            return Ok(RefreshSync::Skipped("the session has no groups scope"));
        };
        if identity.email.is_empty() {
            return Ok(RefreshSync::Skipped("the identity has no email"));
        }
        if !self.is_active().await? {
            return Ok(RefreshSync::Skipped("auth is not activated"));
        }
        if self.get_config().await?.require_email_verified && !identity.email_verified {
            return Ok(RefreshSync::Skipped(
                "the email is not verified and require_email_verified is set",
            ));
        }
        let subject = format!("user:{}", identity.email);
        if !self.knows(&subject).await? {
            return Ok(RefreshSync::Skipped(
                "the user never logged in to the auth plane",
            ));
        }
        let principals = group_principals(groups);
        self.set_groups_for_user(&subject, &principals).await?;
        Ok(RefreshSync::Replaced(principals))
    }

    /// Whether `subject` holds a group membership or an unexpired token.
    async fn knows(&self, subject: &str) -> Result<bool, AuthError> {
        match self.store.get::<GroupMembership>(subject).await {
            Ok(_) => return Ok(true),
            Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let now = self.now();
        let tokens = self.store.list_by_owner::<AuthToken>(subject).await?;
        Ok(tokens.iter().any(|t| t.expires_at.is_none_or(|e| e > now)))
    }

    /// The provider's observer of refreshed identities, for the server to
    /// wire with `Provider::observe_identities`. It holds the service
    /// weakly, since the service holds the provider.
    pub fn group_sync(self: &Arc<Self>) -> Arc<dyn IdentityObserver> {
        Arc::new(GroupSync(Arc::downgrade(self)))
    }
}

struct GroupSync(Weak<AuthService>);

#[async_trait]
impl IdentityObserver for GroupSync {
    async fn refreshed(&self, identity: &RefreshedIdentity) -> Result<(), OAuthError> {
        let Some(service) = self.0.upgrade() else {
            // The auth plane is gone (shutting down): nothing to keep in step.
            return Ok(());
        };
        match service.sync_refreshed_groups(identity).await {
            Ok(RefreshSync::Replaced(groups)) => {
                tracing::debug!(connector = %identity.connector_id, user = %identity.email, ?groups, "a refresh replaced the user's auth-plane groups");
                Ok(())
            }
            Ok(RefreshSync::Skipped(why)) => {
                tracing::debug!(connector = %identity.connector_id, user = %identity.email, reason = why, "a refresh left the auth-plane groups alone");
                Ok(())
            }
            // The client sees plain words; the log has the cause.
            Err(e @ AuthError::Unavailable(_)) => {
                tracing::warn!(connector = %identity.connector_id, user = %identity.email, error = %e, "a refresh could not replace the user's auth-plane groups; it answers temporarily_unavailable and the client may retry");
                Err(OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the refreshed login could not be recorded; retry shortly",
                ))
            }
            Err(e) => {
                tracing::warn!(connector = %identity.connector_id, user = %identity.email, error = %e, "a refresh's groups cannot be applied to the auth plane (a login would fail the same way); the refresh is refused");
                Err(OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "the groups the identity provider reports for this user cannot be used; ask an administrator (tusk's log names the cause)",
                ))
            }
        }
    }
}
