//! Compact JWS: signing with a held key, strict verification, time claims and
//! the OIDC half-hashes.

use crate::alg::Alg;
use crate::error::shown;
use crate::error::{Error, Part, VerifyError};
use crate::key::SigningKey;
use crate::key::b64;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::fmt;

/// Tokens longer than this are refused before any parsing. tusk's own ID
/// tokens are about 1 KiB; a large `groups` claim still fits.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Signs `claims` (a JSON object) as a compact JWS with the header
/// `{"alg", "kid", "typ": "JWT"}`.
pub fn sign(key: &SigningKey, claims: &Value) -> Result<String, Error> {
    sign_with_header(key, key.header_b64(), claims)
}

/// Signs `claims` like [`sign`], with `typ` in the header in place of
/// `JWT`: explicit typing (RFC 8725 §3.11), so a token of one kind (a
/// back-channel logout token, `logout+jwt`) cannot pass for another. The
/// header is built per call; only the ID-token header is cached.
pub fn sign_typed(key: &SigningKey, typ: &str, claims: &Value) -> Result<String, Error> {
    let header = serde_json::to_vec(&serde_json::json!({
        "alg": key.alg().as_str(),
        "kid": key.kid(),
        "typ": typ,
    }))?;
    sign_with_header(key, &URL_SAFE_NO_PAD.encode(header), claims)
}

fn sign_with_header(key: &SigningKey, header: &str, claims: &Value) -> Result<String, Error> {
    if !claims.is_object() {
        return Err(Error::ClaimsNotObject {
            found: json_kind(claims),
        });
    }
    let payload = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 2 + 344);
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key.sign_bytes(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

struct VerifyingKey {
    kid: Option<String>,
    alg: Alg,
    key: ParsedPublicKey,
}

/// Public keys, parsed once, for verifying tokens: ours (from the key set or
/// our own JWKS) or an upstream issuer's JWKS.
pub struct VerifyingKeys {
    keys: Vec<VerifyingKey>,
}

impl fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.kid.as_deref(), k.alg)))
            .finish()
    }
}

impl VerifyingKeys {
    /// Builds from a JWKS document. Keys tusk cannot use (encryption keys,
    /// other curves, other algorithms) are skipped, since upstream issuers
    /// publish such keys beside their signing keys; a key of a supported
    /// type that is malformed is an error.
    pub fn from_jwks(jwks: &Value) -> Result<VerifyingKeys, Error> {
        let list = jwks
            .get("keys")
            .ok_or(Error::Jwks {
                cause: "it has no \"keys\" member",
            })?
            .as_array()
            .ok_or(Error::Jwks {
                cause: "\"keys\" is not an array",
            })?;
        let mut keys = Vec::with_capacity(list.len());
        for jwk in list {
            if let Some(key) = parse_jwk(jwk)? {
                keys.push(key);
            }
        }
        Ok(VerifyingKeys { keys })
    }

