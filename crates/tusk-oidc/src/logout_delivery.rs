//! Where back-channel logout tokens go once built: the hook the server
//! wires (it owns the HTTP client), and the provider's slot for it. A leaf:
//! `provider` holds a [`LogoutSlot`], `backchannel` fills and uses it, and
//! this module imports nothing of the crate.

use std::sync::{Arc, RwLock};
use tokio::sync::Semaphore;

/// Ended sessions whose clients are still being looked up and signed for,
/// at most. Past it, an ended session's logout tokens are dropped (and
/// reported as [`NotSent::Overloaded`]) rather than queued without bound.
pub const MAX_PENDING_LOOKUPS: usize = 256;

/// One logout token for one client, ready to POST.
#[derive(Clone, PartialEq, Eq)]
pub struct LogoutMessage {
    pub client_id: String,
    /// The client's registered `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token. It ends a session at the client, so it is
    /// a credential: never logged, and masked in `Debug`.
    pub token: String,
}

impl std::fmt::Debug for LogoutMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutMessage")
            .field("client_id", &self.client_id)
            .field("uri", &self.uri)
            .field("token", &"***")
            .finish()
    }
}

/// Why a client registered for back-channel logout gets no token for a
/// session that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    /// Too many ended sessions were waiting ([`MAX_PENDING_LOOKUPS`]).
    Overloaded,
    /// The client requires `sid` (`backchannel_logout_session_required`)
    /// and the ended session's id is unknown.
    SessionIdUnknown,
    /// Reading the client or signing failed (logged where it happened).
    Failed,
}

impl NotSent {
    /// The metric label and log field.
    pub fn as_str(self) -> &'static str {
        match self {
            NotSent::Overloaded => "overloaded",
            NotSent::SessionIdUnknown => "sid_unknown",
            NotSent::Failed => "failed",
        }
    }
}

/// Takes logout tokens off the provider's hands. Both methods are called
/// from a background task and must return at once: queue the work, never
/// wait on the network.
pub trait LogoutDelivery: Send + Sync {
    /// Sends `message` to its client, off the caller's path.
    fn deliver(&self, message: LogoutMessage);
    /// A registered client gets no token for an ended session.
    fn not_sent(&self, client_id: &str, reason: NotSent);
}

/// The provider's delivery hook (none until the server wires one) and the
/// bound on ended sessions waiting for their tokens.
pub(crate) struct LogoutSlot {
    delivery: RwLock<Option<Arc<dyn LogoutDelivery>>>,
    pub(crate) pending: Arc<Semaphore>,
}

impl LogoutSlot {
    pub(crate) fn new() -> LogoutSlot {
        LogoutSlot {
            delivery: RwLock::new(None),
            pending: Arc::new(Semaphore::new(MAX_PENDING_LOOKUPS)),
        }
    }

    pub(crate) fn set(&self, delivery: Arc<dyn LogoutDelivery>) {
        if let Ok(mut slot) = self.delivery.write() {
            *slot = Some(delivery);
        }
    }

    pub(crate) fn get(&self) -> Option<Arc<dyn LogoutDelivery>> {
        self.delivery.read().ok().and_then(|d| d.clone())
    }
}
