//! The browser leg: `/auth`, connector selection, password and callback
//! logins, and the redirect back to the client with a code.
//!
//! Until the redirect URI is known to be registered, every failure is an
//! error page and never a redirect (RFC 9700 §4.11: no open redirector).

use crate::browser::{Browser, SessionCookie};
use crate::error::{ErrorCode, Fault, OAuthError, PageError};
use crate::params::Params;
use crate::provider::{
    ConnectorSlot, Provider, audit_user, client_address, random_token, redirect_matches, with_query,
};
use crate::scopes;
use crate::throttle;
use tusk_connector::{Identity, Scopes, UpstreamParams};
use tusk_core::Secret;
use tusk_core::audit::AuditEvent;
use tusk_store::{AuthCode, AuthRequest, BrowserSession, Claims, DeviceRequest, hash_token};

/// What the browser sees next after a successful step.
pub enum Next {
    /// 302 to this URL.
    Redirect(String),
    /// A login finished and started a browser session: set its cookie,
    /// then 302 to `redirect` (the client's, with the code).
    SignedIn {
        redirect: String,
        session: SessionCookie,
        connector_id: String,
    },
    /// Several connectors: show the chooser.
    Choose {
        request_id: String,
        connectors: Vec<ConnectorSlot>,
    },
    /// A device login is complete; show "you may close this window".
    DeviceApproved { client_name: String },
    /// The user cancelled a device login (or denied its consent); the
    /// device's poll now answers `access_denied`.
    DeviceDenied { client_name: String },
    /// RFC 8628 §5.4: before any credentials, "Sign in to *client* with
    /// code XXXX-XXXX?", answered by a POST carrying `token`.
    ConfirmDevice(crate::prompts::DeviceConfirm),
    /// Ask the user to allow the client its scopes.
    Consent(crate::prompts::ConsentPage),
}

impl Next {
    /// Where the browser goes next, for the two kinds of redirect.
    pub fn redirect_url(&self) -> Option<&str> {
        match self {
            Next::Redirect(url) | Next::SignedIn { redirect: url, .. } => Some(url),
            _ => None,
        }
    }
}

/// A redirect URL for `Debug`: without its query, which may carry a
/// credential (an authorization code, or the upstream ID token a logout
/// sends as `id_token_hint`).
pub(crate) fn redacted_url(url: &str) -> String {
    let base = url.split_once('?').map_or(url, |(b, _)| b);
    format!("{base}?…")
}

/// A redirect's query carries the authorization code (a credential until
/// it is exchanged), so `Debug` shows the URL without its query.
impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::Redirect(url) => f.debug_tuple("Redirect").field(&redacted_url(url)).finish(),
            Next::Choose {
                request_id,
                connectors,
            } => f
                .debug_struct("Choose")
                .field("request_id", request_id)
                .field("connectors", connectors)
                .finish(),
            Next::SignedIn {
                redirect,
                session,
                connector_id,
            } => f
                .debug_struct("SignedIn")
                .field("redirect", &redacted_url(redirect))
                .field("session", session)
                .field("connector_id", connector_id)
                .finish(),
            Next::DeviceApproved { client_name } => f
                .debug_struct("DeviceApproved")
                .field("client_name", client_name)
                .finish(),
            Next::DeviceDenied { client_name } => f
                .debug_struct("DeviceDenied")
                .field("client_name", client_name)
                .finish(),
            Next::ConfirmDevice(c) => f.debug_tuple("ConfirmDevice").field(c).finish(),
            Next::Consent(c) => f.debug_tuple("Consent").field(c).finish(),
        }
    }
}

impl std::fmt::Debug for ConnectorSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorSlot")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish()
    }
}

/// A failure at `/auth`: an error page, or a redirect carrying the error
/// once the redirect URI is trusted.
#[derive(Debug)]
pub enum AuthorizeError {
    Page(PageError),
    Redirect(String),
}

impl From<PageError> for AuthorizeError {
    fn from(e: PageError) -> Self {
        AuthorizeError::Page(e)
    }
}

impl From<tusk_store::Error> for AuthorizeError {
    fn from(e: tusk_store::Error) -> Self {
        AuthorizeError::Page(e.into())
    }
}

/// The password form's context.
#[derive(Debug, Clone)]
pub struct PasswordForm {
    pub connector_id: String,
    pub connector_name: String,
    pub prompt: String,
    pub state: String,
}

/// The outcome of a password POST.
#[derive(Debug)]
pub enum PasswordOutcome {
    /// Wrong credentials: show the form again with an error.
    Invalid(PasswordForm),
    /// Too many recent failures for this account from this address: the
    /// password was not checked; try again after `retry_after` seconds.
    Throttled {
        form: PasswordForm,
        retry_after: u64,
    },
    /// The password-hashing pool is full: the password was not checked
    /// and the attempt counts for nothing; try again after `retry_after`
    /// seconds. Global back-pressure, the same for every account.
    Busy {
        retry_after: u64,
    },
    Next(Next),
}

/// What a [`PasswordOutcome::Busy`] asks to wait: the queue drains in
/// well under a second at ordinary hashing costs.
pub const BUSY_RETRY_AFTER: u64 = 1;

/// A request the application got wrong, told to the user in plain words;
/// `detail` (what exactly, for the developer) goes only to the log.
fn bad_link(detail: impl Into<String>) -> PageError {
    PageError::bad_request(
        "This sign-in link isn't valid",
        "The application sent an incomplete or malformed sign-in request. Go back to the application and try again; if it keeps happening, tell its developer and give them the reference below.",
        detail,
    )
}

/// Whether an upstream failure is the upstream not answering (a timeout,
/// no connection, a 5xx): worth trying again. Compared without case, since
/// each client words it its own way (reqwest's "error sending request",
/// ldap3's "I/O error: Connection refused" and "timeout: deadline has
/// elapsed").
fn unreachable(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    [
        "error sending request",
        "timed out",
        "timeout: deadline has elapsed",
        "connection refused",
        "connection reset",
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
    ]
    .iter()
    .any(|m| reason.contains(m))
}

