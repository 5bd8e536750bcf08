//! The provider: settings, clock, clients, connectors and the key ring.
//! The protocol steps live in `authorize`, `token`, `device` and `session`.

use crate::error::{ErrorCode, OAuthError, PageError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tusk_connector::Connector;
use tusk_core::Secret;
use tusk_core::clock::Clock;
use tusk_jose::{Alg, KeySetState, RotationPolicy, SigningKey, VerifyingKeys};
use tusk_store::{OidcClient, SigningKeys, Store};

/// Refresh-token policy (docs/provider.md §6).
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// From the first token of a session; Helm `oidc.RotationTokenExpiry`.
    pub absolute_lifetime: Option<i64>,
    /// Idle limit: a token unused this long is dead (Dex `validIfNotUsedFor`).
    pub valid_if_not_used_for: Option<i64>,
    /// A rotated token still works this long, for clients that race two
    /// refreshes; outside it, reuse revokes the whole session.
    pub reuse_interval: i64,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// No trailing slash; byte-identical in discovery and tokens.
    pub issuer: String,
    pub id_token_ttl: i64,
    /// RFC 6749 recommends at most 10 minutes.
    pub code_ttl: i64,
    /// Bounded, because every `/auth` hit creates one (Dex kept them 24 h
    /// and load-balancer probes filled storage).
    pub auth_request_ttl: i64,
    pub device_ttl: i64,
    pub device_interval: i64,
    pub refresh: RefreshPolicy,
    pub alg: Alg,
    pub rotation: RotationPolicy,
    /// How a connector that cannot open (an unreachable upstream) is
    /// retried in the background.
    pub connector_retry: ConnectorRetry,
    /// Seconds audit events are kept; [`Provider::tick`] purges older ones.
    pub audit_retention: i64,
}

