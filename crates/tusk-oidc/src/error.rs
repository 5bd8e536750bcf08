//! OAuth 2.0 / OIDC errors as types. Each code's wire form is the RFC
//! string; an `OAuthError`'s HTTP status is chosen in tusk-server. A
//! `PageError` carries its status as a number, because whether a page says
//! "bad request" or "try again later" is part of the login logic (the
//! token grant tells an unavailable connector from a missing one by it).

use std::fmt;

/// Error codes from RFC 6749 §4.1.2.1 and §5.2, RFC 8628 §3.5, RFC 7009
/// §2.2.1 and OIDC Core §3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    UnsupportedTokenType,
    InvalidToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }
}

/// An error for a client (token endpoint, device endpoint, redirect back to
/// the client). `description` is shown to developers, so it says what was
/// wrong; it never contains a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    pub fn server(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::ServerError, description)
    }
}

/// Why a page for people failed, which decides what the page may promise:
/// a setup fault never says "try again", a transient one never says "tell
/// your administrator" (issue 15: a wrong issuer in the config is not
/// "temporarily" unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The link or request itself is wrong (unknown application,
    /// unregistered redirect, malformed parameters): the application's
    /// developer must fix it.
    Request,
    /// The login expired or was already used: start again from the app.
    Expired,
    /// tusk or an upstream provider is set up wrongly (wrong issuer, bad
    /// client secret, unknown connector type): only an administrator can
    /// fix it.
    Setup,
    /// Failing for now (upstream timeout or 5xx, storage, busy, rate
    /// limit): trying again later can work.
    Transient,
    /// The user was refused (the upstream said no, wrong code).
    Refused,
}

impl Fault {
    /// The word a template and the log use for this fault.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Request => "request",
            Fault::Expired => "expired",
            Fault::Setup => "setup",
            Fault::Transient => "transient",
            Fault::Refused => "refused",
        }
    }

    /// Whether a connector's failure text (`tusk_connector::Error`'s
    /// message, or a slot's reason) says the configuration is wrong rather
    /// than the upstream being down. The texts are our connectors' own:
    /// a config error, an unsupported type, go-oidc's issuer mismatch, and
    /// the upstream refusing our client (RFC 6749 `invalid_client`/
    /// `unauthorized_client`, GitHub's `incorrect_client_credentials`, or a
    /// 401/403/404 answer to discovery or the token endpoint).
    pub fn of_connector_failure(reason: &str) -> Fault {
        const SETUP: &[&str] = &[
            "invalid config",
            "cannot open connectors of type",
            "issuer did not match",
            "invalid_client",
            "unauthorized_client",
            "incorrect_client_credentials",
            "redirect_uri_mismatch",
            "401 Unauthorized",
            "403 Forbidden",
            "404 Not Found",
            "certificate",
        ];
        if SETUP.iter().any(|m| reason.contains(m)) {
            Fault::Setup
        } else {
            Fault::Transient
        }
    }
}

/// A link a page offers: where it goes and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    pub label: String,
}

/// A failure shown to a person in the browser, never sent to a redirect
/// URI: either the redirect URI itself is in doubt, or the user must act.
///
/// Only `title`, `message`, the links and `reference` reach the page;
/// `detail` (the internal chain, with the names an administrator needs)
/// goes to the log under the same `reference`, never to the browser.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{title} (reference {reference}): {detail}")]
pub struct PageError {
    /// HTTP status to answer with.
    pub status: u16,
    pub fault: Fault,
    /// Plain words for the user: "Okta sign-in is unavailable right now".
    pub title: String,
    /// What happened and what the user can do, in plain words.
    pub message: String,
    /// What an administrator needs: the cause chain and the fix. Logged
    /// with `reference`; never rendered.
    pub detail: String,
    /// A short random id shown on the page and logged with `detail`, so a
    /// user's report finds the log line.
    pub reference: String,
    /// What the user can do next; boxed, so a `Result` carrying a
    /// `PageError` stays small.
    pub links: Box<Links>,
}

/// The links an error page offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// "Try again": the same step once more (transient faults only).
    pub retry: Option<Link>,
    /// "Use another sign-in method": the chooser, when there is more than
    /// one connector.
    pub chooser: Option<Link>,
    /// Back to the application, at a redirect URI known to be registered.
    pub back: Option<Link>,
}

/// `detail` may name upstream URLs and configuration, so `Debug` (which
/// reaches test output and panics) shows it but never more than the page
/// and the log already hold: no secrets are ever put into a PageError.
impl fmt::Debug for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageError")
            .field("status", &self.status)
            .field("fault", &self.fault)
            .field("title", &self.title)
            .field("message", &self.message)
            .field("detail", &self.detail)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// A fresh reference id: 8 characters from an alphabet without look-alikes
