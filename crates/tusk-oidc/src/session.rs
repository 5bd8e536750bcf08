//! After login: userinfo, introspection (RFC 7662), revocation (RFC 7009),
//! RP-initiated logout, and the device authorization grant (RFC 8628).

use crate::authorize::Next;
use crate::browser::Browser;
use crate::error::{ErrorCode, OAuthError, PageError};
use crate::params::Params;
use crate::provider::{Provider, random_token, redirect_matches, with_query};
use crate::scopes;
use serde_json::{Value, json};
use std::sync::Arc;
use tusk_store::{AuthRequest, DeviceRequest, PendingLogout, RefreshToken, Revocation, hash_token};

/// RFC 8628 §6.1: no vowels (no words), no look-alikes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Where logout leads.
pub enum LogoutOutcome {
    Redirect(String),
    /// Signed out; show a page.
    Done,
    /// No verifiable hint: ask the user to confirm (a POST back).
    Confirm,
}

/// A redirect to the upstream's `end_session_endpoint` carries the
/// upstream ID token as `id_token_hint`, so `Debug` shows no query.
impl std::fmt::Debug for LogoutOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogoutOutcome::Redirect(url) => f
                .debug_tuple("Redirect")
                .field(&crate::authorize::redacted_url(url))
                .finish(),
            LogoutOutcome::Done => f.write_str("Done"),
            LogoutOutcome::Confirm => f.write_str("Confirm"),
        }
    }
}

