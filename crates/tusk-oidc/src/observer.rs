//! What the provider tells the rest of the process about the identities it
//! re-reads upstream. `provider` holds the observer and `token` calls it;
//! this module imports only `error`.
//!
//! The provider does no auth-plane work itself (it knows no auth plane);
//! the server wires an observer to it, so that a refresh through an
//! upstream connector replaces the user's groups in the auth plane
//! (docs/oidc-connector.md §3).

use crate::error::OAuthError;
use async_trait::async_trait;

/// An identity a connector has just re-read on a refresh grant, after the
/// provider checked it is the same user. The provider reports it before
/// the new tokens are stored or issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshedIdentity {
    /// The connector that re-read the identity.
    pub connector_id: String,
    /// The upstream user id (stable across refreshes).
    pub user_id: String,
    pub email: String,
    pub email_verified: bool,
    /// The groups the connector now reports, as the refreshed ID token's
    /// `groups` claim carries them; `None` when the session was not granted
    /// the `groups` scope, so the refresh says nothing about groups.
    pub groups: Option<Vec<String>>,
}

/// Told about every identity re-read on a refresh. An error is the
/// refresh's answer to the client, so its description must be fit for one
/// (the observer logs the detail): `temporarily_unavailable` gives the
/// presented refresh token back, so the client may retry it; any other code
/// ends the refresh like a connector's refusal. Either way no tokens are
/// issued for an identity the observer could not apply.
#[async_trait]
pub trait IdentityObserver: Send + Sync {
    async fn refreshed(&self, identity: &RefreshedIdentity) -> Result<(), OAuthError>;
}
