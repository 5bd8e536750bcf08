//! Consent (OIDC Core §3.1.2.4): a client that is not first-party asks the
//! user, once, to allow the scopes it wants; the answer is remembered as a
//! [`ConsentGrant`] per user and client, and a later login asking for no
//! more than was granted goes straight on.
//!
//! The page's Allow and Deny post back a single-use token whose hash is in
//! the auth request (`form_token`), so a form forged on another site
//! cannot answer it, and one request's token cannot answer another.

use crate::authorize::Next;
use crate::error::{ErrorCode, OAuthError, PageError};
use crate::prompts::{ConsentPage, ScopeWords, display_name};
use crate::provider::{Provider, audit_user, random_token};
use crate::scopes;
use tusk_core::audit::{AuditEvent, ConsentChange};
use tusk_store::{AuthRequest, Claims, ConsentGrant, DeviceRequest, Store, hash_token};

/// What a login asks of the user before the client gets its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Trusted client, or every scope already granted: go on.
    Skip,
    /// Show the consent page for these scopes.
    Ask(Vec<String>),
    /// Consent is needed but the client asked for no interaction
    /// (`prompt=none`): `consent_required` to the redirect URI.
    Refuse,
}

/// The consent rule as a pure function: `trusted` clients never ask;
/// `prompt=consent` asks for every requested scope; otherwise only the
/// scopes not in `granted` are asked for, and none means no page.
pub fn decide(trusted: bool, prompt: &str, requested: &[String], granted: &[String]) -> Decision {
    if trusted {
        return Decision::Skip;
    }
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    let ask: Vec<String> = if prompts.contains(&"consent") {
        requested.to_vec()
    } else {
        requested
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect()
    };
    match (ask.is_empty(), prompts.contains(&"none")) {
        (true, _) => Decision::Skip,
        (false, true) => Decision::Refuse,
        (false, false) => Decision::Ask(ask),
    }
}

/// The subject a grant belongs to: Pachyderm's name for the user, so
/// revoking the user's tokens (`RevokeAuthTokensForUser user:<email>`)
/// finds their grants too.
pub fn subject_of(claims: &Claims) -> String {
    format!("user:{}", audit_user(claims))
}

/// Every grant `subject` made, by client id (`tusk auth list-consents`).
pub async fn grants_of(
    store: &Store,
    subject: &str,
) -> Result<Vec<ConsentGrant>, tusk_store::Error> {
    let mut grants = store.list_by_owner::<ConsentGrant>(subject).await?;
    grants.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    Ok(grants)
}

/// Removes `subject`'s grant to `client_id`, or all of the subject's
/// grants when `client_id` is `None`; returns how many went. The next
/// login to such a client shows the consent page again.
pub async fn revoke_grants(
    store: &Store,
    subject: &str,
    client_id: Option<&str>,
) -> Result<u64, tusk_store::Error> {
    match client_id {
        None => store.delete_by_owner::<ConsentGrant>(subject).await,
        Some(id) => match store
            .delete::<ConsentGrant>(&ConsentGrant::id_for(subject, id))
            .await
        {
            Ok(()) => Ok(1),
            Err(tusk_store::Error::NotFound { .. }) => Ok(0),
            Err(e) => Err(e),
        },
    }
}

impl Provider {
    /// A scope in words. Audience scopes name the peer whose tokens the
    /// client gets (Pachyderm for the `pachd` client).
    async fn scope_words(&self, scope: &str) -> ScopeWords {
        let words = match scope {
            "openid" => "Know who you are (your user id)".to_owned(),
            "email" => "Know your email address".to_owned(),
            "profile" => "Know your name and username".to_owned(),
            "groups" => "Know your groups".to_owned(),
            "offline_access" => "Stay signed in (offline access)".to_owned(),
            "federated:id" => "Know which login method you used".to_owned(),
            other => match scopes::peers(&[other.to_owned()]).next() {
                Some(peer) => {
                    let client = self.client(peer).await.ok().flatten();
                    let name = display_name(client.as_ref(), peer);
                    if name == "pachd" {
                        "Access Pachyderm as you".to_owned()
                    } else {
                        format!("Access {name} as you")
                    }
                }
                None => other.to_owned(),
            },
        };
        ScopeWords {
            scope: scope.to_owned(),
            words,
        }
    }

