//! `github`: log in through GitHub or GitHub Enterprise Server with an
//! OAuth app, as Dex's `github` connector does, field for field
//! (docs/github-connector.md).
//!
//! - The login URL asks for `user:email`, plus `read:org` when groups are
//!   needed, with the provider's auth request id as `state` and a PKCE
//!   S256 challenge derived from the per-request secret the provider
//!   stores ([`UpstreamParams`]): `code_verifier =
//!   base64url(SHA-256("tusk-github-pkce:" + nonce))` unless the provider
//!   passes its own. GitHub ignores PKCE parameters it does not know, so
//!   older Enterprise servers keep working.
//! - The callback exchanges the code, then reads `/user`, `/user/emails`
//!   (a verified address: `preferredEmailDomain`, else the primary one),
//!   the membership of each configured organization, and `/user/teams`
//!   (every page). Who may log in and which groups they get is decided in
//!   `membership`, without I/O.
//! - Refresh re-reads all of it with the access token kept as
//!   `connector_data`, so a user who left the organization (or whose token
//!   was revoked) can no longer refresh. Expiring user tokens (GitHub Apps)
//!   are renewed with their refresh token first.
//! - `open` does no I/O: a reachability check against github.com would
//!   spend rate limit on every retry; `tusk doctor` checks it instead.

mod api;
mod config;
mod membership;

use crate::connector::{
    CallbackConnector, Connector, Identity, RefreshConnector, Scopes, UpstreamParams,
};
use crate::error::{Error, config_err};
use crate::now::unix_now;
use crate::query::{callback_error, query_param, repeated, truncate};
use api::{Api, ApiError};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use config::{Access, Config};
use membership::{Denied, Email, NoEmail, Org, Team, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tusk_core::Secret;

pub use api::{Endpoints, root_ca_pem};

/// An access token this close to its expiry is renewed before use.
const EXPIRY_MARGIN_SECS: i64 = 30;

/// The endpoints a `github` config points at: github.com, or its
/// `hostName`. For `tusk doctor`.
pub fn endpoints(id: &str, config: &Value) -> Result<Endpoints, Error> {
    let cfg = Config::parse(id, config)?;
    Ok(Endpoints::new(cfg.host_name.as_deref()))
}

/// Opens a `github` connector whose GitHub lives at the given web and API
/// roots (plain http allowed) with the given request timeout. For tests
/// that need a stand-in for github.com itself.
#[doc(hidden)]
pub fn open_at(
    id: &str,
    config: &Value,
    endpoints: Endpoints,
    timeout: Duration,
) -> Result<Arc<dyn Connector>, Error> {
    Ok(Arc::new(Github::build(
        id,
        config,
        Some(endpoints),
        timeout,
    )?))
}

pub(crate) struct Github {
    id: String,
    cfg: Config,
    api: Api,
}

impl fmt::Debug for Github {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Github")
            .field("id", &self.id)
            .field("client_id", &self.cfg.client_id)
            .field("client_secret", &self.cfg.client_secret)
            .field("redirect_uri", &self.cfg.redirect_uri)
            .field("access", &self.cfg.access)
            .field("api", &self.api.endpoints.api)
            .finish_non_exhaustive()
    }
}

/// What refresh needs, stored (sealed) with the session.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "accessToken")]
    access_token: String,
    #[serde(
        rename = "refreshToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    refresh_token: Option<String>,
    /// Unix seconds; only for expiring tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry: Option<i64>,
}

/// Why reading the user failed.
enum Fail {
    Denied { login: String, why: Denied },
    NoEmail { login: String, why: NoEmail },
    Api(ApiError),
}

impl Github {
    pub(crate) fn open(id: &str, config: &Value) -> Result<Github, Error> {
        Github::build(id, config, None, api::REQUEST_TIMEOUT)
    }

