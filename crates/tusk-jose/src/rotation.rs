//! Signing-key rotation as pure functions over a stored [`KeySetState`].
//!
//! # Timeline
//!
//! With period `P`, publish-ahead `A` and longest token lifetime `L`
//! ([`RotationPolicy`]), starting with no state at `t0`:
//!
//! ```text
//! t0          K1 generated; signs at once (no cache can hold an older JWKS)
//! t0+P-A      K2 generated and published; K1 still signs
//! t0+P        K2 signs; K1 retired: private key dropped, public key kept
//! t0+2P-A     K3 published
//! t0+P+L      K1 leaves the JWKS: every token it signed has expired
//! ```
//!
//! So a relying party that caches the JWKS for at most `A` always knows the
//! key of any token it receives, and a token stays verifiable for its whole
//! life. Serve `/keys` with `max-age` at most
//! [`RotationPolicy::jwks_max_age_secs`].
//!
//! # Several replicas
//!
//! Every replica calls [`rotate_if_due`] every ~30 s on the state it read
//! and, when it returns `Some`, writes the result with compare-and-swap
//! against the version it read. The loser of a race discards its result
//! (keys generated there never signed anything) and re-reads; the winner's
//! state no longer needs that change, so exactly one rotation lands. Replicas
//! sign only with keys loaded from the stored state, through [`active_key`],
//! which switches to a pending key at its `activate_at` even if no replica
//! has promoted it yet: every replica changes key at the same moment.

use crate::alg::Alg;
use crate::error::Error;
use crate::jws::VerifyingKeys;
use crate::key::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tusk_core::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// How long a key signs. Dex's 6 h by default.
    pub period_secs: i64,
    /// How long a key is in the JWKS before it signs; at least the JWKS
    /// cache lifetime. Default 1 h.
    pub publish_ahead_secs: i64,
    /// How long a retired key stays published: the longest lifetime of a
    /// token it signed, plus the replicas' key-refresh lag and verifiers'
    /// clock leeway. Default 24 h (Dex's ID and access token lifetime) + 10 min.
    pub max_token_lifetime_secs: i64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            period_secs: 6 * 3600,
            publish_ahead_secs: 3600,
            max_token_lifetime_secs: 24 * 3600 + 600,
        }
    }
}

impl RotationPolicy {
    pub fn validate(&self) -> Result<(), Error> {
        let cause = if self.period_secs <= 0 {
            "period_secs must be positive"
        } else if self.publish_ahead_secs < 0 || self.publish_ahead_secs >= self.period_secs {
            "publish_ahead_secs must be at least 0 and less than period_secs (a key must sign before its successor is published)"
        } else if self.max_token_lifetime_secs < 0 {
            "max_token_lifetime_secs must not be negative"
        } else {
            return Ok(());
        };
        Err(Error::Policy {
            cause: format!("{cause}; got {self:?}"),
        })
    }

    /// Half of `publish_ahead_secs`, so that a shared cache in front of a
    /// relying party's own cache still sees a new key before it signs.
    pub fn jwks_max_age_secs(&self) -> i64 {
        self.publish_ahead_secs / 2
    }
}

/// One key of the set, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub alg: Alg,
    /// `None` once retired: a retired key only verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_pkcs8_pem: Option<Secret<String>>,
    pub public_jwk: Value,
    pub created_at: i64,
    /// When it starts signing; after `created_at` by the publish-ahead time,
    /// except for the very first key.
    pub activate_at: i64,
    /// Set on retirement: the key leaves the JWKS at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
}

impl StoredKey {
    pub fn new(key: &SigningKey, created_at: i64, activate_at: i64) -> StoredKey {
        StoredKey {
            kid: key.kid().to_owned(),
            alg: key.alg(),
            private_pkcs8_pem: Some(key.to_pkcs8_pem()),
            public_jwk: key.public_jwk(),
            created_at,
            activate_at,
            not_after: None,
        }
    }

    /// Parses the private key: once per load, not per signature.
    pub fn signing_key(&self) -> Result<SigningKey, Error> {
        match &self.private_pkcs8_pem {
            Some(pem) => SigningKey::from_pkcs8_pem(self.alg, self.kid.clone(), pem.expose()),
            None => Err(Error::Retired {
                kid: self.kid.clone(),
            }),
        }
    }

    fn retired(&self) -> bool {
        self.not_after.is_some()
    }
}

/// The stored key set: what the provider keeps in one record and replaces
/// with compare-and-swap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySetState {
    /// The key the last promotion made active.
    pub active_kid: String,
    pub keys: Vec<StoredKey>,
    /// When the next key should start signing.
    pub next_rotation: i64,
}

impl KeySetState {
    /// The JWKS to serve at `now`.
    pub fn jwks(&self, now: i64) -> Value {
        json!({"keys": published(self, now).iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>()})
    }