/// The fault behind a connector's error: its kind when the type says it,
/// else what its text says (see [`Fault::of_connector_failure`]).
fn connector_fault(e: &tusk_connector::Error) -> Fault {
    use tusk_connector::Error as E;
    match e {
        E::SamlRefused { reason, .. } => saml_fault(reason),
        E::Config { .. } | E::Unsupported { .. } | E::Internal(_) => Fault::Setup,
        E::Busy { .. } => Fault::Transient,
        // The upstream said no to this person (RFC 6749 `access_denied`,
        // or the github connector's refusals: not in an allowed
        // organization or team, no verified email): nothing is broken.
        E::Upstream { reason, .. }
            if [
                "access_denied",
                "allowed to log in here",
                "verify an address at GitHub",
            ]
            .iter()
            .any(|m| reason.contains(m)) =>
        {
            Fault::Refused
        }
        // The upstream answered, but with something tusk cannot accept (a
        // token for another audience, from another issuer, badly signed):
        // trying again gets the same answer until someone fixes a setting.
        E::Upstream { reason, .. } if !unreachable(reason) => Fault::Setup,
        other => Fault::of_connector_failure(&other.to_string()),
    }
}

/// The fault behind a SAML refusal, by the `saml` connector's own reason
/// texts (`tusk-connector`'s `saml/response.rs`): an answer too old or
/// not yet valid beyond the allowed skew, or one that answers another
/// (or no) request (a replay, the back button, an IdP-initiated login),
/// is `Expired`: the user starts again. The IdP saying no (`Responder`,
/// which carries `AuthnFailed` and the user cancelling) or a user outside
/// `allowedGroups` is `Refused`. Everything else (signature, certificate,
/// audience, destination, issuer, missing attributes, `Requester`) only
/// an administrator can fix: `Setup`.
fn saml_fault(reason: &str) -> Fault {
    const EXPIRED: &[&str] = &[
        "the assertion expired at",
        "the assertion is not valid before",
        "not the one tusk sent for this login",
        "answers no request (no InResponseTo)",
    ];
    const REFUSED: &[&str] = &[
        "the IdP answered status `Responder`",
        "not a member of allowedGroups",
    ];
    if EXPIRED.iter().any(|m| reason.contains(m)) {
        Fault::Expired
    } else if REFUSED.iter().any(|m| reason.contains(m)) {
        Fault::Refused
    } else {
        Fault::Setup
    }
}

/// The longest `/auth` query string (or form body) accepted. Every request
/// that passes validation is stored for `auth_request_ttl`, so without caps
/// one unauthenticated request could store tens of kilobytes (issue 11).
pub const MAX_AUTHORIZE_QUERY: usize = 8 * 1024;

/// Byte limits of the `/auth` parameters. The values are generous for real
/// clients: OAuth `state` and OIDC `nonce` are opaque values a client
/// generates, usually a few dozen bytes; a PKCE challenge is at most 128
/// characters (RFC 7636 §4.1-4.2).
const PARAM_LIMITS: &[(&str, usize)] = &[
    ("client_id", 256),
    ("redirect_uri", 2048),
    ("response_type", 64),
    ("response_mode", 64),
    ("scope", 1024),
    ("state", 512),
    ("nonce", 512),
    ("login_hint", 512),
    ("acr_values", 512),
    ("prompt", 128),
    ("max_age", 32),
    ("display", 64),
    ("ui_locales", 256),
    ("claims_locales", 256),
    ("code_challenge", 128),
    ("code_challenge_method", 16),
    ("connector_id", 256),
    ("id_token_hint", 4096),
];

/// The first parameter over its limit, as `invalid_request` naming it.
fn oversize(params: &Params, names: &[&str]) -> Option<OAuthError> {
    PARAM_LIMITS
        .iter()
        .filter(|(name, _)| names.is_empty() || names.contains(name))
        .find_map(|(name, limit)| {
            let len = params
                .pairs()
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.len())
                .max()?;
            (len > *limit).then(|| {
                OAuthError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "parameter `{name}` is {len} bytes, over the limit of {limit} bytes; send a shorter value"
                    ),
                )
            })
        })
}

impl Provider {
    /// `GET /auth` from `browser`, which must have a login binding
    /// ([`Browser::bind`]) for a login to start.
    pub async fn authorize(
        &self,
        params: &Params,
        browser: &Browser,
    ) -> Result<Next, AuthorizeError> {
        self.authorize_browser(params, browser, || Ok(())).await
    }

