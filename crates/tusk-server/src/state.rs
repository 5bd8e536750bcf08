//! What every handler shares: the store, the issuer, the running
//! configuration's summary, readiness, and the provider and auth plane when
//! they run. Its own module so that `http` (the routes), `reload` (which
//! records outcomes here) and `bootstrap` (which builds an [`AuthPlane`])
//! all depend on it and not on each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tusk_store::Store;

use crate::oidc::Oidc;

/// A readiness probe must answer before the orchestrator's own timeout.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    issuer: String,
    /// The running configuration (secrets masked) for `/readyz`: the one
    /// from start, then each accepted reload's.
    config_summary: std::sync::RwLock<Value>,
    health: HealthReporter,
    draining: AtomicBool,
    oidc: Option<Oidc>,
    auth: Option<AuthPlane>,
    /// The outcome of the last configuration reload, for `/readyz`.
    reload_status: std::sync::RwLock<Value>,
}

/// The auth plane's gRPC services and the login callback.
#[derive(Clone)]
pub struct AuthPlane {
    pub service: Arc<tusk_auth::AuthService>,
    /// What configuration owns, so the identity API refuses to edit it.
    pub managed: tusk_auth::Managed,
}

impl std::fmt::Debug for AuthPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPlane")
            .field("managed", &self.managed)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// gRPC health starts as SERVING (tonic-health's default); [`crate::run`]
    /// replaces that with a real check before it accepts a connection.
    pub fn new(store: Store, issuer: String, config_summary: Value) -> Self {
        Self::with_oidc(store, issuer, config_summary, None)
    }

    /// With the OpenID provider mounted under the issuer's path.
    pub fn with_oidc(
        store: Store,
        issuer: String,
        config_summary: Value,
        oidc: Option<Oidc>,
    ) -> Self {
        Self::with_services(store, issuer, config_summary, oidc, None)
    }

    /// With the provider and the auth plane.
    pub fn with_services(
        store: Store,
        issuer: String,
        config_summary: Value,
        oidc: Option<Oidc>,
        auth: Option<AuthPlane>,
    ) -> Self {
        let health = HealthReporter::new();
        AppState {
            inner: Arc::new(Inner {
                store,
                issuer,
                config_summary: std::sync::RwLock::new(config_summary),
                health,
                draining: AtomicBool::new(false),
                oidc,
                auth,
                reload_status: std::sync::RwLock::new(initial_reload_status()),
            }),
        }
    }

    /// The gRPC health service's handle, which readiness keeps in step.
    pub(crate) fn health(&self) -> &HealthReporter {
        &self.inner.health
    }

    pub fn oidc(&self) -> Option<&Oidc> {
        self.inner.oidc.as_ref()
    }

    pub fn auth_plane(&self) -> Option<&AuthPlane> {
        self.inner.auth.as_ref()
    }

    pub(crate) fn set_reload_status(&self, status: Value) {
        if let Ok(mut s) = self.inner.reload_status.write() {
            *s = status;
        }
    }

    /// Records an accepted reload's configuration summary as the running
    /// one. Only `reloaded` keys take the new value: the others were read
    /// at start and still hold; those that changed are returned, so
    /// `/readyz` can say that they wait for a restart.
    pub(crate) fn set_running_config(&self, new: Value, reloaded: &[&str]) -> Vec<String> {
        let Ok(mut running) = self.inner.config_summary.write() else {
            return Vec::new();
        };
        let (Value::Object(old), Value::Object(new)) = (&mut *running, &new) else {
            *running = new;
            return Vec::new();
        };
        let mut pending = Vec::new();
        for (key, value) in new {
            if reloaded.contains(&key.as_str()) {
                old.insert(key.clone(), value.clone());
            } else if old.get(key) != Some(value) {
                pending.push(key.clone());
            }
        }
        pending
    }

    /// Whether the last configuration reload was accepted (true before any).
    pub(crate) fn last_reload_ok(&self) -> bool {
        self.inner
            .reload_status
            .read()
            .map(|s| s["ok"] != Value::Bool(false))
            .unwrap_or(true)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Runs the readiness checks and mirrors the verdict into the gRPC
    /// health service, so `/readyz` and `grpc.health.v1` never disagree.
    pub async fn check_readiness(&self) -> Readiness {
        let store = &self.inner.store;
        let backend = store.backend_name();
        let store_check = match tokio::time::timeout(STORE_PING_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => json!({"ok": true, "backend": backend}),
            Ok(Err(e)) => json!({"ok": false, "backend": backend, "error": e.to_string()}),
            Err(_) => json!({
                "ok": false,
                "backend": backend,
                "error": format!("the store did not answer a ping within {} s", STORE_PING_TIMEOUT.as_secs()),
            }),
        };
        let mut config_check = serde_json::Map::new();
        config_check.insert("issuer".to_owned(), json!(self.inner.issuer));
        let summary = self
            .inner
            .config_summary
            .read()
            .map(|s| s.clone())
            .unwrap_or_default();
        match summary {
            Value::Object(summary) => config_check.extend(summary),
            Value::Null => {}
            other => {
                config_check.insert("summary".to_owned(), other);
            }
        }
        config_check.insert("ok".to_owned(), Value::Bool(true));
        if let Ok(reload) = self.inner.reload_status.read() {
            config_check.insert("reload".to_owned(), reload.clone());
        }
        let draining = self.inner.draining.load(Ordering::Relaxed);
        // A broken connector is reported but does not make the server
        // unready while another one logs people in. With connectors
        // configured and none able to (an upstream IdP down or still being
        // discovered), a load balancer should send logins elsewhere. With
        // none configured there is nothing to wait for, and the identity
        // API that adds one must stay reachable.
        let connectors = self.inner.oidc.as_ref().map(|o| o.provider().connectors());
        let can_log_in = connectors
            .as_ref()
            .is_none_or(|c| c.is_empty() || c.iter().any(|c| c.status.is_ok()));
        let ready = store_check["ok"] == Value::Bool(true) && !draining && can_log_in;
        self.publish(ready).await;
        let mut body = json!({
            "ready": ready,
            "checks": {"store": store_check, "config": config_check},
        });
        if let Some(connectors) = connectors {
            let connectors: Vec<Value> = connectors
                .iter()
                .map(|c| match &c.status {
                    Ok(_) => json!({"id": c.id, "type": c.kind, "ok": true}),
                    Err(reason) => {
                        json!({"id": c.id, "type": c.kind, "ok": false, "error": reason})
                    }
                })
                .collect();
            body["checks"]["connectors"] = Value::Array(connectors);
        }
        if !can_log_in {
            body["loginUnavailable"] = Value::Bool(true);
        }
        if draining {
            // Tells an operator why a healthy store still reads as not ready.
            body["draining"] = Value::Bool(true);
        }
        Readiness { ready, body }
    }

    /// From now on readiness is false, so load balancers stop sending new
    /// requests while in-flight ones finish.
    pub(crate) async fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
        self.publish(false).await;
    }

    async fn publish(&self, serving: bool) {
        // Re-read: a check that started before draining must not flip the
        // status back to serving.
        let serving = serving && !self.inner.draining.load(Ordering::Relaxed);
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.inner.health.set_service_status("", status).await;
    }
}

/// The outcome of [`AppState::check_readiness`]: the verdict and the JSON
/// that `/readyz` answers.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub ready: bool,
    pub body: Value,
}

/// `/readyz`'s reload status before the first reload.
pub(crate) fn initial_reload_status() -> Value {
    json!({"ok": true, "reloads": 0})
}
