//! `ldap`: a password connector against an LDAP directory (OpenLDAP,
//! Active Directory, ...), after Dex's connector of the same name.
//!
//! A login opens one connection, binds as the service account (`bindDN`),
//! finds the user with `userSearch`, binds as the user's DN with the typed
//! password, rebinds as the service account for `groupSearch`, and closes.
//! A connection per login keeps no state that a directory restart could
//! break, and costs one TCP (and TLS) handshake, which a password login can
//! afford. Every step has a timeout ([`TIMEOUT`]), so an unreachable
//! directory fails a login in seconds.
//!
//! Layout: `config` parses the Dex dialect, `filter` holds the pure
//! filter building and entry mapping, `tls` the rustls client config; this
//! file holds the network code. Each operation runs in its own task, so a
//! panic inside the LDAP client on a malformed reply becomes an error.

mod config;
mod filter;
mod tls;

use crate::connector::{Connector, Identity, PasswordConnector, RefreshConnector, Scopes};
use crate::error::Error;
use async_trait::async_trait;
use config::{Config, Scope as CfgScope, Transport};
use filter::{Entry, RefreshData};
use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tusk_core::Secret;

/// The limit on connecting (TCP and TLS) and on each LDAP operation.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// LDAP result codes (RFC 4511 appendix A) the connector tells apart.
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_INVALID_CREDENTIALS: u32 = 49;
const RC_CONSTRAINT_VIOLATION: u32 = 19;
const RC_SIZE_LIMIT_EXCEEDED: u32 = 4;

/// Passwords longer than this are refused without a bind, like `local`.
const MAX_PASSWORD_BYTES: usize = 4096;

pub struct Ldap {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    config: Config,
    /// Built by `Connector::open` (it reads files); built on demand if a
    /// login comes first.
    tls: RwLock<Option<Arc<rustls::ClientConfig>>>,
}

impl fmt::Debug for Ldap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ldap")
            .field("id", &self.inner.id)
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Ldap {
    pub fn open(id: &str, value: &serde_json::Value) -> Result<Self, Error> {
        Ok(Ldap {
            inner: Arc::new(Inner {
                id: id.to_owned(),
                config: config::parse(id, value)?,
                tls: RwLock::new(None),
            }),
        })
    }

    /// Runs `f` on its own task: a panic in the LDAP client becomes an
    /// internal error instead of taking the caller down.
    async fn task<T, F>(&self, f: impl FnOnce(Arc<Inner>) -> F) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::spawn(f(self.inner.clone())).await {
            Ok(r) => r,
            Err(e) => Err(Error::Internal(format!(
                "connector `{}`: the LDAP client failed on a reply from the directory: {e}",
                self.inner.id
            ))),
        }
    }
}

/// A failure talking to the directory: what happened, and the fix.
#[derive(Debug)]
struct Fail {
    detail: String,
    fix: String,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fix.is_empty() {
            f.write_str(&self.detail)
        } else {
            write!(f, "{}; {}", self.detail, self.fix)
        }
    }
}

impl From<String> for Fail {
    fn from(detail: String) -> Self {
        Fail {
            detail,
            fix: String::new(),
        }
    }
}

/// What went wrong talking to the directory, with the fix.
fn describe(config: &Config, step: &str, e: &LdapError) -> Fail {
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !cause.contains(&text) {
            cause = format!("{cause}: {text}");
        }
        source = s.source();
    }
    let fix = match e {
        LdapError::Timeout { .. } => format!(
            "the directory did not answer within {}s; check that `{}` is up and reachable from tusk",
            TIMEOUT.as_secs(),
            config.host
        ),
        LdapError::LdapResult { result } if result.rc == RC_INVALID_CREDENTIALS => {
            "the directory refused the service account: check `bindDN` and `bindPW`".into()
        }
        LdapError::LdapResult { result } if result.rc == RC_NO_SUCH_OBJECT => {
            "the base DN does not exist in the directory: check `userSearch.baseDN` and `groupSearch.baseDN`".into()
        }
        LdapError::LdapResult { .. } => "see the directory's result code and text above".into(),
        _ if config.transport == Transport::Ldaps && cause.contains("handshake eof") => format!(
            "`{}` closed the connection during the TLS handshake: it may speak plain LDAP there; give the LDAPS port (636), or set `startTLS: true` for port 389",
            config.host
        ),
        _ if cause.contains("certificate") || cause.contains("Certificate") || cause.contains("tls") || cause.contains("TLS") => format!(
            "the TLS handshake with `{}` failed: set `rootCA` (or `rootCAData`) to the CA that signed the directory's certificate, and make `host` a name the certificate carries",
            config.host
        ),
        _ => match config.transport {
            Transport::Ldaps => format!(
                "check that `{}` is reachable and speaks LDAPS (for plain LDAP on 389 set `startTLS: true` or `insecureNoSSL: true`)",
                config.host
            ),
            _ => format!("check that `{}` is reachable and speaks LDAP", config.host),
        },
    };
    Fail {
        detail: format!("{step} at `{}` failed: {cause}", config.url()),
        fix,
    }
}

