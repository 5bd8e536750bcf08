//! Hot reload: on a trigger (SIGHUP, or a changed values file, secret or
//! certificate, all sent by the binary), load the configuration again and
//! apply it to the running server: connectors, clients and cluster role
//! bindings, and the TLS certificate. A reload with any error (an invalid
//! value, a certificate that does not parse or match its key) is rejected
//! whole: the last good configuration and certificate keep serving, and the
//! rejection is logged, counted (`tusk_config_reloads_total`,
//! `tusk_config_last_reload_ok`) and shown in `/readyz` until a reload is
//! accepted.
//!
//! Settings read at start (issuer, token lifetimes, limits, listener, TLS
//! on or off) are not changed by a reload; a reload that changes them is
//! accepted for the rest and names them under `pendingRestart`.

use crate::state::{AppState, AuthPlane};
use crate::tls::{Certificates, TlsPem};
use serde_json::{Value, json};
use std::sync::Arc;
use tusk_core::Secret;
use tusk_core::audit::{AuditEvent, ReloadOutcome};
use tusk_core::config::{Config, Diagnostic, Severity};

/// Loads and validates the configuration; supplied by the binary, which
/// alone reads files.
pub type Loader = Arc<dyn Fn() -> Result<Config, Vec<Diagnostic>> + Send + Sync>;

/// Reads the TLS certificate and key for a reload, given the configuration
/// just loaded, with words naming where they came from (for errors);
/// supplied by the binary when they come from files of their own
/// (`--tls-cert`/`--tls-key`). `Ok(None)`: no TLS configured.
pub type TlsLoader = Arc<dyn Fn(&Config) -> Result<Option<(TlsPem, String)>, String> + Send + Sync>;

#[derive(Clone)]
pub struct Reload {
    /// Bumped by the binary each time a reload is wanted.
    pub trigger: tokio::sync::watch::Receiver<u64>,
    pub load: Loader,
    /// Where a reload finds the certificate when the server serves TLS;
    /// `None`: the configuration's own (`proxy.tls.secretName`).
    pub tls: Option<TlsLoader>,
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reload")
    }
}

/// The summary keys a reload applies to the running server; every other
/// key of [`Config::show`] is read at start only.
const RELOADED_KEYS: &[&str] = &[
    "mockIDP",
    "connectorsOrigin",
    "connectors",
    "clients",
    "clusterRoleBindings",
];

/// The certificate in `config`, as the server takes it, and where it came
/// from (`secret <name>`).
pub fn tls_of(config: &Config) -> Option<(TlsPem, String)> {
    config.tls.as_ref().map(|t| {
        let pem = TlsPem {
            cert_chain: t.cert_chain.as_bytes().to_vec(),
            private_key: Secret::new(t.private_key.expose().as_bytes().to_vec()),
        };
        (pem, t.origin.clone())
    })
}

/// Runs until the trigger's sender is dropped. `certificates` is the
/// listener's certificate when it serves TLS.
pub(crate) async fn watch(
    mut reload: Reload,
    state: AppState,
    certificates: Option<Arc<Certificates>>,
) {
    let mut attempts: u64 = 0;
    while reload.trigger.changed().await.is_ok() {
        attempts += 1;
        // Reading and validating a big file is CPU work that would hold
        // this runtime thread (and the requests queued on it, /healthz
        // among them), so it runs on the blocking pool, and so does
        // reading the certificate.
        let (load, tls_loader) = (reload.load.clone(), reload.tls.clone());
        let serves_tls = certificates.is_some();
        let loaded = tokio::task::spawn_blocking(move || {
            let config = load()?;
            let tls = if serves_tls {
                match &tls_loader {
                    Some(read) => read(&config),
                    None => Ok(tls_of(&config)),
                }
            } else {
                Ok(None)
            };
            Ok::<_, Vec<Diagnostic>>((config, tls))
        })
        .await;
        let verdict = match loaded {
            Err(e) => Err(vec![format!("the configuration loader failed: {e}")]),
            Ok(Err(diags)) => {
                for d in &diags {
                    tracing::error!("{}", d.unlevelled());
                }
                Err(diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(ToString::to_string)
                    .collect())
            }
            Ok(Ok((config, tls))) => accept(&state, certificates.as_deref(), &config, tls).await,
        };
        let now = unix_now();
        let mut status = match verdict {
            Ok(status) => {
                audit(&state, ReloadOutcome::Accepted, 0).await;
                status
            }
            Err(errors) => {
                // Logged on every attempt, so an operator who retries
                // (another edit, SIGHUP) sees each refusal.
                tracing::error!(
                    errors = errors.len(),
                    first = errors.first().map_or("", String::as_str),
                    "configuration reload rejected; the last good configuration keeps serving"
                );
                audit(&state, ReloadOutcome::Rejected, errors.len().max(1)).await;
                json!({"ok": false, "errors": errors})
            }
        };
        status["reloads"] = json!(attempts);
        status["at"] = json!(now);
        state.set_reload_status(status);
    }
}

/// Applies a valid configuration: the certificate is checked first, so a
/// bad one changes nothing; then connectors, clients and bindings; the
/// certificate is swapped last. The status for `/readyz`, or every reason
/// for the rejection.
async fn accept(
    state: &AppState,
    certificates: Option<&Certificates>,
    config: &Config,
    tls: Result<Option<(TlsPem, String)>, String>,
) -> Result<Value, Vec<String>> {
    let tls = tls.map_err(|e| vec![e])?;
    let refused =
        |origin: &str, e: crate::errors::Error| vec![format!("TLS certificate from {origin}: {e}")];
    if let (Some(_), Some((pem, origin))) = (certificates, &tls) {
        // A dry run: parse and match the pair without serving it yet.
        crate::tls::check(pem).map_err(|e| refused(origin, e))?;
    }
    if let Some(plane) = state.auth_plane() {
        apply(config, plane).await.map_err(|e| {
            vec![format!(
                "the configuration is valid but could not be applied: {e}"
            )]
        })?;
    }
    let mut rotated = false;
    if let (Some(certificates), Some((pem, origin))) = (certificates, &tls) {
        certificates.replace(pem).map_err(|e| refused(origin, e))?;
        rotated = true;
    }
    let pending = state.set_running_config(config.show(), RELOADED_KEYS);
    tracing::info!(
        connectors = config.connectors.len(),
        tls_reloaded = rotated,
        pending_restart = ?pending,
        "configuration reloaded"
    );
    if !pending.is_empty() {
        tracing::warn!(
            settings = ?pending,
            "the reloaded configuration changes settings read only at start; restart tusk to apply them"
        );
    }
    Ok(json!({
        "ok": true,
        "connectors": config.connectors.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        "pendingRestart": pending,
    }))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn audit(state: &AppState, outcome: ReloadOutcome, problems: usize) {
    let event = AuditEvent::ConfigReloaded { outcome, problems };
    state.store().audit(unix_now(), event).await;
}

async fn apply(config: &Config, plane: &AuthPlane) -> Result<(), tusk_auth::AuthError> {
    crate::bootstrap::apply_connectors(config, &plane.service, &plane.managed).await?;
    if let Some(provider) = plane.service.provider() {
        provider
            .seed_clients(&crate::bootstrap::clients_of(config))
            .await
            .map_err(|e| tusk_auth::AuthError::Other(e.to_string()))?;
    }
    if config.activate_auth && !config.cluster_role_bindings.is_empty() {
        plane
            .service
            .reconcile_cluster_bindings(&config.cluster_role_bindings)
            .await?;
    }
    Ok(())
}