    /// `GET /auth` from a browser that may hold a session: a live session
    /// answers without a login where the request allows it (OIDC Core
    /// §3.1.2.1 `prompt`, `max_age`, `id_token_hint`). `admit` is asked
    /// just before a valid request is stored: the server's per-address
    /// limit on stored requests, which malformed requests (they store
    /// nothing) do not spend.
    pub async fn authorize_browser(
        &self,
        params: &Params,
        browser: &Browser,
        admit: impl FnOnce() -> Result<(), PageError>,
    ) -> Result<Next, AuthorizeError> {
        let bad = |e: OAuthError| {
            bad_link(format!(
                "malformed authorization request: {}",
                e.description
            ))
        };
        // The parameters that decide where errors go are checked first, and
        // their failures are pages: the redirect URI is not trusted yet.
        if let Some(e) = oversize(params, &["client_id", "redirect_uri"]) {
            return Err(bad(e).into());
        }
        let client_id = params.get("client_id").map_err(bad)?.ok_or_else(|| {
            bad_link(
                "the authorization request has no `client_id`; the application must send client_id",
            )
        })?;
        let client = self.client(client_id).await?.ok_or_else(|| {
            PageError::bad_request(
                "Unknown application",
                "The application that sent you here is not registered with this sign-in service, so you cannot sign in to it. Tell its developer and give them the reference below.",
                format!("no client is registered with client_id `{client_id}`; register it in oidc.additionalClients or with `tusk idp create-client`"),
            )
        })?;
        let redirect_uri = match params.get("redirect_uri").map_err(bad)? {
            Some(uri) => uri.to_owned(),
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => {
                return Err(bad_link(format!(
                    "the authorization request has no `redirect_uri`, and client `{}` has several redirect URIs, so it must name one",
                    client.id
                ))
                .into());
            }
        };
        if !redirect_matches(&client, &redirect_uri) {
            // The page neither lists the registered URIs (they map out the
            // client for anyone who asks) nor shows the requested one (an
            // attacker's URL, or text, on our page); both go to the log.
            return Err(PageError::bad_request(
                "This application's return address isn't registered",
                "The application asked to send you back to an address it has not registered, so sign-in stopped here to protect your account. Tell the application's developer and give them the reference below.",
                format!(
                    "redirect_uri {redirect_uri:?} is not registered for client `{}`; register exactly this URI, or fix the application (registered now: {})",
                    client.id,
                    client.redirect_uris.join(", ")
                ),
            )
            .into());
        }
        // From here on, errors go back to the client (RFC 6749 §4.1.2.1).
        // An oversize `state` is not echoed: the error would carry it.
        let too_long = oversize(params, &[]);
        let state = match &too_long {
            Some(_) => String::new(),
            None => params
                .get("state")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
        };
        let back = |e: OAuthError| {
            AuthorizeError::Redirect(with_query(
                &redirect_uri,
                &[
                    ("error", e.code.as_str()),
                    ("error_description", &e.description),
                    ("state", &state),
                    ("iss", &self.settings.issuer),
                ],
            ))
        };
        if let Some(e) = too_long {
            return Err(back(e));
        }
        let mut request = self
            .validate_authorize(params, &client, &redirect_uri)
            .map_err(back)?;
        request.binding = browser.binding_hash().unwrap_or_default();
        scopes::check_audience(self, &client.id, &request.scopes)
            .await
            .map_err(back)?;
        let prompts: Vec<&str> = request
            .prompt
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect();
        let silent = prompts.contains(&"none");
        if silent && prompts.len() > 1 {
            return Err(back(OAuthError::new(
                ErrorCode::InvalidRequest,
                "prompt=none cannot be combined with other prompt values",
            )));
        }
        let preselect = params.get("connector_id").ok().flatten().map(str::to_owned);
        let session = self.live_session(browser).await.map_err(back)?;
        let hint = self.hint_subject(params).map_err(back)?;
        let reuse = match &session {
            Some(s) => self
                .reusable(s, &request, &prompts, hint.as_deref(), preselect.as_deref())
                .map(|()| s),
            None => Err("the user must log in: there is no session".to_owned()),
        };
        match reuse {
            Ok(s) => {
                admit()?;
                // Consent comes before any code, a session's sign-in
                // included: an untrusted client asks (or, with
                // prompt=none, gets `consent_required`) until granted.
                let mut asking = request.clone();
                asking.prior_session = s.id.clone();
                if let Some(next) = self
                    .consent_step(
                        &asking,
                        &s.connector_id,
                        &s.claims,
                        &s.connector_data,
                        &s.upstream_id_token,
                    )
                    .await?
                {
                    return Ok(next);
                }
                self.touch_session(&s.id).await.map_err(back)?;
                self.audit(AuditEvent::LoginSucceeded {
                    user: tusk_core::audit::bounded(&audit_user(&s.claims)),
                    connector: s.connector_id.clone(),
                    client: request.client_id.clone(),
                    address: client_address(),
                })
                .await;
                let url = self
                    .issue_code(
                        &request,
                        &s.connector_id,
                        &s.claims,
                        &s.connector_data,
                        s.auth_time,
                        Some(s),
                    )
                    .await?;
                tracing::info!(client = %request.client_id, connector = %s.connector_id, "login answered from the browser session");
                return Ok(Next::Redirect(url));
            }
            Err(why) if silent => {
                return Err(back(OAuthError::new(ErrorCode::LoginRequired, why)));
            }
            Err(_) => {}
        }
        // A fresh login: it goes to the session's connector unless the
        // client named one or asked to choose (`select_account`), and
        // replaces the session when it succeeds.
        let preselect = match prompts.contains(&"select_account") {
            true => preselect,
            false => preselect.or_else(|| session.as_ref().map(|s| s.connector_id.clone())),
        };
        if let Some(s) = &session {
            request.prior_session = s.id.clone();
        }
        admit()?;
        self.store_bound(&request).await?;
        Ok(self.choose(&request.id, preselect.as_deref()))
    }