fn scope(s: CfgScope) -> Scope {
    match s {
        CfgScope::Sub => Scope::Subtree,
        CfgScope::One => Scope::OneLevel,
    }
}

/// One connection, bound as the service account.
struct Session {
    ldap: ldap3::Ldap,
}

impl Inner {
    async fn tls(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        if let Ok(guard) = self.tls.read()
            && let Some(t) = guard.as_ref()
        {
            return Ok(t.clone());
        }
        let built = tls::client_config(&self.config).await?;
        if let Ok(mut guard) = self.tls.write() {
            *guard = Some(built.clone());
        }
        Ok(built)
    }

    /// Connects (with TLS as configured) and binds as the service account.
    async fn session(&self) -> Result<Session, Fail> {
        let mut s = self.connect().await?;
        s.bind_service(&self.config).await?;
        Ok(s)
    }

    /// Connects (with TLS as configured), without binding.
    async fn connect(&self) -> Result<Session, Fail> {
        let c = &self.config;
        let mut settings = LdapConnSettings::new().set_conn_timeout(TIMEOUT);
        if c.transport != Transport::Plain {
            settings = settings
                .set_config(self.tls().await.map_err(Fail::from)?)
                .set_starttls(c.transport == Transport::StartTls);
        }
        let url = c.url();
        let (conn, ldap) =
            match tokio::time::timeout(TIMEOUT, LdapConnAsync::with_settings(settings, &url)).await
            {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => return Err(describe(c, "connecting", &e)),
                Err(elapsed) => return Err(describe(c, "connecting", &LdapError::from(elapsed))),
            };
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "ldap connection closed");
            }
        });
        Ok(Session { ldap })
    }
}

impl Session {
    /// Binds as `bindDN`, or anonymously when none is set (as Dex).
    async fn bind_service(&mut self, c: &Config) -> Result<(), Fail> {
        let result = self
            .ldap
            .with_timeout(TIMEOUT)
            .simple_bind(&c.bind_dn, c.bind_pw.expose())
            .await
            .and_then(|r| r.success());
        result.map(|_| ()).map_err(|e| {
            let who = if c.bind_dn.is_empty() {
                "the anonymous service bind".to_owned()
            } else {
                format!("the service bind as `{}`", c.bind_dn)
            };
            describe(c, &who, &e)
        })
    }

