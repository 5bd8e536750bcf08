//! PKCE (RFC 7636) with Dex's error texts.

use crate::error::{ErrorCode, OAuthError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Validates the `code_challenge_method` at the authorization endpoint.
/// Only S256 is accepted. An absent method means `plain` (RFC 7636 §4.3),
/// and `plain` sends the verifier itself through the browser, where it
/// leaks with the code, so it is refused for every client.
pub fn check_method(challenge: &str, method: Option<&str>) -> Result<&'static str, OAuthError> {
    if challenge.is_empty() {
        return Ok("");
    }
    if challenge.len() < 43 || challenge.len() > 128 || !challenge.bytes().all(unreserved) {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
        ));
    }
    match method {
        None | Some("plain") => Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "PKCE method plain is not accepted: send code_challenge=BASE64URL(SHA256(code_verifier)) with code_challenge_method=S256",
        )),
        Some("S256") => Ok("S256"),
        Some(m) => Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            format!("Unsupported PKCE challenge method ({m:?})."),
        )),
    }
}

/// Checks the verifier at the token endpoint. A verifier without a
/// challenge is refused too: accepting it would let an attacker who strips
/// the challenge downgrade the flow (RFC 9700 §2.1.1).
pub fn verify(challenge: &str, method: &str, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge.is_empty(), verifier) {
        (true, None) => Ok(()),
        (true, Some(_)) => Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "No PKCE flow started. Cannot check code_verifier.",
        )),
        (false, None) => Err(OAuthError::new(
            ErrorCode::InvalidGrant,
            "Expecting parameter code_verifier in PKCE flow.",
        )),
        (false, Some(v)) => {
            // A code stored with any other method (before `plain` was
            // refused) cannot be redeemed.
            if method != "S256" {
                return Err(OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "Invalid code_verifier.",
                ));
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            let well_formed = (43..=128).contains(&v.len()) && v.bytes().all(unreserved);
            if well_formed && tusk_core::ct_eq(computed.as_bytes(), challenge.as_bytes()) {
                Ok(())
            } else {
                Err(OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "Invalid code_verifier.",
                ))
            }
        }
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(verify(challenge, "S256", Some(verifier)), Ok(()));
        assert_eq!(
            verify(challenge, "S256", Some(&verifier.replace('d', "e"))).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant)
        );
        assert_eq!(
            verify(challenge, "S256", None).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant)
        );
        assert_eq!(
            verify("", "", Some(verifier)).map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest)
        );
        assert_eq!(
            verify(verifier, "plain", Some(verifier)).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant)
        );
        assert!(check_method(challenge, Some("S512")).is_err());
        assert!(check_method("short", Some("S256")).is_err());
        assert!(check_method(challenge, None).is_err());
        assert!(check_method(challenge, Some("plain")).is_err());
    }
}
