//! Tokens whose signature this key ring has already checked (issue 16).
//!
//! Userinfo and introspection see the same access token many times in its
//! life, and an ES256 or RS256 verification costs tens of microseconds:
//! most of what those endpoints cost. Kept here is only what verification
//! proved once and for all: the signature is valid under a key of this
//! ring, the issuer is ours, and the token is no logout token. What changes
//! with time is still checked at every use by the caller: expiry and
//! not-before against the clock, and the revocation deny-list.
//!
//! The map belongs to its [`KeyRing`](crate::provider::KeyRing): a key
//! rotation or removal installs a new ring, so it starts empty and a token
//! signed by a withdrawn key is verified again (and refused). Entries are
//! keyed by the SHA-256 of the whole token, so no bearer credential is held
//! in the map; only successes are kept, so forged tokens cost a failed
//! verification each and no memory.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Bounds the map: at about 1 KB of claims a token, a few MB at most.
pub(crate) const MAX_VERIFIED: usize = 4096;

/// The SHA-256 of a whole token: the map's key.
pub(crate) type TokenKey = [u8; 32];

pub(crate) fn token_key(token: &[u8]) -> TokenKey {
    Sha256::digest(token).into()
}

#[derive(Default)]
pub(crate) struct Verified {
    map: RwLock<HashMap<TokenKey, Arc<Value>>>,
}

/// Claims are personal data: `Debug` shows only how many are held.
impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.map.read().map_or(0, |m| m.len());
        f.debug_struct("Verified")
            .field("entries", &entries)
            .finish()
    }
}

impl Verified {
    pub(crate) fn get(&self, key: &TokenKey) -> Option<Arc<Value>> {
        self.map.read().ok()?.get(key).cloned()
    }

    /// Keeps `claims` of a token just verified. When the map is full,
    /// expired entries go first; if that frees less than a quarter of
    /// it, everything goes, so the work stays amortised at O(1) per
    /// insert whatever the tokens' lifetimes.
    pub(crate) fn insert(&self, key: TokenKey, claims: Arc<Value>, now: i64) {
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= MAX_VERIFIED {
            map.retain(|_, c| {
                c.get("exp")
                    .and_then(Value::as_i64)
                    .is_some_and(|e| e > now)
            });
            if map.len() > MAX_VERIFIED / 4 * 3 {
                map.clear();
            }
        }
        map.insert(key, claims);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn key(n: usize) -> TokenKey {
        token_key(n.to_string().as_bytes())
    }

    #[test]
    fn the_map_stays_bounded_and_drops_expired_entries_first() {
        let v = Verified::default();
        let now = 1_000;
        // Half expired, half live, then one more than fits.
        for n in 0..MAX_VERIFIED {
            let exp = if n % 2 == 0 { now - 1 } else { now + 60 };
            v.insert(key(n), Arc::new(json!({ "exp": exp })), now);
        }
        assert_eq!(v.len(), MAX_VERIFIED);
        v.insert(key(MAX_VERIFIED), Arc::new(json!({ "exp": now + 60 })), now);
        assert_eq!(v.len(), MAX_VERIFIED / 2 + 1);
        assert!(v.get(&key(1)).is_some(), "a live entry was dropped");
        assert!(v.get(&key(0)).is_none(), "an expired entry was kept");
        // All live: the map is emptied rather than grown.
        let w = Verified::default();
        for n in 0..=MAX_VERIFIED {
            w.insert(key(n), Arc::new(json!({ "exp": now + 60 })), now);
        }
        assert_eq!(w.len(), 1);
        assert!(w.get(&key(MAX_VERIFIED)).is_some());
    }

    #[test]
    fn debug_shows_no_claims() {
        let v = Verified::default();
        v.insert(
            key(1),
            Arc::new(json!({"email": "kilgore@kilgore.trout"})),
            0,
        );
        let text = format!("{v:?}");
        assert_eq!(text, "Verified { entries: 1 }");
    }
}