    /// The `sub` an `id_token_hint` names (expired ones accepted: the hint
    /// names a user, it grants nothing). A hint that does not verify (forged,
    /// or signed by a key retired since) names nobody: it matches no
    /// session, so the user logs in (or `prompt=none` gets `login_required`).
    fn hint_subject(&self, params: &Params) -> Result<Option<String>, OAuthError> {
        let Some(hint) = params.get("id_token_hint")? else {
            return Ok(None);
        };
        Ok(Some(
            self.verify_own(hint.as_bytes(), true)
                .ok()
                .and_then(|c| {
                    c.get("sub")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default(),
        ))
    }

    /// Whether a live session may answer this request without a login;
    /// if not, why (the `login_required` description).
    fn reusable(
        &self,
        s: &BrowserSession,
        request: &AuthRequest,
        prompts: &[&str],
        hint: Option<&str>,
        preselect: Option<&str>,
    ) -> Result<(), String> {
        if prompts
            .iter()
            .any(|p| *p == "login" || *p == "select_account")
        {
            return Err("prompt asks for a new login".into());
        }
        if let Some(max_age) = request.max_age
            && (max_age == 0 || self.now() - s.auth_time > max_age)
        {
            return Err("the session's login is older than max_age".into());
        }
        if hint.is_some_and(|h| h != crate::subject::encode(&s.claims.user_id, &s.connector_id)) {
            return Err("the session's user is not the one id_token_hint names".into());
        }
        if preselect.is_some_and(|c| c != s.connector_id) {
            return Err("the session was made with another login method".into());
        }
        if self.connector(&s.connector_id).is_err() {
            return Err("the session's login method is unavailable".into());
        }
        Ok(())
    }

    fn validate_authorize(
        &self,
        params: &Params,
        client: &tusk_store::OidcClient,
        redirect_uri: &str,
    ) -> Result<AuthRequest, OAuthError> {
        if params.get("request")?.is_some() || params.get("request_uri")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "Server does not support request parameter.",
            ));
        }
        match params.get("response_type")? {
            None => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "No response_type provided",
                ));
            }
            Some("code") => {}
            Some(t) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    format!("Unsupported response type {t:?}"),
                ));
            }
        }
        let scopes = scopes::parse(params.get("scope")?.unwrap_or_default())?;
        let challenge = params.get("code_challenge")?.unwrap_or_default();
        let method = crate::pkce::check_method(challenge, params.get("code_challenge_method")?)?;
        // RFC 9700 §2.1.1: a public client's only proof is the verifier, so
        // it must not travel in the front channel (`plain`).
        if client.public && (challenge.is_empty() || method != "S256") {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                "PKCE is required for public clients: send code_challenge with code_challenge_method=S256",
            ));
        }
        let max_age = match params.get("max_age")? {
            Some(v) => Some(v.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                )
            })?),
            None => None,
        };
        Ok(AuthRequest {
            id: random_token(16),
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: params.get("state")?.unwrap_or_default().to_owned(),
            nonce: params.get("nonce")?.unwrap_or_default().to_owned(),
            code_challenge: challenge.to_owned(),
            code_challenge_method: method.to_owned(),
            prompt: params.get("prompt")?.unwrap_or_default().to_owned(),
            max_age,
            connector_id: String::new(),
            upstream_nonce: Secret::new(random_token(16)),
            claims: None,
            logged_in: false,
            device: String::new(),
            prior_session: String::new(),
            device_confirmed: false,
            form_token: String::new(),
            connector_data: Secret::default(),
            upstream_id_token: Secret::default(),
            binding: String::new(),
            answered: false,
            expires_at: self.now() + self.settings.auth_request_ttl,
        })
    }

    /// One connector (or a valid preselection) goes straight to it; several
    /// show the chooser.
    pub(crate) fn choose(&self, request_id: &str, preselect: Option<&str>) -> Next {
        let slots = self.connectors();
        let target = match preselect {
            Some(id) if slots.iter().any(|s| s.id == id) => Some(id.to_owned()),
            _ if slots.len() == 1 => Some(slots[0].id.clone()),
            _ => None,
        };
        match target {
            Some(id) => Next::Redirect(with_query(
                &self.settings.url(&format!("/auth/{id}")),
                &[("req", request_id)],
            )),
            None => Next::Choose {
                request_id: request_id.to_owned(),
                connectors: slots.to_vec(),
            },
        }
    }

    /// Stores a new auth request, which must be bound to a browser: a
    /// request without a binding could be continued from any browser.
    pub(crate) async fn store_bound(&self, request: &AuthRequest) -> Result<(), PageError> {
        if request.binding.is_empty() {
            return Err(PageError::internal(
                "a login was about to start without a login-binding cookie; the server gives the browser one (Browser::bind) before /auth and /device",
            ));
        }
        self.store.create(request).await?;
        Ok(())
    }

    /// Refuses a step of `request` from a browser that does not present
    /// the request's binding: the link was forwarded, or opened in
    /// another browser. Nothing about the request changes.
    pub(crate) async fn check_binding(
        &self,
        request: &AuthRequest,
        browser: &Browser,
        step: &str,
    ) -> Result<(), PageError> {
        if browser.presents(&request.binding) {
            return Ok(());
        }
        self.audit(AuditEvent::LoginFailed {
            user: String::new(),
            connector: request.connector_id.clone(),
            client: request.client_id.clone(),
            address: client_address(),
            reason: "other_browser".into(),
        })
        .await;
        Err(PageError::new(
            403,
            Fault::Refused,
            "This sign-in belongs to another browser",
            "This sign-in was started in another browser or the link was shared. Start again from the application.",
            format!(
                "{step} of auth request {:?} from a browser {} its login-binding cookie (a forwarded link, or another browser); refused, the request is unchanged",
                crate::error::abbreviate(&request.id),
                if browser.login_bindings.is_empty() {
                    "without"
                } else {
                    "not presenting"
                }
            ),
        ))
    }

    /// The auth request `id` if a login step may run on it now from
    /// `browser`.
    async fn pending_request(
        &self,
        id: &str,
        browser: &Browser,
        step: &str,
    ) -> Result<AuthRequest, PageError> {
        let request = self.pending_unbound(id).await?;
        self.check_binding(&request, browser, step).await?;
        Ok(request)
    }

    /// The auth request `id` if a login step may run on it now, whichever
    /// browser asks: only for the upstream's cross-site POST, whose
    /// answer is held until the binding is checked at the finish.
    async fn pending_unbound(&self, id: &str) -> Result<AuthRequest, PageError> {
        let expired = || {
            PageError::expired(format!(
                "auth request {:?} has expired or was already used",
                crate::error::abbreviate(id)
            ))
        };
        match self.store.get::<AuthRequest>(id).await {
            // A request waiting for consent, or holding the upstream's
            // answer for its finish, is past its login steps.
            Ok(r) if r.expires_at > self.now() && !r.logged_in && !r.answered => {
                if !r.device.is_empty() && !r.device_confirmed {
                    // The login of a device request starts only from its
                    // confirmation page, which shows the code (RFC 8628 §5.4).
                    return Err(PageError::bad_request(
                        "Confirm the code first",
                        "This device sign-in has not been confirmed yet. Open the link your device shows and check its code before you sign in.",
                        "device login step before its code was confirmed at /device",
                    ));
                }
                Ok(r)
            }
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => Err(expired()),
            Err(e) => Err(e.into()),
        }
    }

    /// The client's redirect URI carrying `error` (RFC 6749 §4.1.2.1).
    pub(crate) fn error_redirect(&self, request: &AuthRequest, e: &OAuthError) -> String {
        with_query(
            &request.redirect_uri,
            &[
                ("error", e.code.as_str()),
                ("error_description", &e.description),
                ("state", &request.state),
                ("iss", &self.settings.issuer),
            ],
        )
    }

    /// `GET /auth/{connector}?req=ID`: remember the choice, then go to the
    /// password form or to the upstream provider.
    pub async fn start_connector(
        &self,
        connector_id: &str,
        request_id: &str,
        browser: &Browser,
    ) -> Result<Next, PageError> {
        let mut request = self
            .pending_request(request_id, browser, "the connector redirect")
            .await?;
        let connector = match self.connector(connector_id) {
            Ok(c) => c,
            Err(e) => return Err(self.offer(e, &request, connector_id).await),
        };
        if request.connector_id != connector_id {
            request = self
                .store
                .update::<AuthRequest, _>(request_id, |r| {
                    r.connector_id = connector_id.to_owned();
                    Ok(())
                })
                .await?;
        }
        if connector.password().is_some() {
            return Ok(Next::Redirect(with_query(
                &self.settings.url(&format!("/auth/{connector_id}/login")),
                &[("state", request_id)],
            )));
        }
        let Some(callback) = connector.callback() else {
            return Err(PageError::internal(format!(
                "connector `{connector_id}` supports neither passwords nor redirects"
            )));
        };
        match callback.login_url(
            &connector_scopes(&request.scopes),
            &self.settings.url("/callback"),
            request_id,
            &upstream(&request),
        ) {
            Ok(url) => Ok(Next::Redirect(url)),
            Err(e) => {
                let page = PageError::login_method(
                    &self.connector_name(connector_id),
                    connector_fault(&e),
                    format!("cannot start the login with connector `{connector_id}`: {e}"),
                );
                Err(self.offer(page, &request, connector_id).await)
            }
        }
    }

    /// `GET /auth/{connector}/login?state=ID`.
    pub async fn password_form(
        &self,
        connector_id: &str,
        state: &str,
        browser: &Browser,
    ) -> Result<PasswordForm, PageError> {
        let request = self
            .pending_request(state, browser, "the password form")
            .await?;
        if !request.connector_id.is_empty() && request.connector_id != connector_id {
            let page = PageError::new(
                400,
                Fault::Expired,
                "This sign-in was started with another method",
                "The page you came from belongs to a different sign-in method. Choose the method again.",
                format!(
                    "auth request was started with connector `{}`, not `{connector_id}`",
                    request.connector_id
                ),
            );
            return Err(self.offer(page, &request, &request.connector_id).await);
        }
        let connector = match self.connector(connector_id) {
            Ok(c) => c,
            Err(e) => return Err(self.offer(e, &request, connector_id).await),
        };
        let password = connector.password().ok_or_else(|| {
            bad_link(format!(
                "connector `{connector_id}` does not take a password; the link should go to /auth/{connector_id}"
            ))
        })?;
        let name = self.connector_name(connector_id);
        Ok(PasswordForm {
            connector_id: connector_id.to_owned(),
            connector_name: name,
            prompt: password.prompt().to_owned(),
            state: state.to_owned(),
        })
    }

    /// `POST /auth/{connector}/login?state=ID` with `login` and `password`,
    /// from the client address `client` (which the throttle keys on).
    pub async fn password_login(
        &self,
        connector_id: &str,
        state: &str,
        login: &str,
        password: &Secret<String>,
        client: std::net::IpAddr,
        browser: &Browser,
    ) -> Result<PasswordOutcome, PageError> {
        // While the hashing pool is full, a connector that hashes on it is
        // refused before any storage read, so a storm's refusals cost
        // next to nothing (the pool's own admission still decides below).
        if self.hashing.is_full()
            && self
                .connector(connector_id)
                .is_ok_and(|c| c.password().is_some_and(|p| p.hashes()))
        {
            return Ok(PasswordOutcome::Busy {
                retry_after: BUSY_RETRY_AFTER,
            });
        }
        let form = self.password_form(connector_id, state, browser).await?;
        let request = self
            .pending_request(state, browser, "the password post")
            .await?;
        let connector = self.connector(connector_id)?;
        let Some(pw) = connector.password() else {
            return Err(PageError::internal(
                "connector lost its password capability",
            ));
        };
        let failed = |reason: &str| AuditEvent::LoginFailed {
            user: tusk_core::audit::bounded(login),
            connector: connector_id.to_owned(),
            client: request.client_id.clone(),
            address: client_address(),
            reason: reason.to_owned(),
        };
        // A pair already backing off is refused before its password is
        // checked; one that reaches its back-off while the password is
        // checked gets the same answer, right password or not.
        let keys = throttle::Keys::new(connector_id, login, client);
        let throttled = |wait: i64, form| PasswordOutcome::Throttled {
            form,
            retry_after: wait.unsigned_abs(),
        };
        if let Some(wait) = throttle::waiting(&self.store, &keys, self.now()).await? {
            self.audit(failed("throttled")).await;
            return Ok(throttled(wait, form));
        }
        // The check runs on this provider's bounded hashing pool.
        let scopes = connector_scopes(&request.scopes);
        let check = pw.login(&scopes, login, password);
        let identity = match self.hashing.scope(check).await {
            Ok(identity) => identity,
            Err(tusk_connector::Error::Busy { workers, queue }) => {
                // Neither audited nor counted by the throttle: nothing was
                // checked, and a storm must not write a row per refusal.
                tracing::debug!(
                    connector = %connector_id,
                    workers,
                    queue,
                    "password check refused: the hashing pool is full"
                );
                return Ok(PasswordOutcome::Busy {
                    retry_after: BUSY_RETRY_AFTER,
                });
            }
            Err(e) => {
                self.audit(failed("connector_error")).await;
                let page = PageError::login_method(
                    &form.connector_name,
                    connector_fault(&e),
                    format!("password check through connector `{connector_id}` failed: {e}"),
                );
                return Err(self.offer(page, &request, connector_id).await);
            }
        };
        let right = identity.is_some();
        if let Some(wait) = throttle::settle(&self.store, &keys, self.now(), right).await? {
            self.audit(failed("throttled")).await;
            return Ok(throttled(wait, form));
        }
        match identity {
            None => {
                self.audit(failed("invalid_credentials")).await;
                Ok(PasswordOutcome::Invalid(form))
            }
            Some(identity) => Ok(PasswordOutcome::Next(
                self.finish_login(state, connector_id, identity).await?,
            )),
        }
    }

    /// `GET /callback` and `/callback/{connector}`: the upstream's return,
    /// a top-level navigation that carries the browser's binding cookie.
    /// A browser without it is refused before the upstream's answer (a
    /// single-use code) is redeemed.
    pub async fn callback(
        &self,
        path_connector: Option<&str>,
        params: &Params,
        browser: &Browser,
    ) -> Result<Next, PageError> {
        let (request, connector_id, identity) = self
            .upstream_answer(path_connector, params, Some(browser))
            .await?;
        self.finish_login(&request.id, &connector_id, identity)
            .await
    }

    /// `POST /callback` and `/callback/{connector}`: the upstream's answer
    /// as a cross-site form POST (SAML's HTTP-POST binding), which a
    /// `SameSite=Lax` cookie does not come with. The answer is checked
    /// and held on the request; the browser is sent (303) to a same-origin
    /// GET of the finish URL, where the binding is checked before any code
    /// or consent. The finish URL's single-use token reaches only the
    /// browser that brought the answer, so someone who forwarded the
    /// upstream's login link cannot finish with the victim's answer in
    /// their own browser.
    pub async fn callback_posted(
        &self,
        path_connector: Option<&str>,
        params: &Params,
    ) -> Result<Next, PageError> {
        let (request, connector_id, identity) =
            self.upstream_answer(path_connector, params, None).await?;
        let token = random_token(32);
        let claims = to_claims(&identity);
        let mut taken = false;
        let updated = self
            .store
            .update::<AuthRequest, _>(&request.id, |r| {
                // Two answers racing for one request: the first holds.
                taken = r.answered || r.logged_in;
                if !taken {
                    r.answered = true;
                    r.connector_id = connector_id.clone();
                    r.claims = Some(claims.clone());
                    r.connector_data = identity.connector_data.clone().unwrap_or_default();
                    r.upstream_id_token = identity.upstream_id_token.clone().unwrap_or_default();
                    r.form_token = hash_token(&token);
                }
                Ok(())
            })
            .await;
        match updated {
            Ok(_) if !taken => {}
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {
                return Err(PageError::expired(
                    "the auth request was already answered by the upstream (a replayed POST)",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Next::Redirect(with_query(
            &self
                .settings
                .url(&format!("/callback/{connector_id}/finish")),
            &[("req", &request.id), ("token", &token)],
        )))
    }

    /// `GET /callback/{connector}/finish?req=ID&token=T`: after
    /// [`Self::callback_posted`], in the browser the answer came back to;
    /// refused unless that browser started the login.
    pub async fn callback_finish(
        &self,
        connector_id: &str,
        request_id: &str,
        token: &str,
        browser: &Browser,
    ) -> Result<Next, PageError> {
        let stale = || {
            PageError::expired(
                "callback finish for an auth request that has expired or was already finished",
            )
        };
        let forged = || {
            PageError::bad_request(
                "This sign-in link isn't valid",
                "This link did not come from the sign-in you started, so nothing was changed. Start again from the application.",
                "callback finish whose token does not match its request (a forged or replayed link)",
            )
        };
        let request = self
            .answered_request(
                request_id,
                token,
                |r| r.answered && !r.logged_in,
                stale,
                forged,
            )
            .await?;
        self.check_binding(&request, browser, "the callback finish")
            .await?;
        if request.connector_id != connector_id {
            return Err(forged());
        }
        let Some(claims) = &request.claims else {
            return Err(PageError::internal(
                "an answered auth request without its identity",
            ));
        };
        let mut identity = to_identity(claims, &request.connector_data);
        identity.upstream_id_token =
            Some(request.upstream_id_token.clone()).filter(|t| !t.expose().is_empty());
        self.finish_login(request_id, connector_id, identity).await
    }

    /// The upstream's answer for the request its `state` names: the
    /// request, the connector and the identity. With `browser`, the
    /// request's binding is checked first; `None` only for the cross-site
    /// POST, whose answer is held until the finish checks it.
    async fn upstream_answer(
        &self,
        path_connector: Option<&str>,
        params: &Params,
        browser: Option<&Browser>,
    ) -> Result<(AuthRequest, String, Identity), PageError> {
        let incomplete = |detail: String| {
            PageError::new(
                400,
                Fault::Expired,
                "Sign-in didn't complete",
                "The sign-in provider sent you back without the answer this page needs. Go back to the application and start again.",
                detail,
            )
        };
        let state = params
            .get("state")
            .map_err(|e| incomplete(format!("malformed callback from the upstream provider: {}", e.description)))?
            .ok_or_else(|| {
                incomplete(
                    "the callback has no state parameter; check the redirect URI registered at the upstream provider".into(),
                )
            })?;
        let request = match browser {
            Some(b) => {
                self.pending_request(state, b, "the upstream callback")
                    .await?
            }
            None => self.pending_unbound(state).await?,
        };
        let connector_id = match path_connector {
            Some(id) if !request.connector_id.is_empty() && id != request.connector_id => {
                return Err(incomplete(format!(
                    "the callback for connector `{id}` does not belong to this login (started with `{}`)",
                    request.connector_id
                )));
            }
            Some(id) => id.to_owned(),
            None => request.connector_id.clone(),
        };
        let connector = match self.connector(&connector_id) {
            Ok(c) => c,
            Err(e) => return Err(self.offer(e, &request, &connector_id).await),
        };
        let callback = connector.callback().ok_or_else(|| {
            incomplete(format!(
                "connector `{connector_id}` does not use redirects, so it has no callback"
            ))
        })?;
        let identity = callback
            .handle_callback(
                &connector_scopes(&request.scopes),
                &self.settings.url("/callback"),
                params.pairs(),
                &upstream(&request),
            )
            .await;
        let identity = match identity {
            Ok(identity) => identity,
            Err(e) => {
                // The user is not known until the upstream vouches for them.
                self.audit(AuditEvent::LoginFailed {
                    user: String::new(),
                    connector: connector_id.clone(),
                    client: request.client_id.clone(),
                    address: client_address(),
                    reason: "upstream_error".into(),
                })
                .await;
                let fault = connector_fault(&e);
                let mut page = PageError::login_method(
                    &self.connector_name(&connector_id),
                    fault,
                    format!("the login through connector `{connector_id}` failed: {e}"),
                );
                // The upstream sent the browser back with an answer tusk
                // refuses: a bad request (4xx), not tusk failing, unless
                // the upstream could not be reached at all.
                page.status = match fault {
                    Fault::Transient => 503,
                    Fault::Refused => 403,
                    _ => 400,
                };
                return Err(self.offer(page, &request, &connector_id).await);
            }
        };
        Ok((request, connector_id, identity))
    }

    /// Consumes the auth request (single use) and either redirects to the
    /// client with a code or approves the device request.
    async fn finish_login(
        &self,
        request_id: &str,
        connector_id: &str,
        identity: Identity,
    ) -> Result<Next, PageError> {
        let request = match self.store.take::<AuthRequest>(request_id).await {
            Ok(r) => r,
            Err(tusk_store::Error::NotFound { .. }) => {
                return Err(PageError::expired(
                    "the auth request was already completed (a second submit or a replayed callback)",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let claims = to_claims(&identity);
        self.audit(AuditEvent::LoginSucceeded {
            user: tusk_core::audit::bounded(&audit_user(&claims)),
            connector: connector_id.to_owned(),
            client: request.client_id.clone(),
            address: client_address(),
        })
        .await;
        let connector_data = identity.connector_data.clone().unwrap_or_default();
        let upstream_id_token = identity.upstream_id_token.clone().unwrap_or_default();
        if let Some(next) = self
            .consent_step(
                &request,
                connector_id,
                &claims,
                &connector_data,
                &upstream_id_token,
            )
            .await?
        {
            return Ok(next);
        }
        self.complete_login(
            request,
            connector_id,
            claims,
            connector_data,
            upstream_id_token,
        )
        .await
    }

    /// The login is done and allowed: approve the device request, or
    /// redirect to the client with a code.
    pub(crate) async fn complete_login(
        &self,
        request: AuthRequest,
        connector_id: &str,
        claims: Claims,
        connector_data: Secret<String>,
        upstream_id_token: Secret<String>,
    ) -> Result<Next, PageError> {
        let now = self.now();
        if !request.device.is_empty() {
            let client_id = request.client_id.clone();
            self.store
                .update::<DeviceRequest, _>(&request.device, |d| {
                    d.status = "approved".into();
                    d.claims = Some(claims.clone());
                    d.connector_id = connector_id.to_owned();
                    d.connector_data = connector_data.clone();
                    Ok(())
                })
                .await
                .map_err(|e| match e {
                    tusk_store::Error::NotFound { .. } => PageError::new(
                        400,
                        Fault::Expired,
                        "The device code has expired",
                        "The code expired before sign-in finished. Start again on your device to get a new code.",
                        "the device request expired before the login finished",
                    ),
                    other => other.into(),
                })?;
            let client = self.client(&client_id).await?;
            let client_name = crate::prompts::display_name(client.as_ref(), &client_id);
            return Ok(Next::DeviceApproved { client_name });
        }
        let started = self
            .start_session(
                &request.prior_session,
                connector_id,
                &claims,
                &connector_data,
                Some(&upstream_id_token).filter(|t| !t.expose().is_empty()),
                now,
            )
            .await
            .map_err(|e| PageError::internal(e.description))?;
        let redirect = self
            .issue_code(
                &request,
                connector_id,
                &claims,
                &connector_data,
                now,
                started.as_ref().map(|(_, s)| s),
            )
            .await?;
        tracing::info!(client = %request.client_id, connector = %connector_id, "login succeeded");
        Ok(match started {
            Some((session, _)) => Next::SignedIn {
                redirect,
                session,
                connector_id: connector_id.to_owned(),
            },
            None => Next::Redirect(redirect),
        })
    }

    /// Stores a single-use code for a login (fresh, or answered from the
    /// browser session `session`) and returns the redirect to the client.
    async fn issue_code(
        &self,
        request: &AuthRequest,
        connector_id: &str,
        claims: &Claims,
        connector_data: &Secret<String>,
        auth_time: i64,
        session: Option<&BrowserSession>,
    ) -> Result<String, PageError> {
        let now = self.now();
        let code = random_token(32);
        self.store
            .create(&AuthCode {
                id: hash_token(&code),
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                scopes: request.scopes.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                code_challenge_method: request.code_challenge_method.clone(),
                connector_id: connector_id.to_owned(),
                claims: claims.clone(),
                connector_data: connector_data.clone(),
                auth_time,
                used: false,
                family: String::new(),
                browser_session: session.map(|s| s.id.clone()).unwrap_or_default(),
                sid: session.map(|s| s.sid.clone()).unwrap_or_default(),
                expires_at: now + self.settings.code_ttl,
            })
            .await?;
        Ok(with_query(
            &request.redirect_uri,
            &[
                ("code", &code),
                ("state", &request.state),
                ("iss", &self.settings.issuer),
            ],
        ))
    }
}

impl Provider {
    /// A connector's display name, or its id when it has none.
    fn connector_name(&self, connector_id: &str) -> String {
        self.connectors()
            .iter()
            .find(|s| s.id == connector_id)
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| connector_id.to_owned())
    }

    /// `GET /choose?req=ID`: the chooser again for a pending login, which
    /// an error page links to as "use another sign-in method".
    pub async fn chooser(&self, request_id: &str, browser: &Browser) -> Result<Next, PageError> {
        self.pending_request(request_id, browser, "the chooser")
            .await?;
        Ok(Next::Choose {
            request_id: request_id.to_owned(),
            connectors: self.connectors().to_vec(),
        })
    }

    /// Adds to a page about pending login `request` what the user can do:
    /// try the same method again (only when the fault is transient, so no
    /// page promises a recovery that will not happen), use another method
    /// (when there are several), or go back to the application at its
    /// registered redirect URI with the OAuth error (a browser login only;
    /// a device login has no redirect).
    async fn offer(&self, page: PageError, request: &AuthRequest, connector_id: &str) -> PageError {
        let mut page = page;
        if page.fault == Fault::Transient && !connector_id.is_empty() {
            page = page.with_retry(with_query(
                &self.settings.url(&format!("/auth/{connector_id}")),
                &[("req", &request.id)],
            ));
        }
        if self.connectors().len() > 1 {
            page = page.with_chooser(with_query(
                &self.settings.url("/choose"),
                &[("req", &request.id)],
            ));
        }
        if request.device.is_empty() && !request.redirect_uri.is_empty() {
            let app = match self.client(&request.client_id).await {
                Ok(Some(c)) if !c.name.is_empty() => c.name,
                _ => "the application".to_owned(),
            };
            let code = match page.fault {
                Fault::Transient => ErrorCode::TemporarilyUnavailable,
                Fault::Setup => ErrorCode::ServerError,
                _ => ErrorCode::AccessDenied,
            };
            let description = page.title.clone();
            page = page.with_back(
                &app,
                with_query(
                    &request.redirect_uri,
                    &[
                        ("error", code.as_str()),
                        ("error_description", &description),
                        ("state", &request.state),
                        ("iss", &self.settings.issuer),
                    ],
                ),
            );
        }
        page
    }
}

pub(crate) fn connector_scopes(scopes: &[String]) -> Scopes {
    Scopes {
        offline_access: scopes.iter().any(|s| s == "offline_access"),
        groups: scopes.iter().any(|s| s == "groups"),
    }
}

fn upstream(request: &AuthRequest) -> UpstreamParams {
    UpstreamParams {
        nonce: request.upstream_nonce.expose().clone(),
        pkce_verifier: None,
    }
}

pub(crate) fn to_claims(i: &Identity) -> Claims {
    Claims {
        user_id: i.user_id.clone(),
        username: i.username.clone(),
        preferred_username: i.preferred_username.clone(),
        email: i.email.clone(),
        email_verified: i.email_verified,
        groups: i.groups.clone(),
    }
}

pub(crate) fn to_identity(c: &Claims, data: &Secret<String>) -> Identity {
    Identity {
        user_id: c.user_id.clone(),
        username: c.username.clone(),
        preferred_username: c.preferred_username.clone(),
        email: c.email.clone(),
        email_verified: c.email_verified,
        groups: c.groups.clone(),
        connector_data: (!data.is_empty()).then(|| data.clone()),
        upstream_id_token: None,
    }
}

#[cfg(test)]
mod tests {
    /// The words each upstream client uses for "not answering", as they
    /// arrive inside a connector's error (issue 15: an outage is never
    /// shown as a setup mistake).
    #[test]
    fn upstream_outages_are_told_from_refusals() {
        for (reason, want) in [
            (
                "connecting at `ldap://h:389` failed: I/O error: Connection refused (os error 111)",
                true,
            ),
            (
                "binding as `cn=x` at `ldap://h:389` failed: timeout: deadline has elapsed",
                true,
            ),
            (
                "POST https://github.com/login/oauth/access_token: error sending request",
                true,
            ),
            ("GET https://x/keys: 503 Service Unavailable", true),
            ("the ID token's audience is `other`, not `tusk`", false),
            ("GET https://x/token: 401 Unauthorized", false),
        ] {
            assert_eq!(super::unreachable(reason), want, "{reason}");
        }
    }

    /// SAML refusals are told apart (issue 15): only a fault an
    /// administrator must fix says "isn't set up correctly". The reasons
    /// are the `saml` connector's texts.
    #[test]
    fn saml_refusals_are_classified() {
        use super::{Fault, connector_fault};
        let refused = |reason: &str| tusk_connector::Error::SamlRefused {
            connector: "corp".into(),
            reason: reason.into(),
        };
        for (reason, want) in [
            (
                "the assertion expired at 2026-01-01T00:00:00Z (tusk's clock says 2026-01-01T00:10:00Z, skew allowed 180s): log in again",
                Fault::Expired,
            ),
            (
                "the assertion is not valid before 2026-01-01T00:10:00Z (tusk's clock says 2026-01-01T00:00:00Z, skew allowed 180s): check the clocks",
                Fault::Expired,
            ),
            (
                "no bearer subject confirmation holds: the assertion expired at 2026-01-01T00:00:00Z (...)",
                Fault::Expired,
            ),
            (
                "the response answers request `id-1`, not the one tusk sent for this login; tusk accepts only responses to its own requests (no IdP-initiated login): start the login from the application",
                Fault::Expired,
            ),
            (
                "no bearer subject confirmation holds: the assertion answers no request (no InResponseTo): IdP-initiated login is refused; start the login from the application",
                Fault::Expired,
            ),
            (
                "the IdP answered status `Responder` instead of Success: authentication failed",
                Fault::Refused,
            ),
            ("the user is not a member of allowedGroups", Fault::Refused),
            (
                "the IdP answered status `Requester` instead of Success",
                Fault::Setup,
            ),
            (
                "signature does not verify with the configured certificate",
                Fault::Setup,
            ),
            (
                "no configured IdP certificate is valid now (`CN=idp` valid 2020-01-01T00:00:00Z to 2021-01-01T00:00:00Z): put the IdP's current signing certificate in `ca`/`caData`",
                Fault::Setup,
            ),
            (
                "the assertion is meant for audience [\"other\"], not this SP `https://tusk/saml`",
                Fault::Setup,
            ),
            (
                "the response's Destination is `https://x/acs`, not this connector's redirectURI `https://tusk/callback`",
                Fault::Setup,
            ),
            (
                "the assertion's Issuer is `https://x`, not the configured ssoIssuer `https://idp`",
                Fault::Setup,
            ),
            (
                "the assertion has no attribute `email` (it has `mail`): map it at the IdP or change the connector's attribute names",
                Fault::Setup,
            ),
        ] {
            assert_eq!(connector_fault(&refused(reason)), want, "{reason}");
        }
        // The page promises only what can happen: an expired answer is
        // started again, not waited out.
        let page = super::PageError::login_method("Corp SSO", Fault::Expired, "d");
        assert_eq!(page.status, 400);
        assert!(page.title.contains("has expired"), "{page:?}");
        assert!(page.message.contains("Start again"), "{page:?}");
        assert!(!page.message.contains("Wait a minute"), "{page:?}");
    }

    /// An upstream that answered "not this user" refused the person: the
    /// page says so ("did not let you sign in"), never "isn't set up
    /// correctly", which would send everyone refused to an administrator
    /// as if the connector were broken. The texts are the github
    /// connector's (`github.rs`, `explain`).
    #[test]
    fn a_user_the_upstream_refuses_is_refused_not_a_setup_fault() {
        use super::{Fault, connector_fault};
        let upstream = |reason: &str| tusk_connector::Error::Upstream {
            connector: "github".into(),
            reason: reason.into(),
        };
        for reason in [
            "GitHub user `mallory` is not a member of an organization allowed to log in here; ask an administrator for access",
            "GitHub user `mallory` is not in a team allowed to log in here; ask an administrator for access",
            "GitHub user `mallory` has no verified primary email address; verify an address at GitHub (Settings → Emails) and log in again",
            "access_denied: the user cancelled",
        ] {
            assert_eq!(
                connector_fault(&upstream(reason)),
                Fault::Refused,
                "{reason}"
            );
        }
        assert_eq!(
            connector_fault(&upstream("the ID token's audience is `other`, not `tusk`")),
            Fault::Setup
        );
    }
}
