//! The `github` connector's config, in Dex's keys (docs/github-connector.md
//! §1), parsed once at [`crate::open`]. The combinations Dex refuses are
//! refused here too, with the fix in the message; a wrong type names the
//! key and never echoes the value (it may be the client secret).

use crate::error::{Error, config_err};
use crate::fields::{as_object, opt_str, req_str};
use serde_json::{Map, Value};
use tusk_core::Secret;

/// `teamNameField`: which of a team's names become groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TeamNameField {
    /// `""` or `name`: the display name, e.g. `Data Engineers`.
    Name,
    /// `slug`: the URL form, e.g. `data-engineers`.
    Slug,
    /// `both`: the name, then the slug.
    Both,
}

/// One `orgs` entry: members of `name` may log in, and when `teams` is
/// not empty only members of one of those teams (matched by the names
/// `teamNameField` selects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrgRule {
    pub name: String,
    pub teams: Vec<String>,
}

/// Who may log in and which groups they get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// Neither `org` nor `orgs`: anyone with a GitHub account; groups only
    /// with `loadAllGroups` and the `groups` scope.
    Anyone { load_all_groups: bool },
    /// `orgs`: groups `org:team` from the listed organizations.
    Orgs(Vec<OrgRule>),
    /// The legacy `org`: members of that organization (tusk checks the
    /// membership, which Dex does not); groups are the bare team names.
    LegacyOrg(String),
}

pub(crate) struct Config {
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub redirect_uri: String,
    pub access: Access,
    /// `hostName`: GitHub Enterprise Server, e.g. `github.example.com`.
    pub host_name: Option<String>,
    /// `rootCA`: a file path, base64 of PEM, or PEM text (Dex's order).
    pub root_ca: Option<String>,
    pub team_name_field: TeamNameField,
    pub use_login_as_id: bool,
    /// `preferredEmailDomain`, e.g. `example.com` or `*.example.com`.
    pub preferred_email_domain: Option<String>,
}

impl Config {
    pub fn parse(id: &str, config: &Value) -> Result<Config, Error> {
        let obj = as_object(id, config, "the `github` config")?;
        let client_id = req_str(id, obj, "", "clientID")?.to_owned();
        let client_secret = Secret::from(req_str(id, obj, "", "clientSecret")?);
        let redirect_uri = req_str(id, obj, "", "redirectURI")?.trim().to_owned();
        if url::Url::parse(&redirect_uri).is_err() {
            return Err(config_err(
                id,
                format!(
                    "`redirectURI` (`{redirect_uri}`) is not an absolute URL; set it to tusk's issuer followed by /callback, the Authorization callback URL registered in the GitHub OAuth app"
                ),
            ));
        }

        let org = opt_str(id, obj, "", "org")?.filter(|s| !s.is_empty());
        let orgs = parse_orgs(id, obj)?;
        let load_all_groups = opt_bool(id, obj, "loadAllGroups")?;
        let access = match (org, orgs.is_empty()) {
            (Some(_), false) => {
                return Err(config_err(
                    id,
                    "`org` and `orgs` are both set (Dex refuses this too); move the `org` value into `orgs` as `- name: <org>` and remove `org`".into(),
                ));
            }
            (Some(org), true) => {
                tracing::warn!(connector = %id, "github: the legacy field `org` is used; switch to `orgs` (`- name: {org}`), whose groups are `org:team`");
                Access::LegacyOrg(org.to_owned())
            }
            (None, false) => Access::Orgs(orgs),
            (None, true) => Access::Anyone { load_all_groups },
        };

        let host_name = opt_str(id, obj, "", "hostName")?
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(h) = &host_name
            && (h.contains('/') || h.contains('@') || h.contains(char::is_whitespace))
        {
            return Err(config_err(
                id,
                format!(
                    "`hostName` (`{h}`) must be a host name, optionally with a port, not a URL or path; write e.g. `github.example.com`"
                ),
            ));
        }
        let root_ca = opt_str(id, obj, "", "rootCA")?
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned);
        if root_ca.is_some() && host_name.is_none() {
            return Err(config_err(
                id,
                "`rootCA` is set without `hostName` (Dex refuses this too): a private CA only makes sense for GitHub Enterprise; set `hostName` or remove `rootCA`".into(),
            ));
        }
        let team_name_field = match opt_str(id, obj, "", "teamNameField")? {
            None | Some("") | Some("name") => TeamNameField::Name,
            Some("slug") => TeamNameField::Slug,
            Some("both") => TeamNameField::Both,
            Some(other) => {
                return Err(config_err(
                    id,
                    format!(
                        "`teamNameField` is `{}`; it must be `name` (the default), `slug` or `both`",
                        crate::query::truncate(other, 40)
                    ),
                ));
            }
        };
        let preferred_email_domain = opt_str(id, obj, "", "preferredEmailDomain")?
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(d) = &preferred_email_domain
            && d.ends_with('*')
        {
            return Err(config_err(
                id,
                format!(
                    "`preferredEmailDomain` (`{d}`) ends with `*` (Dex refuses this too); a `*` may stand only for a leading label, e.g. `*.example.com`"
                ),
            ));
        }
        Ok(Config {
            client_id,
            client_secret,
            redirect_uri,
            access,
            host_name,
            root_ca,
            team_name_field,
            use_login_as_id: opt_bool(id, obj, "useLoginAsID")?,
            preferred_email_domain,
        })
    }

    /// Whether GitHub's `read:org` scope is needed and groups are read:
    /// with `org`/`orgs`, or when the client asked for groups (Dex's rule).
    pub fn groups_required(&self, groups_scope: bool) -> bool {
        !matches!(self.access, Access::Anyone { .. }) || groups_scope
    }
}