    /// Searches and returns the entries; a missing base is `Ok(None)`.
    async fn search(
        &mut self,
        c: &Config,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Option<Vec<Entry>>, Fail> {
        let res = self
            .ldap
            .with_timeout(TIMEOUT)
            .search(base, scope, filter, attrs)
            .await;
        let (entries, result) = match res {
            Ok(r) => (r.0, r.1),
            Err(e) => return Err(describe(c, &format!("searching `{base}`"), &e)),
        };
        if result.rc == RC_NO_SUCH_OBJECT {
            return Ok(None);
        }
        if let Err(e) = result.success() {
            return Err(describe(
                c,
                &format!("searching `{base}` with `{filter}`"),
                &e,
            ));
        }
        Ok(Some(
            entries
                .into_iter()
                .map(|re| {
                    let e = SearchEntry::construct(re);
                    Entry::from_search(
                        e.dn,
                        e.attrs.into_iter().collect(),
                        e.bin_attrs.into_iter().collect(),
                    )
                })
                .collect(),
        ))
    }

    /// Whether `filter` finds at least one entry; asks for one at most, so
    /// a directory of millions (or a server size limit) costs nothing.
    async fn any(
        &mut self,
        c: &Config,
        base: &str,
        scope: Scope,
        filter: &str,
    ) -> Result<bool, Fail> {
        let res = self
            .ldap
            .with_search_options(ldap3::SearchOptions::new().sizelimit(1))
            .with_timeout(TIMEOUT)
            .search(base, scope, filter, vec!["1.1"])
            .await;
        match res {
            Ok(r) if r.1.rc == RC_SIZE_LIMIT_EXCEEDED || r.1.rc == 0 => Ok(!r.0.is_empty()),
            Ok(r) if r.1.rc == RC_NO_SUCH_OBJECT => Ok(false),
            Ok(r) => Err(describe(
                c,
                &format!("searching `{base}` with `{filter}`"),
                &LdapError::LdapResult { result: r.1 },
            )),
            Err(e) => Err(describe(c, &format!("searching `{base}`"), &e)),
        }
    }

    /// The group names of `user`, by every user matcher.
    async fn groups(&mut self, c: &Config, user: &Entry) -> Result<Vec<String>, Fail> {
        let Some(g) = &c.group else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for m in &g.matchers {
            for value in user.values(&m.user_attr) {
                let f = filter::group_filter(g, &m.group_attr, &value);
                match self
                    .search(c, &g.base_dn, scope(g.scope), &f, vec![g.name_attr.clone()])
                    .await?
                {
                    Some(entries) => found.extend(entries),
                    None => tracing::warn!(
                        base = %g.base_dn,
                        "ldap groupSearch.baseDN does not exist; the user gets no groups"
                    ),
                }
            }
        }
        filter::group_names(g, &found).map_err(Fail::from)
    }

    async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

impl Inner {
    async fn login(
        self: Arc<Self>,
        scopes: Scopes,
        username: String,
        password: Secret<String>,
    ) -> Result<Option<Identity>, Error> {
        let c = &self.config;
        let upstream = |reason: Fail| Error::Upstream {
            connector: self.id.clone(),
            reason: reason.to_string(),
        };
        let mut s = self.session().await.map_err(upstream)?;
        let f = filter::user_filter(c, &username);
        let entries = s
            .search(
                c,
                &c.user.base_dn,
                scope(c.user.scope),
                &f,
                filter::user_attrs(c),
            )
            .await
            .map_err(upstream)?
            .ok_or_else(|| {
                upstream(Fail {
                    detail: format!(
                        "userSearch.baseDN `{}` does not exist in the directory",
                        c.user.base_dn
                    ),
                    fix: "set it to the DN above your users".into(),
                })
            })?;
        let user = match entries.as_slice() {
            [one] => one.clone(),
            [] => {
                tracing::info!(connector = %self.id, filter = %f, "ldap login: no user matches");
                s.close().await;
                return Ok(None);
            }
            many => {
                // Ambiguous: refuse, and tell the admin, since the
                // filter or the directory needs fixing.
                tracing::warn!(
                    connector = %self.id,
                    filter = %f,
                    matches = many.len(),
                    "ldap login refused: the user search matched more than one entry; make userSearch.filter and userSearch.username select one entry per user"
                );
                s.close().await;
                return Ok(None);
            }
        };
        let bound = s
            .ldap
            .with_timeout(TIMEOUT)
            .simple_bind(&user.dn, password.expose())
            .await
            .and_then(|r| r.success());
        match bound {
            Ok(_) => {}
            Err(LdapError::LdapResult { result })
                if result.rc == RC_INVALID_CREDENTIALS || result.rc == RC_CONSTRAINT_VIOLATION =>
            {
                tracing::info!(connector = %self.id, dn = %user.dn, rc = result.rc, "ldap login: the directory refused the password");
                s.close().await;
                return Ok(None);
            }
            Err(e) => {
                return Err(upstream(describe(
                    c,
                    &format!("binding as `{}`", user.dn),
                    &e,
                )));
            }
        }
        let mut identity = filter::identity(c, &user).map_err(|e| upstream(e.into()))?;
        if scopes.groups && c.group.is_some() {
            s.bind_service(c).await.map_err(upstream)?;
            identity.groups = s.groups(c, &user).await.map_err(upstream)?;
        }
        s.close().await;
        identity.connector_data = Some(Secret::new(refresh_data(&user.dn, &username)?));
        Ok(Some(identity))
    }

    async fn refresh(self: Arc<Self>, scopes: Scopes, old: Identity) -> Result<Identity, Error> {
        let c = &self.config;
        let refresh_err = |reason: Fail| Error::Refresh {
            connector: self.id.clone(),
            reason: reason.to_string(),
        };
        let data: RefreshData = old
            .connector_data
            .as_ref()
            .and_then(|d| serde_json::from_str(d.expose()).ok())
            .ok_or_else(|| {
                refresh_err(Fail::from(
                    "the session holds no directory entry to re-read (it predates this connector)"
                        .to_owned(),
                ))
            })?;
        let gone = || Error::UserGone {
            connector: self.id.clone(),
            user: data.username.clone(),
        };
        let mut s = self.session().await.map_err(refresh_err)?;
        let entries = s
            .search(
                c,
                &data.dn,
                Scope::Base,
                &filter::refresh_filter(c),
                filter::user_attrs(c),
            )
            .await
            .map_err(refresh_err)?;
        // Deleted (no such object) or no longer selected by the filter
        // (e.g. disabled): either way the user is gone.
        let user = match entries.as_deref() {
            Some([one]) => one.clone(),
            _ => {
                s.close().await;
                return Err(gone());
            }
        };
        let mut identity = filter::identity(c, &user).map_err(|e| refresh_err(e.into()))?;
        if identity.user_id != old.user_id {
            // The DN now names someone else.
            s.close().await;
            return Err(gone());
        }
        if scopes.groups && c.group.is_some() {
            identity.groups = s.groups(c, &user).await.map_err(refresh_err)?;
        }
        s.close().await;
        identity.connector_data = old.connector_data;
        Ok(identity)
    }

    async fn ready(self: Arc<Self>) -> Result<(), Error> {
        // Re-read the files on every open, so a fixed CA takes effect.
        let built =
            tls::client_config(&self.config)
                .await
                .map_err(|reason| Error::Unavailable {
                    connector: self.id.clone(),
                    reason,
                })?;
        if let Ok(mut guard) = self.tls.write() {
            *guard = Some(built);
        }
        let s = self.session().await.map_err(|reason| Error::Unavailable {
            connector: self.id.clone(),
            reason: reason.to_string(),
        })?;
        s.close().await;
        Ok(())
    }
}

/// One `tusk doctor` finding about an `ldap` connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
    /// On the `connect` check over TLS: the directory's certificate (DER),
    /// so the caller can report its expiry against its own clock.
    pub certificate: Option<Vec<u8>>,
}

/// What `tusk doctor` checks of an `ldap` connector against the live
/// directory, in order, stopping at the first failure that blocks the
/// rest: the config, the TLS files, the connection (with its TLS mode),
/// the service bind, the user search base and whether its filter finds
/// anyone, and the group search base.
pub async fn probe(id: &str, value: &serde_json::Value) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut push = |check: &str, result: Result<String, (String, String)>| {
        let ok = result.is_ok();
        let (detail, fix) = match result {
            Ok(d) => (d, None),
            Err((d, f)) => (d, Some(f)),
        };
        out.push(Probe {
            check: format!("ldap `{id}`: {check}"),
            ok,
            detail,
            fix,
            certificate: None,
        });
        ok
    };
    let ldap = match Ldap::open(id, value) {
        Ok(l) => l,
        Err(e) => {
            push(
                "config",
                Err((
                    e.to_string(),
                    "fix the connector's config (`tusk config check` shows the same)".into(),
                )),
            );
            return out;
        }
    };
    let inner = ldap.inner.clone();
    let c = &inner.config;
    let tls_mode = match (c.transport, c.insecure_skip_verify, &c.root_ca) {
        (Transport::Plain, _, _) => "plain LDAP, no TLS (insecureNoSSL)".to_owned(),
        (t, true, _) => format!(
            "{}, certificate NOT verified (insecureSkipVerify)",
            transport_name(t)
        ),
        (t, false, config::RootCa::System) => {
            format!("{}, verified against the system's CAs", transport_name(t))
        }
        (t, false, _) => format!("{}, verified against rootCA", transport_name(t)),
    };
    let probed = tokio::spawn(async move {
        let c = &inner.config;
        let mut steps: Vec<(&'static str, Result<String, Fail>)> = Vec::new();
        let mut certificate = None;
        if c.transport != Transport::Plain
            && let Err(e) = inner.tls().await
        {
            steps.push(("TLS files", Err(Fail::from(e))));
            return (steps, certificate);
        }
        let mut s = match inner.connect().await {
            Ok(mut s) => {
                steps.push(("connect", Ok(format!("{} ({tls_mode})", c.url()))));
                certificate = s.ldap.get_peer_certificate().await.ok().flatten();
                s
            }
            Err(e) => {
                steps.push(("connect", Err(e)));
                return (steps, certificate);
            }
        };
        match s.bind_service(c).await {
            Ok(()) if c.bind_dn.is_empty() => steps.push(("service bind", Ok("anonymous (no bindDN)".into()))),
            Ok(()) => steps.push(("service bind", Ok(format!("bound as `{}`", c.bind_dn)))),
            Err(e) => {
                steps.push(("service bind", Err(e)));
                return (steps, certificate);
            }
        }
        let base = |what: &str, dn: &str| Fail {
            detail: format!("{what} `{dn}` does not exist, or the service account may not read it"),
            fix: format!("set {what} to an existing DN (try `ldapsearch -H <url> -D <bindDN> -W -b '{dn}' -s base`), or grant the service account read access"),
        };
        match s.search(c, &c.user.base_dn, Scope::Base, "(objectClass=*)", vec!["1.1".to_owned()]).await {
            Ok(Some(e)) if !e.is_empty() => {
                let present: String = c.user.username.iter().map(|a| format!("({a}=*)")).collect();
                let users = format!("(&{}(|{present}))", c.user.filter.as_deref().unwrap_or("(objectClass=*)"));
                let found = s.any(c, &c.user.base_dn, scope(c.user.scope), &users).await;
                steps.push(("userSearch.baseDN", match found {
                    Ok(true) => Ok(format!("`{}` exists, and `{users}` finds users", c.user.base_dn)),
                    Ok(false) => Err(Fail {
                        detail: format!("`{}` exists, but `{users}` finds no entry, so no one can log in", c.user.base_dn),
                        fix: "check userSearch.filter, userSearch.username and userSearch.scope".into(),
                    }),
                    Err(e) => Err(e),
                }));
            }
            Ok(_) => steps.push(("userSearch.baseDN", Err(base("userSearch.baseDN", &c.user.base_dn)))),
            Err(e) => steps.push(("userSearch.baseDN", Err(e))),
        }
        if let Some(g) = &c.group {
            match s.search(c, &g.base_dn, Scope::Base, "(objectClass=*)", vec!["1.1".to_owned()]).await {
                Ok(Some(e)) if !e.is_empty() => steps.push(("groupSearch.baseDN", Ok(format!("`{}` exists", g.base_dn)))),
                Ok(_) => steps.push(("groupSearch.baseDN", Err(base("groupSearch.baseDN", &g.base_dn)))),
                Err(e) => steps.push(("groupSearch.baseDN", Err(e))),
            }
        }
        s.close().await;
        (steps, certificate)
    })
    .await;
    match probed {
        Ok((steps, certificate)) => {
            for (check, result) in steps {
                push(
                    check,
                    result.map_err(|f| {
                        let fix = if f.fix.is_empty() {
                            "see the detail".to_owned()
                        } else {
                            f.fix
                        };
                        (f.detail, fix)
                    }),
                );
            }
            if let Some(p) = out
                .iter_mut()
                .find(|p| p.check.ends_with(": connect") && p.ok)
            {
                p.certificate = certificate;
            }
        }
        Err(e) => {
            push(
                "directory",
                Err((
                    format!("the LDAP client failed: {e}"),
                    "report this as a tusk bug, with the directory's product and version".into(),
                )),
            );
        }
    }
    out
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Ldaps => "LDAPS",
        Transport::StartTls => "StartTLS",
        Transport::Plain => "plain LDAP",
    }
}