    fn build(
        id: &str,
        config: &Value,
        endpoints: Option<Endpoints>,
        timeout: Duration,
    ) -> Result<Github, Error> {
        let cfg = Config::parse(id, config)?;
        let endpoints = endpoints.unwrap_or_else(|| Endpoints::new(cfg.host_name.as_deref()));
        let http = api::client(cfg.root_ca.as_deref(), timeout).map_err(|e| config_err(id, e))?;
        Ok(Github {
            id: id.to_owned(),
            cfg,
            api: Api { http, endpoints },
        })
    }

    fn upstream_err(&self, reason: String) -> Error {
        Error::Upstream {
            connector: self.id.clone(),
            reason,
        }
    }

    fn refresh_err(&self, reason: String) -> Error {
        Error::Refresh {
            connector: self.id.clone(),
            reason,
        }
    }

    fn verifier(&self, upstream: &UpstreamParams) -> Result<String, Error> {
        if let Some(v) = upstream.pkce_verifier.as_deref().filter(|v| !v.is_empty()) {
            return Ok(v.to_owned());
        }
        if upstream.nonce.is_empty() {
            return Err(Error::Internal(format!(
                "connector `{}`: the provider passed no per-request secret for PKCE",
                self.id
            )));
        }
        Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(
            format!("tusk-github-pkce:{}", upstream.nonce).as_bytes(),
        )))
    }

    fn scope(&self, scopes: &Scopes) -> &'static str {
        if self.cfg.groups_required(scopes.groups) {
            "user:email read:org"
        } else {
            "user:email"
        }
    }

    /// Reads who the token belongs to and decides whether they may log in.
    async fn read_identity(&self, token: &str, scopes: &Scopes) -> Result<Identity, Fail> {
        let user: User = self.api.get(token, "/user").await.map_err(Fail::Api)?;
        let public = user.email.clone().filter(|e| !e.is_empty());
        let email = match (public, &self.cfg.preferred_email_domain) {
            (Some(e), None) => e,
            _ => {
                let emails: Vec<Email> = self
                    .api
                    .get_all(token, "/user/emails")
                    .await
                    .map_err(|e| match e {
                        // Fine-grained tokens and GitHub Apps without the
                        // email permission get 403 or 404 here.
                        ApiError::Other(why) => Fail::Api(ApiError::Other(format!(
                            "{why} (the user has no public profile email, and the token may not read their addresses: an OAuth app needs the `user:email` scope, a GitHub App the account's \"Email addresses\" permission (read); grant it and log in again)"
                        ))),
                        other => Fail::Api(other),
                    })?;
                membership::choose_email(
                    &emails,
                    self.cfg.preferred_email_domain.as_deref(),
                    self.cfg.host_name.is_some(),
                )
                .map_err(|why| Fail::NoEmail {
                    login: user.login.clone(),
                    why,
                })?
            }
        };
        let groups = if self.cfg.groups_required(scopes.groups) {
            self.read_groups(token, &user.login, scopes.groups).await?
        } else {
            None
        };
        let username = user
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| user.login.clone());
        Ok(Identity {
            user_id: if self.cfg.use_login_as_id {
                user.login.clone()
            } else {
                user.id.to_string()
            },
            username,
            preferred_username: user.login,
            email,
            email_verified: true,
            groups: groups.unwrap_or_default(),
            connector_data: None,
            upstream_id_token: None,
        })
    }

    async fn read_groups(
        &self,
        token: &str,
        login: &str,
        groups_scope: bool,
    ) -> Result<Option<Vec<String>>, Fail> {
        let orgs_to_check: Vec<&str> = match &self.cfg.access {
            Access::Orgs(rules) => rules.iter().map(|r| r.name.as_str()).collect(),
            Access::LegacyOrg(org) => vec![org.as_str()],
            Access::Anyone { .. } => Vec::new(),
        };
        let mut member = Vec::with_capacity(orgs_to_check.len());
        for org in &orgs_to_check {
            member.push(
                self.api
                    .is_member(token, org, login)
                    .await
                    .map_err(Fail::Api)?,
            );
        }
        let load_all = matches!(
            self.cfg.access,
            Access::Anyone {
                load_all_groups: true
            }
        ) && groups_scope;
        let any_member = member.iter().any(|m| *m);
        let teams: Vec<Team> = if any_member || load_all {
            self.api
                .get_all(token, "/user/teams")
                .await
                .map_err(Fail::Api)?
        } else {
            Vec::new()
        };
        let user_orgs: Vec<Org> = if load_all {
            self.api
                .get_all(token, "/user/orgs")
                .await
                .map_err(Fail::Api)?
        } else {
            Vec::new()
        };
        membership::groups(
            &self.cfg.access,
            groups_scope,
            &member,
            &user_orgs,
            &teams,
            self.cfg.team_name_field,
        )
        .map_err(|why| Fail::Denied {
            login: login.to_owned(),
            why,
        })
    }

    /// The plain-words reason for a refused login or refresh; the detail
    /// (which organizations and teams) goes to the log.
    fn explain(&self, fail: Fail, refresh: bool) -> String {
        match fail {
            Fail::Denied { login, why } => {
                let configured: Vec<String> = match &self.cfg.access {
                    Access::Orgs(rules) => rules
                        .iter()
                        .map(|r| {
                            if r.teams.is_empty() {
                                r.name.clone()
                            } else {
                                format!("{} (teams {})", r.name, r.teams.join(", "))
                            }
                        })
                        .collect(),
                    Access::LegacyOrg(org) => vec![org.clone()],
                    Access::Anyone { .. } => Vec::new(),
                };
                let (what, detail) = match &why {
                    Denied::NotInOrgs => (
                        "is not a member of an organization allowed to log in here".to_owned(),
                        "no configured organization lists the user as a member (or the OAuth app is not authorized to read its members)".to_owned(),
                    ),
                    Denied::NotInTeams { orgs } => (
                        "is not in a team allowed to log in here".to_owned(),
                        format!("member of {} but of none of the listed teams", orgs.join(", ")),
                    ),
                };
                tracing::info!(connector = %self.id, user = %login, allowed = %configured.join("; "), refresh, "github: login refused: {detail}");
                format!(
                    "GitHub user `{}` {what}; ask an administrator for access",
                    truncate(&login, 100)
                )
            }
            Fail::NoEmail { login, why } => {
                let detail = match why {
                    NoEmail::NoVerified => match &self.cfg.preferred_email_domain {
                        Some(d) => format!(
                            "has no verified primary email address and no verified address in `{d}`"
                        ),
                        None => "has no verified primary email address".to_owned(),
                    },
                    NoEmail::Malformed => "has an email address without `@`".to_owned(),
                };
                format!(
                    "GitHub user `{}` {detail}; verify an address at GitHub (Settings → Emails) and log in again",
                    truncate(&login, 100)
                )
            }
            Fail::Api(e) => e.text().to_owned(),
        }
    }

    /// Renews an expiring access token with its refresh token, when due.
    async fn fresh_token(&self, stored: Stored, now: i64) -> Result<Stored, Error> {
        let due = stored
            .expiry
            .is_some_and(|exp| exp <= now + EXPIRY_MARGIN_SECS);
        let Some(refresh_token) = stored.refresh_token.as_deref().filter(|_| due) else {
            return Ok(stored);
        };
        let answer = self
            .api
            .token(&[
                ("client_id", self.cfg.client_id.as_str()),
                ("client_secret", self.cfg.client_secret.expose()),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .await
            .map_err(|e| self.api_refresh_err(e))?;
        Ok(Stored {
            access_token: answer.access_token.unwrap_or_default(),
            refresh_token: answer.refresh_token.or(stored.refresh_token),
            expiry: answer.expires_in.map(|s| now + s),
        })
    }

    fn api_refresh_err(&self, e: ApiError) -> Error {
        match e {
            ApiError::Transient(why) => Error::Unavailable {
                connector: self.id.clone(),
                reason: why,
            },
            ApiError::Unauthorized(why) => self.refresh_err(format!(
                "GitHub no longer accepts the session's access token (revoked, or the OAuth app's authorization was removed): {why}"
            )),
            ApiError::Other(why) => self.refresh_err(why),
        }
    }
}

#[async_trait]
impl Connector for Github {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "github"
    }

    fn callback(&self) -> Option<&dyn CallbackConnector> {
        Some(self)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl CallbackConnector for Github {
    fn login_url(
        &self,
        scopes: &Scopes,
        callback_url: &str,
        state: &str,
        upstream: &UpstreamParams,
    ) -> Result<String, Error> {
        if self.cfg.redirect_uri != callback_url {
            return Err(config_err(
                &self.id,
                format!(
                    "expected callback URL \"{callback_url}\" did not match the URL in the config \"{}\"; set `redirectURI` to \"{callback_url}\" and make it the OAuth app's Authorization callback URL at GitHub",
                    self.cfg.redirect_uri
                ),
            ));
        }
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier(upstream)?.as_bytes()));
        let mut url = url::Url::parse(&self.api.endpoints.authorize).map_err(|e| {
            config_err(
                &self.id,
                format!(
                    "the authorization URL `{}` does not parse ({e}); check `hostName`",
                    self.api.endpoints.authorize
                ),
            )
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.cfg.client_id)
            .append_pair("redirect_uri", &self.cfg.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", self.scope(scopes))
            .append_pair("state", state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn handle_callback(
        &self,
        scopes: &Scopes,
        _callback_url: &str,
        query: &[(String, String)],
        upstream: &UpstreamParams,
    ) -> Result<Identity, Error> {
        if let Some(key) = repeated(query, &["code", "state", "error", "error_description"]) {
            return Err(self.upstream_err(format!(
                "the callback has the parameter `{key}` more than once; refused (start the login again)"
            )));
        }
        if let Some(error) = callback_error(query) {
            return Err(self.upstream_err(format!("GitHub answered {error}")));
        }
        let code = query_param(query, "code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                self.upstream_err("the callback has neither a code nor an error parameter".into())
            })?;
        let verifier = self.verifier(upstream)?;
        let answer = self
            .api
            .token(&[
                ("client_id", self.cfg.client_id.as_str()),
                ("client_secret", self.cfg.client_secret.expose()),
                ("code", code),
                ("redirect_uri", self.cfg.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .await
            .map_err(|e| self.upstream_err(format!("github: failed to get token: {}", e.text())))?;
        let token = answer.access_token.clone().unwrap_or_default();
        let mut identity = self
            .read_identity(&token, scopes)
            .await
            .map_err(|f| self.upstream_err(self.explain(f, false)))?;
        if scopes.offline_access {
            let stored = Stored {
                access_token: token,
                refresh_token: answer.refresh_token,
                expiry: answer.expires_in.map(|s| unix_now() + s),
            };
            let text = serde_json::to_string(&stored)
                .map_err(|e| Error::Internal(format!("connector `{}`: {e}", self.id)))?;
            identity.connector_data = Some(Secret::from(text));
        }
        Ok(identity)
    }
}

#[async_trait]
impl RefreshConnector for Github {
    async fn refresh(&self, scopes: &Scopes, identity: Identity) -> Result<Identity, Error> {
        let Some(data) = identity.connector_data.as_ref() else {
            return Err(self.refresh_err(
                "no GitHub access token is stored for this session (it was not asked for offline access)".into(),
            ));
        };
        let stored: Stored = serde_json::from_str(data.expose()).map_err(|_| {
            self.refresh_err("the stored GitHub session data does not parse".into())
        })?;
        if stored.access_token.is_empty() && stored.refresh_token.is_none() {
            return Err(
                self.refresh_err("no GitHub access token is stored for this session".into())
            );
        }
        let stored = self.fresh_token(stored, unix_now()).await?;
        let mut fresh = match self.read_identity(&stored.access_token, scopes).await {
            Ok(i) => i,
            Err(Fail::Api(e)) => return Err(self.api_refresh_err(e)),
            Err(f) => return Err(self.refresh_err(self.explain(f, true))),
        };
        let text = serde_json::to_string(&stored)
            .map_err(|e| Error::Internal(format!("connector `{}`: {e}", self.id)))?;
        fresh.connector_data = Some(Secret::from(text));
        Ok(fresh)
    }
}
