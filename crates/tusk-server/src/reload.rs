//! Hot reload: on a trigger (SIGHUP, or an edited values file, both sent by
//! the binary), load the configuration again and apply connector and client
//! changes to the running provider. A configuration with any error is
//! rejected whole: the last good one keeps serving, and every problem is
//! logged and shown in `/readyz`.

use crate::http::{AppState, AuthPlane};
use serde_json::{Value, json};
use std::sync::Arc;
use tusk_core::audit::{AuditEvent, ReloadOutcome};
use tusk_core::config::{Config, Diagnostic, Severity};

/// Loads and validates the configuration; supplied by the binary, which
/// alone reads files.
pub type Loader = Arc<dyn Fn() -> Result<Config, Vec<Diagnostic>> + Send + Sync>;

#[derive(Clone)]
pub struct Reload {
    /// Bumped by the binary each time a reload is wanted.
    pub trigger: tokio::sync::watch::Receiver<u64>,
    pub load: Loader,
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reload")
    }
}

/// Runs until the trigger's sender is dropped.
pub(crate) async fn watch(mut reload: Reload, state: AppState) {
    while reload.trigger.changed().await.is_ok() {
        // Reading and validating a big file is CPU work that would hold
        // this runtime thread (and the requests queued on it, /healthz
        // among them), so it runs on the blocking pool.
        let load = reload.load.clone();
        let outcome = match tokio::task::spawn_blocking(move || load()).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "the configuration loader failed; the last good configuration keeps serving");
                state.set_reload_status(json!({"ok": false, "errors": [format!("the configuration loader failed: {e}")]}));
                continue;
            }
        };
        let status = match outcome {
            Ok(config) => match state.auth_plane() {
                Some(plane) => match apply(&config, plane).await {
                    Ok(()) => {
                        tracing::info!(
                            connectors = config.connectors.len(),
                            "configuration reloaded"
                        );
                        audit(&state, ReloadOutcome::Accepted, 0).await;
                        json!({"ok": true, "connectors": config.connectors.iter().map(|c| c.id.clone()).collect::<Vec<_>>()})
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the new configuration is valid but could not be applied; the previous one keeps serving");
                        audit(&state, ReloadOutcome::Rejected, 1).await;
                        json!({"ok": false, "errors": [e.to_string()]})
                    }
                },
                None => {
                    audit(&state, ReloadOutcome::Accepted, 0).await;
                    json!({"ok": true})
                }
            },
            Err(diags) => {
                let errors: Vec<String> = diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(ToString::to_string)
                    .collect();
                for d in &diags {
                    tracing::error!("{d}");
                }
                tracing::error!(
                    errors = errors.len(),
                    "configuration reload rejected; the last good configuration keeps serving"
                );
                audit(&state, ReloadOutcome::Rejected, errors.len()).await;
                json!({"ok": false, "errors": errors})
            }
        };
        state.set_reload_status(status);
    }
}

async fn audit(state: &AppState, outcome: ReloadOutcome, problems: usize) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let event = AuditEvent::ConfigReloaded { outcome, problems };
    state.store().audit(now, event).await;
}

async fn apply(config: &Config, plane: &AuthPlane) -> Result<(), tusk_auth::AuthError> {
    plane
        .service
        .reconcile_connectors(&config.connectors)
        .await?;
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

pub(crate) fn initial_status() -> Value {
    json!({"ok": true, "reloads": 0})
}
