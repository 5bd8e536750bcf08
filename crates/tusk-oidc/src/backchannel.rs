//! OpenID Connect Back-Channel Logout 1.0: telling clients that a session
//! ended. This file is a placeholder for the interface; the back-channel
//! branch (hs2) replaces it with the delivery.

use crate::provider::Provider;

/// A session that ended, and the clients that received tokens through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    /// The ID tokens' `sub`.
    pub subject: String,
    /// The ID tokens' `sid`.
    pub sid: Option<String>,
    pub client_ids: Vec<String>,
}

impl Provider {
    /// Placeholder replaced by the back-channel branch (hs2) at merge.
    pub(crate) fn logout_clients(&self, ended: EndedSession) {
        let _ = ended;
    }
}
