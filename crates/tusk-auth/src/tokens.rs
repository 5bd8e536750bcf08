//! Tokens: minting, robot tokens, revocation, export and restore.

use crate::cache::TOKEN_RECHECK_SECONDS;
use crate::error::AuthError;
use crate::service::AuthService;
use tusk_core::audit::AuditEvent;
use tusk_core::auth::{self};
use tusk_store::{AuthToken, hash_token};

/// A fresh token: 32 lowercase hex characters, as the reference's.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// An exported robot token (ExtractAuthTokens / RestoreAuthToken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub subject: String,
    pub expires_at: Option<i64>,
    pub hashed_token: String,
}

impl AuthService {
    pub(crate) async fn insert_token(
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
    pub(crate) async fn outwait_other_replicas(&self) {
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
        // The user's browser sessions at the provider, and what they
        // issued, end too; the answer counts Pachyderm tokens, as the
        // reference's does.
        self.end_sessions(crate::sessions::Ending::User(username))
            .await?;
        // The user's consent grants go with their tokens: their next login
        // to a third-party client asks again (issue 15).
        let grants = self
            .store
            .delete_by_owner::<tusk_store::ConsentGrant>(username)
            .await?;
        if grants > 0 {
            self.audit(AuditEvent::ConsentChanged {
                actor: None,
                subject: username.to_owned(),
                client: String::new(),
                change: tusk_core::audit::ConsentChange::Revoked,
                scopes: Vec::new(),
                count: grants,
            })
            .await;
        }
        self.changed(<AuthToken as tusk_store::Record>::KIND, None);
        // Audited by the transport, which knows the admin asking.
        if n > 0 {
            self.outwait_other_replicas().await;
        }
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
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
}
