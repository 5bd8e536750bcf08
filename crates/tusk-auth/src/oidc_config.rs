//! Pachyderm's OIDC configuration (GetConfiguration/SetConfiguration),
//! checked against the issuer's discovery document before it is stored.

use crate::error::AuthError;
use crate::service::AuthService;
use tusk_core::Secret;
use tusk_store::AuthConfig;

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

impl AuthService {
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
}
