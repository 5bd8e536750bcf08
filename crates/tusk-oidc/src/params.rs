//! OAuth request parameters from a query string or form body.
//!
//! RFC 6749 §3.1: parameters must not repeat, and a repeated one is an
//! `invalid_request`. Values must be UTF-8; anything else is refused here
//! rather than replaced with U+FFFD, because a silently altered
//! `redirect_uri` or `code_verifier` would fail later with a confusing error.

use crate::error::{ErrorCode, OAuthError};
use percent_encoding::percent_decode;

/// Larger bodies are refused by the HTTP layer; this bounds the number of
/// pairs so a body of `&&&&` cannot build a huge vector.
const MAX_PAIRS: usize = 64;

#[derive(Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// Parameters whose values `Debug` shows; every other value (client
/// secret, password, code, refresh token, verifier, and any parameter we
/// do not know) prints as `***`, so a logged or failed request never
/// carries a credential.
const SHOWN: &[&str] = &[
    "client_id",
    "code_challenge_method",
    "grant_type",
    "prompt",
    "redirect_uri",
    "response_mode",
    "response_type",
    "scope",
    "token_type_hint",
];

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(k, v)| {
                let shown = if SHOWN.contains(&k.as_str()) {
                    v.as_str()
                } else {
                    "***"
                };
                (k, shown)
            }))
            .finish()
    }
}

impl Params {
    pub fn parse(bytes: &[u8]) -> Result<Params, OAuthError> {
        let mut pairs = Vec::new();
        for part in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if pairs.len() >= MAX_PAIRS {
                return Err(invalid("too many parameters"));
            }
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            let key = decode(k)?;
            let value = decode(v)?;
            pairs.push((key, value));
        }
        Ok(Params { pairs })
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// The value of a parameter that may appear at most once. An empty value
    /// counts as absent, as RFC 6749 §3.1 says.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self.pairs.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(invalid(&format!("parameter `{name}` is repeated")));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| invalid(&format!("missing required parameter `{name}`")))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).map_err(|_| invalid("a parameter is not valid UTF-8"))
}

fn invalid(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let p = Params::parse(b"a=1&b=x+y%2Fz&c=&d").unwrap_or_default();
        assert_eq!(p.get("a").ok().flatten(), Some("1"));
        assert_eq!(p.get("b").ok().flatten(), Some("x y/z"));
        assert_eq!(p.get("c").ok().flatten(), None);
        assert_eq!(p.get("d").ok().flatten(), None);
        assert!(Params::parse(b"a=1&a=2").is_ok_and(|p| p.get("a").is_err()));
        assert!(Params::parse(b"a=%ff%fe").is_err());
        assert!(Params::parse(b"a=\xff").is_err());
        assert!(Params::parse("&".repeat(100_000).as_bytes()).is_ok());
        assert!(Params::parse("a=1&".repeat(100).as_bytes()).is_err());
    }
}
