//! X.509 certificates in PEM text, as the `saml` connector's `ca` /
//! `caData` holds its IdP's signing certificate: every block parsed, with
//! its subject, validity and RSA public key. Errors name the block's line,
//! so `tusk config check` and `tusk doctor` can point at it. Pure: text in,
//! certificates out.

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
    /// The RSA public key (PKCS#1 `RSAPublicKey` DER).
    pub rsa_public_key: Vec<u8>,
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

/// Why a PEM text does not hold usable certificates: `line` (from 1) is
/// where, when a line is to blame; the message names it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for PemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PemError {}

/// Parses every certificate of a PEM text. There must be at least one, and
/// nothing but whitespace outside the blocks.
pub fn parse_pem(text: &str) -> Result<Vec<Certificate>, PemError> {
    parse_blocks(text).map_err(|(line, message)| PemError { line, message })
}

fn parse_blocks(text: &str) -> Result<Vec<Certificate>, (Option<usize>, String)> {
    let mut certs = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        match &mut block {
            None if line == BEGIN => block = Some((n, String::new())),
            None if line.is_empty() => {}
            None => {
                return Err((
                    Some(n),
                    format!(
                        "line {n} is outside a `{BEGIN}` block; the value must hold PEM certificates only"
                    ),
                ));
            }
            Some((start, b64)) if line == END => {
                let start = *start;
                let der = decode_base64(b64).ok_or_else(|| {
                    (
                        Some(start),
                        format!("the certificate at line {start} is not valid base64"),
                    )
                })?;
                certs.push(parse_der(&der, start).map_err(|e| (Some(start), e))?);
                block = None;
            }
            Some((_, b64)) => b64.push_str(line),
        }
    }
    if let Some((start, _)) = block {
        return Err((
            Some(start),
            format!("the certificate at line {start} has no `{END}` line"),
        ));
    }
    if certs.is_empty() {
        return Err((
            None,
            format!("no certificate found: expected a `{BEGIN}` block"),
        ));
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
        rsa_public_key: spki.subject_public_key.data.to_vec(),
    })
}

/// A config value that holds certificates as PEM text, or Dex's JSON
/// `[]byte` form of it (base64 of the PEM), as PEM text.
pub fn pem_text(value: &str) -> String {
    if value.contains("-----BEGIN") {
        return value.to_owned();
    }
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    decode_base64(&compact)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| value.to_owned())
}

/// Standard base64 with padding, as PEM bodies use.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn pem_errors_name_the_line() {
        let check = |text: &str, want: &str| {
            let err = parse_pem(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        };
        check("", "no certificate found");
        check("junk\n", "line 1 is outside");
        check("\n-----BEGIN CERTIFICATE-----\nAAAA\n", "line 2 has no");
        check(
            "-----BEGIN CERTIFICATE-----\nA*==\n-----END CERTIFICATE-----\n",
            "line 1 is not valid base64",
        );
        check(
            "\n\n-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            "at line 3 does not parse as X.509",
        );
        assert_eq!(decode_base64("TWFu").unwrap(), b"Man");
        assert_eq!(decode_base64("TWE=").unwrap(), b"Ma");
        assert_eq!(decode_base64("TQ==").unwrap(), b"M");
        assert!(decode_base64("TQ=").is_none());
        assert!(decode_base64("T===").is_none());
    }
}
