//! Logging into the auth plane through the embedded provider
//! (docs/auth-model.md §9): the CLI's `oidc_state` flow and the ID-token flow.

use crate::error::AuthError;
use crate::groups::group_principals;
use crate::service::AuthService;
use serde_json::Value;
use std::time::Duration;
use tusk_core::Secret;
use tusk_core::wire_text;
use tusk_store::{PendingLogin, hash_token};

/// How long a login state lives (the reference's 180 s).
const STATE_TTL: i64 = 180;
/// How often a waiting Authenticate looks at its state; the record is in
/// the store, so a callback landing on another replica is seen too.
const POLL: Duration = Duration::from_millis(250);

/// What the browser sees at `/authorization-code/callback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPage {
    pub status: u16,
    pub body: String,
    /// Why the login failed, for the log only (the server logs it under
    /// the reference id the page shows); empty on success.
    pub detail: String,
}

fn random_string(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        // 248 is the largest multiple of 62 below 256: no modulo bias.
        for b in bytes.iter().filter(|b| **b < 248) {
            if out.len() < n {
                out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// `"<first half>..."/<len>`, as the reference shows a state in errors.
fn redact(state: &str) -> String {
    let half: String = state.chars().take(state.chars().count() / 2).collect();
    format!("\"{half}...\"/{}", state.len())
}

impl AuthService {
    /// GetOIDCLogin: a login URL with a fresh state and nonce.
    pub async fn oidc_login(&self) -> Result<(String, String), AuthError> {
        let config = self.get_config().await?;
        if config.issuer.is_empty() {
            return Err(AuthError::other("OIDC ID provider configuration not found"));
        }
        let provider = self
            .provider
            .as_ref()
            .ok_or_else(|| AuthError::other("OIDC ID provider configuration not found"))?;
        let state = random_string(30);
        let nonce = random_string(30);
        self.store
            .create(&PendingLogin {
                id: hash_token(&state),
                nonce: nonce.clone(),
                token: None,
                error: None,
                expires_at: self.now() + STATE_TTL,
            })
            .await?;
        let scopes = if config.scopes.is_empty() {
            "openid email profile groups".to_owned()
        } else {
            config.scopes.join(" ")
        };
        let mut url = url::Url::parse(&provider.authorization_endpoint())
            .map_err(|e| AuthError::Other(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce);
        // The issuer may be an in-cluster address; the user's browser needs
        // the public host (`user_accessible_issuer_host`), path kept.
        if let Ok(public) = url::Url::parse(&config.user_accessible_issuer_host)
            && public.host_str().is_some()
        {
            let _ = url.set_scheme(public.scheme());
            let _ = url.set_host(public.host_str());
            let _ = url.set_port(public.port());
        }
        Ok((url.to_string(), state))
    }

    /// `/authorization-code/callback?code&state`: exchanges the code,
    /// checks the nonce before any side effect, syncs groups, mints the
    /// session token and leaves it for the waiting Authenticate.
    pub async fn oidc_callback(&self, code: Option<&str>, state: Option<&str>) -> CallbackPage {
        let (Some(code), Some(state)) = (
            code.filter(|c| !c.is_empty()),
            state.filter(|s| !s.is_empty()),
        ) else {
            return CallbackPage {
                status: 400,
                body:
                    "invalid OIDC callback request: missing OIDC state token or authorization code"
                        .into(),
                detail: "the browser reached /authorization-code/callback without `code` and `state`; only the identity provider's redirect carries them".into(),
            };
        };
        let id = hash_token(state);
        let outcome = self.finish_callback(code, &id).await;
        let (token, error, page) = match outcome {
            Ok(token) => (
                Some(Secret::new(token)),
                None,
                CallbackPage {
                    status: 200,
                    body: "You are now logged in. Go back to the terminal to use Pachyderm!".into(),
                    detail: String::new(),
                },
            ),
            Err((temporary, why)) => {
                let detail = format!(
                    "OIDC login failed: {why} (OIDC state token {})",
                    redact(state)
                );
                let body = if temporary {
                    format!(
                        "temporary error during authorization (OIDC state token: {}; Pachyderm logs may contain more information)",
                        redact(state)
                    )
                } else {
                    format!(
                        "authorization failed (OIDC state token: {}; Pachyderm logs may contain more information)",
                        redact(state)
                    )
                };
                (
                    None,
                    Some(why),
                    CallbackPage {
                        status: if temporary { 500 } else { 401 },
                        body,
                        detail,
                    },
                )
            }
        };
        let recorded = self
            .store
            .update::<PendingLogin, _>(&id, |p| {
                p.token = token.clone();
                p.error = error.clone();
                Ok(())
            })
            .await;
        if let Err(e) = recorded {
            return CallbackPage {
                status: 401,
                body: format!(
                    "authorization failed (OIDC state token: {}; Pachyderm logs may contain more information)",
                    redact(state)
                ),
                // A login that already failed keeps its own cause first.
                detail: if page.detail.is_empty() {
                    format!(
                        "the login state expired before the callback finished: {e} (OIDC state token {})",
                        redact(state)
                    )
                } else {
                    format!(
                        "{}; its state could not be recorded either: {e}",
                        page.detail
                    )
                },
            };
        }
        page
    }

    async fn finish_callback(&self, code: &str, state_id: &str) -> Result<String, (bool, String)> {
        let pending = match self.store.get::<PendingLogin>(state_id).await {
            Ok(p) if p.expires_at > self.now() => p,
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {
                return Err((false, "OIDC state token expired or unknown".into()));
            }
            Err(e) => return Err((true, e.to_string())),
        };
        let config = self.get_config().await.map_err(|e| (true, e.to_string()))?;
        let provider = self
            .provider
            .as_ref()
            .ok_or((true, "no provider".to_owned()))?;
        let secret = match config.client_secret.expose().as_str() {
            "" => provider
                .client_secret(&config.client_id)
                .await
                .unwrap_or_default(),
            s => s.to_owned(),
        };
        let tokens = provider
            .exchange_code(&config.client_id, &secret, code, &config.redirect_uri)
            .await
            .map_err(|e| (false, format!("failed to exchange code: {e}")))?;
        let claims = provider
            .verify_id_token(&tokens.id_token, &config.client_id)
            .await
            .map_err(|e| (false, format!("{}: {e}", wire_text::CANNOT_VERIFY_TOKEN)))?;
        // tusk checks the nonce first: the reference synced groups before
        // noticing a mismatch.
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !tusk_core::ct_eq(nonce.as_bytes(), pending.nonce.as_bytes()) {
            // The reference quotes both nonces; they are secrets, so tusk
            // names the mismatch without them.
            return Err((
                false,
                "IDP nonce did not match Pachyderm's session nonce".to_owned(),
            ));
        }
        let subject = self
            .accept_claims(&claims, config.require_email_verified)
            .await
            .map_err(|e| (false, e.to_string()))?;
        self.mint(&subject, Some(self.settings.session_ttl))
            .await
            .map_err(|e| (true, e.to_string()))
    }

    /// Email and groups from verified claims; syncs groups (replace).
    async fn accept_claims(
        &self,
        claims: &Value,
        require_verified: bool,
    ) -> Result<String, AuthError> {
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                AuthError::other("the ID token has no email claim; request the `email` scope")
            })?;
        let verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        if require_verified && !verified {
            return Err(AuthError::other(
                "email_verified claim was false, and require_email_verified was set",
            ));
        }
        let subject = format!("user:{email}");
        if let Some(Value::Array(groups)) = claims.get("groups") {
            let groups: Vec<String> = groups
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            self.set_groups_for_user(&subject, &group_principals(&groups))
                .await?;
        }
        Ok(subject)
    }

    /// Authenticate: by `oidc_state` (blocks until the browser finishes or
    /// the state expires) or by an ID token whose audience includes pachd.
    pub async fn authenticate_login(
        &self,
        oidc_state: &str,
        id_token: &str,
    ) -> Result<String, AuthError> {
        if !self.is_active().await? {
            return Err(AuthError::NotActivated);
        }
        if !oidc_state.is_empty() {
            return self.wait_for_state(oidc_state).await;
        }
        if !id_token.is_empty() {
            let config = self.get_config().await?;
            let provider = self.provider.as_ref().ok_or_else(|| {
                AuthError::Other(format!(
                    "{}: no OIDC provider",
                    wire_text::CANNOT_VERIFY_TOKEN
                ))
            })?;
            let claims = provider
                .verify_id_token(id_token, &config.client_id)
                .await
                .map_err(|e| {
                    AuthError::Other(format!(
                        "{}: {}",
                        wire_text::CANNOT_VERIFY_TOKEN,
                        e.description
                    ))
                })?;
            let subject = self
                .accept_claims(&claims, config.require_email_verified)
                .await?;
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            let ttl = (exp - self.now()).min(self.settings.session_ttl).max(1);
            return self.mint(&subject, Some(ttl)).await;
        }
        Err(AuthError::other(
            "unrecognized authentication mechanism (old pachd?)",
        ))
    }

    async fn wait_for_state(&self, state: &str) -> Result<String, AuthError> {
        let id = hash_token(state);
        loop {
            match self.store.get::<PendingLogin>(&id).await {
                Ok(p) if p.token.is_some() || p.error.is_some() => {
                    // Single use: whoever takes it gets the token.
                    let taken = self.store.take::<PendingLogin>(&id).await;
                    return match taken {
                        Ok(PendingLogin { token: Some(t), .. }) => Ok(t.expose().clone()),
                        Ok(_) => Err(AuthError::other("authorization failed")),
                        Err(_) => Err(AuthError::other(
                            "error during authorization: OIDC state token expired",
                        )),
                    };
                }
                Ok(p) if p.expires_at <= self.now() => {
                    let _ = self.store.take::<PendingLogin>(&id).await;
                    return Err(AuthError::other(
                        "error during authorization: OIDC state token expired",
                    ));
                }
                Ok(_) => {}
                Err(tusk_store::Error::NotFound { .. }) => {
                    return Err(AuthError::other(
                        "error during authorization: OIDC state token expired",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