    pub fn from_signing_keys(keys: &[&SigningKey]) -> Result<VerifyingKeys, Error> {
        VerifyingKeys::from_jwks(&crate::key::jwks(keys))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a compact JWS and returns its claims object. Checks only the
    /// signature and the header; `exp`, `iss`, `aud` and `nonce` are the
    /// caller's (see [`check_time`]).
    ///
    /// Takes bytes as well as `&str` so a bearer header can be passed as it
    /// arrived, non-UTF-8 included.
    pub fn verify(
        &self,
        token: &(impl AsRef<[u8]> + ?Sized),
        allowed_algs: &[Alg],
    ) -> Result<Value, VerifyError> {
        let token = token.as_ref();
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::TooLarge {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let parts = token.iter().filter(|&&b| b == b'.').count() + 1;
        let mut split = token.splitn(3, |&b| b == b'.');
        let (Some(h), Some(p), Some(s), 3) = (split.next(), split.next(), split.next(), parts)
        else {
            return Err(VerifyError::Malformed { parts });
        };
        for (part, bytes) in [(Part::Header, h), (Part::Payload, p), (Part::Signature, s)] {
            if !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            {
                return Err(VerifyError::InvalidCharacter { part });
            }
        }

        let header: Value = serde_json::from_slice(&decode(Part::Header, h)?)
            .map_err(|_| VerifyError::HeaderInvalid { cause: "not JSON" })?;
        let header = header.as_object().ok_or(VerifyError::HeaderInvalid {
            cause: "JSON but not an object",
        })?;
        let alg = header_alg(header)?;
        if !allowed_algs.contains(&alg) {
            let allowed: Vec<&str> = allowed_algs.iter().map(|a| a.as_str()).collect();
            return Err(VerifyError::AlgNotAllowed {
                alg,
                allowed: allowed.join(", "),
            });
        }
        if header.contains_key("crit") {
            return Err(VerifyError::CriticalHeader);
        }
        let key = self.select(header, alg)?;

        let signature = decode(Part::Signature, s)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        key.key
            .verify_sig(signing_input, &signature)
            .map_err(|_| VerifyError::BadSignature {
                kid: shown(key.kid.as_deref().unwrap_or("")),
            })?;

        // Claims are parsed only once the signature holds.
        let claims: Value = serde_json::from_slice(&decode(Part::Payload, p)?)
            .map_err(|_| VerifyError::PayloadNotJson)?;
        if !claims.is_object() {
            return Err(VerifyError::PayloadNotObject);
        }
        Ok(claims)
    }

    fn select(&self, header: &Map<String, Value>, alg: Alg) -> Result<&VerifyingKey, VerifyError> {
        if self.keys.is_empty() {
            return Err(VerifyError::NoKeys);
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => {
                return Err(VerifyError::HeaderInvalid {
                    cause: "\"kid\" is not a string",
                });
            }
        };
        let Some(kid) = kid else {
            return match self.keys.as_slice() {
                [only] => check_alg(only, alg),
                keys => Err(VerifyError::MissingKid { keys: keys.len() }),
            };
        };
        // A JWKS may reuse one kid for keys of different types, so match
        // on both before calling it a mismatch.
        let mut same_kid = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
        let first = same_kid
            .next()
            .ok_or_else(|| VerifyError::UnknownKid { kid: shown(kid) })?;
        match std::iter::once(first)
            .chain(same_kid)
            .find(|k| k.alg == alg)
        {
            Some(key) => Ok(key),
            None => check_alg(first, alg),
        }
    }
}

fn check_alg(key: &VerifyingKey, alg: Alg) -> Result<&VerifyingKey, VerifyError> {
    if key.alg == alg {
        Ok(key)
    } else {
        Err(VerifyError::AlgKeyMismatch {
            kid: shown(key.kid.as_deref().unwrap_or("")),
            token_alg: alg,
            key_alg: key.alg,
        })
    }
}

fn header_alg(header: &Map<String, Value>) -> Result<Alg, VerifyError> {
    let name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(VerifyError::MissingAlg)?;
    if let Some(alg) = Alg::parse(name) {
        return Ok(alg);
    }
    // JOSE names are case-sensitive, but "None" or "hs256" are the same
    // attacks and deserve the same diagnosis.
    let upper = name.to_ascii_uppercase();
    Err(if upper == "NONE" {
        VerifyError::AlgNone
    } else if upper.starts_with("HS") {
        VerifyError::SymmetricAlg { alg: shown(name) }
    } else {
        VerifyError::UnsupportedAlg { alg: shown(name) }
    })
}

fn decode(part: Part, bytes: &[u8]) -> Result<Vec<u8>, VerifyError> {
    // URL_SAFE_NO_PAD refuses padding and non-zero trailing bits, so each
    // token has one encoding and cannot be re-encoded past a replay cache.
    URL_SAFE_NO_PAD
        .decode(bytes)
        .map_err(|_| VerifyError::Base64 { part })
}

fn parse_jwk(jwk: &Value) -> Result<Option<VerifyingKey>, Error> {
    let kid_for_errors = jwk.get("kid").and_then(Value::as_str).unwrap_or("");
    let err = |cause: &str| Error::Jwk {
        kid: shown(kid_for_errors),
        cause: cause.to_owned(),
    };
    let obj = jwk
        .as_object()
        .ok_or_else(|| err("it is not a JSON object"))?;
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(err("\"kid\" is not a string")),
    };
    if obj.get("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let text = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| err(&format!("\"{name}\" is missing or not a string")))
    };
    // Some publishers pad; tolerate that here, never in tokens.
    let bytes = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(text(name)?.trim_end_matches('='))
            .map_err(|_| err(&format!("\"{name}\" is not base64url")))
    };
    let sized = |name: &str, len: usize| {
        let b = bytes(name)?;
        if b.len() == len {
            Ok(b)
        } else {
            Err(err(&format!("\"{name}\" is {} bytes, not {len}", b.len())))
        }
    };
    let rejected = |e: aws_lc_rs::error::KeyRejected| err(&format!("aws-lc-rs rejected it ({e})"));
    let (alg, key) = match (text("kty")?, obj.get("crv").and_then(Value::as_str)) {
        ("EC", Some("P-256")) => {
            let mut point = vec![4u8];
            point.extend(sized("x", 32)?);
            point.extend(sized("y", 32)?);
            let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(rejected)?;
            (Alg::ES256, key)
        }
        ("OKP", Some("Ed25519")) => {
            let key = ParsedPublicKey::new(&ED25519, sized("x", 32)?).map_err(rejected)?;
            (Alg::EdDSA, key)
        }
        ("RSA", _) => {
            let (n, e) = (bytes("n")?, bytes("e")?);
            let strip = |b: &[u8]| {
                b.iter()
                    .position(|&x| x != 0)
                    .map_or(Vec::new(), |i| b[i..].to_vec())
            };
            let (n, e) = (strip(&n), strip(&e));
            if n.len() < 256 {
                return Err(err(&format!(
                    "its RSA modulus has {} bits; at least 2048 are required",
                    n.len() * 8
                )));
            }
            let key = RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                .map_err(rejected)?;
            (Alg::RS256, key)
        }
        _ => return Ok(None),
    };
    // An "alg" we do not implement for this key type (PS256 on an RSA key,
    // say) means the key is not for us.
    match obj.get("alg").and_then(Value::as_str) {
        Some(declared) if Alg::parse(declared) != Some(alg) => Ok(None),
        _ => Ok(Some(VerifyingKey { kid, alg, key })),
    }
}