    async fn words(&self, scopes: &[String]) -> Vec<ScopeWords> {
        let mut out = Vec::with_capacity(scopes.len());
        for s in scopes {
            out.push(self.scope_words(s).await);
        }
        out
    }

    /// The scopes `subject` granted `client_id` so far.
    pub async fn granted_scopes(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Vec<String>, tusk_store::Error> {
        match self
            .store
            .get::<ConsentGrant>(&ConsentGrant::id_for(subject, client_id))
            .await
        {
            Ok(g) => Ok(g.scopes),
            Err(tusk_store::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Every grant `subject` made.
    pub async fn grants_of(&self, subject: &str) -> Result<Vec<ConsentGrant>, tusk_store::Error> {
        grants_of(&self.store, subject).await
    }

    /// See [`revoke_grants`].
    pub async fn revoke_grants(
        &self,
        subject: &str,
        client_id: Option<&str>,
    ) -> Result<u64, tusk_store::Error> {
        revoke_grants(&self.store, subject, client_id).await
    }

    /// Called once the user is known: `Ok(None)` to go on to the code,
    /// or the next step (the consent page, or `consent_required`). The
    /// request was already taken from the store; asking stores it again
    /// under a fresh id, holding the login's result until the answer.
    pub(crate) async fn consent_step(
        &self,
        request: &AuthRequest,
        connector_id: &str,
        claims: &Claims,
        connector_data: &tusk_core::Secret<String>,
        upstream_id_token: &tusk_core::Secret<String>,
    ) -> Result<Option<Next>, PageError> {
        let client = self.client(&request.client_id).await?;
        let trusted = client.as_ref().is_some_and(|c| c.trusted);
        let subject = subject_of(claims);
        let granted = if trusted {
            Vec::new()
        } else {
            self.granted_scopes(&subject, &request.client_id).await?
        };
        let ask = match decide(trusted, &request.prompt, &request.scopes, &granted) {
            Decision::Skip => return Ok(None),
            Decision::Refuse => {
                return Ok(Some(Next::Redirect(self.error_redirect(
                    request,
                    &OAuthError::new(
                        ErrorCode::ConsentRequired,
                        "the user has not allowed this application these scopes",
                    ),
                ))));
            }
            Decision::Ask(ask) => ask,
        };
        let token = random_token(32);
        let pending = AuthRequest {
            id: random_token(16),
            connector_id: connector_id.to_owned(),
            claims: Some(claims.clone()),
            connector_data: connector_data.clone(),
            upstream_id_token: upstream_id_token.clone(),
            logged_in: true,
            answered: false,
            form_token: hash_token(&token),
            ..request.clone()
        };
        self.store_bound(&pending).await?;
        let already: Vec<String> = granted
            .iter()
            .filter(|s| request.scopes.contains(s) && !ask.contains(s))
            .cloned()
            .collect();
        Ok(Some(Next::Consent(ConsentPage {
            request_id: pending.id,
            token,
            client_id: request.client_id.clone(),
            client_name: display_name(client.as_ref(), &request.client_id),
            scopes: self.words(&ask).await,
            granted: self.words(&already).await,
        })))
    }

    /// `POST /consent` with the page's request id and token: Allow
    /// remembers the grant and finishes the login; Deny sends
    /// `access_denied` to the client (or denies the device request).
    pub async fn consent_answer(
        &self,
        request_id: &str,
        token: &str,
        allow: bool,
        browser: &crate::browser::Browser,
    ) -> Result<Next, PageError> {
        let stale = || {
            PageError::expired(
                "consent answer for a request that has expired or was already answered; the user starts the login again from the application",
            )
        };
        let forged = || {
            PageError::bad_request(
                "This answer wasn't accepted",
                "The answer did not come from the page we showed you, so nothing was shared. Go back to the application and sign in again.",
                "consent answer whose form token does not match its request (a forged or replayed form)",
            )
        };
        let asked = self
            .answered_request(request_id, token, |r| r.logged_in, stale, forged)
            .await?;
        self.check_binding(&asked, browser, "the consent answer")
            .await?;
        let request = self.take_answered(request_id, stale).await?;
        let Some(claims) = request.claims.clone() else {
            return Err(PageError::internal("a consent request without its login"));
        };
        let subject = subject_of(&claims);
        let answered = |change| AuditEvent::ConsentChanged {
            actor: Some(subject.clone()),
            subject: subject.clone(),
            client: request.client_id.clone(),
            change,
            scopes: request.scopes.clone(),
            count: 0,
        };
        if !allow {
            self.audit(answered(ConsentChange::Denied)).await;
            tracing::info!(client = %request.client_id, "consent denied");
            return self.deny(&request).await;
        }
        let id = ConsentGrant::id_for(&subject, &request.client_id);
        let now = self.now();
        let merge = |g: &mut ConsentGrant| {
            for s in &request.scopes {
                if !g.scopes.contains(s) {
                    g.scopes.push(s.clone());
                }
            }
            g.granted_at = now;
        };
        let fresh = ConsentGrant {
            id: id.clone(),
            subject: subject.clone(),
            client_id: request.client_id.clone(),
            scopes: request.scopes.clone(),
            granted_at: now,
        };
        match self.store.create(&fresh).await {
            Ok(()) => {}
            Err(tusk_store::Error::AlreadyExists { .. }) => {
                self.store
                    .update::<ConsentGrant, _>(&id, |g| {
                        merge(g);
                        Ok(())
                    })
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(answered(ConsentChange::Granted)).await;
        tracing::info!(client = %request.client_id, "consent granted");
        let connector_id = request.connector_id.clone();
        let data = request.connector_data.clone();
        let upstream_id_token = request.upstream_id_token.clone();
        self.complete_login(request, &connector_id, claims, data, upstream_id_token)
            .await
    }

    /// The user said no: `access_denied` to the client, or a denied
    /// device request (its poll answers `access_denied`).
    pub(crate) async fn deny(&self, request: &AuthRequest) -> Result<Next, PageError> {
        let client = self.client(&request.client_id).await?;
        let client_name = display_name(client.as_ref(), &request.client_id);
        if !request.device.is_empty() {
            match self
                .store
                .update::<DeviceRequest, _>(&request.device, |d| {
                    d.status = "denied".into();
                    Ok(())
                })
                .await
            {
                Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(Next::DeviceDenied { client_name });
        }
        Ok(Next::Redirect(self.error_redirect(
            request,
            &OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::{Decision, decide};

    fn v(s: &str) -> Vec<String> {
        s.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// One row per rule: (trusted, prompt, requested, granted, expected).
    fn check(trusted: bool, prompt: &str, requested: &str, granted: &str, want: Decision) {
        assert_eq!(
            decide(trusted, prompt, &v(requested), &v(granted)),
            want,
            "trusted={trusted} prompt={prompt:?} requested={requested:?} granted={granted:?}"
        );
    }

    #[test]
    fn the_consent_rules() {
        let ask = |s: &str| Decision::Ask(v(s));
        // Trusted clients never ask, whatever the prompt.
        check(true, "", "openid email", "", Decision::Skip);
        check(true, "consent", "openid email", "", Decision::Skip);
        check(true, "none", "openid email", "", Decision::Skip);
        // The first login asks for everything.
        check(false, "", "openid email", "", ask("openid email"));
        // A subset of what was granted goes on.
        check(false, "", "openid", "openid email", Decision::Skip);
        check(false, "", "openid email", "openid email", Decision::Skip);
        // New scopes ask again, for the new ones only.
        check(
            false,
            "",
            "openid email groups",
            "openid email",
            ask("groups"),
        );
        // prompt=consent asks for every requested scope.
        check(
            false,
            "consent",
            "openid email",
            "openid email",
            ask("openid email"),
        );
        check(false, "login consent", "openid", "openid", ask("openid"));
        // prompt=none: consent_required instead of a page...
        check(false, "none", "openid email", "openid", Decision::Refuse);
        // ...but not when nothing needs asking.
        check(false, "none", "openid", "openid", Decision::Skip);
    }
}
