//! The provider: its state (settings, store, clock, connectors, key ring)
//! and its lifecycle (creation, periodic work, static clients). Its other
//! parts have their own files, which depend on this one and never the
//! reverse: `connectors` (opening them) and `keys` (the key ring) add
//! methods to `Provider`; `settings`, `slots`, `redirect`, `claims` and
//! `audit_context` are leaves this module re-exports under their old
//! paths. The protocol steps live in `authorize`, `token` and `session`.

use crate::logout_delivery::LogoutSlot;
use crate::observer::IdentityObserver;
use crate::slots::ConnectorTable;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::{Arc, Mutex, RwLock, Weak};
use tusk_core::Secret;
use tusk_core::clock::Clock;
use tusk_jose::{SigningKey, VerifyingKeys};
use tusk_store::{OidcClient, Store};

pub use crate::audit_context::with_client_address;
pub(crate) use crate::audit_context::{audit_user, client_address};
pub(crate) use crate::claims::identity_claims;
pub use crate::redirect::{redirect_matches, with_query};
pub use crate::settings::{ConnectorRetry, RefreshPolicy, SessionPolicy, Settings};
pub use crate::slots::{CONNECTING_REASON, ConnectorConfig, ConnectorSlot, ConnectorState};

/// Signing material parsed once per key change, never per signature.
/// One key set per algorithm in use: the configured default, plus any a
/// client is pinned to. Verification and the JWKS cover them all.
pub(crate) struct KeyRing {
    pub(crate) signers: Vec<SigningKey>,
    pub(crate) verifier: VerifyingKeys,
    pub(crate) jwks: Arc<String>,
    /// When the default algorithm's active key was made, for the key-age
    /// gauge operators alert on when rotation stalls.
    pub(crate) created_at: i64,
    /// Access tokens this ring verified, so userinfo and introspection
    /// check a signature once per token rather than once per request;
    /// a new ring (rotation, removal) starts empty.
    pub(crate) verified: crate::verified::Verified,
}

pub struct Provider {
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) connectors: Arc<ConnectorTable>,
    pub(crate) keys: RwLock<Option<Arc<KeyRing>>>,
    discovery: Arc<String>,
    /// Told about identities re-read on a refresh (`observer`); none until
    /// the server wires one.
    observer: RwLock<Option<Arc<dyn IdentityObserver>>>,
    /// The bounded pool every password check of this provider's
    /// connectors runs on (`authorize` scopes it around each check).
    pub(crate) hashing: tusk_connector::HashPool,
    /// Where back-channel logout tokens go (`backchannel`); none until the
    /// server wires a delivery.
    pub(crate) logout: LogoutSlot,
    /// This provider, for the background tasks it starts itself (the
    /// back-channel logout of an ended session) from `&self` methods.
    pub(crate) me: Weak<Provider>,
    /// Client records and the revocation deny-list, so token checks and
    /// client authentication do not read the store (`cache`).
    pub(crate) cache: crate::cache::Cache,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("signing keys: {0}")]
    Keys(#[from] tusk_jose::Error),
    #[error("storage: {0}")]
    Store(#[from] tusk_store::Error),
    #[error(
        "stored signing key set is not valid JSON: {0}; delete the `signing` record to start a new key set"
    )]
    KeyState(String),
    #[error("password hashing: {0}")]
    Hashing(#[from] tusk_connector::Error),
}

impl Provider {
    pub async fn new(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
        connectors: &[ConnectorConfig],
    ) -> Result<Arc<Provider>, Error> {
        let discovery = Arc::new(crate::settings::discovery(&settings).to_string());
        let hashing = tusk_connector::HashPool::new(settings.password_hashing)?;
        let provider = Arc::new_cyclic(|me| Provider {
            me: me.clone(),
            logout: LogoutSlot::new(),
            hashing,
            cache: crate::cache::Cache::new(&store),
            settings,
            store,
            clock,
            connectors: Arc::new(ConnectorTable {
                slots: RwLock::new((0, Arc::new(Vec::new()))),
                stop: Mutex::new(None),
            }),
            keys: RwLock::new(None),
            discovery,
            observer: RwLock::new(None),
        });
        provider.set_connectors(connectors);
        provider.refresh_keys().await?;
        Ok(provider)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The pool this provider's password checks run on.
    pub fn password_hashing(&self) -> &tusk_connector::HashPool {
        &self.hashing
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Writes an audit event through the store's one sink.
    pub(crate) async fn audit(&self, event: tusk_core::audit::AuditEvent) {
        self.store.audit(self.now(), event).await;
    }

    /// Sets the one observer of refreshed identities, replacing any
    /// earlier one.
    pub fn observe_identities(&self, observer: Arc<dyn IdentityObserver>) {
        if let Ok(mut slot) = self.observer.write() {
            *slot = Some(observer);
        }
    }

    /// The observer of refreshed identities, if one is wired.
    pub(crate) fn identity_observer(&self) -> Option<Arc<dyn IdentityObserver>> {
        self.observer.read().ok().and_then(|o| o.clone())
    }

    pub fn discovery_json(&self) -> Arc<String> {
        self.discovery.clone()
    }

    /// Periodic work: key rotation and garbage collection of expired
    /// requests, codes and tokens.
    pub async fn tick(&self) {
        if let Err(e) = self.refresh_keys().await {
            tracing::error!(error = %e, "signing key refresh failed; keeping the current keys");
        }
        if let Err(e) = self.sweep_sessions().await {
            tracing::warn!(error = %e.description, "ending expired browser sessions failed");
        }
        match self.store.gc(self.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "collected expired records"),
            Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
        }
        let horizon = self.now().saturating_sub(self.settings.audit_retention);
        match self.store.purge_audit(horizon).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "purged audit events past their retention"),
            Err(e) => tracing::warn!(error = %e, "purging old audit events failed"),
        }
    }

    /// Creates or updates the static clients from configuration. A client
    /// without a configured secret keeps its stored one, or gets a random
    /// one, so restarts do not break logged-in clients.
    pub async fn seed_clients(&self, clients: &[OidcClient]) -> Result<(), Error> {
        for client in clients {
            let mut wanted = client.clone();
            let existing = match self.store.get::<OidcClient>(&client.id).await {
                Ok(c) => Some(c),
                Err(tusk_store::Error::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            if wanted.secret.is_empty() && !wanted.public {
                wanted.secret = match &existing {
                    Some(e) if !e.secret.is_empty() => e.secret.clone(),
                    _ => Secret::new(random_token(24)),
                };
            }
            if existing.as_ref() != Some(&wanted) {
                self.store.put(&wanted).await?;
            }
        }
        // A client pinned to another algorithm needs its key set now.
        if clients.iter().any(|c| !c.id_token_signing_alg.is_empty()) {
            self.refresh_keys().await?;
        }
        Ok(())
    }

    /// A client record, from memory when possible (`cache`).
    pub(crate) async fn client(&self, id: &str) -> Result<Option<OidcClient>, tusk_store::Error> {
        self.cache.client(&self.store, id, self.now()).await
    }
}

/// A random URL-safe token of `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.settings.issuer)
            .field(
                "connectors",
                &self
                    .connectors()
                    .iter()
                    .map(|c| c.id.clone())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
