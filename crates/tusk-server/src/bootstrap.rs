//! From a validated configuration to a running provider: settings,
//! connectors and the static clients.

use std::sync::Arc;
use tusk_core::config::Config;
use tusk_oidc::{ConnectorConfig, Provider, RefreshPolicy, Settings, SystemClock};
use tusk_store::{OidcClient, Store};

/// Builds the provider, opens its connectors (each on its own; a failure
/// is kept as that connector's state) and writes the static clients.
pub async fn provider_from_config(
    config: &Config,
    store: Store,
) -> Result<Arc<Provider>, tusk_oidc::provider::Error> {
    let mut settings = Settings::new(&config.issuer);
    let secs = |d: std::time::Duration| d.as_secs() as i64;
    settings.id_token_ttl = secs(config.id_token_expiry).max(60);
    settings.refresh = RefreshPolicy {
        absolute_lifetime: config.rotation_token_expiry.map(secs),
        valid_if_not_used_for: config.provider.refresh_valid_if_not_used_for.map(secs),
        reuse_interval: secs(config.provider.refresh_reuse_interval),
    };
    settings.alg = config
        .provider
        .signing_algorithm
        .parse()
        .unwrap_or(tusk_jose::Alg::ES256);
    let period = secs(config.provider.key_rotation_period).max(120);
    settings.rotation = tusk_jose::RotationPolicy {
        period_secs: period,
        // A new key is in the JWKS for a quarter period (at most an hour)
        // before it signs, so caches see it first.
        publish_ahead_secs: (period / 4).min(3600),
        max_token_lifetime_secs: settings.id_token_ttl + 600,
    };
    let connectors: Vec<ConnectorConfig> = config
        .connectors
        .iter()
        .map(|c| ConnectorConfig {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: c.type_.clone(),
            config: c.config.clone(),
        })
        .collect();
    let provider = Provider::new(settings, store, Arc::new(SystemClock), &connectors).await?;
    let clients: Vec<OidcClient> = config
        .clients
        .iter()
        .map(|c| OidcClient {
            id: c.id.clone(),
            secret: c.secret.clone().unwrap_or_default(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            trusted_peers: c.trusted_peers.clone(),
            public: c.public,
            logo_url: c.logo_url.clone(),
        })
        .collect();
    provider.seed_clients(&clients).await?;
    Ok(provider)
}