/// Exponential backoff for opening connectors: `initial`, doubling up to
/// `max`, each wait shortened by up to a quarter at random so replicas do
/// not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorRetry {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for ConnectorRetry {
    fn default() -> Self {
        ConnectorRetry {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Settings {
    pub fn new(issuer: &str) -> Settings {
        Settings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            id_token_ttl: 24 * 3600,
            code_ttl: 600,
            auth_request_ttl: 30 * 60,
            device_ttl: 300,
            device_interval: 5,
            refresh: RefreshPolicy {
                absolute_lifetime: Some(48 * 3600),
                valid_if_not_used_for: None,
                reuse_interval: 0,
            },
            alg: Alg::ES256,
            rotation: RotationPolicy::default(),
            connector_retry: ConnectorRetry::default(),
            audit_retention: 30 * 24 * 3600,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// One configured connector and whether it can serve. `status` is `Ok`
/// exactly when `state` is [`ConnectorState::Ready`]; otherwise it holds the
/// reason shown to users ("temporarily unavailable: <reason>") and in
/// `/readyz`.
#[derive(Clone)]
pub struct ConnectorSlot {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: Result<Arc<dyn Connector>, String>,
    pub state: ConnectorState,
    /// Name, kind and config as configured: a reload keeps a ready slot
    /// whose fingerprint is unchanged, so logins in flight through it go on.
    pub fingerprint: String,
}

/// Where a connector is on its way to serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorState {
    /// Its first `open` (discovery, key fetch) is still running.
    Connecting,
    Ready,
    /// The last attempt failed. `retrying`: it is retried in the background
    /// with backoff; false for configuration errors, which only a new
    /// configuration fixes.
    Failed {
        retrying: bool,
    },
}

/// The reason shown while a connector's first `open` runs.
pub const CONNECTING_REASON: &str = "connecting to the upstream identity provider";

/// Gives up on one `open` attempt that hangs (the `oidc` connector's own
/// HTTP timeouts normally end it much sooner).
const OPEN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

type OpenAttempt = Pin<Box<dyn Future<Output = Result<(), tusk_connector::Error>> + Send>>;

/// The connector slots and the background tasks that open them. Tasks hold
/// a `Weak` to it and a receiver of `stop`: dropping the provider (or
/// replacing the connectors) drops the sender and ends them.
struct ConnectorTable {
    /// The generation increases with every `set_connectors`, so a task of a
    /// replaced set never writes into the new one.
    slots: RwLock<(u64, Arc<Vec<ConnectorSlot>>)>,
    stop: Mutex<Option<tokio::sync::watch::Sender<()>>>,
}

impl ConnectorTable {
    /// Replaces slot `index` of `generation`; false when that generation
    /// is gone.
    fn update(
        &self,
        generation: u64,
        index: usize,
        status: Result<Arc<dyn Connector>, String>,
        state: ConnectorState,
    ) -> bool {
        let Ok(mut guard) = self.slots.write() else {
            return false;
        };
        if guard.0 != generation {
            return false;
        }
        let mut slots = guard.1.as_ref().clone();
        let Some(slot) = slots.get_mut(index) else {
            return false;
        };
        slot.status = status;
        slot.state = state;
        guard.1 = Arc::new(slots);
        true
    }
}

/// What the provider needs to open a connector.
#[derive(Clone)]
pub struct ConnectorConfig {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub config: Value,
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field(
                "config",
                &tusk_core::config::connector::mask_config(&self.kind, &self.config),
            )
            .finish()
    }
}

/// Signing material parsed once per key change, never per signature.
/// One key set per algorithm in use: the configured default, plus any a
/// client is pinned to. Verification and the JWKS cover them all.
struct KeyRing {
    signers: Vec<SigningKey>,
    verifier: VerifyingKeys,
    jwks: Arc<String>,
    /// When the default algorithm's active key was made, for the key-age
    /// gauge operators alert on when rotation stalls.
    created_at: i64,
}

pub struct Provider {
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    connectors: Arc<ConnectorTable>,
    keys: RwLock<Option<Arc<KeyRing>>>,
    discovery: Arc<String>,
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
}

impl Provider {
    pub async fn new(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
        connectors: &[ConnectorConfig],
    ) -> Result<Arc<Provider>, Error> {
        let discovery = Arc::new(discovery(&settings).to_string());
        let provider = Arc::new(Provider {
            settings,
            store,
            clock,
            connectors: Arc::new(ConnectorTable {
                slots: RwLock::new((0, Arc::new(Vec::new()))),
                stop: Mutex::new(None),
            }),
            keys: RwLock::new(None),
            discovery,
        });
        provider.set_connectors(connectors);
        provider.refresh_keys().await?;
        Ok(provider)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
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

    /// Opens each connector on its own: one that fails is kept with its
    /// reason and shown as unavailable, while the others serve.
    ///
    /// A config error is final (`Failed { retrying: false }`). Otherwise the
    /// connector's readiness hook ([`Connector::open`]) runs: polled once
    /// here, so connectors without I/O are ready on return; one that needs
    /// the network continues in a background task, which retries failures
    /// with [`Settings::connector_retry`] backoff until the connector is
    /// ready, logging the reason once per change. Replacing the connectors
    /// or dropping the provider ends the previous tasks.
    pub fn set_connectors(&self, configs: &[ConnectorConfig]) {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let mut slots = Vec::with_capacity(configs.len());
        // (slot index, connector, attempt still running, failure already logged)
        type Pending = (
            usize,
            Arc<dyn Connector>,
            Option<OpenAttempt>,
            Option<String>,
        );
        let mut pending: Vec<Pending> = Vec::new();
        let previous = self.connectors();
        for (index, c) in configs.iter().enumerate() {
            let fingerprint = format!("{}\u{0}{}\u{0}{}", c.name, c.kind, c.config);
            if let Some(kept) = previous.iter().find(|s| {
                s.id == c.id && s.fingerprint == fingerprint && s.state == ConnectorState::Ready
            }) {
                slots.push(kept.clone());
                continue;
            }
            let (status, state) = match tusk_connector::open(&c.id, &c.kind, &c.config) {
                Err(e) => {
                    tracing::warn!(connector = %c.id, error = %e, "connector is unavailable");
                    (
                        Err(e.to_string()),
                        ConnectorState::Failed { retrying: false },
                    )
                }
                Ok(conn) if runtime.is_none() => {
                    let reason =
                        "cannot open: tusk configured it outside its async runtime (a bug)"
                            .to_owned();
                    tracing::error!(connector = %conn.id(), "{reason}");
                    (Err(reason), ConnectorState::Failed { retrying: false })
                }
                Ok(conn) => {
                    let mut attempt: OpenAttempt = {
                        let conn = conn.clone();
                        Box::pin(async move { conn.open().await })
                    };
                    // One poll: mocks and `local` finish here; a connector
                    // that waits on the network returns Pending and the
                    // same future continues in the background task.
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    match attempt.as_mut().poll(&mut cx) {
                        std::task::Poll::Ready(Ok(())) => (Ok(conn), ConnectorState::Ready),
                        std::task::Poll::Ready(Err(e)) => {
                            let reason = e.to_string();
                            tracing::warn!(connector = %c.id, error = %reason, "connector is unavailable; retrying in the background");
                            pending.push((index, conn, None, Some(reason.clone())));
                            (Err(reason), ConnectorState::Failed { retrying: true })
                        }
                        std::task::Poll::Pending => {
                            pending.push((index, conn, Some(attempt), None));
                            (
                                Err(CONNECTING_REASON.to_owned()),
                                ConnectorState::Connecting,
                            )
                        }
                    }
                }
            };
            slots.push(ConnectorSlot {
                id: c.id.clone(),
                name: c.name.clone(),
                kind: c.kind.clone(),
                status,
                state,
                fingerprint,
            });
        }
        let generation = match self.connectors.slots.write() {
            Ok(mut guard) => {
                guard.0 += 1;
                guard.1 = Arc::new(slots);
                guard.0
            }
            Err(_) => return,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
        if let Ok(mut stop) = self.connectors.stop.lock() {
            // Dropping the previous sender ends the previous tasks.
            *stop = Some(stop_tx);
        }
        let Some(runtime) = runtime else { return };
        for (index, conn, attempt, last_reason) in pending {
            runtime.spawn(keep_opening(KeepOpening {
                table: Arc::downgrade(&self.connectors),
                generation,
                index,
                conn,
                attempt,
                last_reason,
                stop: stop_rx.clone(),
                retry: self.settings.connector_retry,
            }));
        }
    }

    pub fn connectors(&self) -> Arc<Vec<ConnectorSlot>> {
        self.connectors
            .slots
            .read()
            .map(|g| g.1.clone())
            .unwrap_or_default()
    }

    pub(crate) fn connector(&self, id: &str) -> Result<Arc<dyn Connector>, PageError> {
        let slots = self.connectors();
        let slot = slots.iter().find(|s| s.id == id).ok_or_else(|| {
            PageError::bad_request(
                "Unknown connector",
                format!("there is no login method called `{id}`"),
                "check the connector ids in oidc.upstreamIDPs",
            )
        })?;
        slot.status.clone().map_err(|reason| PageError {
            status: 503,
            title: "Login method unavailable".into(),
            detail: format!("{} is temporarily unavailable: {reason}", slot.name),
            admin_hint: match slot.state {
                ConnectorState::Connecting => format!(
                    "connector `{}` is still connecting to its provider; try again shortly",
                    slot.id
                ),
                ConnectorState::Failed { retrying: true } => format!(
                    "connector `{}` is retried in the background and recovers by itself once its provider answers; `/readyz` shows its state",
                    slot.id
                ),
                _ => format!("fix connector `{}`; `/readyz` shows its state", slot.id),
            },
        })
    }

    pub fn discovery_json(&self) -> Arc<String> {
        self.discovery.clone()
    }

    pub fn jwks_json(&self) -> Arc<String> {
        self.ring()
            .map(|r| r.jwks.clone())
            .unwrap_or_else(|_| Arc::new("{\"keys\":[]}".into()))
    }

    /// When the key now signing (default algorithm) was created; `None`
    /// before keys are loaded.
    pub fn signing_key_created_at(&self) -> Option<i64> {
        self.keys
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|r| r.created_at))
    }

    pub fn jwks_max_age(&self) -> i64 {
        self.settings.rotation.jwks_max_age_secs()
    }

    fn ring(&self) -> Result<Arc<KeyRing>, OAuthError> {
        self.keys
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| OAuthError::server("signing keys are not loaded"))
    }

    /// Signs with the active key of `alg` (a client's pin), else the
    /// default algorithm's.
    pub(crate) fn sign(&self, alg: Alg, claims: &Value) -> Result<String, OAuthError> {
        let ring = self.ring()?;
        let key = ring
            .signers
            .iter()
            .find(|k| k.alg() == alg)
            .or(ring.signers.first())
            .ok_or_else(|| OAuthError::server("no signing key is loaded"))?;
        tusk_jose::sign(key, claims).map_err(|e| {
            tracing::error!(error = %e, "token signing failed");
            OAuthError::server("token signing failed")
        })
    }

    /// The algorithm a client's tokens are signed with.
    pub(crate) fn alg_for(&self, client: &OidcClient) -> Result<Alg, OAuthError> {
        let ring = self.ring()?;
        let pinned = Alg::parse(&client.id_token_signing_alg);
        let alg = pinned
            .filter(|a| ring.signers.iter().any(|k| k.alg() == *a))
            .or_else(|| ring.signers.first().map(SigningKey::alg))
            .ok_or_else(|| OAuthError::server("no signing key is loaded"))?;
        Ok(alg)
    }

    /// Verifies one of our own JWTs (signature, issuer, and expiry unless
    /// `allow_expired`), returning its claims.
    pub(crate) fn verify_own(
        &self,
        token: &[u8],
        allow_expired: bool,
    ) -> Result<Value, OAuthError> {
        let ring = self.ring()?;
        let invalid = |why: String| OAuthError::new(ErrorCode::InvalidToken, why);
        let claims = ring
            .verifier
            .verify(token, &[Alg::ES256, Alg::RS256, Alg::EdDSA])
            .map_err(|e| invalid(e.to_string()))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(invalid("the token was not issued by this provider".into()));
        }
        if !allow_expired {
            tusk_jose::check_time(&claims, self.now(), 0).map_err(|e| invalid(e.to_string()))?;
        }
        Ok(claims)
    }

    /// Loads the key set from storage, rotating it first when due. Called at
    /// start and periodically; compare-and-swap makes exactly one replica's
    /// rotation land, and every replica then loads the stored result.
    pub async fn refresh_keys(&self) -> Result<(), Error> {
        let now = self.now();
        let mut algs = vec![self.settings.alg];
        for client in self.store.list::<OidcClient>().await? {
            if let Some(alg) = Alg::parse(&client.id_token_signing_alg)
                && !algs.contains(&alg)
            {
                algs.push(alg);
            }
        }
        let mut states = Vec::with_capacity(algs.len());
        for alg in &algs {
            // The default keeps the historic record id, so an upgrade
            // keeps its keys.
            let id = if *alg == self.settings.alg {
                SigningKeys::ID.to_owned()
            } else {
                format!("{}:{}", SigningKeys::ID, alg.as_str())
            };
            states.push(self.refresh_alg(*alg, &id, now).await?);
        }
        let keys: Vec<Value> = states
            .iter()
            .flat_map(|s| s.jwks(now)["keys"].as_array().cloned().unwrap_or_default())
            .collect();
        let jwks = json!({ "keys": keys }).to_string();
        let actives: Vec<&str> = states
            .iter()
            .map(|s| tusk_jose::active_key(s, now).map(|k| k.kid.as_str()))
            .collect::<Result<_, _>>()?;
        let current = self.keys.read().ok().and_then(|g| g.clone());
        let unchanged = current.as_ref().is_some_and(|r| {
            r.signers
                .iter()
                .map(SigningKey::kid)
                .eq(actives.iter().copied())
                && *r.jwks == jwks
        });
        if unchanged {
            return Ok(());
        }
        let signers = states
            .iter()
            .map(|s| tusk_jose::active_key(s, now)?.signing_key())
            .collect::<Result<Vec<_>, _>>()?;
        let verifier =
            VerifyingKeys::from_jwks(&serde_json::from_str(&jwks).unwrap_or(Value::Null))?;
        let created_at = states
            .first()
            .map(|s| tusk_jose::active_key(s, now).map(|k| k.created_at))
            .transpose()?
            .unwrap_or(now);
        let ring = KeyRing {
            signers,
            verifier,
            jwks: Arc::new(jwks),
            created_at,
        };
        if let Ok(mut guard) = self.keys.write() {
            *guard = Some(Arc::new(ring));
        }
        Ok(())
    }

    /// Rotates one algorithm's key set when due. Compare-and-swap makes
    /// exactly one replica's rotation land; every replica then uses the
    /// stored result.
    async fn refresh_alg(&self, alg: Alg, id: &str, now: i64) -> Result<KeySetState, Error> {
        let policy = self.settings.rotation;
        let mut generate = |alg: Alg| SigningKey::generate(alg, tusk_jose::new_kid()?);
        loop {
            match self.store.get::<SigningKeys>(id).await {
                Ok(record) => {
                    let state: KeySetState = serde_json::from_str(record.state.expose())
                        .map_err(|e| Error::KeyState(e.to_string()))?;
                    let Some(next) =
                        tusk_jose::rotate_if_due(Some(&state), now, &policy, alg, &mut generate)?
                    else {
                        return Ok(state);
                    };
                    let text =
                        serde_json::to_string(&next).map_err(|e| Error::KeyState(e.to_string()))?;
                    let expected = record.state.clone();
                    let result = self
                        .store
                        .update::<SigningKeys, _>(id, |r| {
                            if r.state != expected {
                                return Err(tusk_store::Error::Aborted(
                                    "another replica rotated first".into(),
                                ));
                            }
                            r.state = Secret::new(text.clone());
                            Ok(())
                        })
                        .await;
                    match result {
                        Ok(_) => {
                            tracing::info!(active = %next.active_kid, alg = %alg, "signing keys rotated");
                            return Ok(next);
                        }
                        Err(tusk_store::Error::Aborted(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(tusk_store::Error::NotFound { .. }) => {
                    let Some(first) =
                        tusk_jose::rotate_if_due(None, now, &policy, alg, &mut generate)?
                    else {
                        return Err(Error::KeyState("rotation produced no first key".into()));
                    };
                    let text = serde_json::to_string(&first)
                        .map_err(|e| Error::KeyState(e.to_string()))?;
                    let record = SigningKeys {
                        id: id.to_owned(),
                        state: Secret::new(text),
                    };
                    match self.store.create(&record).await {
                        Ok(()) => {
                            tracing::info!(active = %first.active_kid, alg = %alg, "created the first signing key");
                            return Ok(first);
                        }
                        Err(tusk_store::Error::AlreadyExists { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Periodic work: key rotation and garbage collection of expired
    /// requests, codes and tokens.
    pub async fn tick(&self) {
        if let Err(e) = self.refresh_keys().await {
            tracing::error!(error = %e, "signing key refresh failed; keeping the current keys");
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

    pub(crate) async fn client(&self, id: &str) -> Result<Option<OidcClient>, tusk_store::Error> {
        match self.store.get::<OidcClient>(id).await {
            Ok(c) => Ok(Some(c)),
            Err(tusk_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One connector's background opener.
struct KeepOpening {
    table: Weak<ConnectorTable>,
    generation: u64,
    index: usize,
    conn: Arc<dyn Connector>,
    /// The attempt already started by `set_connectors`, if still running.
    attempt: Option<OpenAttempt>,
    /// The failure already logged, so a retry failing alike stays quiet.
    last_reason: Option<String>,
    stop: tokio::sync::watch::Receiver<()>,
    retry: ConnectorRetry,
}

/// Opens `conn` until it is ready, with backoff; ends early when the
/// provider is dropped or the connectors are replaced. A connector never
/// stops the process: failures only change its slot.
async fn keep_opening(mut k: KeepOpening) {
    let mut delay = k.retry.initial;
    let id = k.conn.id().to_owned();
    loop {
        if let Some(attempt) = k.attempt.take() {
            let result = tokio::select! {
                r = tokio::time::timeout(OPEN_ATTEMPT_TIMEOUT, attempt) => r.unwrap_or_else(|_| {
                    Err(tusk_connector::Error::Unavailable {
                        connector: id.clone(),
                        reason: format!("opening took longer than {} s", OPEN_ATTEMPT_TIMEOUT.as_secs()),
                    })
                }),
                _ = k.stop.changed() => return,
            };
            let Some(table) = k.table.upgrade() else {
                return;
            };
            match result {
                Ok(()) => {
                    if table.update(
                        k.generation,
                        k.index,
                        Ok(k.conn.clone()),
                        ConnectorState::Ready,
                    ) {
                        if k.last_reason.is_some() {
                            tracing::info!(connector = %id, "connector recovered and is ready");
                        } else {
                            tracing::info!(connector = %id, "connector is ready");
                        }
                    }
                    return;
                }
                Err(e) => {
                    let reason = e.to_string();
                    if !table.update(
                        k.generation,
                        k.index,
                        Err(reason.clone()),
                        ConnectorState::Failed { retrying: true },
                    ) {
                        return;
                    }
                    if k.last_reason.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(connector = %id, error = %reason, "connector is unavailable; retrying in the background");
                        k.last_reason = Some(reason);
                    }
                }
            }
        }
        // Up to a quarter shorter at random, so replicas spread out.
        let wait = delay.mul_f64(1.0 - rand::random::<f64>() * 0.25);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = k.stop.changed() => return,
        }
        delay = delay
            .saturating_mul(2)
            .min(k.retry.max.max(k.retry.initial));
        let conn = k.conn.clone();
        k.attempt = Some(Box::pin(async move { conn.open().await }));
    }
}

/// A random URL-safe token of `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The discovery document advertises exactly what is implemented.
fn discovery(s: &Settings) -> Value {
    json!({
        "issuer": s.issuer,
        "authorization_endpoint": s.url("/auth"),
        "token_endpoint": s.url("/token"),
        "jwks_uri": s.url("/keys"),
        "userinfo_endpoint": s.url("/userinfo"),
        "device_authorization_endpoint": s.url("/device/code"),
        "introspection_endpoint": s.url("/token/introspect"),
        "revocation_endpoint": s.url("/token/revoke"),
        "end_session_endpoint": s.url("/logout"),
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": Alg::discovery_values(),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "groups", "profile", "offline_access", "federated:id"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "at_hash", "azp", "email", "email_verified", "groups", "name", "preferred_username", "federated_claims"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

/// Exact redirect URI matching (RFC 9700 §4.1.3), with one exception for
/// public native clients (RFC 8252 §7.3): a registered loopback URI matches
/// the same URI on any port.
pub fn redirect_matches(client: &OidcClient, requested: &str) -> bool {
    if client.redirect_uris.iter().any(|r| r == requested) {
        return true;
    }
    if !client.public {
        return false;
    }
    let Ok(req) = url::Url::parse(requested) else {
        return false;
    };
    if req.scheme() != "http" || !is_loopback_host(&req) {
        return false;
    }
    client.redirect_uris.iter().any(|registered| {
        url::Url::parse(registered).is_ok_and(|reg| {
            reg.scheme() == "http"
                && reg.host() == req.host()
                && reg.path() == req.path()
                && reg.query() == req.query()
                && req.fragment().is_none()
        })
    })
}

fn is_loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Appends query parameters to a URL that may already have a query.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

/// Scope-gated claims shared by ID tokens, access tokens and userinfo.
pub(crate) fn identity_claims(
    out: &mut BTreeMap<String, Value>,
    scopes: &[String],
    claims: &tusk_store::Claims,
    connector_id: &str,
) {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    out.insert(
        "sub".into(),
        json!(crate::subject::encode(&claims.user_id, connector_id)),
    );
    if has("email") {
        out.insert("email".into(), json!(claims.email));
        out.insert("email_verified".into(), json!(claims.email_verified));
    }
    if has("groups") {
        out.insert("groups".into(), json!(claims.groups));
    }
    if has("profile") {
        out.insert("name".into(), json!(claims.username));
        if !claims.preferred_username.is_empty() {
            out.insert(
                "preferred_username".into(),
                json!(claims.preferred_username),
            );
        }
    }
    if has("federated:id") {
        out.insert(
            "federated_claims".into(),
            json!({"connector_id": connector_id, "user_id": claims.user_id}),
        );
    }
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

tokio::task_local! {
    /// The client's address for the audit records of the request being
    /// served. The HTTP layer knows it (and which proxies to believe); a
    /// task-local carries it to the login code without threading it
    /// through every call.
    static CLIENT_ADDRESS: String;
}

/// Runs `f` with `address` as the client address audit records name.
pub async fn with_client_address<F: std::future::Future>(address: String, f: F) -> F::Output {
    CLIENT_ADDRESS.scope(address, f).await
}

/// How audit records name a user: the email the upstream vouched for,
/// else the name it gave, else its stable id.
pub(crate) fn audit_user(claims: &tusk_store::Claims) -> String {
    [&claims.email, &claims.username, &claims.user_id]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default()
}

/// The address set by [`with_client_address`], if any.
pub(crate) fn client_address() -> Option<String> {
    CLIENT_ADDRESS.try_with(Clone::clone).ok()
}