/// Checks `exp` (required), `nbf` and `iat` (if present) against `now`,
/// allowing `leeway_secs` of clock skew either way.
pub fn check_time(claims: &Value, now: i64, leeway_secs: i64) -> Result<(), VerifyError> {
    let number = |claim: &'static str| match claims.get(claim) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            // NumericDate may carry a fraction; a second's precision is enough.
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(VerifyError::InvalidClaim { claim }),
    };
    let exp = number("exp")?.ok_or(VerifyError::MissingClaim { claim: "exp" })?;
    if now >= exp.saturating_add(leeway_secs) {
        return Err(VerifyError::Expired { exp, now });
    }
    if let Some(nbf) = number("nbf")?
        && now.saturating_add(leeway_secs) < nbf
    {
        return Err(VerifyError::NotYetValid { nbf, now });
    }
    if let Some(iat) = number("iat")?
        && iat > now.saturating_add(leeway_secs)
    {
        return Err(VerifyError::IssuedInFuture { iat, now });
    }
    Ok(())
}

/// `at_hash` / `c_hash` (OIDC Core 3.1.3.6 and 3.3.2.11): base64url of the
/// left half of the hash of the ASCII value, with the hash of the ID token's
/// `alg`: SHA-256 for RS256 and ES256. For EdDSA the spec names no hash;
/// Ed25519 is built on SHA-512 and OpenID's errata discussion, node
/// `oidc-provider` and Authlib all use SHA-512, so tusk does too.
pub fn half_hash(alg: Alg, value: &str) -> String {
    let algorithm = match alg {
        Alg::ES256 | Alg::RS256 => &digest::SHA256,
        Alg::EdDSA => &digest::SHA512,
    };
    let hash = digest::digest(algorithm, value.as_bytes());
    let hash = hash.as_ref();
    b64(&hash[..hash.len() / 2])
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signs arbitrary header and payload bytes, which `sign` never produces.
    fn raw(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = key.sign_bytes(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&sig))
    }

    #[test]
    fn payload_and_kid_edge_cases() {
        let key = SigningKey::generate(Alg::ES256, "only".into()).unwrap();
        let keys = VerifyingKeys::from_signing_keys(&[&key]).unwrap();
        let check = |header: &str, payload: &str, want: Result<Value, VerifyError>| {
            let token = raw(&key, header.as_bytes(), payload.as_bytes());
            assert_eq!(
                keys.verify(&token, &[Alg::ES256]),
                want,
                "{header} {payload}"
            );
        };
        check(
            r#"{"alg":"ES256"}"#,
            r#"{"a":1}"#,
            Ok(serde_json::json!({"a": 1})),
        );
        check(
            r#"{"alg":"ES256","kid":"only"}"#,
            "not json",
            Err(VerifyError::PayloadNotJson),
        );
        check(
            r#"{"alg":"ES256","kid":"only"}"#,
            "\"str\"",
            Err(VerifyError::PayloadNotObject),
        );
        check(
            r#"{"alg":"ES256","kid":"only"}"#,
            "",
            Err(VerifyError::PayloadNotJson),
        );
    }
}
