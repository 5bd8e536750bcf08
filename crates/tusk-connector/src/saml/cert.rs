//! The IdP's signing certificates from `ca` / `caData`: PEM blocks, each an
//! X.509 certificate with an RSA key. Errors name the block and its line.

use super::dsig::PublicKey;
use base64::Engine;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One configured certificate.
#[derive(Clone)]
pub struct Certificate {
    pub subject: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// The line of its `BEGIN CERTIFICATE` in the PEM text, from 1.
    pub line: usize,
    pub(crate) key: PublicKey,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish()
    }
}

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Parses every certificate of a PEM text. There must be at least one, and
/// nothing but whitespace outside the blocks.
pub fn parse_pem(text: &str) -> Result<Vec<Certificate>, String> {
    let mut certs = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        match &mut block {
            None if line == BEGIN => block = Some((n, String::new())),
            None if line.is_empty() => {}
            None => {
                return Err(format!(
                    "line {n} is outside a `{BEGIN}` block; the value must hold PEM certificates only"
                ));
            }
            Some((start, b64)) if line == END => {
                let start = *start;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| format!("the certificate at line {start} is not valid base64"))?;
                certs.push(parse_der(&der, start)?);
                block = None;
            }
            Some((_, b64)) => b64.push_str(line),
        }
    }
    if let Some((start, _)) = block {
        return Err(format!("the certificate at line {start} has no `{END}` line"));
    }
    if certs.is_empty() {
        return Err(format!("no certificate found: expected a `{BEGIN}` block"));
    }
    Ok(certs)
}

fn parse_der(der: &[u8], line: usize) -> Result<Certificate, String> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the certificate at line {line} does not parse as X.509: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("the certificate at line {line} has trailing bytes"));
    }
    let spki = cert.public_key();
    let rsa = x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;
    if spki.algorithm.algorithm != rsa {
        return Err(format!(
            "the certificate at line {line} does not hold an RSA key; tusk verifies SAML signatures made with RSA"
        ));
    }
    Ok(Certificate {
        subject: cert.subject().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        line,
        key: PublicKey(spki.subject_public_key.data.to_vec()),
    })
}
