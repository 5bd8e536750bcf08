//! The identity API (`identity_v2`): connectors, OIDC clients and the
//! identity server config, validated by the same rules as
//! `tusk config check`, applied to the live provider without a restart.

use crate::error::AuthError;
use crate::service::AuthService;
use serde_json::Value;
use tusk_core::Secret;
use tusk_core::config::{self, Dialect};
use tusk_core::wire_text;
use tusk_oidc::ConnectorConfig;
use tusk_store::{Connector, IdentityConfig, OidcClient};

/// Which parts of the identity config are owned by configuration; the
/// matching write RPCs are refused, as in the reference. Clones share the
/// connectors' owner, so a reload that changes it (the mock IdP turned
/// off, an upstream list removed) unlocks or locks the identity API
/// everywhere at once, as its refusal message promises.
#[derive(Debug, Clone, Default)]
pub struct Managed {
    /// Where connectors come from (`values oidc.upstreamIDPs`, ...).
    connectors: std::sync::Arc<std::sync::RwLock<Option<String>>>,
    /// Set when `IDP_CONFIG` provides the server config.
    pub server_config: Option<String>,
}

impl Managed {
    pub fn new(connectors: Option<String>, server_config: Option<String>) -> Managed {
        Managed {
            connectors: std::sync::Arc::new(std::sync::RwLock::new(connectors)),
            server_config,
        }
    }

    /// Where the connectors come from, or `None` when the API owns them.
    pub fn connectors(&self) -> Option<String> {
        self.connectors
            .read()
            .map_or_else(|e| e.into_inner().clone(), |c| c.clone())
    }

    pub fn set_connectors(&self, origin: Option<String>) {
        match self.connectors.write() {
            Ok(mut c) => *c = origin,
            Err(e) => *e.into_inner() = origin,
        }
    }
}

/// A connector as the API sends it: `config` is the JSON text.
#[derive(Clone, PartialEq)]
pub struct ConnectorInput {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub config_version: i64,
    /// `jsonConfig` or the `config` Struct rendered as JSON.
    pub config: Option<String>,
}

impl std::fmt::Debug for ConnectorInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorInput")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("config_version", &self.config_version)
            .finish_non_exhaustive()
    }
}

