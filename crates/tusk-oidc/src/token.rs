//! The token endpoint: client authentication, the three grants, and token
//! issuance.

use crate::authorize::{connector_scopes, to_claims, to_identity};
use crate::error::{ErrorCode, OAuthError};
use crate::observer::RefreshedIdentity;
use crate::params::Params;
use crate::provider::{Provider, audit_user, identity_claims, random_token};
use crate::scopes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tusk_core::Secret;
use tusk_core::audit::AuditEvent;
use tusk_store::{
    AuthCode, BrowserSession, Claims, DeviceRequest, OidcClient, Record, RefreshToken, Revocation,
    hash_token,
};

/// Attempts a code exchange makes when its browser session changes
/// between the read and the commit (another client's exchange in the same
/// session, a logout).
const CODE_ATTEMPTS: u32 = 4;

#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Tokens are bearer credentials: `Debug` names what was issued, not them.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What one issuance needs to know.
pub(crate) struct Grant<'a> {
    pub client: &'a OidcClient,
    pub scopes: &'a [String],
    pub claims: &'a Claims,
    pub connector_id: &'a str,
    pub nonce: &'a str,
    pub auth_time: i64,
    /// The refresh token family: what one login's tokens share, revoked
    /// together.
    pub family: &'a str,
    /// The `sid` of the browser session the login came through, empty
    /// when there was none.
    pub session: &'a str,
}

