//! Opening the provider's connectors: each on its own, into its slot
//! (`slots`), retried in the background until ready. A connector that
//! fails never stops the others.

use crate::error::{Fault, PageError};
use crate::provider::Provider;
use crate::settings::ConnectorRetry;
use crate::slots::{
    CONNECTING_REASON, ConnectorConfig, ConnectorSlot, ConnectorState, ConnectorTable, OpenAttempt,
};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tusk_connector::Connector;

/// Gives up on one `open` attempt that hangs (the `oidc` connector's own
/// HTTP timeouts normally end it much sooner).
const OPEN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

impl Provider {
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
                "This sign-in method doesn't exist",
                "The link names a sign-in method this service does not have. Go back to the application and start again.",
                format!("there is no connector `{id}`; check the connector ids in oidc.upstreamIDPs"),
            )
        })?;
        slot.status
            .clone()
            .map_err(|reason| unavailable(slot, &reason))
    }
}

impl ConnectorSlot {
    /// Why this connector cannot serve, `None` while it is ready: the
    /// chooser and the error page say "unavailable right now" or "isn't set
    /// up correctly" by it.
    pub fn fault(&self) -> Option<Fault> {
        match (&self.status, self.state) {
            (Ok(_), _) => None,
            (_, ConnectorState::Connecting) => Some(Fault::Transient),
            (_, ConnectorState::Failed { retrying: false }) => Some(Fault::Setup),
            (Err(reason), _) => Some(Fault::of_connector_failure(reason)),
        }
    }
}

/// The page for a connector that cannot serve. What it promises follows
/// the cause: one still connecting or failing upstream says "right now",
/// one whose configuration is wrong says so and sends the user to an
/// administrator; the reason itself goes only to the log (and `/readyz`).
fn unavailable(slot: &ConnectorSlot, reason: &str) -> PageError {
    let fault = slot.fault().unwrap_or(Fault::Transient);
    let state = match slot.state {
        ConnectorState::Connecting => {
            "still connecting to its provider; it is ready once its provider answers"
        }
        ConnectorState::Failed { retrying: true } => {
            "retried in the background; it recovers by itself once its provider answers and its settings are right"
        }
        _ => "not retried: fix its configuration",
    };
    PageError::login_method(
        &slot.name,
        fault,
        format!(
            "connector `{}` is unavailable: {reason}; it is {state}; `/readyz` and `tusk doctor` show its state",
            slot.id
        ),
    )
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