/// Seconds as the shortest Go duration string that parses back to them
/// (`24h`, `90m`, `45s`), as pachctl's config files write them.
fn go_duration(secs: i64) -> String {
    match secs {
        s if s != 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn invalid_id() -> AuthError {
    AuthError::Internal("ID does not exist".into())
}

impl AuthService {
    fn refuse_managed(&self, managed: &Managed, rpc: &str) -> Result<(), AuthError> {
        match managed.connectors() {
            Some(origin) => Err(AuthError::FailedPrecondition(format!(
                "identity.{rpc}() is disabled when the Identity Connectors are set via environment. They come from {origin}; change them there and restart or reload tusk."
            ))),
            None => Ok(()),
        }
    }

    /// Validates a connector with the config checker's rules (so the API
    /// and `tusk config check` never disagree) and returns the stored form.
    fn validate_connector(input: &ConnectorInput) -> Result<Connector, AuthError> {
        if input.id.is_empty() {
            return Err(AuthError::other("no id specified"));
        }
        if input.kind.is_empty() {
            return Err(AuthError::other("no type specified"));
        }
        if input.name.is_empty() {
            return Err(AuthError::other("no name specified"));
        }
        let config: Value = match input.config.as_deref().map(str::trim) {
            None | Some("") | Some("null") => Value::Object(Default::default()),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| AuthError::Other(format!("unable to deserialize JSON: {e}")))?,
        };
        let envelope = serde_json::json!({
            "id": input.id, "name": input.name, "type": input.kind, "config": config,
        });
        let text = envelope.to_string();
        let spec = config::parse_connector(text.as_bytes(), "connector", Dialect::Grpc).map_err(
            |diags| {
                let msgs: Vec<String> = diags
                    .iter()
                    .filter(|d| d.severity == config::Severity::Error)
                    .map(|d| d.to_string())
                    .collect();
                AuthError::InvalidArgument(msgs.join("; "))
            },
        )?;
        Ok(Connector {
            id: spec.id,
            name: spec.name,
            type_: spec.type_,
            config_version: input.config_version,
            config: spec.config.to_string(),
        })
    }

    /// Points the live provider at the stored connectors.
    pub async fn reload_connectors(&self) -> Result<(), AuthError> {
        let Some(provider) = &self.provider else {
            return Ok(());
        };
        let stored = self.store.list::<Connector>().await?;
        let configs: Vec<ConnectorConfig> = stored
            .iter()
            .map(|c| ConnectorConfig {
                id: c.id.clone(),
                name: c.name.clone(),
                kind: c.type_.clone(),
                config: serde_json::from_str(&c.config).unwrap_or(Value::Null),
            })
            .collect();
        provider.set_connectors(&configs);
        Ok(())
    }

    pub async fn create_connector(
        &self,
        managed: &Managed,
        input: &ConnectorInput,
    ) -> Result<(), AuthError> {
        self.refuse_managed(managed, "CreateIDPConnector")?;
        let record = Self::validate_connector(input)?;
        match self.store.create(&record).await {
            Ok(()) => {}
            Err(tusk_store::Error::AlreadyExists { .. }) => {
                return Err(AuthError::Internal("ID already exists".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.reload_connectors().await
    }

    pub async fn update_connector(
        &self,
        managed: &Managed,
        input: &ConnectorInput,
    ) -> Result<(), AuthError> {
        self.refuse_managed(managed, "UpdateIDPConnector")?;
        let existing = match self.store.get::<Connector>(&input.id).await {
            Ok(c) => c,
            Err(tusk_store::Error::NotFound { .. }) => return Err(invalid_id()),
            Err(e) => return Err(e.into()),
        };
        if input.config_version != existing.config_version.saturating_add(1) {
            return Err(AuthError::Other(format!(
                "{} {}, expected {}",
                wire_text::CONNECTOR_VERSION,
                input.config_version,
                existing.config_version.saturating_add(1)
            )));
        }
        // Empty name or type keep the stored ones; config only if given.
        let merged = ConnectorInput {
            id: input.id.clone(),
            name: if input.name.is_empty() {
                existing.name.clone()
            } else {
                input.name.clone()
            },
            kind: if input.kind.is_empty() {
                existing.type_.clone()
            } else {
                input.kind.clone()
            },
            config_version: input.config_version,
            config: input
                .config
                .clone()
                .filter(|c| !c.trim().is_empty())
                .or(Some(existing.config.clone())),
        };
        let record = Self::validate_connector(&merged)?;
        let expected = existing.config_version;
        let result = self
            .store
            .update::<Connector, _>(&input.id, |c| {
                if c.config_version != expected {
                    return Err(tusk_store::Error::Aborted(format!(
                        "{} {}, expected {}",
                        wire_text::CONNECTOR_VERSION,
                        record.config_version,
                        c.config_version.saturating_add(1)
                    )));
                }
                *c = record.clone();
                Ok(())
            })
            .await;
        match result {
            Ok(_) => self.reload_connectors().await,
            Err(tusk_store::Error::Aborted(m)) => Err(AuthError::Other(m)),
            Err(tusk_store::Error::NotFound { .. }) => Err(invalid_id()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_connector(&self, id: &str) -> Result<Connector, AuthError> {
        match self.store.get::<Connector>(id).await {
            Ok(c) => Ok(c),
            Err(tusk_store::Error::NotFound { .. }) => Err(invalid_id()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_connectors(&self) -> Result<Vec<Connector>, AuthError> {
        Ok(self.store.list::<Connector>().await?)
    }

    pub async fn delete_connector(&self, managed: &Managed, id: &str) -> Result<(), AuthError> {
        self.refuse_managed(managed, "DeleteIDPConnector")?;
        match self.store.delete::<Connector>(id).await {
            Ok(()) => {
                self.end_sessions(crate::sessions::Ending::Connector(id))
                    .await?;
                self.reload_connectors().await
            }
            Err(tusk_store::Error::NotFound { .. }) => Err(invalid_id()),
            Err(e) => Err(e.into()),
        }
    }

    /// Connectors owned by the API: the configuration has none, so the
    /// stored ones stay, except the built-in mock IdP's connector left
    /// from a configuration that had it on (it belongs to configuration,
    /// and would keep logging anyone in as a cluster admin).
    pub async fn retire_mock_connector(
        &self,
        mock: &config::ConnectorSpec,
    ) -> Result<(), AuthError> {
        match self.store.get::<Connector>(&mock.id).await {
            Ok(c)
                if c.type_ == mock.type_
                    && serde_json::from_str::<Value>(&c.config).ok().as_ref()
                        == Some(&mock.config) =>
            {
                tracing::info!(connector = %c.id, "removing the mock IdP's connector: the mock IdP is off");
                match self.store.delete::<Connector>(&c.id).await {
                    Ok(()) | Err(tusk_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                self.end_sessions(crate::sessions::Ending::Connector(&c.id))
                    .await?;
            }
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.reload_connectors().await
    }

    /// Bootstrap: makes the stored connectors equal the configured ones
    /// (create, update with version + 1, delete the rest), then applies
    /// them. Idempotent, and safe when replicas start together.
    pub async fn reconcile_connectors(
        &self,
        wanted: &[config::ConnectorSpec],
    ) -> Result<(), AuthError> {
        let stored = self.store.list::<Connector>().await?;
        for spec in wanted {
            let config = spec.config.to_string();
            match stored.iter().find(|c| c.id == spec.id) {
                Some(c) if c.name == spec.name && c.type_ == spec.type_ && c.config == config => {}
                Some(_) => {
                    self.store
                        .update::<Connector, _>(&spec.id, |c| {
                            c.name = spec.name.clone();
                            c.type_ = spec.type_.clone();
                            c.config = config.clone();
                            c.config_version = c.config_version.saturating_add(1);
                            Ok(())
                        })
                        .await?;
                }
                None => {
                    let record = Connector {
                        id: spec.id.clone(),
                        name: spec.name.clone(),
                        type_: spec.type_.clone(),
                        config_version: spec.config_version.unwrap_or(0),
                        config,
                    };
                    match self.store.create(&record).await {
                        Ok(()) | Err(tusk_store::Error::AlreadyExists { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        for c in stored
            .iter()
            .filter(|c| !wanted.iter().any(|w| w.id == c.id))
        {
            tracing::info!(connector = %c.id, "removing a connector that is no longer configured");
            match self.store.delete::<Connector>(&c.id).await {
                Ok(()) | Err(tusk_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(connector = %c.id, error = %e, "could not remove connector")
                }
            }
            if let Err(e) = self
                .end_sessions(crate::sessions::Ending::Connector(&c.id))
                .await
            {
                tracing::warn!(connector = %c.id, error = %e, "could not end the removed connector's browser sessions");
            }
        }
        self.reload_connectors().await
    }

    pub async fn create_client(&self, client: &OidcClient) -> Result<OidcClient, AuthError> {
        if client.name.is_empty() {
            return Err(AuthError::other("no client name specified"));
        }
        if client.id.is_empty() {
            return Err(AuthError::other("no client id specified"));
        }
        check_redirect_uris(&client.redirect_uris)?;
        let mut record = client.clone();
        if record.secret.is_empty() && !record.public {
            record.secret = Secret::new(crate::tokens::new_token());
        }
        // The same floor `config check` keeps for configured clients: a
        // short secret is guessable at the token endpoint.
        let len = record.secret.expose().len();
        if !record.public && len < tusk_core::config::MIN_CLIENT_SECRET_BYTES {
            return Err(AuthError::InvalidArgument(format!(
                "client {:?}: its secret is {len} bytes, but a client secret needs at least {} bytes; \
                 leave it empty to have one generated, or use a random one such as the output of `openssl rand -hex 32`",
                record.id,
                tusk_core::config::MIN_CLIENT_SECRET_BYTES
            )));
        }
        match self.store.create(&record).await {
            Ok(()) => Ok(record),
            Err(tusk_store::Error::AlreadyExists { .. }) => {
                Err(AuthError::Internal("ID already exists".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_client(&self, client: &OidcClient) -> Result<(), AuthError> {
        check_redirect_uris(&client.redirect_uris)?;
        let result = self
            .store
            .update::<OidcClient, _>(&client.id, |c| {
                if !client.name.is_empty() {
                    c.name = client.name.clone();
                }
                if !client.redirect_uris.is_empty() {
                    c.redirect_uris = client.redirect_uris.clone();
                }
                if !client.trusted_peers.is_empty() {
                    c.trusted_peers = client.trusted_peers.clone();
                }
                Ok(())
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(tusk_store::Error::NotFound { .. }) => Err(AuthError::Other(format!(
                "unable to find OIDC client with id {:?}",
                client.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_client(&self, id: &str) -> Result<OidcClient, AuthError> {
        match self.store.get::<OidcClient>(id).await {
            Ok(c) => Ok(c),
            Err(tusk_store::Error::NotFound { .. }) => Err(invalid_id()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_clients(&self) -> Result<Vec<OidcClient>, AuthError> {
        Ok(self.store.list::<OidcClient>().await?)
    }

    pub async fn delete_client(&self, id: &str) -> Result<(), AuthError> {
        match self.store.delete::<OidcClient>(id).await {
            Ok(()) => self.forget_consent(Some(id)).await,
            Err(tusk_store::Error::NotFound { .. }) => Err(AuthError::Other(format!(
                "unable to find OIDC client with id {id:?}"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Users' consent grants to a deleted client (or to every client) go
    /// with it, so a new client registered under the same id is asked
    /// for consent afresh rather than inheriting another app's grants.
    async fn forget_consent(&self, client_id: Option<&str>) -> Result<(), AuthError> {
        for g in self.store.list::<tusk_store::ConsentGrant>().await? {
            if client_id.is_none_or(|id| g.client_id == id) {
                match self.store.delete::<tusk_store::ConsentGrant>(&g.id).await {
                    Ok(()) | Err(tusk_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    pub async fn get_identity_config(&self) -> Result<IdentityConfig, AuthError> {
        match self.store.get::<IdentityConfig>(IdentityConfig::ID).await {
            Ok(c) => Ok(c),
            Err(tusk_store::Error::NotFound { .. }) => Ok(IdentityConfig::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The identity server config as it runs: the provider's issuer and
    /// lifetimes, the ones its discovery document and tokens carry (set at
    /// start from the configuration, never empty), over the stored record,
    /// which only a server without an embedded provider reports as is.
    pub async fn effective_identity_config(&self) -> Result<IdentityConfig, AuthError> {
        let mut c = self.get_identity_config().await?;
        if let Some(provider) = &self.provider {
            let s = provider.settings();
            c.issuer = s.issuer.clone();
            c.id_token_expiry = go_duration(s.id_token_ttl);
            c.rotation_token_expiry = s
                .refresh
                .absolute_lifetime
                .map(go_duration)
                .unwrap_or_default();
        }
        Ok(c)
    }

    pub async fn set_identity_config(
        &self,
        managed: &Managed,
        config: &IdentityConfig,
    ) -> Result<(), AuthError> {
        if let Some(origin) = &managed.server_config {
            return Err(AuthError::FailedPrecondition(format!(
                "identity.SetIdentityServerConfig() is disabled when the Identity Config is set via environment. It comes from {origin}."
            )));
        }
        for (name, value) in [
            ("id_token_expiry", &config.id_token_expiry),
            ("rotation_token_expiry", &config.rotation_token_expiry),
        ] {
            if !value.is_empty() {
                config::duration::parse(value).map_err(|why| {
                    AuthError::InvalidArgument(format!(
                        "{name}: `{value}` is not a duration: {why}"
                    ))
                })?;
            }
        }
        let mut record = config.clone();
        record.id = IdentityConfig::ID.into();
        self.store.put(&record).await?;
        Ok(())
    }

    /// DeleteAll: every client, connector and the server config.
    pub async fn delete_all_identity(&self) -> Result<(), AuthError> {
        for c in self.store.list::<OidcClient>().await? {
            let _ = self.store.delete::<OidcClient>(&c.id).await;
        }
        self.forget_consent(None).await?;
        for c in self.store.list::<Connector>().await? {
            let _ = self.store.delete::<Connector>(&c.id).await;
        }
        let _ = self
            .store
            .delete::<IdentityConfig>(IdentityConfig::ID)
            .await;
        self.end_sessions(crate::sessions::Ending::All).await?;
        self.reload_connectors().await
    }
}

/// The identity API refuses the redirect URIs `config check` refuses
/// (`tusk_core::config::check_redirect_uri`): the same rule either way a
/// client is registered.
fn check_redirect_uris(uris: &[String]) -> Result<(), AuthError> {
    for uri in uris {
        if let Err((message, help)) = tusk_core::config::check_redirect_uri(uri) {
            return Err(AuthError::InvalidArgument(format!(
                "redirect_uris: {message}; {help}"
            )));
        }
    }
    Ok(())
}
