//! OpenID Connect Back-Channel Logout 1.0 (docs/logout.md): when a session
//! ends, every client of it that registered a `backchannel_logout_uri`
//! gets a signed logout token. This module builds the tokens and hands
//! them to the [`LogoutDelivery`] the server wired, which POSTs them off
//! the request path; it adds methods to `Provider` and depends on it.

use crate::error::OAuthError;
use crate::logout_delivery::{LogoutDelivery, LogoutMessage, NotSent};
use crate::provider::{Provider, random_token};
use serde_json::{Value, json};
use std::sync::Arc;
use tusk_store::{OidcClient, RefreshToken};

/// The one event a logout token carries (§2.4), as the key of `events`.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The logout token's `typ` header (§2.4, explicit typing).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// A logout token's lifetime. It is sent at once and retried for well
/// under this; a short `exp` limits what a leaked token is good for.
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// A session that ended, as its ID tokens named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    /// The ID tokens' `sub`.
    pub subject: String,
    /// The ID tokens' `sid`, when known.
    pub sid: Option<String>,
    /// The clients the session issued tokens to.
    pub client_ids: Vec<String>,
}

/// A client that is registered for back-channel logout and gets no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    pub client_id: String,
    pub reason: NotSent,
}

/// The session id a refresh token's tokens carry as `sid`
/// (`sid::sid_for`: the browser session, else the family), for the
/// logout tokens built from refresh records.
pub(crate) fn sid_for(rt: &RefreshToken) -> String {
    crate::sid::sid_for(&rt.session, &rt.family).to_owned()
}

/// The sessions a refresh family's records describe: one per subject and
/// session id (a family is one client's session, so normally exactly one),
/// each naming its clients once.
pub(crate) fn ended_sessions(records: &[RefreshToken]) -> Vec<EndedSession> {
    let mut out: Vec<EndedSession> = Vec::new();
    for rt in records {
        let subject = crate::subject::encode(&rt.claims.user_id, &rt.connector_id);
        let sid = Some(sid_for(rt));
        match out
            .iter_mut()
            .find(|e| e.subject == subject && e.sid == sid)
        {
            Some(e) if e.client_ids.contains(&rt.client_id) => {}
            Some(e) => e.client_ids.push(rt.client_id.clone()),
            None => out.push(EndedSession {
                subject,
                sid,
                client_ids: vec![rt.client_id.clone()],
            }),
        }
    }
    out
}

/// The logout token's claims (§2.4): who issued it, to whom, about which
/// user and session, and the logout event. Never a `nonce`, so no RP can
/// take it for an ID token. Pure: the time and `jti` come from the caller.
pub fn logout_claims(
    issuer: &str,
    client_id: &str,
    subject: &str,
    sid: Option<&str>,
    now: i64,
    jti: &str,
) -> Value {
    let mut claims = json!({
        "iss": issuer,
        "aud": client_id,
        "sub": subject,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_TTL,
        "jti": jti,
        "events": { LOGOUT_EVENT: {} },
    });
    if let (Some(sid), Some(map)) = (sid, claims.as_object_mut()) {
        map.insert("sid".into(), json!(sid));
    }
    claims
}

impl Provider {
    /// Wires the one delivery of logout tokens, replacing any earlier one.
    /// Until one is wired, ended sessions notify nobody.
    pub fn deliver_logouts(&self, delivery: Arc<dyn LogoutDelivery>) {
        self.logout.set(delivery);
    }

    /// Tells the clients of `ended` that registered a back-channel logout
    /// URI. Returns at once: reading the clients and signing happen in a
    /// background task, delivery in the wired [`LogoutDelivery`]. At most
    /// [`crate::logout_delivery::MAX_PENDING_LOOKUPS`] ended sessions wait
    /// for their tokens; past that they are dropped with a warning.
    pub(crate) fn logout_clients(&self, ended: EndedSession) {
        if ended.client_ids.is_empty() {
            return;
        }
        let Some(delivery) = self.logout.get() else {
            return;
        };
        let (Some(me), Ok(runtime)) = (self.me.upgrade(), tokio::runtime::Handle::try_current())
        else {
            tracing::warn!(
                clients = ?ended.client_ids,
                "a session ended outside the server's runtime; no back-channel logout is sent"
            );
            return;
        };
        let Ok(permit) = self.logout.pending.clone().try_acquire_owned() else {
            tracing::warn!(
                clients = ?ended.client_ids,
                limit = crate::logout_delivery::MAX_PENDING_LOOKUPS,
                "too many ended sessions are waiting for their logout tokens; dropping this one's back-channel logout"
            );
            for id in &ended.client_ids {
                delivery.not_sent(id, NotSent::Overloaded);
            }
            return;
        };
        runtime.spawn(async move {
            let _permit = permit;
            for outcome in me.logout_messages(&ended).await {
                match outcome {
                    Ok(message) => delivery.deliver(message),
                    Err(unsent) => delivery.not_sent(&unsent.client_id, unsent.reason),
                }
            }
        });
    }

