//! Verified claims to an [`Identity`] (docs/oidc-connector.md §5), with tusk's
//! relaxations: the user name falls back to `preferred_username` and then
//! `email`, and `email_verified` may be the strings `"true"`/`"false"`
//! (AWS Cognito). Every failure names the missing claim and the option
//! that fixes it.

use super::config::Config;
use crate::connector::Identity;
use serde_json::{Map, Value};

pub(crate) fn identity(cfg: &Config, claims: &Map<String, Value>) -> Result<Identity, String> {
    let text = |key: &str| claims.get(key).and_then(Value::as_str);

    let sub = text("sub").ok_or_else(|| {
        "missing \"sub\" claim; the provider's token has no subject, which OpenID Connect requires".to_owned()
    })?;
    let user_id = if cfg.user_id_key.is_empty() {
        sub.to_owned()
    } else {
        text(&cfg.user_id_key).map(str::to_owned).ok_or_else(|| {
            format!(
                "oidc: not found {key} claim; the provider sent no string \"{key}\" claim for the user id: set `userIDKey` to a claim it sends, or remove `userIDKey` to use \"sub\"{userinfo}",
                key = cfg.user_id_key,
                userinfo = userinfo_hint(cfg),
            )
        })?
    };

    let mut preferred_username = text("preferred_username").map(str::to_owned);
    if (preferred_username.is_none() || cfg.override_claim_mapping)
        && let Some(key) = &cfg.mapping.preferred_username
    {
        preferred_username = text(key).map(str::to_owned);
    }
    let preferred_username = preferred_username.unwrap_or_default();

    let has_email_scope = cfg.has_scope("email");
    let mut email_key = "email".to_owned();
    let mut email = text("email").map(str::to_owned);
    if (email.is_none() || cfg.override_claim_mapping)
        && let Some(key) = &cfg.mapping.email
    {
        email_key = key.clone();
        email = text(key).map(str::to_owned);
    }
    if email.is_none() && has_email_scope {
        return Err(format!(
            "missing email claim, not found \"{email_key}\" key; the connector requests the \"email\" scope but the provider sent no \"{email_key}\" claim: make the provider release it, map another claim with `claimMapping.email`, or drop \"email\" from `scopes`{}",
            userinfo_hint(cfg)
        ));
    }
    let email = email.unwrap_or_default();

    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    let email_verified = match email_verified {
        Some(v) => v,
        None if cfg.skip_email_verified => true,
        None if has_email_scope => {
            return Err(format!(
                "missing \"email_verified\" claim; the provider sent an email without saying whether it is verified: set `insecureSkipEmailVerified: true` to treat a missing claim as verified{}",
                userinfo_hint(cfg)
            ));
        }
        None => false,
    };

    let name_key = if cfg.user_name_key.is_empty() {
        "name"
    } else {
        cfg.user_name_key.as_str()
    };
    let username = [text(name_key), Some(preferred_username.as_str()), Some(email.as_str())]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "missing \"{name_key}\" claim; the provider sent none of \"{name_key}\", \"preferred_username\" and \"email\": set `userNameKey` to a claim it sends{}",
                userinfo_hint(cfg)
            )
        })?;

    let groups = groups(cfg, claims)?;

    Ok(Identity {
        user_id,
        username,
        preferred_username,
        email,
        email_verified,
        groups,
        connector_data: None,
        upstream_id_token: None,
    })
}

fn userinfo_hint(cfg: &Config) -> &'static str {
    if cfg.get_user_info {
        ""
    } else {
        ", or set `getUserInfo: true` if the provider puts it only in userinfo"
    }
}

fn groups(cfg: &Config, claims: &Map<String, Value>) -> Result<Vec<String>, String> {
    let mut groups: Vec<String> = Vec::new();
    if cfg.enable_groups {
        let mut key = "groups".to_owned();
        let mut value = claims.get("groups").filter(|v| !v.is_null());
        if (value.is_none() || cfg.override_claim_mapping)
            && let Some(mapped) = &cfg.mapping.groups
        {
            key = mapped.clone();
            value = claims.get(mapped).filter(|v| !v.is_null());
        }
        let malformed =
            || format!("malformed \"{key}\" claim; it must be a list of strings (or one string)");
        match value {
            None => {}
            Some(Value::String(s)) => groups.push(s.clone()),
            Some(Value::Array(items)) => {
                for item in items {
                    groups.push(item.as_str().ok_or_else(malformed)?.to_owned());
                }
            }
            Some(_) => return Err(malformed()),
        }
        if let Some(re) = &cfg.modifications.groups_filter {
            groups.retain(|g| re.is_match(g));
        }
    }

    for rule in &cfg.modifications.new_group_from_claims {
        let mut segments = vec![rule.prefix.clone()];
        for claim in &rule.claims {
            // Non-string claims are skipped, like Dex.
            let Some(value) = claims.get(claim).and_then(Value::as_str) else {
                continue;
            };
            segments.push(if rule.clear_delimiter && !rule.delimiter.is_empty() {
                value.replace(&rule.delimiter, "")
            } else {
                value.to_owned()
            });
        }
        if segments.len() > 1 {
            groups.push(segments.join(&rule.delimiter));
        }
    }

    if !cfg.allowed_groups.is_empty() {
        groups.retain(|g| cfg.allowed_groups.contains(g));
        if groups.is_empty() {
            return Err(
                "user not a member of allowed groups; add one of the user's groups to `allowedGroups`, or the user to one of them at the provider".into(),
            );
        }
    }

    let (prefix, suffix) = (
        &cfg.modifications.group_prefix,
        &cfg.modifications.group_suffix,
    );
    if !prefix.is_empty() || !suffix.is_empty() {
        for g in &mut groups {
            *g = format!("{prefix}{g}{suffix}");
        }
    }
    let mut seen = std::collections::HashSet::new();
    groups.retain(|g| seen.insert(g.clone()));
    Ok(groups)
}
