//! RFC 8628 §5.4: a device login starts with "Sign in to *client* with
//! code XXXX-XXXX?", before any credentials, so a link someone else sent
//! (the `verification_uri_complete` of *their* device) cannot be
//! approved without the user seeing what they approve.
//!
//! Opening the page (GET) only stores an unconfirmed auth request; every
//! login step refuses such a request (`authorize::pending_request`), and
//! only a POST carrying the page's single-use token confirms or cancels.

use crate::authorize::Next;
use crate::error::PageError;
use crate::form_answer::token_matches;
use crate::provider::Provider;
use tusk_store::{AuthRequest, hash_token};

impl Provider {
    /// `POST /device/confirm`: Continue (`proceed`) starts the login for
    /// the device request; Cancel denies it, so the device's poll answers
    /// `access_denied`.
    pub async fn device_confirm(
        &self,
        request_id: &str,
        token: &str,
        proceed: bool,
        browser: &crate::browser::Browser,
    ) -> Result<Next, PageError> {
        let stale = || {
            PageError::expired(
                "device confirmation that has expired or was already answered; the user opens the device's link again",
            )
        };
        let forged = || {
            PageError::bad_request(
                "This answer wasn't accepted",
                "The answer did not come from the page we showed you, so nothing was changed. Open the link your device shows again.",
                "device confirmation whose form token does not match its request (a forged or replayed form)",
            )
        };
        let request = self
            .answered_request(request_id, token, |r| !r.device.is_empty(), stale, forged)
            .await?;
        self.check_binding(&request, browser, "the device confirmation")
            .await?;
        // A confirmed request's token is spent (cleared below); one still
        // marked confirmed is a replay all the same.
        let expected = hash_token(token);
        let matches = |r: &AuthRequest| !r.device_confirmed && token_matches(r, &expected);
        if !matches(&request) {
            return Err(forged());
        }
        if !proceed {
            let request = self.take_answered(request_id, stale).await?;
            tracing::info!(client = %request.client_id, "device login cancelled");
            return self.deny(&request).await;
        }
        // Compare-and-swap: of two answers racing with the same token,
        // one confirms and the other finds the token spent.
        let mut spent = false;
        self.store
            .update::<AuthRequest, _>(request_id, |r| {
                spent = !matches(r);
                if spent {
                    return Ok(());
                }
                r.device_confirmed = true;
                r.form_token.clear();
                Ok(())
            })
            .await
            .map_err(|e| match e {
                tusk_store::Error::NotFound { .. } => stale(),
                other => other.into(),
            })?;
        if spent {
            return Err(forged());
        }
        Ok(self.choose(request_id, None))
    }
}
