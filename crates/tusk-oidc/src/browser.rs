//! Browser sessions at the provider (single sign-on): finding the live
//! session a browser's cookie names, starting one after a login, recording
//! what was issued through it, and ending it (logout, an administrator's
//! revocation, expiry).
//!
//! The cookie value is a 256-bit random token handed to the browser once;
//! the store keeps only its SHA-256 (the record id), like every other
//! token. Each successful login starts a new session with a new value, so
//! an id planted in a browser before the login is never the one after it.
//! The session's public id is `sid`, a separate random value: it appears
//! in ID tokens and the admin API, and says nothing about the cookie.

use crate::backchannel::EndedSession;
use crate::error::OAuthError;
use crate::provider::{Provider, audit_user, random_token};
use tusk_core::Secret;
use tusk_store::{BrowserSession, Claims, Revocation, hash_token};

/// At most this many cookie values are tried per request: a browser
/// sends one per matching path, and a hostile one must not make a request
/// cost more than a few lookups.
const MAX_COOKIES: usize = 4;

/// What the browser brought: the values of its session cookies and of
/// its login-binding cookies (every one sent under the cookie's name; a
/// value set by another issuer on a parent path resolves to nothing here).
///
/// The login binding ties every step of a login to the browser that
/// started it (issue 15): the auth request keeps the SHA-256 of the
/// browser's binding value, and the chooser, the connector redirect, the
/// password form, the upstream's return, the consent answer and the
/// device confirmation refuse a browser that does not present it. One
/// value per browser, reused by every login it starts, so logins in
/// several tabs all keep working.
#[derive(Clone, Default)]
pub struct Browser {
    pub session_cookies: Vec<String>,
    pub login_bindings: Vec<String>,
}

/// The cookie values are credentials.
impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("session_cookies", &self.session_cookies.len())
            .field("login_bindings", &self.login_bindings.len())
            .finish()
    }
}

/// A login-binding value the browser did not have yet: the server sets it
/// as a cookie on the response.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginBinding(pub Secret<String>);

impl std::fmt::Debug for LoginBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginBinding(***)")
    }
}

/// Whether a presented binding value could be one of ours (base64url,
/// 16 to 128 characters): anything else is ignored, so a junk cookie
/// costs no hashing and never becomes a login's binding.
fn usable_binding(v: &str) -> bool {
    (16..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Browser {
    /// A browser that presents `binding` (and no session), for callers
    /// that drive logins themselves.
    pub fn with_binding(binding: impl Into<String>) -> Browser {
        Browser {
            session_cookies: Vec::new(),
            login_bindings: vec![binding.into()],
        }
    }

    /// Makes sure the browser has a binding value before a step that may
    /// start a login (`/auth`, the device code page): the first usable
    /// value it presented, else a new random one, returned for the server
    /// to set as a cookie.
    pub fn bind(&mut self) -> Option<LoginBinding> {
        if let Some(i) = self.login_bindings.iter().position(|v| usable_binding(v)) {
            self.login_bindings.swap(0, i);
            return None;
        }
        let fresh = random_token(32);
        self.login_bindings.insert(0, fresh.clone());
        Some(LoginBinding(Secret::new(fresh)))
    }

    /// The hash a new auth request keeps: of the value [`Self::bind`] put
    /// first. `None` when the browser has no usable value.
    pub(crate) fn binding_hash(&self) -> Option<String> {
        self.login_bindings
            .first()
            .filter(|v| usable_binding(v))
            .map(|v| hash_token(v))
    }

    /// Whether one of the presented values (at most [`MAX_COOKIES`]) is
    /// the one whose hash is `expected`, compared in constant time. A
    /// sibling host may add values under the same name (cookie tossing);
    /// one matching value is enough, and a tossed value cannot match a
    /// request the victim's own browser started unless the attacker knows
    /// that browser's value (see README, "Sign-in pages").
    pub(crate) fn presents(&self, expected: &str) -> bool {
        !expected.is_empty()
            && self
                .login_bindings
                .iter()
                .filter(|v| usable_binding(v))
                .take(MAX_COOKIES)
                .any(|v| tusk_core::ct_eq(hash_token(v).as_bytes(), expected.as_bytes()))
    }
}

/// A new session's cookie value, handed to the browser once.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCookie(pub Secret<String>);

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCookie(***)")
    }
}

/// A session as the admin API shows it: never the cookie or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The public id (`sid`).
    pub id: String,
    pub user: String,
    pub connector_id: String,
    pub created_at: i64,
    pub last_seen: i64,
    /// When it ends unless used again: the earlier of the idle and the
    /// absolute limit.
    pub expires_at: i64,
    pub clients: Vec<String>,
}

