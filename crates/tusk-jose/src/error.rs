//! Errors. Messages name the thing, the cause and the fix; none contains key
//! material or a token, and attacker-controlled strings (a token's `kid` or
//! `alg`) are shortened and escaped by [`shown`] before they are kept.

use crate::alg::Alg;
use std::fmt;
use std::str::FromStr;

/// Failures handling keys, JWKS and key-set state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "unsupported JWS algorithm {alg}: tusk signs and verifies only RS256, ES256 and EdDSA; pick one of those"
    )]
    UnsupportedAlg { alg: String },

    #[error(
        "generating a new {alg} signing key failed inside aws-lc-rs; this is a crypto library failure, not a configuration problem: retry, and report it if it persists"
    )]
    KeyGeneration { alg: Alg },

    #[error(
        "signing key {kid:?} ({alg}) was rejected: {cause}; the key must be an unencrypted PKCS#8 {alg} private key (RSA: 2048 to 8192 bits): replace it, or remove it from the key set so a new one is generated"
    )]
    KeyRejected {
        kid: String,
        alg: Alg,
        cause: String,
    },

    #[error(
        "signing key {kid:?} is not a usable PEM document: {cause}; expected one \"-----BEGIN PRIVATE KEY-----\" block (unencrypted PKCS#8)"
    )]
    Pem { kid: String, cause: &'static str },

    #[error(
        "key id {kid:?} is not usable: {cause}; use 1 to 128 printable ASCII characters (tusk generates 40 hex digits)"
    )]
    InvalidKid { kid: String, cause: &'static str },

    #[error(
        "signing with key {kid:?} ({alg}) failed inside aws-lc-rs; the token was not issued: retry, and report it if it persists"
    )]
    Signing { kid: String, alg: Alg },

    #[error(
        "JWT claims must be a JSON object, not {found}; build the claims with serde_json::json!({{...}})"
    )]
    ClaimsNotObject { found: &'static str },

    #[error(
        "JWK {kid:?} cannot be used: {cause}; publish it as RFC 7517/7518/8037 requires (RSA n/e, EC P-256 x/y, OKP Ed25519 x, base64url without padding)"
    )]
    Jwk { kid: String, cause: String },

    #[error("JWKS is not usable: {cause}; a JWKS is a JSON object {{\"keys\": [...]}}")]
    Jwks { cause: &'static str },

    #[error("key rotation policy is invalid: {cause}")]
    Policy { cause: String },

    #[error(
        "stored signing key set is inconsistent: {cause}; delete the key-set record so a fresh key is generated (tokens signed by the old keys will stop verifying)"
    )]
    KeySet { cause: String },

    #[error(
        "key {kid:?} is retired and no longer holds a private key; sign with the key set's active key (rotation::active_key)"
    )]
    Retired { kid: String },

    #[error("reading random bytes for a key id failed inside aws-lc-rs; retry")]
    Random,

    #[error("encoding JSON for a JWT failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Which of the three compact-serialisation parts an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a token was refused. Each attack or malformation has its own variant
/// so callers and tests can tell them apart; all are "401 invalid token" to a
/// client, and the message is for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "token is {len} bytes, over the {max}-byte limit; tusk's tokens are far smaller, so this is not one of them"
    )]
    TooLarge { len: usize, max: usize },

    #[error(
        "token has {parts} dot-separated parts; a compact JWS has exactly 3 (header.payload.signature); JWE and JSON serialisation are not accepted"
    )]
    Malformed { parts: usize },

    #[error(
        "token {part} contains a character outside base64url (A-Z a-z 0-9 - _); padding, whitespace and non-ASCII bytes are not allowed: send the token exactly as issued"
    )]
    InvalidCharacter { part: Part },

    #[error("token {part} is not canonical unpadded base64url; send the token exactly as issued")]
    Base64 { part: Part },

    #[error("token header is not a JSON object ({cause}); it cannot be a JWS")]
    HeaderInvalid { cause: &'static str },

    #[error("token header has no string \"alg\"; every JWS names its algorithm")]
    MissingAlg,

    #[error(
        "token uses \"alg\": \"none\" (unsigned); unsigned tokens are never accepted, the issuer must sign it"
    )]
    AlgNone,

    #[error(
        "token uses the symmetric algorithm {alg}; tusk verifies only public-key signatures (RS256, ES256, EdDSA), so an HMAC token (possibly keyed with the public key, the alg-confusion attack) is refused"
    )]
    SymmetricAlg { alg: String },

    #[error(
        "token uses the unsupported algorithm {alg}; tusk verifies only RS256, ES256 and EdDSA"
    )]
    UnsupportedAlg { alg: String },

    #[error(
        "token algorithm {alg} is not allowed here (allowed: {allowed}); sign with an allowed algorithm"
    )]
    AlgNotAllowed { alg: Alg, allowed: String },

    #[error(
        "token header lists critical extensions (\"crit\") that tusk does not implement; it must be refused (RFC 7515 4.1.11)"
    )]
    CriticalHeader,

    #[error("the verifying key set is empty, so no token can verify; load the issuer's JWKS first")]
    NoKeys,

    #[error(
        "token header has no \"kid\" and the key set holds {keys} keys, so the signing key is ambiguous; the issuer must set kid"
    )]
    MissingKid { keys: usize },

    #[error(
        "token was signed by key {kid}, which is not in the key set; the key may be retired or the token from another issuer: refresh the JWKS or log in again"
    )]
    UnknownKid { kid: String },

    #[error(
        "token header says {token_alg} but key {kid} is a {key_alg} key; refused to prevent algorithm confusion"
    )]
    AlgKeyMismatch {
        kid: String,
        token_alg: Alg,
        key_alg: Alg,
    },

    #[error(
        "token signature does not verify with key {kid}; the token was altered or signed by another key"
    )]
    BadSignature { kid: String },

    #[error("token payload is not JSON; a JWT's claims are a JSON object")]
    PayloadNotJson,

    #[error("token payload is JSON but not an object; a JWT's claims are a JSON object")]
    PayloadNotObject,

    #[error("token has no numeric {claim:?} claim, which is required")]
    MissingClaim { claim: &'static str },

    #[error("token claim {claim:?} is not a number of seconds since the epoch")]
    InvalidClaim { claim: &'static str },

    #[error("token expired at {exp} (now {now}); log in again or refresh the token")]
    Expired { exp: i64, now: i64 },

    #[error("token is not valid before {nbf} (now {now}); check the clocks of issuer and verifier")]
    NotYetValid { nbf: i64, now: i64 },

    #[error(
        "token was issued at {iat}, in the future (now {now}); check the clocks of issuer and verifier"
    )]
    IssuedInFuture { iat: i64, now: i64 },
}

/// Shortens and escapes an untrusted string for an error message, so a
/// crafted token cannot flood or forge log lines.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 64;
    let cut: String = s.chars().take(MAX).collect();
    let ellipsis = if cut.len() < s.len() { "..." } else { "" };
    format!("{cut:?}{ellipsis}")
}

// Here rather than in `alg`, so that `alg` stays a leaf that `error` (whose
// variants name an `Alg`) can import without a cycle.
impl FromStr for Alg {
    type Err = Error;
    fn from_str(s: &str) -> Result<Alg, Error> {
        Alg::parse(s).ok_or_else(|| Error::UnsupportedAlg { alg: shown(s) })
    }
}
