//! From a validated configuration to a running provider: settings,
//! connectors and the static clients.

use std::sync::Arc;
use tusk_core::clock::SystemClock;
use tusk_core::config::Config;
use tusk_oidc::{ConnectorConfig, Provider, RefreshPolicy, Settings};
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
    settings.audit_retention = secs(config.provider.audit_retention);
    settings.sessions = config.provider.sessions.map(|s| tusk_oidc::SessionPolicy {
        absolute_lifetime: secs(s.absolute_lifetime),
        idle_timeout: secs(s.idle_timeout),
    });
    let size = |n: Option<u32>| n.and_then(|n| usize::try_from(n).ok());
    settings.password_hashing = tusk_oidc::HashPoolSize {
        workers: size(config.provider.password_hash_workers),
        queue: size(config.provider.password_hash_queue),
    };
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
    let clients = clients_of(config);
    provider.seed_clients(&clients).await?;
    Ok(provider)
}

/// What the auth bootstrap did, for the caller to report.
#[derive(Debug)]
pub struct AuthBootstrap {
    pub plane: crate::state::AuthPlane,
    /// A root token tusk generated because none was configured; the caller
    /// hands it to the operator once (a 0600 file), never to the log.
    pub generated_root_token: Option<tusk_core::Secret<String>>,
}

/// Bootstrap of the auth plane from configuration, as pachd does at every
/// start (docs/identity-and-config.md §6), idempotent across restarts and safe
/// when replicas start together: license, activation or root rotation, the
/// pachd client's OIDC config, cluster role bindings, and connectors.
pub async fn auth_from_config(
    config: &Config,
    store: Store,
    provider: Arc<Provider>,
) -> Result<AuthBootstrap, tusk_auth::AuthError> {
    use tusk_auth::{AuthError, AuthService, AuthSettings, Managed, OidcConfig};
    let settings = AuthSettings {
        root_token_from_env: config.root_token.is_some(),
        session_ttl: config.session_duration.as_secs() as i64,
        license_from_config: config.license_key.is_some(),
        license_public_key: config
            .provider
            .license_public_key
            .clone()
            .map(tusk_core::Secret::new),
    };
    let svc = AuthService::new(
        store,
        Arc::new(SystemClock),
        settings,
        Some(provider.clone()),
    );
    let managed = Managed::new(None, None);
    apply_connectors(config, &svc, &managed).await?;
    if let Some(key) = &config.license_key
        && let Err(e) = svc.license_activate(key.expose(), None, true).await
    {
        // The gate then keeps non-admins out; say why, once.
        tracing::error!(error = %e, "the configured enterprise license key was not accepted");
    }
    let mut generated_root_token = None;
    if config.activate_auth {
        let wanted = config.root_token.as_ref().map(|t| t.expose().as_str());
        match svc.activate(wanted).await {
            Ok(token) if wanted.is_none() => {
                generated_root_token = Some(tusk_core::Secret::new(token))
            }
            Ok(_) => {}
            Err(AuthError::AlreadyActivated) => {
                if let Some(root) = wanted {
                    svc.set_root_token(Some(root)).await?;
                }
            }
            Err(e) => return Err(e),
        }
        let pachd = config.clients.iter().find(|c| c.name == "pachd");
        let mut oidc = OidcConfig {
            issuer: config.issuer.clone(),
            client_id: pachd.map_or_else(|| "pachd".to_owned(), |c| c.id.clone()),
            client_secret: tusk_core::Secret::new(String::new()),
            redirect_uri: config.pachd_redirect_uri.clone(),
            scopes: ["email", "profile", "groups", "openid"]
                .map(String::from)
                .to_vec(),
            require_email_verified: config.require_verified_email,
            localhost_issuer: false,
            user_accessible_issuer_host: config.user_accessible_issuer_host.clone(),
        };
        if let Some(serde_json::Value::Object(env)) = &config.auth_config {
            let text = |k: &str| env.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            oidc.issuer = text("issuer").unwrap_or(oidc.issuer);
            oidc.client_id = text("client_id").unwrap_or(oidc.client_id);
            oidc.redirect_uri = text("redirect_uri").unwrap_or(oidc.redirect_uri);
            oidc.user_accessible_issuer_host =
                text("user_accessible_issuer_host").unwrap_or(oidc.user_accessible_issuer_host);
            if let Some(serde_json::Value::Bool(b)) = env.get("require_email_verified") {
                oidc.require_email_verified = *b;
            }
        }
        oidc.client_secret = tusk_core::Secret::new(
            provider
                .client_secret(&oidc.client_id)
                .await
                .unwrap_or_default(),
        );
        svc.set_config(&oidc).await?;
        if !config.cluster_role_bindings.is_empty() {
            svc.reconcile_cluster_bindings(&config.cluster_role_bindings)
                .await?;
        }
    }
    Ok(AuthBootstrap {
        plane: crate::state::AuthPlane {
            service: svc,
            managed,
        },
        generated_root_token,
    })
}

/// Applies a configuration's connectors, at start and on every reload.
/// When configuration owns them (values, a Secret, `IDP_CONNECTORS` or the
/// mock IdP) the store is made equal to them and the identity API refuses
/// changes; otherwise the API owns them, and what it created stays.
pub async fn apply_connectors(
    config: &Config,
    svc: &tusk_auth::AuthService,
    managed: &tusk_auth::Managed,
) -> Result<(), tusk_auth::AuthError> {
    let origin = config.connectors_origin.clone().or_else(|| {
        config
            .mock_idp
            .then(|| "the built-in mock IdP (values oidc.mockIDP)".to_owned())
    });
    managed.set_connectors(origin.clone());
    match origin {
        Some(_) => svc.reconcile_connectors(&config.connectors).await,
        None => {
            svc.retire_mock_connector(&tusk_core::config::connector::mock_idp())
                .await
        }
    }
}

/// The static OIDC clients a configuration declares, as stored records.
pub fn clients_of(config: &Config) -> Vec<OidcClient> {
    config
        .clients
        .iter()
        .map(|c| OidcClient {
            id: c.id.clone(),
            secret: c.secret.clone().unwrap_or_default(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            trusted_peers: c.trusted_peers.clone(),
            public: c.public,
            trusted: c.trusted,
            logo_url: c.logo_url.clone(),
            id_token_signing_alg: c.id_token_signing_alg.clone(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: c.backchannel_logout_session_required,
        })
        .collect()
}