    /// Parsed public keys of everything published at `now`.
    pub fn verifying_keys(&self, now: i64) -> Result<VerifyingKeys, Error> {
        VerifyingKeys::from_jwks(&self.jwks(now))
    }

    fn check(&self) -> Result<(), Error> {
        let inconsistent = |cause: String| Err(Error::KeySet { cause });
        match self.keys.iter().find(|k| k.kid == self.active_kid) {
            None => {
                return inconsistent(format!(
                    "active key {:?} is not in the set",
                    self.active_kid
                ));
            }
            Some(k) if k.retired() || k.private_pkcs8_pem.is_none() => {
                return inconsistent(format!("active key {:?} is retired", self.active_kid));
            }
            Some(_) => {}
        }
        if self.keys.iter().filter(|k| is_pending(self, k)).count() > 1 {
            return inconsistent("more than one key is waiting to be activated".into());
        }
        Ok(())
    }
}

fn is_pending(state: &KeySetState, key: &StoredKey) -> bool {
    key.kid != state.active_kid && !key.retired()
}

/// The key to sign with at `now`: the most recently activated unretired key.
/// A pending key takes over at its `activate_at` whether or not a replica has
/// promoted it yet.
pub fn active_key(state: &KeySetState, now: i64) -> Result<&StoredKey, Error> {
    state
        .keys
        .iter()
        .filter(|k| !k.retired() && k.private_pkcs8_pem.is_some() && k.activate_at <= now)
        .max_by_key(|k| k.activate_at)
        .ok_or_else(|| Error::KeySet {
            cause: format!("no key can sign at {now}"),
        })
}

/// The keys in the JWKS at `now`: active, pending, and retired keys whose
/// tokens may still be alive.
pub fn published(state: &KeySetState, now: i64) -> Vec<&StoredKey> {
    state
        .keys
        .iter()
        .filter(|k| k.not_after.is_none_or(|t| t > now))
        .collect()
}

/// Returns the state that should be stored at `now`, or `None` if nothing
/// changes. Steps, in order: create the first key; drop retired keys whose
/// tokens have all expired; drop a pending key of another algorithm than
/// `alg` (the configured algorithm changed; it never signed); promote the
/// pending key once due, retiring the old one; publish the next key `A`
/// before it is due. A change of `alg` brings the next rotation forward to
/// the earliest safe moment, `now + A`.
pub fn rotate_if_due(
    state: Option<&KeySetState>,
    now: i64,
    policy: &RotationPolicy,
    alg: Alg,
    generate: &mut dyn FnMut(Alg) -> Result<SigningKey, Error>,
) -> Result<Option<KeySetState>, Error> {
    policy.validate()?;
    let ahead = policy.publish_ahead_secs;
    let mut new_key = |state: Option<&KeySetState>| {
        let key = generate(alg)?;
        if key.alg() != alg || state.is_some_and(|s| s.keys.iter().any(|k| k.kid == key.kid())) {
            return Err(Error::KeySet {
                cause: format!(
                    "generated key {:?} has the wrong alg or a kid already in use",
                    key.kid()
                ),
            });
        }
        Ok(key)
    };
    let Some(old) = state else {
        let key = new_key(None)?;
        return Ok(Some(KeySetState {
            active_kid: key.kid().to_owned(),
            keys: vec![StoredKey::new(&key, now, now)],
            next_rotation: now.saturating_add(policy.period_secs),
        }));
    };
    old.check()?;
    let mut s = old.clone();

    s.keys.retain(|k| k.not_after.is_none_or(|t| t > now));
    // A pending key past its activate_at may have signed: it stays.
    s.keys
        .retain(|k| k.kid == s.active_kid || k.retired() || k.alg == alg || k.activate_at <= now);
    if s.keys.iter().any(|k| k.kid == s.active_kid && k.alg != alg) {
        s.next_rotation = s.next_rotation.min(now.saturating_add(ahead));
    }

    let pending = s.keys.iter().find(|k| is_pending(&s, k));
    if let Some(next) = pending.filter(|k| k.activate_at <= now) {
        let (next_kid, next_activate) = (next.kid.clone(), next.activate_at);
        for k in s.keys.iter_mut().filter(|k| k.kid == s.active_kid) {
            k.private_pkcs8_pem = None;
            k.not_after = Some(now.saturating_add(policy.max_token_lifetime_secs));
        }
        s.active_kid = next_kid;
        s.next_rotation = next_activate.saturating_add(policy.period_secs);
    }

    let has_pending = s.keys.iter().any(|k| is_pending(&s, k));
    if !has_pending && now >= s.next_rotation.saturating_sub(ahead) {
        let key = new_key(Some(&s))?;
        // Never sign before the key has been published for `ahead`, even when
        // this replica comes back after missing the publication time.
        let activate_at = s.next_rotation.max(now.saturating_add(ahead));
        s.keys.push(StoredKey::new(&key, now, activate_at));
        s.next_rotation = activate_at;
    }

    Ok((s != *old).then_some(s))
}