fn refresh_data(dn: &str, username: &str) -> Result<String, Error> {
    serde_json::to_string(&RefreshData {
        dn: dn.to_owned(),
        username: username.to_owned(),
    })
    .map_err(|e| Error::Internal(format!("cannot store the LDAP entry for refresh: {e}")))
}

#[async_trait]
impl Connector for Ldap {
    fn id(&self) -> &str {
        &self.inner.id
    }
    fn kind(&self) -> &'static str {
        "ldap"
    }
    async fn open(&self) -> Result<(), Error> {
        self.task(|inner| inner.ready()).await
    }
    fn password(&self) -> Option<&dyn PasswordConnector> {
        Some(self)
    }
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl PasswordConnector for Ldap {
    fn prompt(&self) -> &str {
        &self.inner.config.prompt
    }

    async fn login(
        &self,
        scopes: &Scopes,
        username: &str,
        password: &Secret<String>,
    ) -> Result<Option<Identity>, Error> {
        // An empty password would make a simple bind anonymous (RFC 4513
        // §5.1.2), which many directories accept: never a login.
        if password.is_empty() || password.expose().len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        let username = username.trim();
        if username.is_empty() || username.len() > filter::MAX_USERNAME_BYTES {
            return Ok(None);
        }
        let (scopes, username, password) = (*scopes, username.to_owned(), password.clone());
        self.task(move |inner| inner.login(scopes, username, password))
            .await
    }
}

#[async_trait]
impl RefreshConnector for Ldap {
    async fn refresh(&self, scopes: &Scopes, identity: Identity) -> Result<Identity, Error> {
        let scopes = *scopes;
        self.task(move |inner| inner.refresh(scopes, identity))
            .await
    }
}
