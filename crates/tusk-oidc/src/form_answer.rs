//! The answer to a page that holds a login request open (the consent page,
//! the device confirmation): the request must still be live and in the
//! state the page was shown for, the answer must carry the page's
//! single-use form token, and of two answers racing only one goes on. One
//! check here, so the pages cannot drift apart on what counts as stale or
//! forged.

use crate::error::PageError;
use crate::provider::Provider;
use tusk_store::{AuthRequest, hash_token};

/// Whether `r` still holds the form token whose hash is `expected`
/// (constant time); an empty token (spent, or never issued) matches
/// nothing.
pub(crate) fn token_matches(r: &AuthRequest, expected: &str) -> bool {
    !r.form_token.is_empty() && tusk_core::ct_eq(expected.as_bytes(), r.form_token.as_bytes())
}

impl Provider {
    /// The request `request_id` answered with `token`: `stale()` when it is
    /// gone, expired or not `ready` (not in the state the page was shown
    /// for), `forged()` when the token is not the page's.
    pub(crate) async fn answered_request(
        &self,
        request_id: &str,
        token: &str,
        ready: impl Fn(&AuthRequest) -> bool,
        stale: impl Fn() -> PageError,
        forged: impl Fn() -> PageError,
    ) -> Result<AuthRequest, PageError> {
        let request = match self.store.get::<AuthRequest>(request_id).await {
            Ok(r) if r.expires_at > self.now() && ready(&r) => r,
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => return Err(stale()),
            Err(e) => return Err(e.into()),
        };
        if !token_matches(&request, &hash_token(token)) {
            return Err(forged());
        }
        Ok(request)
    }

    /// Takes the answered request out of the store for good. Single use:
    /// of two answers racing, only the one that takes the request goes on;
    /// the other finds it `stale()`.
    pub(crate) async fn take_answered(
        &self,
        request_id: &str,
        stale: impl Fn() -> PageError,
    ) -> Result<AuthRequest, PageError> {
        match self.store.take::<AuthRequest>(request_id).await {
            Ok(r) => Ok(r),
            Err(tusk_store::Error::NotFound { .. }) => Err(stale()),
            Err(e) => Err(e.into()),
        }
    }
}