impl Provider {
    /// Verifies an access token for userinfo: signature, issuer, expiry,
    /// and the revocation list.
    async fn active_access_token(&self, token: &str) -> Result<Arc<Value>, OAuthError> {
        let claims = self.verify_own_cached(token)?;
        if claims.get("client_id").is_none() {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "this is an ID token, not an access token",
            ));
        }
        // The deny-list is in memory (`cache`): a valid token costs no
        // store read. A family is revoked under `sid:<family>` (its tokens'
        // `sid` before browser sessions), so the token's `family` is
        // checked there.
        let ids: Vec<String> = [("jti", "jti"), ("sid", "sid"), ("family", "sid")]
            .iter()
            .filter_map(|(key, prefix)| {
                let v = claims.get(*key).and_then(Value::as_str)?;
                Some(format!("{prefix}:{v}"))
            })
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        if self.cache.revoked(&self.store, &ids, self.now()).await? {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "the token has been revoked",
            ));
        }
        Ok(claims)
    }

    /// `GET/POST /userinfo` with a bearer access token.
    pub async fn userinfo(&self, bearer: &str) -> Result<Value, OAuthError> {
        let claims = self.active_access_token(bearer).await?;
        let mut out = serde_json::Map::new();
        for key in [
            "sub",
            "email",
            "email_verified",
            "groups",
            "name",
            "preferred_username",
            "federated_claims",
        ] {
            if let Some(v) = claims.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        Ok(Value::Object(out))
    }

    /// `POST /token/introspect`. The caller must be an authenticated client;
    /// an inactive or foreign token is only `{"active": false}`.
    pub async fn introspect(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<Value, OAuthError> {
        let client = self.authenticate_client(authorization, params).await?;
        if client.public {
            return Err(OAuthError::new(
                ErrorCode::InvalidClient,
                "public clients cannot introspect tokens",
            ));
        }
        let token = params.require("token")?;
        let inactive = json!({"active": false});
        if let Ok(claims) = self.active_access_token(token).await {
            // A client learns nothing of a token meant for someone else,
            // not even that it is active: introspection must not become
            // a way to probe or read other clients' tokens.
            let issued_to = claims.get("client_id").and_then(Value::as_str);
            let audience = match claims.get("aud") {
                Some(Value::String(a)) => a == &client.id,
                Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(&client.id)),
                _ => false,
            };
            if issued_to != Some(client.id.as_str()) && !audience {
                return Ok(inactive);
            }
            let mut out = json!({"active": true, "token_type": "Bearer"});
            for key in [
                "scope",
                "client_id",
                "exp",
                "iat",
                "sub",
                "aud",
                "iss",
                "jti",
                "email",
            ] {
                if let Some(v) = claims.get(key) {
                    out[key] = v.clone();
                }
            }
            if let Some(email) = claims.get("email") {
                out["username"] = email.clone();
            }
            return Ok(out);
        }
        match self.store.get::<RefreshToken>(&hash_token(token)).await {
            Ok(t)
                if t.client_id == client.id
                    && t.obsoleted_by.is_none()
                    && t.expires_at.is_none_or(|e| e > self.now()) =>
            {
                Ok(json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": t.client_id,
                    "scope": t.scopes.join(" "),
                    "sub": crate::subject::encode(&t.claims.user_id, &t.connector_id),
                    "username": t.claims.email,
                    "iss": self.settings.issuer,
                    "iat": t.last_used,
                    "exp": t.expires_at,
                }))
            }
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => Ok(inactive),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /token/revoke`. Unknown tokens are not an error (RFC 7009
    /// §2.2); a client may revoke only its own tokens.
    pub async fn revoke(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<(), OAuthError> {
        let client = self.authenticate_client(authorization, params).await?;
        let token = params.require("token")?;
        match params.get("token_type_hint")? {
            None | Some("access_token") | Some("refresh_token") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedTokenType,
                    format!("token_type_hint {other:?} is not supported"),
                ));
            }
        }
        let now = self.now();
        match self.store.get::<RefreshToken>(&hash_token(token)).await {
            Ok(t) if t.client_id == client.id => {
                self.revoke_family(&t.family, now).await?;
                self.audit(tusk_core::audit::AuditEvent::TokenRevoked {
                    actor: Some(format!("client:{}", client.id)),
                    subject: Some(crate::provider::audit_user(&t.claims)),
                    count: 1,
                })
                .await;
                return Ok(());
            }
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Ok(claims) = self.verify_own(token.as_bytes(), false) {
            let owner = claims.get("client_id").and_then(Value::as_str);
            if let (Some(jti), Some(true)) = (
                claims.get("jti").and_then(Value::as_str),
                owner.map(|o| o == client.id),
            ) {
                let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
                self.store
                    .put(&Revocation {
                        id: format!("jti:{jti}"),
                        expires_at: exp,
                    })
                    .await?;
                let subject = ["email", "name", "sub"]
                    .iter()
                    .find_map(|k| claims.get(*k).and_then(Value::as_str))
                    .map(str::to_owned);
                self.audit(tusk_core::audit::AuditEvent::TokenRevoked {
                    actor: Some(format!("client:{}", client.id)),
                    subject,
                    count: 1,
                })
                .await;
            }
        }
        Ok(())
    }

    /// `GET/POST /logout` (OIDC RP-Initiated Logout 1.0). With a valid
    /// `id_token_hint` (expired ones accepted) the session is ended and the
    /// user sent to a registered `post_logout_redirect_uri`; without one the
    /// user is asked to confirm, so a third party cannot log users out.
    pub async fn logout(
        &self,
        params: &Params,
        confirmed: bool,
    ) -> Result<LogoutOutcome, PageError> {
        self.logout_browser(params, &Browser::default(), confirmed)
            .await
    }

    /// `/logout` from a browser that may hold a session. Besides the
    /// tokens the hint's `sid` names, it ends the browser's session and
    /// every token issued through it, for every client (the server clears
    /// the cookie).
    pub async fn logout_browser(
        &self,
        params: &Params,
        browser: &Browser,
        confirmed: bool,
    ) -> Result<LogoutOutcome, PageError> {
        let invalid = |detail: String| {
            PageError::bad_request(
                "This sign-out link isn't valid",
                "The application sent an incomplete or malformed sign-out request, so nothing was changed. Go back to the application; if it keeps happening, tell its developer and give them the reference below.",
                detail,
            )
        };
        let bad = |e: OAuthError| invalid(format!("malformed logout request: {}", e.description));
        let hint = params.get("id_token_hint").map_err(bad)?;
        let claims = match hint {
            Some(h) => Some(self.verify_own(h.as_bytes(), true).map_err(|e| {
                invalid(format!(
                    "the id_token_hint is not valid: {}; the application must send an ID token this server issued",
                    e.description
                ))
            })?),
            None => None,
        };
        let client_id = match (params.get("client_id").map_err(bad)?, &claims) {
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(c)) => c
                .get("azp")
                .or_else(|| c.get("aud"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let redirect = params.get("post_logout_redirect_uri").map_err(bad)?;
        let state = params.get("state").map_err(bad)?.unwrap_or_default();
        let target = match (redirect, &client_id) {
            (Some(uri), Some(id)) => {
                let client = self.client(id).await?.ok_or_else(|| {
                    PageError::bad_request(
                        "Unknown application",
                        "The application that sent you here is not registered with this sign-in service, so nothing was changed. Tell its developer and give them the reference below.",
                        format!("logout names no registered client: client_id `{id}`"),
                    )
                })?;
                if !redirect_matches(&client, uri) {
                    // Like /auth: neither the registered URIs nor the
                    // requested one appear on the page.
                    return Err(PageError::bad_request(
                        "This application's return address isn't registered",
                        "The application asked to send you to an address it has not registered, so sign-out stopped here to protect you. Tell the application's developer and give them the reference below.",
                        format!(
                            "post_logout_redirect_uri {uri:?} is not registered for client `{id}`; register it for the client"
                        ),
                    ));
                }
                Some(uri.to_owned())
            }
            (Some(_), None) => {
                return Err(invalid(
                    "post_logout_redirect_uri needs client_id or id_token_hint; send id_token_hint with the logout request".into(),
                ));
            }
            _ => None,
        };
        if claims.is_none() && !confirmed {
            return Ok(LogoutOutcome::Confirm);
        }
        let internal = |e: OAuthError| match e.code {
            // The store is down (its error is logged where it happened):
            // an outage that ends by itself, so the page says "right now",
            // not "tell your administrator".
            ErrorCode::TemporarilyUnavailable => PageError::new(
                503,
                crate::error::Fault::Transient,
                "Sign-out is unavailable right now",
                "The sign-in service cannot reach its storage at the moment, so you are still signed in. Wait a minute and try again.",
                format!(
                    "ending the session at logout failed: {}; the storage failure is logged just before this line (`/readyz` says more)",
                    e.description
                ),
            ),
            _ => PageError::internal(format!(
                "ending the session at logout failed: {}",
                e.description
            )),
        };
        let sid = claims
            .as_ref()
            .and_then(|c| c.get("sid"))
            .and_then(Value::as_str);
        if let Some(sid) = sid {
            self.revoke_family(sid, self.now())
                .await
                .map_err(internal)?;
        }
        let hint_sub = claims
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(Value::as_str);
        let session = self
            .session_for_logout(browser, sid, hint_sub)
            .await
            .map_err(internal)?;
        let target = match target {
            Some(uri) if state.is_empty() => Some(uri),
            Some(uri) => Some(with_query(&uri, &[("state", state)])),
            None => None,
        };
        if let Some(session) = session {
            self.end_session(&session, true).await.map_err(internal)?;
            // The upstream IdP's own session ends too, when it advertises
            // RP-initiated logout; it comes back to /logout/callback, which
            // goes on to the client's registered URI.
            if !session.upstream_end_session.is_empty() && !session.upstream_id_token.is_empty() {
                let upstream_state = random_token(32);
                self.store
                    .create(&PendingLogout {
                        id: hash_token(&upstream_state),
                        target: target.clone().unwrap_or_default(),
                        expires_at: self.now() + self.settings.auth_request_ttl,
                    })
                    .await?;
                return Ok(LogoutOutcome::Redirect(with_query(
                    &session.upstream_end_session,
                    &[
                        ("id_token_hint", session.upstream_id_token.expose()),
                        (
                            "post_logout_redirect_uri",
                            &self.settings.url("/logout/callback"),
                        ),
                        ("state", &upstream_state),
                    ],
                )));
            }
        }
        Ok(match target {
            Some(uri) => LogoutOutcome::Redirect(uri),
            None => LogoutOutcome::Done,
        })
    }

    /// `GET <issuer>/logout/callback`: the upstream IdP's logout came
    /// back; continue to where the client's logout asked to go. The
    /// `state` is single use, and an unknown one only shows "logged out"
    /// (never a redirect chosen by whoever sent the link).
    pub async fn logout_callback(&self, params: &Params) -> Result<LogoutOutcome, PageError> {
        let state = params
            .get("state")
            .map_err(|e| {
                PageError::bad_request(
                    "This sign-out link isn't valid",
                    "The sign-in service sent back an incomplete sign-out response, so nothing more was changed. Go back to the application; if it keeps happening, tell your administrator and give them the reference below.",
                    format!("malformed logout callback from the upstream identity provider: {}", e.description),
                )
            })?
            .unwrap_or_default();
        match self.store.take::<PendingLogout>(&hash_token(state)).await {
            Ok(p) if p.expires_at > self.now() && !p.target.is_empty() => {
                Ok(LogoutOutcome::Redirect(p.target))
            }
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => Ok(LogoutOutcome::Done),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /device/code` (RFC 8628 §3.1).
    pub async fn device_authorization(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<Value, OAuthError> {
        let client = self.authenticate_client(authorization, params).await?;
        let scopes = scopes::parse(params.get("scope")?.unwrap_or("openid"))?;
        scopes::check_audience(self, &client.id, &scopes).await?;
        let now = self.now();
        let device_code = random_token(32);
        let user_code = new_user_code();
        self.store
            .create(&DeviceRequest {
                id: hash_token(&device_code),
                user_code: user_code.clone(),
                client_id: client.id.clone(),
                scopes,
                status: "pending".into(),
                interval: self.settings.device_interval,
                last_poll: 0,
                expires_at: now + self.settings.device_ttl,
                ..Default::default()
            })
            .await?;
        let display = crate::prompts::display_code(&user_code);
        let verification = self.settings.url("/device");
        Ok(json!({
            "device_code": device_code,
            "user_code": display,
            "verification_uri": verification,
            "verification_uri_complete": with_query(&verification, &[("user_code", &display)]),
            "expires_in": self.settings.device_ttl,
            "interval": self.settings.device_interval,
        }))
    }

    /// The user typed a code at `/device` or opened its link: store an
    /// unconfirmed login for that device and ask "Sign in to *client*
    /// with code …?" ([`crate::device_confirm`]); nothing is approved here.
    pub async fn device_verify(
        &self,
        user_code: &str,
        browser: &crate::browser::Browser,
    ) -> Result<Next, PageError> {
        let normalized: String = user_code
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .flat_map(char::to_uppercase)
            .collect();
        let invalid = || {
            PageError::new(
                400,
                crate::error::Fault::Refused,
                "That code didn't work",
                "That code is not valid or has expired. Check the code on your device and try again.",
                "unknown or expired user code entered at /device",
            )
        };
        if normalized.len() != 8 {
            return Err(invalid());
        }
        let now = self.now();
        let request = self
            .store
            .list_by_owner::<DeviceRequest>(&normalized)
            .await?
            .into_iter()
            .find(|d| d.status == "pending" && d.expires_at > now)
            .ok_or_else(invalid)?;
        let token = random_token(32);
        let auth = AuthRequest {
            id: random_token(16),
            client_id: request.client_id.clone(),
            scopes: request.scopes.clone(),
            upstream_nonce: tusk_core::Secret::new(random_token(16)),
            device: request.id.clone(),
            form_token: hash_token(&token),
            binding: browser.binding_hash().unwrap_or_default(),
            expires_at: request.expires_at,
            ..Default::default()
        };
        self.store_bound(&auth).await?;
        let client = self.client(&request.client_id).await?;
        Ok(Next::ConfirmDevice(crate::prompts::DeviceConfirm {
            request_id: auth.id,
            token,
            client_name: crate::prompts::display_name(client.as_ref(), &request.client_id),
            client_id: request.client_id,
            user_code: crate::prompts::display_code(&normalized),
        }))
    }
}

fn new_user_code() -> String {
    // Rejection sampling: 240 is the largest multiple of 20 below 256, so
    // every letter is equally likely.
    let mut code = String::with_capacity(8);
    while code.len() < 8 {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        for b in bytes.iter().filter(|b| **b < 240) {
            if code.len() < 8 {
                code.push(USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()] as char);
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_codes_use_the_alphabet() {
        for _ in 0..100 {
            let code = super::new_user_code();
            assert_eq!(code.len(), 8);
            assert!(
                code.bytes().all(|b| super::USER_CODE_ALPHABET.contains(&b)),
                "{code}"
            );
        }
    }
}
