//! In-process relying-party helpers for the auth plane, which logs users in
//! through this provider as pachd does through Dex, without an HTTP hop.

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::provider::Provider;
use crate::token::TokenResponse;
use base64::Engine;
use serde_json::Value;

impl Provider {
    /// The authorization endpoint, for building login URLs.
    pub fn authorization_endpoint(&self) -> String {
        self.settings.url("/auth")
    }

    /// Exchanges an authorization code as client `client_id`.
    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let enc =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(client_id),
                enc(client_secret)
            ))
        );
        let params = Params::from_pairs(vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.into()),
            ("redirect_uri".into(), redirect_uri.into()),
        ]);
        self.token(Some(&basic), &params).await
    }

    /// Verifies an ID token this provider issued: signature, issuer, expiry,
    /// and that `audience` is among its audiences.
    pub async fn verify_id_token(&self, token: &str, audience: &str) -> Result<Value, OAuthError> {
        let claims = self.verify_own(token.as_bytes(), false)?;
        // An access token carries `client_id`; only ID tokens are accepted.
        if claims.get("client_id").is_some() {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "this is an access token; pass an ID token",
            ));
        }
        let revoked = |key: &str| {
            let id = claims.get(key).and_then(Value::as_str).unwrap_or_default();
            self.session_revoked(id)
        };
        if revoked("sid").await? || revoked("family").await? {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "the session of this ID token has been revoked",
            ));
        }
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ok {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                format!("expected audience {audience:?} in the ID token"),
            ));
        }
        Ok(claims)
    }

    /// The stored secret of a client, for the auth plane's own client.
    pub async fn client_secret(&self, client_id: &str) -> Option<String> {
        self.client(client_id)
            .await
            .ok()
            .flatten()
            .map(|c| c.secret.expose().clone())
    }
}
