//! After login: userinfo, introspection (RFC 7662), revocation (RFC 7009),
//! RP-initiated logout, and the device authorization grant (RFC 8628).

use crate::authorize::Next;
use crate::error::{ErrorCode, OAuthError, PageError};
use crate::params::Params;
use crate::provider::{Provider, random_token, redirect_matches, with_query};
use crate::scopes;
use serde_json::{Value, json};
use tusk_store::{AuthRequest, DeviceRequest, RefreshToken, Revocation, hash_token};

/// RFC 8628 §6.1: no vowels (no words), no look-alikes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Where logout leads.
#[derive(Debug)]
pub enum LogoutOutcome {
    Redirect(String),
    /// Signed out; show a page.
    Done,
    /// No verifiable hint: ask the user to confirm (a POST back).
    Confirm,
}

impl Provider {
    /// Verifies an access token for userinfo: signature, issuer, expiry,
    /// and the revocation list.
    async fn active_access_token(&self, token: &str) -> Result<Value, OAuthError> {
        let claims = self.verify_own(token.as_bytes(), false)?;
        if claims.get("client_id").is_none() {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "this is an ID token, not an access token",
            ));
        }
        // The deny-list is in memory (`cache`): a valid token costs no
        // store read.
        let ids: Vec<String> = ["jti", "sid"]
            .iter()
            .filter_map(|key| {
                let v = claims.get(*key).and_then(Value::as_str)?;
                Some(format!("{key}:{v}"))
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
        let bad = |e: OAuthError| {
            PageError::bad_request(
                "Invalid logout request",
                e.description,
                "the application sent a malformed logout request",
            )
        };
        let hint = params.get("id_token_hint").map_err(bad)?;
        let claims = match hint {
            Some(h) => Some(self.verify_own(h.as_bytes(), true).map_err(|e| {
                PageError::bad_request(
                    "Invalid logout request",
                    format!("the id_token_hint is not valid: {}", e.description),
                    "the application must send an ID token this server issued",
                )
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
                        "Unknown client",
                        format!("no client `{id}`"),
                        "check the logout request's client_id",
                    )
                })?;
                if !redirect_matches(&client, uri) {
                    return Err(PageError::bad_request(
                        "Unregistered redirect URI",
                        format!("`{uri}` is not a registered redirect URI of client `{id}`"),
                        "register it for the client",
                    ));
                }
                Some(uri.to_owned())
            }
            (Some(_), None) => {
                return Err(PageError::bad_request(
                    "Invalid logout request",
                    "post_logout_redirect_uri needs client_id or id_token_hint",
                    "send id_token_hint with the logout request",
                ));
            }
            _ => None,
        };
        if claims.is_none() && !confirmed {
            return Ok(LogoutOutcome::Confirm);
        }
        if let Some(sid) = claims
            .as_ref()
            .and_then(|c| c.get("sid"))
            .and_then(Value::as_str)
        {
            self.revoke_family(sid, self.now())
                .await
                .map_err(|e| PageError::internal(e.description))?;
        }
        Ok(match target {
            Some(uri) if state.is_empty() => LogoutOutcome::Redirect(uri),
            Some(uri) => LogoutOutcome::Redirect(with_query(&uri, &[("state", state)])),
            None => LogoutOutcome::Done,
        })
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
        let display = format!("{}-{}", &user_code[..4], &user_code[4..]);
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

    /// The user typed a code at `/device`: start a login for that device.
    pub async fn device_verify(&self, user_code: &str) -> Result<Next, PageError> {
        let normalized: String = user_code
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .flat_map(char::to_uppercase)
            .collect();
        let invalid = || {
            PageError::bad_request(
                "Invalid code",
                "that code is not valid or has expired; check it and try again",
                "the code comes from the device's screen",
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
        let auth = AuthRequest {
            id: random_token(16),
            client_id: request.client_id.clone(),
            scopes: request.scopes.clone(),
            upstream_nonce: tusk_core::Secret::new(random_token(16)),
            device: request.id.clone(),
            expires_at: request.expires_at,
            ..Default::default()
        };
        self.store.create(&auth).await?;
        Ok(self.choose(&auth.id, None))
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