fn opt_bool(id: &str, obj: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(config_err(id, format!("`{key}` must be true or false"))),
    }
}

fn parse_orgs(id: &str, obj: &Map<String, Value>) -> Result<Vec<OrgRule>, Error> {
    let items = match obj.get("orgs") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(config_err(
                id,
                "`orgs` must be a list of `{name, teams}` entries".into(),
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("orgs[{i}].");
        let entry = as_object(id, item, &format!("`orgs[{i}]`"))?;
        let name = req_str(id, entry, &path, "name")?.trim().to_owned();
        let teams = match entry.get("teams") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ts)) => {
                let mut teams = Vec::with_capacity(ts.len());
                for t in ts {
                    match t.as_str() {
                        Some(s) if !s.is_empty() => teams.push(s.to_owned()),
                        _ => {
                            return Err(config_err(
                                id,
                                format!("`{path}teams` must be a list of team names"),
                            ));
                        }
                    }
                }
                teams
            }
            Some(_) => {
                return Err(config_err(
                    id,
                    format!("`{path}teams` must be a list of team names"),
                ));
            }
        };
        if out
            .iter()
            .any(|o: &OrgRule| o.name.eq_ignore_ascii_case(&name))
        {
            return Err(config_err(
                id,
                format!("`orgs` lists `{name}` twice; merge the entries' teams into one"),
            ));
        }
        out.push(OrgRule { name, teams });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"clientID": "cid", "clientSecret": "s3cret-value", "redirectURI": "https://pach.example/dex/callback"})
    }

    fn with(extra: Value) -> Value {
        let mut v = base();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    /// Each row: config additions, and `Ok(())` or a fragment of the error.
    fn check(rows: &[(Value, Result<(), &str>)]) {
        for (extra, want) in rows {
            let got = Config::parse("gh", &with(extra.clone()));
            match (got, want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(frag)) => {
                    let text = e.to_string();
                    assert!(text.contains(frag), "{extra}: `{text}` lacks `{frag}`");
                    assert!(!text.contains("s3cret-value"), "{extra}: leaks the secret");
                }
                (Ok(_), Err(frag)) => panic!("{extra}: accepted, want error `{frag}`"),
                (Err(e), Ok(())) => panic!("{extra}: refused: {e}"),
            }
        }
    }

    #[test]
    fn refuses_what_dex_refuses_and_more() {
        check(&[
            (json!({}), Ok(())),
            (json!({"orgs": [{"name": "acme", "teams": ["a"]}]}), Ok(())),
            (json!({"org": "acme"}), Ok(())),
            (
                json!({"org": "acme", "orgs": [{"name": "b"}]}),
                Err("`org` and `orgs` are both set"),
            ),
            (
                json!({"hostName": "github.example.com", "rootCA": "/ca.pem"}),
                Ok(()),
            ),
            (
                json!({"hostName": "https://github.example.com"}),
                Err("must be a host name"),
            ),
            (
                json!({"hostName": "github.example.com/api"}),
                Err("must be a host name"),
            ),
            (json!({"rootCA": "/ca.pem"}), Err("without `hostName`")),
            (json!({"teamNameField": "slug"}), Ok(())),
            (json!({"teamNameField": "both"}), Ok(())),
            (
                json!({"teamNameField": "id"}),
                Err("must be `name` (the default), `slug` or `both`"),
            ),
            (json!({"preferredEmailDomain": "*.example.com"}), Ok(())),
            (
                json!({"preferredEmailDomain": "example.*"}),
                Err("ends with `*`"),
            ),
            (json!({"orgs": [{"teams": ["a"]}]}), Err("orgs[0].name")),
            (
                json!({"orgs": [{"name": "a", "teams": "t"}]}),
                Err("`orgs[0].teams` must be a list"),
            ),
            (
                json!({"orgs": [{"name": "a"}, {"name": "A"}]}),
                Err("lists `A` twice"),
            ),
            (json!({"orgs": "acme"}), Err("`orgs` must be a list")),
            (
                json!({"loadAllGroups": "yes"}),
                Err("`loadAllGroups` must be true or false"),
            ),
            (json!({"clientSecret": ""}), Err("no clientSecret supplied")),
            (
                json!({"clientSecret": 5}),
                Err("`clientSecret` must be a string"),
            ),
            (
                json!({"redirectURI": "dex/callback"}),
                Err("not an absolute URL"),
            ),
        ]);
    }

    #[test]
    fn groups_are_required_with_orgs_or_the_groups_scope() {
        let anyone = Config::parse("gh", &base()).unwrap();
        assert!(!anyone.groups_required(false));
        assert!(anyone.groups_required(true));
        let orgs = Config::parse("gh", &with(json!({"orgs": [{"name": "acme"}]}))).unwrap();
        assert!(orgs.groups_required(false));
    }
}
