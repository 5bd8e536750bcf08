//! The connector slots: what each configured connector is and whether it
//! can serve, and the table the provider and its background openers share.

use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use tusk_connector::Connector;

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

pub(crate) type OpenAttempt =
    Pin<Box<dyn Future<Output = Result<(), tusk_connector::Error>> + Send>>;

/// The connector slots and the background tasks that open them. Tasks hold
/// a `Weak` to it and a receiver of `stop`: dropping the provider (or
/// replacing the connectors) drops the sender and ends them.
pub(crate) struct ConnectorTable {
    /// The generation increases with every `set_connectors`, so a task of a
    /// replaced set never writes into the new one.
    pub(crate) slots: RwLock<(u64, Arc<Vec<ConnectorSlot>>)>,
    pub(crate) stop: Mutex<Option<tokio::sync::watch::Sender<()>>>,
}

impl ConnectorTable {
    /// Replaces slot `index` of `generation`; false when that generation
    /// is gone.
    pub(crate) fn update(
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
