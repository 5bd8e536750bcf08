//! Scope parsing with Dex's error texts, and cross-client audiences.

use crate::error::{ErrorCode, OAuthError};
use crate::provider::Provider;

const AUDIENCE_PREFIX: &str = "audience:server:client_id:";
const KNOWN: &[&str] = &[
    "openid",
    "email",
    "profile",
    "groups",
    "offline_access",
    "federated:id",
];

fn is_known(scope: &str) -> bool {
    KNOWN.contains(&scope)
        || scope
            .strip_prefix(AUDIENCE_PREFIX)
            .is_some_and(|peer| !peer.is_empty())
}

/// Longest `scope` parameter accepted; real ones are a few dozen bytes.
const MAX_SCOPE_BYTES: usize = 2048;
/// Most distinct scopes, and most cross-client audiences, in one request:
/// each audience costs a client lookup.
const MAX_SCOPES: usize = 32;
const MAX_AUDIENCES: usize = 8;

/// Splits and checks a `scope` parameter. `openid` is required.
pub fn parse(raw: &str) -> Result<Vec<String>, OAuthError> {
    if raw.len() > MAX_SCOPE_BYTES {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("the scope parameter is longer than {MAX_SCOPE_BYTES} bytes"),
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if seen.insert(s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.len() > MAX_SCOPES {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("more than {MAX_SCOPES} scopes requested"),
        ));
    }
    if peers(&scopes).count() > MAX_AUDIENCES {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("more than {MAX_AUDIENCES} audience:server:client_id scopes requested"),
        ));
    }
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !is_known(s))
        .collect();
    if !unknown.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("Unrecognized scope(s) {unknown:?}"),
        ));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            r#"Missing required scope(s) ["openid"]."#,
        ));
    }
    Ok(scopes)
}

/// The peers named by `audience:server:client_id:X` scopes.
pub fn peers(scopes: &[String]) -> impl Iterator<Item = &str> {
    scopes
        .iter()
        .filter_map(|s| s.strip_prefix(AUDIENCE_PREFIX))
}

/// Each requested peer must list the requesting client among its trusted
/// peers (a client trusts itself).
pub async fn check_audience(
    p: &Provider,
    client_id: &str,
    scopes: &[String],
) -> Result<(), OAuthError> {
    let mut refused = Vec::new();
    for peer in peers(scopes) {
        if peer == client_id {
            continue;
        }
        match p.client(peer).await? {
            Some(c) if c.trusted_peers.iter().any(|t| t == client_id) => {}
            _ => refused.push(format!("{AUDIENCE_PREFIX}{peer}")),
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("Client can't request scope(s) {refused:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok = parse("openid email  openid audience:server:client_id:pachd").unwrap_or_default();
        assert_eq!(ok, ["openid", "email", "audience:server:client_id:pachd"]);
        assert_eq!(
            parse("email").map_err(|e| e.description),
            Err(r#"Missing required scope(s) ["openid"]."#.to_owned())
        );
        assert_eq!(
            parse("openid bogus").map_err(|e| e.description),
            Err(r#"Unrecognized scope(s) ["bogus"]"#.to_owned())
        );
        assert!(parse("openid audience:server:client_id:").is_err());
    }
}