    /// The logout tokens for `ended`, one per client that registered a
    /// back-channel logout URI (each client once). The others are not
    /// mentioned: they asked for nothing.
    pub async fn logout_messages(
        &self,
        ended: &EndedSession,
    ) -> Vec<Result<LogoutMessage, Unsent>> {
        let mut out = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for id in &ended.client_ids {
            if seen.contains(&id.as_str()) {
                continue;
            }
            seen.push(id);
            let unsent = |reason| {
                Err(Unsent {
                    client_id: id.clone(),
                    reason,
                })
            };
            let client = match self.client(id).await {
                Ok(Some(c)) if !c.backchannel_logout_uri.is_empty() => c,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(client = %id, error = %e, "cannot read the client for its back-channel logout");
                    out.push(unsent(NotSent::Failed));
                    continue;
                }
            };
            // §2.4: a client that requires `sid` cannot use a token
            // without one; it would refuse it.
            if ended.sid.is_none() && client.backchannel_logout_session_required {
                out.push(unsent(NotSent::SessionIdUnknown));
                continue;
            }
            match self.logout_token(&client, ended) {
                Ok(token) => out.push(Ok(LogoutMessage {
                    client_id: client.id.clone(),
                    uri: client.backchannel_logout_uri.clone(),
                    token,
                })),
                Err(e) => {
                    tracing::warn!(client = %id, error = %e.description, "cannot sign a logout token");
                    out.push(unsent(NotSent::Failed));
                }
            }
        }
        out
    }

    /// One client's logout token, signed like its ID tokens (the same key
    /// set, its `id_token_signed_response_alg` pin respected), with `sid`
    /// whenever it is known: a token without `sid` asks the client to end
    /// every session of the user (§2.4), more than ended here.
    fn logout_token(
        &self,
        client: &OidcClient,
        ended: &EndedSession,
    ) -> Result<String, OAuthError> {
        let claims = logout_claims(
            &self.settings.issuer,
            &client.id,
            &ended.subject,
            ended.sid.as_deref(),
            self.now(),
            &random_token(16),
        );
        let alg = self.alg_for(client)?;
        self.sign_typed(alg, Some(LOGOUT_TOKEN_TYPE), &claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tusk_store::Claims;

    #[test]
    fn claims_are_exactly_the_specs() {
        let with_sid = logout_claims("https://i/dex", "app", "SUB", Some("S1"), 1000, "J");
        assert_eq!(
            with_sid,
            json!({
                "iss": "https://i/dex", "aud": "app", "sub": "SUB", "iat": 1000,
                "exp": 1000 + LOGOUT_TOKEN_TTL, "jti": "J", "sid": "S1",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
            })
        );
        let without = logout_claims("https://i/dex", "app", "SUB", None, 1000, "J");
        assert!(without.get("sid").is_none() && without.get("nonce").is_none());
    }

    struct Count(std::sync::Mutex<Vec<(String, NotSent)>>);

    impl LogoutDelivery for Count {
        fn deliver(&self, _: LogoutMessage) {}
        fn not_sent(&self, client_id: &str, reason: NotSent) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((client_id.to_owned(), reason));
            }
        }
    }

    /// The bound on ended sessions waiting for their tokens: on a
    /// current-thread runtime no spawned lookup runs until this test
    /// yields, so the first `MAX_PENDING_LOOKUPS` take every slot and the
    /// next one is refused at once and reported, never queued.
    #[tokio::test(flavor = "current_thread")]
    async fn past_the_pending_bound_an_ended_session_is_reported_not_queued() {
        let clock = Arc::new(tusk_core::clock::FakeClock::new(1_800_000_000));
        let p = Provider::new(
            crate::settings::Settings::new("https://i/dex"),
            tusk_store::Store::memory(),
            clock,
            &[],
        )
        .await
        .unwrap();
        let seen = Arc::new(Count(std::sync::Mutex::new(Vec::new())));
        p.deliver_logouts(seen.clone());
        let ended = |id: &str| EndedSession {
            subject: "s".into(),
            sid: Some("x".into()),
            client_ids: vec![id.into()],
        };
        for _ in 0..crate::logout_delivery::MAX_PENDING_LOOKUPS {
            p.logout_clients(ended("waiting"));
        }
        assert!(seen.0.lock().unwrap().is_empty());
        p.logout_clients(ended("late"));
        assert_eq!(
            *seen.0.lock().unwrap(),
            vec![("late".to_owned(), NotSent::Overloaded)]
        );
    }

    #[test]
    fn a_family_is_one_session_naming_each_client_once() {
        let rt = |family: &str, client: &str, user: &str| RefreshToken {
            family: family.into(),
            client_id: client.into(),
            connector_id: "test".into(),
            claims: Claims {
                user_id: user.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let sessions = ended_sessions(&[rt("f", "app", "u"), rt("f", "app", "u")]);
        assert_eq!(
            sessions,
            vec![EndedSession {
                subject: crate::subject::encode("u", "test"),
                sid: Some("f".into()),
                client_ids: vec!["app".into()],
            }]
        );
        assert!(ended_sessions(&[]).is_empty());
    }
}
