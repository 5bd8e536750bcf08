//! The `oidc` connector's config (docs/oidc-connector.md §1), parsed once at
//! [`crate::open`]. Values arrive validated by `tusk_core`, but this parser
//! stands on its own: a wrong type is a `Config` error that names the key
//! and never echoes the value (it may be the client secret).

use crate::error::{Error, config_err};
use serde_json::{Map, Value};
use tusk_core::Secret;

/// `pkceChallenge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkceSetting {
    /// `""`: S256 if the provider advertises it, else plain, else none.
    Auto,
    S256,
    Plain,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimMapping {
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub groups: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub token: Option<String>,
    pub auth: Option<String>,
    pub jwks: Option<String>,
    pub userinfo: Option<String>,
}

impl Overrides {
    pub fn any(&self) -> bool {
        self.token.is_some()
            || self.auth.is_some()
            || self.jwks.is_some()
            || self.userinfo.is_some()
    }
}

/// `claimModifications.newGroupFromClaims[]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewGroupFromClaims {
    pub claims: Vec<String>,
    pub delimiter: String,
    pub clear_delimiter: bool,
    pub prefix: String,
}

/// `claimModifications` (later Dex releases; the fork ignores them).
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimModifications {
    pub new_group_from_claims: Vec<NewGroupFromClaims>,
    /// `filterGroupClaims.groupsFilter`; a pattern that does not compile
    /// is dropped with a warning, like Dex.
    pub groups_filter: Option<regex::Regex>,
    pub group_prefix: String,
    pub group_suffix: String,
}

pub(crate) struct Config {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub redirect_uri: String,
    pub skip_callback_check: bool,
    pub basic_auth_unsupported: Option<bool>,
    /// What is sent upstream: `openid` first, then the configured scopes or
    /// the defaults `profile`, `email`; no duplicates.
    pub scopes: Vec<String>,
    /// Whether the admin wrote `scopes`: then exactly those are sent, and
    /// `offline_access` is never added on a client's behalf.
    pub scopes_explicit: bool,
    /// File paths or inline PEM (also base64-encoded PEM).
    pub root_cas: Vec<String>,
    pub insecure_skip_verify: bool,
    pub skip_email_verified: bool,
    pub enable_groups: bool,
    pub get_user_info: bool,
    /// Empty means `sub`.
    pub user_id_key: String,
    /// Empty means `name`.
    pub user_name_key: String,
    /// Sent as `prompt` with `access_type=offline`; `consent` when unset.
    pub prompt_type: String,
    pub acr_values: Vec<String>,
    pub override_claim_mapping: bool,
    pub mapping: ClaimMapping,
    pub overrides: Overrides,
    pub allowed_groups: Vec<String>,
    pub modifications: ClaimModifications,
    pub issuer_alias: Option<String>,
    pub pkce: PkceSetting,
}

impl Config {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the client secret goes in the POST body (client_secret_post)
    /// for sure: `basicAuthUnsupported: true`, or unset and the issuer is at
    /// Okta (`okta.com`, `oktapreview.com` or a subdomain), whose token
    /// endpoint rejects the Basic header. `false` keeps auto-detection.
    pub fn forces_client_secret_post(&self) -> bool {
        match self.basic_auth_unsupported {
            Some(forced) => forced,
            None => is_okta(&self.issuer),
        }
    }