/// (no 0/O, 1/l/I), grouped `xxxx-xxxx` so it is easy to read out.
pub fn new_reference() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let mut out = String::with_capacity(9);
    while out.len() < 9 {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        // 248 = 8 * 31: no modulo bias.
        for b in bytes.iter().filter(|b| **b < 248) {
            if out.len() == 4 {
                out.push('-');
            }
            if out.len() < 9 {
                out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// The start of an identifier that is also a credential (an auth request
/// id, a state), enough to find it in other log lines, never enough to use.
pub fn abbreviate(id: &str) -> String {
    let head: String = id.chars().take(6).collect();
    format!("{head}…")
}

impl PageError {
    /// A page with a fresh reference and no links.
    pub fn new(
        status: u16,
        fault: Fault,
        title: impl Into<String>,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> PageError {
        PageError {
            status,
            fault,
            title: title.into(),
            message: message.into(),
            detail: detail.into(),
            reference: new_reference(),
            links: Box::default(),
        }
    }

    /// A request the application got wrong: 400, and the developer's
    /// detail only in the log.
    pub fn bad_request(
        title: &str,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> PageError {
        PageError::new(400, Fault::Request, title, message, detail)
    }

    /// A fault in tusk itself: 500, and the cause only in the log.
    pub fn internal(detail: impl Into<String>) -> PageError {
        PageError::new(
            500,
            Fault::Setup,
            "Sign-in isn't working",
            "Something went wrong on our side, so you cannot sign in right now. If it keeps happening, tell your administrator and give them the reference below.",
            detail,
        )
    }

    /// The login took too long or was already used.
    pub fn expired(detail: impl Into<String>) -> PageError {
        PageError::new(
            400,
            Fault::Expired,
            "This sign-in has expired",
            "Sign-in links work once and for a few minutes. Go back to the application and start again.",
            detail,
        )
    }

    /// Adds a "Try again" link.
    pub fn with_retry(mut self, href: impl Into<String>) -> PageError {
        self.links.retry = Some(Link {
            href: href.into(),
            label: "Try again".into(),
        });
        self
    }

    /// Adds a link to the chooser.
    pub fn with_chooser(mut self, href: impl Into<String>) -> PageError {
        self.links.chooser = Some(Link {
            href: href.into(),
            label: "Use another sign-in method".into(),
        });
        self
    }

    /// Adds a link back to the application (`href` must be a registered
    /// redirect URI, with the OAuth error in its query).
    pub fn with_back(mut self, app: &str, href: impl Into<String>) -> PageError {
        self.links.back = Some(Link {
            href: href.into(),
            label: format!("Back to {app}"),
        });
        self
    }
}

impl PageError {
    /// A login method (connector) that failed, in words that match the
    /// fault: "isn't set up correctly" (tell an administrator), "did not
    /// let you sign in", or "unavailable right now" (try again).
    pub fn login_method(name: &str, fault: Fault, detail: impl Into<String>) -> PageError {
        let (status, title, message) = match fault {
            Fault::Setup => (
                503,
                format!("{name} sign-in isn't set up correctly"),
                format!(
                    "You cannot sign in with {name} until an administrator fixes its settings. Tell your administrator and give them the reference below."
                ),
            ),
            Fault::Refused => (
                403,
                format!("{name} did not let you sign in"),
                format!(
                    "{name} refused this sign-in. If you cancelled it, start again; otherwise ask your administrator whether you may use this application."
                ),
            ),
            // The upstream's answer was too old or belonged to another
            // sign-in: trying the same answer again cannot work.
            Fault::Expired => (
                400,
                format!("This {name} sign-in has expired"),
                format!(
                    "The answer from {name} was too old, or belonged to an earlier sign-in, so it was not used. Start again from the application."
                ),
            ),
            _ => (
                503,
                format!("{name} sign-in is unavailable right now"),
                format!("{name} is not answering at the moment. Wait a minute and try again."),
            ),
        };
        PageError::new(status, fault, title, message, detail)
    }
}

impl From<tusk_store::Error> for PageError {
    fn from(e: tusk_store::Error) -> Self {
        PageError::new(
            503,
            Fault::Transient,
            "Sign-in is unavailable right now",
            "The sign-in service cannot reach its storage at the moment. Wait a minute and try again.",
            format!(
                "storage failure during login: {e}; check that the database is reachable (`/readyz` says more)"
            ),
        )
    }
}

impl From<tusk_store::Error> for OAuthError {
    fn from(e: tusk_store::Error) -> Self {
        tracing::error!(error = %e, "storage failure at a protocol endpoint");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "storage is unavailable; retry later",
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: a connector failure that only a new setting fixes is a
    /// setup fault; anything else may recover and is transient. One row per
    /// text our connectors produce.
    #[test]
    fn connector_failures_are_told_setup_or_transient() {
        let rows = [
            (
                "connector `x`: invalid config: `issuer` is missing",
                Fault::Setup,
            ),
            (
                "tusk cannot open connectors of type `keystone` yet",
                Fault::Setup,
            ),
            (
                "oidc: issuer did not match the issuer returned by provider, expected \"a\" got \"b\"",
                Fault::Setup,
            ),
            (
                "failed to get token: oauth2: \"invalid_client\" \"bad secret\"",
                Fault::Setup,
            ),
            ("GitHub: incorrect_client_credentials", Fault::Setup),
            (
                "GET https://x/.well-known/openid-configuration: 404 Not Found",
                Fault::Setup,
            ),
            (
                "GET https://x/.well-known/openid-configuration: error sending request: connection refused",
                Fault::Transient,
            ),
            (
                "GET https://x/keys: 503 Service Unavailable",
                Fault::Transient,
            ),
            ("opening took longer than 60 s", Fault::Transient),
            (
                "connecting to the upstream identity provider",
                Fault::Transient,
            ),
        ];
        for (reason, want) in rows {
            assert_eq!(Fault::of_connector_failure(reason), want, "{reason}");
        }
    }

    #[test]
    fn references_are_short_readable_and_fresh() {
        let a = new_reference();
        assert_eq!(a.len(), 9, "{a}");
        assert_eq!(&a[4..5], "-");
        assert!(
            a.chars()
                .all(|c| c == '-' || "23456789abcdefghjkmnpqrstuvwxyz".contains(c)),
            "{a}"
        );
        assert_ne!(a, new_reference());
        let p = PageError::internal("x");
        assert_ne!(p.reference, PageError::internal("x").reference);
        assert!(!format!("{p}").is_empty());
    }
}
