//! Browser sessions at the embedded provider, as the auth plane sees them:
//! they end with the user's tokens (RevokeAuthTokensForUser), with auth
//! (Deactivate), with their connector (DeleteIDPConnector, identity
//! DeleteAll) and with the license (license DeleteAll); and an
//! administrator can list and revoke them (`tusk auth list-sessions`,
//! `revoke-sessions`). Without an embedded provider there are none.

use crate::error::AuthError;
use crate::service::AuthService;
use tusk_oidc::SessionInfo;

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending<'a> {
    All,
    Connector(&'a str),
    User(&'a str),
}

impl AuthService {
    /// Ends the sessions `which` names, and what they issued.
    pub(crate) async fn end_sessions(&self, which: Ending<'_>) -> Result<u64, AuthError> {
        let Some(provider) = self.provider() else {
            return Ok(0);
        };
        let ended = match which {
            Ending::All => provider.end_all_sessions(None).await,
            Ending::Connector(id) => provider.end_all_sessions(Some(id)).await,
            Ending::User(user) => provider.end_sessions_of(user, None).await,
        };
        ended
            .map_err(|e| AuthError::Internal(format!("ending browser sessions: {}", e.description)))
    }

    /// The live browser sessions of `user` (`user:<email>`).
    pub async fn list_sessions(&self, user: &str) -> Result<Vec<SessionInfo>, AuthError> {
        let Some(provider) = self.provider() else {
            return Ok(Vec::new());
        };
        provider.sessions_of(user).await.map_err(|e| {
            AuthError::Internal(format!("listing browser sessions: {}", e.description))
        })
    }

    /// Ends `user`'s sessions, or only the one whose id is `id`; the
    /// number ended.
    pub async fn revoke_sessions(&self, user: &str, id: Option<&str>) -> Result<u64, AuthError> {
        let Some(provider) = self.provider() else {
            return Ok(0);
        };
        provider.end_sessions_of(user, id).await.map_err(|e| {
            AuthError::Internal(format!("revoking browser sessions: {}", e.description))
        })
    }
}