    pub fn parse(id: &str, config: &Value) -> Result<Config, Error> {
        let obj = crate::fields::as_object(id, config, "the `oidc` config")?;
        let p = Parser { id, obj, path: "" };

        let issuer = crate::fields::req_str(id, obj, "", "issuer")?
            .trim()
            .to_owned();
        if url::Url::parse(&issuer).is_err() {
            return Err(config_err(
                id,
                format!(
                    "`issuer` (`{issuer}`) is not an absolute URL; write it exactly as the provider reports it, e.g. https://example.okta.com"
                ),
            ));
        }
        let client_id = crate::fields::req_str(id, obj, "", "clientID")?.to_owned();
        let client_secret = Secret::from(p.opt_str("clientSecret")?.unwrap_or_default());
        let redirect_uri = crate::fields::req_str(id, obj, "", "redirectURI")?
            .trim()
            .to_owned();
        if url::Url::parse(&redirect_uri).is_err() {
            return Err(config_err(
                id,
                format!(
                    "`redirectURI` (`{redirect_uri}`) is not an absolute URL; set it to the issuer followed by /callback"
                ),
            ));
        }

        let configured_scopes = p.str_list("scopes")?;
        let scopes_explicit = !configured_scopes.is_empty();
        let mut scopes = vec!["openid".to_owned()];
        let wanted = if configured_scopes.is_empty() {
            vec!["profile".to_owned(), "email".to_owned()]
        } else {
            configured_scopes
        };
        for s in wanted {
            let s = s.trim().to_owned();
            if !s.is_empty() && !scopes.contains(&s) {
                scopes.push(s);
            }
        }

        let root_cas = p.str_list("rootCAs")?;
        let prompt_type = match p.opt_str("promptType")? {
            Some(t) if !t.is_empty() => t.to_owned(),
            _ => "consent".to_owned(),
        };

        let mapping = match p.opt_map("claimMapping")? {
            Some(m) => {
                let mp = Parser {
                    id,
                    obj: m,
                    path: "claimMapping.",
                };
                ClaimMapping {
                    preferred_username: mp.opt_nonempty("preferred_username")?,
                    email: mp.opt_nonempty("email")?,
                    groups: mp.opt_nonempty("groups")?,
                }
            }
            None => ClaimMapping::default(),
        };
        let overrides = match p.opt_map("providerDiscoveryOverrides")? {
            Some(m) => {
                let op = Parser {
                    id,
                    obj: m,
                    path: "providerDiscoveryOverrides.",
                };
                let url = |key: &str| -> Result<Option<String>, Error> {
                    let v = op.opt_nonempty(key)?;
                    if let Some(u) = &v
                        && url::Url::parse(u).is_err()
                    {
                        return Err(config_err(
                            id,
                            format!(
                                "`providerDiscoveryOverrides.{key}` (`{u}`) is not an absolute URL"
                            ),
                        ));
                    }
                    Ok(v)
                };
                Overrides {
                    token: url("tokenURL")?,
                    auth: url("authURL")?,
                    jwks: url("jwksURL")?,
                    userinfo: url("userInfoURL")?,
                }
            }
            None => Overrides::default(),
        };

        let enable_groups = p.bool("insecureEnableGroups")?;
        let allowed_groups = p.str_list("allowedGroups")?;
        let modifications = p.claim_modifications()?;
        if !allowed_groups.is_empty()
            && !enable_groups
            && modifications.new_group_from_claims.is_empty()
        {
            return Err(config_err(
                id,
                "`allowedGroups` is set but no groups are read, so every login would be refused; set `insecureEnableGroups: true` (and make the provider send a groups claim) or remove `allowedGroups`".into(),
            ));
        }
        if obj
            .get("hostedDomains")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(config_err(
                id,
                "`hostedDomains` was removed from the oidc connector; use the `google` connector for hosted-domain restrictions, or restrict users with `allowedGroups`".into(),
            ));
        }

        let pkce = match p.opt_str("pkceChallenge")?.unwrap_or_default() {
            "" => PkceSetting::Auto,
            "S256" => PkceSetting::S256,
            "plain" => PkceSetting::Plain,
            other => {
                return Err(config_err(
                    id,
                    format!(
                        "`pkceChallenge` is `{other}`; use `S256`, `plain`, or leave it empty to follow the provider's discovery document"
                    ),
                ));
            }
        };

