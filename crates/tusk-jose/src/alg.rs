//! [`Alg`], the JWS algorithms tusk signs and verifies with. A leaf: its
//! `FromStr` lives in `error` beside the error it returns.

use serde::{Deserialize, Serialize};
use std::fmt;

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