/// The Pachyderm subject a session belongs to, which is the owner that
/// revoking a user's tokens deletes by (`user:<email>`).
pub fn owner_of(claims: &Claims) -> String {
    format!("user:{}", audit_user(claims))
}

/// When a session ends unless used again.
fn ends_at(s: &BrowserSession) -> i64 {
    s.absolute_expiry.min(s.idle_expiry)
}

impl Provider {
    /// The live session of this issuer among the cookie values, if any. An
    /// expired one found on the way is ended.
    pub(crate) async fn live_session(
        &self,
        browser: &Browser,
    ) -> Result<Option<BrowserSession>, OAuthError> {
        if self.settings.sessions.is_none() {
            return Ok(None);
        }
        let now = self.now();
        for value in browser.session_cookies.iter().take(MAX_COOKIES) {
            let session = match self.store.get::<BrowserSession>(&hash_token(value)).await {
                Ok(s) => s,
                Err(tusk_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if session.issuer != self.settings.issuer {
                continue;
            }
            if ends_at(&session) <= now {
                self.end_session(&session, false).await?;
                continue;
            }
            return Ok(Some(session));
        }
        Ok(None)
    }

    /// Marks the session used now, pushing its idle limit out (never past
    /// the absolute one).
    pub(crate) async fn touch_session(&self, id: &str) -> Result<(), OAuthError> {
        let Some(policy) = self.settings.sessions else {
            return Ok(());
        };
        let now = self.now();
        match self
            .store
            .update::<BrowserSession, _>(id, |s| {
                s.last_seen = now;
                s.idle_expiry = (now + policy.idle_timeout).min(s.absolute_expiry);
                Ok(())
            })
            .await
        {
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a session after a successful login, replacing `prior` (the
    /// session the browser held when the login began): the same user's
    /// earlier session hands over its clients and token families, so a
    /// later logout still ends them; another user's is ended.
    pub(crate) async fn start_session(
        &self,
        prior: &str,
        connector_id: &str,
        claims: &Claims,
        connector_data: &Secret<String>,
        upstream_id_token: Option<&Secret<String>>,
        auth_time: i64,
    ) -> Result<Option<(SessionCookie, BrowserSession)>, OAuthError> {
        let Some(policy) = self.settings.sessions else {
            return Ok(None);
        };
        let now = self.now();
        let cookie = random_token(32);
        let mut session = BrowserSession {
            id: hash_token(&cookie),
            sid: random_token(16),
            previous_sids: Vec::new(),
            owner: owner_of(claims),
            issuer: self.settings.issuer.clone(),
            connector_id: connector_id.to_owned(),
            claims: claims.clone(),
            connector_data: connector_data.clone(),
            upstream_id_token: upstream_id_token.cloned().unwrap_or_default(),
            // Learned at login, so logout needs no open connector.
            upstream_end_session: self
                .connector(connector_id)
                .ok()
                .and_then(|c| c.end_session_endpoint())
                .unwrap_or_default(),
            auth_time,
            created_at: now,
            last_seen: now,
            absolute_expiry: now + policy.absolute_lifetime,
            idle_expiry: (now + policy.idle_timeout).min(now + policy.absolute_lifetime),
            clients: Vec::new(),
            families: Vec::new(),
        };
        if !prior.is_empty() {
            match self.store.get::<BrowserSession>(prior).await {
                Ok(old)
                    if old.claims.user_id == claims.user_id && old.connector_id == connector_id =>
                {
                    session.previous_sids = old.previous_sids.clone();
                    session.previous_sids.push(old.sid.clone());
                    session.clients = old.clients.clone();
                    session.families = old.families.clone();
                    match self.store.delete::<BrowserSession>(&old.id).await {
                        Ok(()) | Err(tusk_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(old) => self.end_session(&old, true).await?,
                Err(tusk_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.store.create(&session).await?;
        Ok(Some((SessionCookie(Secret::new(cookie)), session)))
    }

    /// Ends a session: deletes the record and tells the clients that got
    /// tokens through it (back-channel logout). With `revoke_tokens`
    /// (logout, an administrator's revocation) the tokens issued through
    /// it end too: its refresh-token families are deleted and its access
    /// tokens denied. An expired session only ends the single sign-on.
    pub(crate) async fn end_session(
        &self,
        session: &BrowserSession,
        revoke_tokens: bool,
    ) -> Result<(), OAuthError> {
        match self.store.delete::<BrowserSession>(&session.id).await {
            Ok(()) | Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if revoke_tokens {
            let now = self.now();
            for family in &session.families {
                self.revoke_family(family, now).await?;
            }
            for sid in session.previous_sids.iter().chain([&session.sid]) {
                self.store
                    .put(&Revocation {
                        id: format!("sid:{sid}"),
                        expires_at: now + self.settings.id_token_ttl,
                    })
                    .await?;
            }
        }
        if !session.clients.is_empty() {
            self.logout_clients(EndedSession {
                subject: crate::subject::encode(&session.claims.user_id, &session.connector_id),
                sid: Some(session.sid.clone()),
                client_ids: session.clients.clone(),
            });
        }
        Ok(())
    }

    /// The session to end at logout: the browser's own (unless the ID
    /// token hint names another user: one browser's logout never ends
    /// another user's session), else the session whose `sid` the hint
    /// names (a logout from a browser without the cookie).
    pub(crate) async fn session_for_logout(
        &self,
        browser: &Browser,
        sid: Option<&str>,
        hint_sub: Option<&str>,
    ) -> Result<Option<BrowserSession>, OAuthError> {
        let subject =
            |s: &BrowserSession| crate::subject::encode(&s.claims.user_id, &s.connector_id);
        for value in browser.session_cookies.iter().take(MAX_COOKIES) {
            match self.store.get::<BrowserSession>(&hash_token(value)).await {
                Ok(s)
                    if s.issuer == self.settings.issuer
                        && hint_sub.is_none_or(|h| h == subject(&s)) =>
                {
                    return Ok(Some(s));
                }
                Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let (Some(sid), Some(hint_sub)) = (sid, hint_sub) else {
            return Ok(None);
        };
        // Rare (a logout away from the browser that logged in), so a scan
        // of the sessions is acceptable here.
        Ok(self
            .store
            .list::<BrowserSession>()
            .await?
            .into_iter()
            .find(|s| {
                s.issuer == self.settings.issuer
                    && subject(s) == hint_sub
                    && (s.sid == sid || s.previous_sids.iter().any(|p| p == sid))
            }))
    }

    /// The live sessions of a user (`user:<email>`), for the admin API.
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<SessionInfo>, OAuthError> {
        let now = self.now();
        Ok(self
            .store
            .list_by_owner::<BrowserSession>(owner)
            .await?
            .into_iter()
            .filter(|s| ends_at(s) > now)
            .map(|s| SessionInfo {
                id: s.sid.clone(),
                user: s.owner.clone(),
                connector_id: s.connector_id.clone(),
                created_at: s.created_at,
                last_seen: s.last_seen,
                expires_at: ends_at(&s),
                clients: s.clients.clone(),
            })
            .collect())
    }

    /// Ends a user's sessions (only the one whose public id is `sid`, when
    /// given) and the tokens issued through them. The number ended.
    pub async fn end_sessions_of(&self, owner: &str, sid: Option<&str>) -> Result<u64, OAuthError> {
        let mut n = 0;
        for s in self.store.list_by_owner::<BrowserSession>(owner).await? {
            if sid.is_none_or(|id| id == s.sid) {
                self.end_session(&s, true).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Ends every session (auth deactivated, identity `DeleteAll`), or
    /// those through one connector (the connector was removed).
    pub async fn end_all_sessions(&self, connector_id: Option<&str>) -> Result<u64, OAuthError> {
        let mut n = 0;
        for s in self.store.list::<BrowserSession>().await? {
            if connector_id.is_none_or(|c| c == s.connector_id) {
                self.end_session(&s, true).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Periodic: ends expired sessions before garbage collection would
    /// drop them silently, so their clients are told.
    pub(crate) async fn sweep_sessions(&self) -> Result<(), OAuthError> {
        let now = self.now();
        for s in self.store.list::<BrowserSession>().await? {
            if ends_at(&s) <= now {
                self.end_session(&s, false).await?;
            }
        }
        Ok(())
    }
}

/// Records in `session` that `client` received tokens of `family` through
/// it, so its logout ends them; whether that changed it.
pub(crate) fn note_grant(session: &mut BrowserSession, client: &str, family: &str) -> bool {
    let mut changed = false;
    if !session.clients.iter().any(|c| c == client) {
        session.clients.push(client.to_owned());
        changed = true;
    }
    if !family.is_empty() && !session.families.iter().any(|f| f == family) {
        session.families.push(family.to_owned());
        changed = true;
    }
    changed
}