        Ok(Config {
            issuer,
            client_id,
            client_secret,
            redirect_uri,
            skip_callback_check: p.bool("insecureSkipIssuerCallbackDomainCheck")?,
            basic_auth_unsupported: p.opt_bool("basicAuthUnsupported")?,
            scopes,
            scopes_explicit,
            root_cas,
            insecure_skip_verify: p.bool("insecureSkipVerify")?,
            skip_email_verified: p.bool("insecureSkipEmailVerified")?,
            enable_groups,
            get_user_info: p.bool("getUserInfo")?,
            user_id_key: p.opt_str("userIDKey")?.unwrap_or_default().to_owned(),
            user_name_key: p.opt_str("userNameKey")?.unwrap_or_default().to_owned(),
            prompt_type,
            acr_values: p.str_list("acrValues")?,
            override_claim_mapping: p.bool("overrideClaimMapping")?,
            mapping,
            overrides,
            allowed_groups,
            modifications,
            issuer_alias: p.opt_nonempty("issuerAlias")?,
            pkce,
        })
    }
}

/// Whether the issuer is at Okta (`okta.com`, `oktapreview.com` or a
/// subdomain), whose token endpoint wants client_secret_post (Dex's
/// `knownBrokenAuthHeaderProvider`).
pub fn is_okta(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    ["okta.com", "oktapreview.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

struct Parser<'a> {
    id: &'a str,
    obj: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Parser<'a> {
    fn err(&self, key: &str, what: &str) -> Error {
        config_err(self.id, format!("`{}{key}` must be {what}", self.path))
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, Error> {
        crate::fields::opt_str(self.id, self.obj, self.path, key)
    }

    fn opt_nonempty(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .opt_str(key)?
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            // Helm's loose scalars, in case a config skipped validation.
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(self.err(key, "true or false")),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, Error> {
        Ok(self.opt_bool(key)?.unwrap_or(false))
    }

    fn str_list(&self, key: &str) -> Result<Vec<String>, Error> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err(key, "a list of strings")),
            Some(_) => Err(self.err(key, "a list of strings")),
        }
    }

    fn opt_map(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, Error> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.err(key, "a map")),
        }
    }

    fn claim_modifications(&self) -> Result<ClaimModifications, Error> {
        let Some(m) = self.opt_map("claimModifications")? else {
            return Ok(ClaimModifications::default());
        };
        let cm = Parser {
            id: self.id,
            obj: m,
            path: "claimModifications.",
        };
        let mut out = ClaimModifications::default();
        match m.get("newGroupFromClaims") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("claimModifications.newGroupFromClaims[{i}].");
                    let Value::Object(obj) = item else {
                        return Err(config_err(self.id, format!("`{path}` must be a map")));
                    };
                    let ip = Parser {
                        id: self.id,
                        obj,
                        path: &path,
                    };
                    out.new_group_from_claims.push(NewGroupFromClaims {
                        claims: ip.str_list("claims")?,
                        delimiter: ip.opt_str("delimiter")?.unwrap_or_default().to_owned(),
                        clear_delimiter: ip.bool("clearDelimiter")?,
                        prefix: ip.opt_str("prefix")?.unwrap_or_default().to_owned(),
                    });
                }
            }
            Some(_) => return Err(cm.err("newGroupFromClaims", "a list")),
        }
        if let Some(f) = cm.opt_map("filterGroupClaims")? {
            let fp = Parser {
                id: self.id,
                obj: f,
                path: "claimModifications.filterGroupClaims.",
            };
            if let Some(pattern) = fp.opt_nonempty("groupsFilter")? {
                match regex::Regex::new(&pattern) {
                    Ok(re) => out.groups_filter = Some(re),
                    Err(e) => tracing::warn!(
                        connector = %self.id,
                        error = %e,
                        "claimModifications.filterGroupClaims.groupsFilter does not compile; groups are not filtered"
                    ),
                }
            }
        }
        if let Some(g) = cm.opt_map("modifyGroupNames")? {
            let gp = Parser {
                id: self.id,
                obj: g,
                path: "claimModifications.modifyGroupNames.",
            };
            out.group_prefix = gp.opt_str("prefix")?.unwrap_or_default().to_owned();
            out.group_suffix = gp.opt_str("suffix")?.unwrap_or_default().to_owned();
        }
        Ok(out)
    }
}
