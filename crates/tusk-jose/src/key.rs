//! Signing keys: generated or loaded from PKCS#8 once, then held parsed.

use crate::alg::Alg;
use crate::error::Error;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::fmt;
use tusk_core::Secret;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key, parsed once. Signing with it does no parsing, no
/// allocation beyond the token, and no storage read.
///
/// The provider builds one from storage at start and after each rotation and
/// shares it behind an `Arc`; it is `Send + Sync`.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    pkcs8_der: Secret<Vec<u8>>,
    /// The header is the same for every token this key signs, so it is
    /// encoded once here rather than per signature.
    header_b64: String,
    public_jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A fresh key id: 40 hex digits (20 random bytes), the form Dex uses.
pub fn new_kid() -> Result<String, Error> {
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(hex::encode(bytes))
}

impl SigningKey {
    /// Generates a key: P-256 for ES256, RSA-2048 for RS256, Ed25519 for
    /// EdDSA. It round-trips through its PKCS#8 form, so whatever is stored
    /// is known to load again.
    pub fn generate(alg: Alg, kid: String) -> Result<SigningKey, Error> {
        check_kid(&kid)?;
        let fail = |_| Error::KeyGeneration { alg };
        // PKCS#8 v1 everywhere: OpenSSL and jsonwebtoken read it; v2 (with
        // the public key embedded) trips older Ed25519 readers.
        let der: Vec<u8> = match alg {
            Alg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(fail)?
                .as_ref()
                .to_vec(),
            Alg::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(fail)?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(fail)?;
                der.as_ref().to_vec()
            }
            Alg::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(fail)?
                .as_ref()
                .to_vec(),
        };
        SigningKey::from_pkcs8_der(alg, kid, der)
    }

    /// Loads an unencrypted PKCS#8 `PRIVATE KEY` PEM document.
    pub fn from_pkcs8_pem(alg: Alg, kid: String, pem: &str) -> Result<SigningKey, Error> {
        match pem_decode(pem) {
            Ok(der) => SigningKey::from_pkcs8_der(alg, kid, der),
            Err(cause) => Err(Error::Pem { kid, cause }),
        }
    }

    /// Loads an unencrypted PKCS#8 DER document, checking it holds an `alg`
    /// key (a P-256 key stored as RS256 is refused, not guessed at).
    pub fn from_pkcs8_der(alg: Alg, kid: String, der: Vec<u8>) -> Result<SigningKey, Error> {
        check_kid(&kid)?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| Error::KeyRejected {
            kid: kid.clone(),
            alg,
            cause: e.to_string(),
        };
        let pair = match alg {
            Alg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(rejected)?,
            ),
            Alg::RS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(&der).map_err(rejected)?),
            Alg::EdDSA => Pair::Ed(Ed25519KeyPair::from_pkcs8(&der).map_err(rejected)?),
        };
        let mut public_jwk = match &pair {
            Pair::Ec(k) => {
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Pair::Rsa(k) => {
                let public = k.public_key();
                if public.modulus_len() < 256 {
                    return Err(Error::KeyRejected {
                        kid,
                        alg,
                        cause: format!("the RSA key has {} bits", public.modulus_len() * 8),
                    });
                }
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Pair::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        if let Some(obj) = public_jwk.as_object_mut() {
            obj.insert("kid".into(), Value::String(kid.clone()));
            obj.insert("alg".into(), Value::String(alg.as_str().into()));
            obj.insert("use".into(), Value::String("sig".into()));
        }
        let header = serde_json::to_vec(&json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"}))?;
        Ok(SigningKey {
            header_b64: b64(&header),
            kid,
            alg,
            pair,
            pkcs8_der: Secret::new(der),
            public_jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The PKCS#8 PEM for storage. Wrapped so it cannot reach a log by accident.
    pub fn to_pkcs8_pem(&self) -> Secret<String> {
        let body = STANDARD.encode(self.pkcs8_der.expose());
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str(PEM_BEGIN);
        pem.push('\n');
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        Secret::new(pem)
    }

    /// The public JWK: key fields plus `kid`, `alg` and `use: "sig"`.
    pub fn public_jwk(&self) -> Value {
        self.public_jwk.clone()
    }

    pub(crate) fn header_b64(&self) -> &str {
        &self.header_b64
    }

    pub(crate) fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let fail = |_| Error::Signing {
            kid: self.kid.clone(),
            alg: self.alg,
        };
        match &self.pair {
            // The FIXED algorithm already yields JWS's 64-byte r || s, not DER.
            Pair::Ec(k) => Ok(k
                .sign(&SystemRandom::new(), msg)
                .map_err(fail)?
                .as_ref()
                .to_vec()),
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
            Pair::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }
}

/// The JWKS document (`{"keys": [...]}`) for `/keys`.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn check_kid(kid: &str) -> Result<(), Error> {
    let cause = if kid.is_empty() {
        "it is empty"
    } else if kid.len() > 128 {
        "it is longer than 128 bytes"
    } else if !kid.bytes().all(|b| b.is_ascii_graphic()) {
        "it contains spaces, control or non-ASCII characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidKid {
        kid: crate::error::shown(kid),
        cause,
    })
}

fn pem_decode(pem: &str) -> Result<Vec<u8>, &'static str> {
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some(PEM_BEGIN) => {}
        Some(l) if l.contains("ENCRYPTED") => {
            return Err("it is encrypted; decrypt it with `openssl pkcs8 -in key.pem -nocrypt`");
        }
        Some(l) if l.starts_with("-----BEGIN") => {
            return Err(
                "it is not a PKCS#8 PRIVATE KEY block (SEC1 or PKCS#1?); convert it with `openssl pkcs8 -topk8 -nocrypt -in key.pem`",
            );
        }
        Some(_) => return Err("it does not start with -----BEGIN PRIVATE KEY-----"),
        None => return Err("it is empty"),
    }
    let mut body = String::new();
    for line in lines {
        if line == PEM_END {
            return STANDARD
                .decode(body.as_bytes())
                .map_err(|_| "its body is not valid base64");
        }
        body.push_str(line);
    }
    Err("it has no -----END PRIVATE KEY----- line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors_name_the_problem() {
        let check = |pem: &str, want: &str| {
            let err = SigningKey::from_pkcs8_pem(Alg::ES256, "k".into(), pem).unwrap_err();
            assert!(err.to_string().contains(want), "{pem:?}: {err}");
        };
        check("", "it is empty");
        check(
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "SEC1",
        );
        check("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", "encrypted");
        check("-----BEGIN PRIVATE KEY-----\nAAAA\n", "no -----END");
        check(
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
            "base64",
        );
        check(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "rejected",
        );
    }

    #[test]
    fn wrong_alg_for_key_is_refused() {
        let ec = SigningKey::generate(Alg::ES256, "k".into()).unwrap();
        let pem = ec.to_pkcs8_pem();
        for alg in [Alg::RS256, Alg::EdDSA] {
            let err = SigningKey::from_pkcs8_pem(alg, "k".into(), pem.expose()).unwrap_err();
            assert!(matches!(err, Error::KeyRejected { .. }), "{alg}: {err}");
        }
    }

    #[test]
    fn kid_rules() {
        for bad in ["", "a b", "caf\u{e9}", &"x".repeat(129)] {
            let err = SigningKey::generate(Alg::EdDSA, bad.into()).unwrap_err();
            assert!(matches!(err, Error::InvalidKid { .. }), "{bad:?}");
        }
        let kid = new_kid().unwrap();
        assert_eq!(kid.len(), 40);
        assert!(kid.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
