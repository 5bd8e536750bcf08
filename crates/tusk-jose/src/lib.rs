//! JOSE for tusk's OpenID provider: signing keys, compact JWS signing and
//! verification, JWKS, `at_hash`/`c_hash`, and the key-rotation policy.
//!
//! - `key`: [`SigningKey`], a private key parsed once and held in memory, so
//!   signing an ID token costs one signature and no parsing or storage read.
//! - `jws`: [`sign`], [`VerifyingKeys::verify`] (strict compact parsing, an
//!   algorithm allow-list, no `none`, no HMAC), [`check_time`], [`half_hash`].
//! - [`rotation`]: pure functions over a serialisable [`KeySetState`] that the
//!   provider stores with compare-and-swap.
//!
//! Pure logic: no clock (callers pass `now` as unix seconds) and no I/O. The
//! only randomness is key and `kid` generation, from aws-lc-rs.

mod error;
mod jws;
mod key;
pub mod rotation;

pub use error::{Error, Part, VerifyError};
pub use jws::{MAX_TOKEN_LEN, VerifyingKeys, check_time, half_hash, sign};
pub use key::{SigningKey, jwks, new_kid};
pub use rotation::{KeySetState, RotationPolicy, StoredKey, active_key, published, rotate_if_due};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm tusk signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256; signature is the fixed 64-byte `r || s`.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: Dex's only algorithm, which every
    /// OIDC client must support.
    RS256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl Alg {
    /// In the order discovery lists them: RS256 first because OIDC makes it
    /// the one every client supports.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Exact, case-sensitive match: JOSE algorithm names are case-sensitive.
    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// For `id_token_signing_alg_values_supported` in discovery.
    pub fn discovery_values() -> Vec<&'static str> {
        Alg::ALL.iter().map(|a| a.as_str()).collect()
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = Error;
    fn from_str(s: &str) -> Result<Alg, Error> {
        Alg::parse(s).ok_or_else(|| Error::UnsupportedAlg {
            alg: error::shown(s),
        })
    }
}