impl Provider {
    /// Authenticates the client from an `Authorization: Basic` header or
    /// `client_id`/`client_secret` form fields (one method only, RFC 6749
    /// §2.3). A public client authenticates with its id alone.
    pub async fn authenticate_client(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<OidcClient, OAuthError> {
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidClient,
                "client authentication failed: unknown client or wrong secret",
            )
        };
        let (id, secret) = match authorization {
            Some(header) => {
                if params.get("client_secret")?.is_some() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidRequest,
                        "use one client authentication method, not Basic and client_secret together",
                    ));
                }
                parse_basic(header)?
            }
            None => {
                let id = params.get("client_id")?.ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidClient,
                        "client authentication failed: no client_id",
                    )
                })?;
                (
                    id.to_owned(),
                    params.get("client_secret")?.map(str::to_owned),
                )
            }
        };
        if let Some(form_id) = params.get("client_id")?
            && form_id != id
        {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                "client_id does not match the authenticated client",
            ));
        }
        let client = self.client(&id).await?.ok_or_else(invalid)?;
        if client.public {
            return Ok(client);
        }
        match secret {
            Some(s) if !client.secret.is_empty() && client.secret.ct_eq(&s) => Ok(client),
            _ => Err(invalid()),
        }
    }

    /// `POST /token`.
    pub async fn token(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let grant_type = params.require("grant_type")?;
        let client = self.authenticate_client(authorization, params).await?;
        match grant_type {
            "authorization_code" => self.code_grant(&client, params).await,
            "refresh_token" => self.refresh_grant(&client, params).await,
            "urn:ietf:params:oauth:grant-type:device_code" => {
                self.device_grant(&client, params).await
            }
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("unsupported grant_type {other:?}"),
            )),
        }
    }

    async fn code_grant(
        &self,
        client: &OidcClient,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let code = params.require("code")?;
        let id = hash_token(code);
        let now = self.now();
        let family = random_token(16);
        let invalid = |d: &str| OAuthError::new(ErrorCode::InvalidGrant, d);
        // Retried only when the browser session changed or ended between
        // its read and the commit; the code itself is claimed once.
        for _ in 0..CODE_ATTEMPTS {
            // Validate before claiming: a failed attempt (wrong client,
            // wrong verifier) must not burn the code of the legitimate client.
            let (record, version) = match self.store.get_versioned::<AuthCode>(&id).await {
                Ok(c) => c,
                Err(tusk_store::Error::NotFound { .. }) => {
                    return Err(invalid("Invalid or expired code parameter."));
                }
                Err(e) => return Err(e.into()),
            };
            if record.used {
                return Err(self.code_replayed(&id, now).await);
            }
            if record.expires_at <= now {
                return Err(invalid("Invalid or expired code parameter."));
            }
            if record.client_id != client.id {
                return Err(invalid("Invalid code: it was issued to another client."));
            }
            if params.get("redirect_uri")? != Some(record.redirect_uri.as_str()) {
                return Err(invalid(
                    "redirect_uri did not match URI from initial request.",
                ));
            }
            crate::pkce::verify(
                &record.code_challenge,
                &record.code_challenge_method,
                params.get("code_verifier")?,
            )?;
            // The browser session learns which client got which family, so
            // its logout ends them; a session that has ended ends them now.
            let session = match record.browser_session.as_str() {
                "" => None,
                sid => match self.store.get_versioned::<BrowserSession>(sid).await {
                    Ok(s) => Some(s),
                    Err(tusk_store::Error::NotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                },
            };
            let session_live = record.browser_session.is_empty() || session.is_some();
            let grant = Grant {
                client,
                scopes: &record.scopes,
                claims: &record.claims,
                connector_id: &record.connector_id,
                nonce: &record.nonce,
                auth_time: record.auth_time,
                family: &family,
                session: &record.sid,
            };
            let refresh = self.refresh_for(&grant, &record.connector_data, now, now);
            let response = self.issue(&grant, refresh.as_ref().map(|(t, _)| t.clone()))?;
            // One transaction: marking the code used is the single-use
            // step (of concurrent exchanges exactly one swaps the version
            // it read), and the refresh token, the session's note and the
            // audit event stand or fall with it. A replay that revokes the
            // family after this commit therefore finds the refresh token.
            let mut claimed = record.clone();
            claimed.used = true;
            claimed.family = family.clone();
            let mut batch = self.store.batch();
            batch.swap(&claimed, version)?;
            if let Some((_, token)) = &refresh {
                batch.create(token)?;
            }
            if let Some((mut s, v)) = session
                && crate::browser::note_grant(&mut s, &client.id, &family)
            {
                batch.swap(&s, v)?;
            }
            batch.audit(now, minted(&grant, "code"));
            match batch.commit().await {
                Ok(()) => {}
                Err(tusk_store::Error::Conflict { kind, .. }) if kind == AuthCode::KIND => {
                    return Err(self.code_replayed(&id, now).await);
                }
                Err(tusk_store::Error::NotFound { kind, .. }) if kind == AuthCode::KIND => {
                    return Err(invalid("Invalid or expired code parameter."));
                }
                Err(tusk_store::Error::Conflict { .. } | tusk_store::Error::NotFound { .. }) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            // What it issued is dead if the session ended: the access and
            // ID tokens fail the revocation check, the refresh token goes.
            if !session_live || self.session_revoked(&record.sid).await? {
                self.revoke_family(&family, now).await?;
            }
            return Ok(response);
        }
        Err(tusk_store::Error::Conflict {
            kind: BrowserSession::KIND,
            id: "(the session of this code)".into(),
        }
        .into())
    }

    /// A code presented twice: revoke what the first exchange issued
    /// (RFC 6749 §4.1.2), then refuse.
    async fn code_replayed(&self, id: &str, now: i64) -> OAuthError {
        if let Ok(c) = self.store.get::<AuthCode>(id).await {
            if let Err(e) = self.revoke_family(&c.family, now).await {
                return e;
            }
            tracing::warn!(client = %c.client_id, "authorization code replayed; its tokens are revoked");
        }
        OAuthError::new(
            ErrorCode::InvalidGrant,
            "Invalid or expired code parameter.",
        )
    }

    /// Whether a session was revoked (logout, revocation, reuse or replay).
    pub(crate) async fn session_revoked(&self, family: &str) -> Result<bool, OAuthError> {
        if family.is_empty() {
            return Ok(false);
        }
        match self.store.get::<Revocation>(&format!("sid:{family}")).await {
            Ok(_) => Ok(true),
            Err(tusk_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses to hand out tokens of a session revoked meanwhile, and
    /// removes any refresh token created for it in the race.
    async fn ensure_live(&self, family: &str, now: i64) -> Result<(), OAuthError> {
        if self.session_revoked(family).await? {
            self.revoke_family(family, now).await?;
            return Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "the session was revoked while the request was processed; log in again",
            ));
        }
        Ok(())
    }

    async fn refresh_grant(
        &self,
        client: &OidcClient,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = params.require("refresh_token")?;
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidGrant,
                "Refresh token is invalid or has already been claimed by another client.",
            )
        };
        let now = self.now();
        let id = hash_token(presented);
        let (token, version) = match self.store.get_versioned::<RefreshToken>(&id).await {
            Ok(t) => t,
            Err(tusk_store::Error::NotFound { .. }) => return Err(invalid()),
            Err(e) => return Err(e.into()),
        };
        if token.client_id != client.id
            || self.session_revoked(&token.family).await?
            || self.session_revoked(&token.session).await?
        {
            return Err(invalid());
        }
        let policy = self.settings.refresh;
        let expired = token.expires_at.is_some_and(|e| e <= now)
            || policy
                .valid_if_not_used_for
                .is_some_and(|idle| token.last_used + idle <= now);
        if expired {
            self.revoke_family(&token.family, now).await?;
            return Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "Refresh token expired; log in again.",
            ));
        }
        let requested = match params.get("scope")? {
            Some(raw) => {
                let asked = scopes::parse(raw)?;
                if let Some(extra) = asked.iter().find(|s| !token.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope {extra:?} was not granted originally"),
                    ));
                }
                asked
            }
            None => token.scopes.clone(),
        };
        // The connector is resolved before the token is claimed, so an
        // unavailable upstream answers "retry later" without burning the
        // token (a retry would otherwise look like reuse).
        let connector = self
            .connector(&token.connector_id)
            .map_err(|p| match p.status {
                503 => OAuthError::new(ErrorCode::TemporarilyUnavailable, p.detail),
                _ => OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "the login method of this session no longer exists; log in again",
                ),
            })?;
        let refresher = connector.refresh();
        let next = random_token(32);
        let next_id = hash_token(&next);
        let mut claims = token.claims.clone();
        let mut data = token.connector_data.clone();
        // Rotation: claim the presented token by marking it obsolete, in
        // one compare-and-swap on the version read above. A token already
        // obsolete is reuse, unless inside the reuse window.
        let mut claimed = token.clone();
        claimed.obsoleted_by = Some(next_id.clone());
        claimed.obsoleted_at = now;
        // A refresh that calls nothing upstream runs first, so the claim,
        // the successor and the audit event commit as one transaction:
        // a reuse that revokes the family after that commit deletes the
        // successor too, and a revocation before it fails the claim.
        let at_once = refresher.is_none_or(|r| r.is_local());
        let mut reused = token.obsoleted_by.is_some();
        if !reused && !at_once {
            let mut claim = self.store.batch();
            claim.swap(&claimed, version)?;
            match claim.commit().await {
                Ok(()) => {}
                Err(tusk_store::Error::Conflict { .. }) => reused = true,
                Err(tusk_store::Error::NotFound { .. }) => return Err(invalid()),
                Err(e) => return Err(e.into()),
            }
        }
        if !reused && let Some(r) = refresher {
            // Only the winner refreshes upstream (a local refresh runs
            // before the claim, which is the same: it changes nothing).
            match self.refresh_identity(r, &token).await {
                Ok((c, d)) => (claims, data) = (c, d),
                Err((e, transient)) => {
                    if transient && !at_once {
                        // Give the token back: the client may retry it.
                        self.give_back(&id, &next_id).await;
                    }
                    return Err(e);
                }
            }
        }
        let successor = RefreshToken {
            id: next_id,
            family: token.family.clone(),
            client_id: client.id.clone(),
            scopes: token.scopes.clone(),
            nonce: token.nonce.clone(),
            connector_id: token.connector_id.clone(),
            claims: claims.clone(),
            connector_data: data,
            created_at: token.created_at,
            last_used: now,
            obsoleted_by: None,
            obsoleted_at: 0,
            expires_at: token.expires_at,
            session: token.session.clone(),
        };
        let grant = Grant {
            client,
            scopes: &requested,
            claims: &claims,
            connector_id: &token.connector_id,
            nonce: "",
            auth_time: token.created_at,
            family: &token.family,
            session: &token.session,
        };
        if !reused && at_once {
            let response = self.issue(&grant, Some(next.clone()))?;
            let mut batch = self.store.batch();
            batch.swap(&claimed, version)?.create(&successor)?;
            batch.audit(now, minted(&grant, "refresh"));
            match batch.commit().await {
                Ok(()) => return Ok(response),
                // Claimed by a concurrent request since it was read.
                Err(tusk_store::Error::Conflict { .. }) => reused = true,
                Err(tusk_store::Error::NotFound { .. }) => return Err(invalid()),
                Err(e) => return Err(e.into()),
            }
        }
        if reused {
            let within =
                policy.reuse_interval > 0 && token.obsoleted_at + policy.reuse_interval > now;
            let current = self.store.get::<RefreshToken>(&id).await.ok();
            let within = within
                || current.as_ref().is_some_and(|t| {
                    policy.reuse_interval > 0 && t.obsoleted_at + policy.reuse_interval > now
                });
            if !within {
                self.revoke_family(&token.family, now).await?;
                self.audit(AuditEvent::RefreshReuseDetected {
                    user: audit_user(&token.claims),
                    client: client.id.clone(),
                })
                .await;
                tracing::warn!(client = %client.id, "refresh token reused after rotation; the session is revoked (RFC 9700 §4.14.2)");
                return Err(invalid());
            }
        }
        // The successor was not created with the claim (a reuse inside the
        // window, or an upstream refresh in between).
        let response = self.issue(&grant, Some(next))?;
        let mut batch = self.store.batch();
        batch.create(&successor)?;
        batch.audit(now, minted(&grant, "refresh"));
        batch.commit().await?;
        // Reuse detected by a concurrent request may have revoked the
        // session after this one claimed its token: the successor must not
        // outlive that.
        self.ensure_live(&token.family, now).await?;
        Ok(response)
    }

    /// The identity `r` renews for `token`, applied to the auth plane (or
    /// whoever the server wired) before any token carries it. The error
    /// says whether it is transient, so the caller can give the token back.
    async fn refresh_identity(
        &self,
        r: &dyn tusk_connector::RefreshConnector,
        token: &RefreshToken,
    ) -> Result<(Claims, Secret<String>), (OAuthError, bool)> {
        let refreshed = r
            .refresh(
                &connector_scopes(&token.scopes),
                to_identity(&token.claims, &token.connector_data),
            )
            .await;
        let identity = match refreshed {
            Ok(i) => i,
            Err(e) => {
                if matches!(e, tusk_connector::Error::Unavailable { .. }) {
                    return Err((
                        OAuthError::new(
                            ErrorCode::TemporarilyUnavailable,
                            format!("the identity provider cannot be reached: {e}"),
                        ),
                        true,
                    ));
                }
                return Err((
                    OAuthError::new(
                        ErrorCode::InvalidGrant,
                        format!("the identity provider refused the refresh: {e}"),
                    ),
                    false,
                ));
            }
        };
        if identity.user_id != token.claims.user_id {
            return Err((
                OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "the identity provider returned another user",
                ),
                false,
            ));
        }
        let claims = to_claims(&identity);
        let data = identity
            .connector_data
            .unwrap_or_else(|| token.connector_data.clone());
        if let Some(observer) = self.identity_observer() {
            let refreshed = RefreshedIdentity {
                connector_id: token.connector_id.clone(),
                user_id: claims.user_id.clone(),
                email: claims.email.clone(),
                email_verified: claims.email_verified,
                groups: connector_scopes(&token.scopes)
                    .groups
                    .then(|| claims.groups.clone()),
            };
            if let Err(e) = observer.refreshed(&refreshed).await {
                let transient = e.code == ErrorCode::TemporarilyUnavailable;
                return Err((e, transient));
            }
        }
        Ok((claims, data))
    }

    /// Undoes the claim of refresh token `id` by `next_id`, so the client
    /// may present it again after a transient failure.
    async fn give_back(&self, id: &str, next_id: &str) {
        let _ = self
            .store
            .update::<RefreshToken, _>(id, |t| {
                if t.obsoleted_by.as_deref() == Some(next_id) {
                    t.obsoleted_by = None;
                }
                Ok(())
            })
            .await;
    }

    async fn device_grant(
        &self,
        client: &OidcClient,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let code = params.require("device_code")?;
        let id = hash_token(code);
        let now = self.now();
        let err = |c: ErrorCode, d: &str| OAuthError::new(c, d);
        let request = match self.store.get::<DeviceRequest>(&id).await {
            Ok(r) => r,
            Err(tusk_store::Error::NotFound { .. }) => {
                return Err(err(
                    ErrorCode::ExpiredToken,
                    "the device code is unknown or has expired",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if request.client_id != client.id {
            return Err(err(
                ErrorCode::InvalidGrant,
                "the device code was issued to another client",
            ));
        }
        if request.expires_at <= now {
            return Err(err(
                ErrorCode::ExpiredToken,
                "the device code has expired; start again",
            ));
        }
        match request.status.as_str() {
            "approved" => {}
            "denied" => return Err(err(ErrorCode::AccessDenied, "the user denied the request")),
            _ => {
                // RFC 8628 §3.5: polling faster than the interval earns
                // `slow_down` and a longer interval.
                let too_fast = now - request.last_poll < request.interval;
                self.store
                    .update::<DeviceRequest, _>(&id, |d| {
                        if too_fast {
                            d.interval += 5;
                        }
                        d.last_poll = now;
                        Ok(())
                    })
                    .await?;
                return Err(if too_fast {
                    err(
                        ErrorCode::SlowDown,
                        "polling too fast; wait `interval` seconds between requests",
                    )
                } else {
                    err(
                        ErrorCode::AuthorizationPending,
                        "the user has not finished logging in yet",
                    )
                });
            }
        }
        let request = match self.store.take::<DeviceRequest>(&id).await {
            Ok(r) => r,
            Err(tusk_store::Error::NotFound { .. }) => {
                return Err(err(
                    ErrorCode::InvalidGrant,
                    "the device code was already used",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(claims) = request.claims.clone() else {
            return Err(OAuthError::server(
                "approved device request has no identity",
            ));
        };
        let family = random_token(16);
        let grant = Grant {
            client,
            scopes: &request.scopes,
            claims: &claims,
            connector_id: &request.connector_id,
            nonce: "",
            auth_time: now,
            family: &family,
            session: "",
        };
        let refresh = self
            .new_refresh(&grant, &request.connector_data, now, now)
            .await?;
        self.issue_audited(&grant, refresh, "device").await
    }

    /// Creates the first refresh token of a session when `offline_access`
    /// was granted and the connector can refresh.
    async fn new_refresh(
        &self,
        grant: &Grant<'_>,
        data: &Secret<String>,
        created_at: i64,
        now: i64,
    ) -> Result<Option<String>, OAuthError> {
        let Some((token, record)) = self.refresh_for(grant, data, created_at, now) else {
            return Ok(None);
        };
        self.store.create(&record).await?;
        Ok(Some(token))
    }

    /// The first refresh token of a session and its record, when
    /// `offline_access` was granted and the connector can refresh.
    fn refresh_for(
        &self,
        grant: &Grant<'_>,
        data: &Secret<String>,
        created_at: i64,
        now: i64,
    ) -> Option<(String, RefreshToken)> {
        if !grant.scopes.iter().any(|s| s == "offline_access") {
            return None;
        }
        let can_refresh = self
            .connector(grant.connector_id)
            .is_ok_and(|c| c.refresh().is_some());
        if !can_refresh {
            return None;
        }
        let token = random_token(32);
        let record = RefreshToken {
            id: hash_token(&token),
            family: grant.family.to_owned(),
            client_id: grant.client.id.clone(),
            scopes: grant.scopes.to_vec(),
            nonce: grant.nonce.to_owned(),
            connector_id: grant.connector_id.to_owned(),
            claims: grant.claims.clone(),
            connector_data: data.clone(),
            created_at,
            last_used: now,
            obsoleted_by: None,
            obsoleted_at: 0,
            expires_at: self
                .settings
                .refresh
                .absolute_lifetime
                .map(|l| created_at + l),
            session: grant.session.to_owned(),
        };
        Some((token, record))
    }

    /// Ends a session: deletes its refresh tokens, denies its access
    /// tokens until they would have expired anyway, and tells its clients
    /// that registered for back-channel logout (read from the records
    /// before they go; sent off this request's path).
    pub(crate) async fn revoke_family(&self, family: &str, now: i64) -> Result<(), OAuthError> {
        if family.is_empty() {
            return Ok(());
        }
        let records = self.store.list_by_owner::<RefreshToken>(family).await?;
        self.store.delete_by_owner::<RefreshToken>(family).await?;
        self.store
            .put(&Revocation {
                id: format!("sid:{family}"),
                expires_at: now + self.settings.id_token_ttl,
            })
            .await?;
        for ended in crate::backchannel::ended_sessions(&records) {
            self.logout_clients(ended);
        }
        Ok(())
    }

    /// Signs the ID token and the access token (a JWT, as in Dex).
    /// [`Self::issue`], then the audit record of the mint; `kind` is the
    /// grant.
    async fn issue_audited(
        &self,
        g: &Grant<'_>,
        refresh_token: Option<String>,
        kind: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let response = self.issue(g, refresh_token)?;
        self.audit(minted(g, kind)).await;
        Ok(response)
    }

    pub(crate) fn issue(
        &self,
        g: &Grant<'_>,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.now();
        let exp = now + self.settings.id_token_ttl;
        let alg = self.alg_for(g.client)?;
        let mut aud: Vec<String> = scopes::peers(g.scopes).map(str::to_owned).collect();
        if !aud.contains(&g.client.id) {
            aud.push(g.client.id.clone());
        }
        let aud_value = if aud.len() == 1 {
            json!(aud[0])
        } else {
            json!(aud)
        };
        let mut base = BTreeMap::new();
        base.insert("iss".to_owned(), json!(self.settings.issuer));
        base.insert("iat".to_owned(), json!(now));
        base.insert("exp".to_owned(), json!(exp));
        base.insert(
            "sid".to_owned(),
            json!(crate::sid::sid_for(g.session, g.family)),
        );
        // The family too, since `sid` names the browser session when there
        // is one: revoking a family must still deny its tokens.
        base.insert("family".to_owned(), json!(g.family));
        identity_claims(&mut base, g.scopes, g.claims, g.connector_id);

        let mut access = base.clone();
        access.insert("aud".into(), json!(g.client.id));
        access.insert("client_id".into(), json!(g.client.id));
        access.insert("scope".into(), json!(g.scopes.join(" ")));
        access.insert("jti".into(), json!(random_token(16)));
        let access_token = self.sign(alg, &Value::Object(access.into_iter().collect()))?;

        let mut id = base;
        id.insert("aud".into(), aud_value);
        if aud.len() > 1 {
            id.insert("azp".into(), json!(g.client.id));
        }
        id.insert("auth_time".into(), json!(g.auth_time));
        if !g.nonce.is_empty() {
            id.insert("nonce".into(), json!(g.nonce));
        }
        id.insert(
            "at_hash".into(),
            json!(tusk_jose::half_hash(alg, &access_token)),
        );
        let id_token = self.sign(alg, &Value::Object(id.into_iter().collect()))?;
        Ok(TokenResponse {
            access_token,
            token_type: "bearer",
            expires_in: self.settings.id_token_ttl,
            id_token,
            refresh_token,
            scope: g.scopes.join(" "),
        })
    }
}

/// The audit event of tokens issued by grant `kind`.
fn minted(g: &Grant<'_>, kind: &str) -> AuditEvent {
    AuditEvent::TokenMinted {
        actor: None,
        subject: audit_user(g.claims),
        kind: kind.to_owned(),
        client: Some(g.client.id.clone()),
    }
}

/// RFC 6749 §2.3.1: the id and secret are form-urlencoded, then joined by
/// `:` and base64-encoded.
fn parse_basic(header: &str) -> Result<(String, Option<String>), OAuthError> {
    let bad = || {
        OAuthError::new(
            ErrorCode::InvalidClient,
            "malformed Basic authorization header",
        )
    };
    let (scheme, value) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(value.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        let pairs = Params::parse(format!("v={s}").as_bytes()).map_err(|_| bad())?;
        Ok::<_, OAuthError>(pairs.get("v").ok().flatten().unwrap_or_default().to_owned())
    };
    let id = unescape(id)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, Some(unescape(secret)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header() {
        let h = format!("Basic {}", STANDARD.encode("my%3Aclient:s%26cret"));
        assert_eq!(
            parse_basic(&h).ok(),
            Some(("my:client".to_owned(), Some("s&cret".to_owned())))
        );
        for bad in [
            "Bearer x",
            "Basic !!!",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            assert!(parse_basic(bad).is_err(), "{bad}");
        }
    }
}
