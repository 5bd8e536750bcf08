//! The provider's browser cookies: `tusk_session`, which binds a browser
//! to its session at the provider, `tusk_connector`, the login method
//! the browser last used (the chooser puts it first), and `tusk_login`,
//! the login binding that ties each login's steps to the browser that
//! started it (`tusk_oidc::Browser`).
//!
//! Both are host-only (no `Domain`), scoped to the issuer's path,
//! `HttpOnly`, `SameSite=Lax` (sent on the top-level navigations a login
//! and a logout are, not on cross-site subrequests), and `Secure` when the
//! issuer is https. A value set by another issuer on a parent path also
//! arrives under the same name; the provider ignores values it has no
//! session for, so it costs a lookup and nothing more.
//!
//! Cookie tossing: a host under the same parent domain can set a cookie
//! of the same name with `Domain=<parent>`, and a browser sends both.
//! For the login binding that would let an attacker plant their own
//! browser's value in a victim's browser and so pass the binding check
//! with a forwarded link. When the issuer is https at the host's root
//! path, the binding is named `__Host-tusk_login`: browsers accept that
//! name only from the host itself, `Secure`, with `Path=/` and no
//! `Domain`, so no sibling can set it. Elsewhere (http, or an issuer
//! path) the prefix is not allowed, and the defence is to not share the
//! issuer's parent domain with hosts you do not trust (README, "Sign-in
//! pages").

use http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "tusk_session";
pub const CONNECTOR: &str = "tusk_connector";
pub const BINDING: &str = "tusk_login";
/// The login binding under the `__Host-` prefix (https at path `/`).
pub const BINDING_HOST: &str = "__Host-tusk_login";
/// How long the binding lives in the browser: it is set (a new value)
/// whenever a login starts without one, and a day outlasts any login
/// (auth requests and device codes live minutes).
pub const BINDING_LIFETIME: i64 = 24 * 3600;

/// Every value the request carries for cookie `name`, in order.
pub fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// How the cookies of one issuer are written.
#[derive(Debug, Clone)]
pub struct CookieJar {
    /// The issuer's path (`/dex`), or `/` when it has none.
    path: String,
    secure: bool,
}

impl CookieJar {
    /// `path` is the issuer's path (`oidc::url_path`).
    pub fn new(issuer: &str, path: &str) -> CookieJar {
        CookieJar {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
            secure: issuer.starts_with("https://"),
        }
    }

    /// The login binding's name: `__Host-` prefixed where browsers allow
    /// it (https, path `/`), which no sibling host can set.
    pub fn binding_name(&self) -> &'static str {
        if self.secure && self.path == "/" {
            BINDING_HOST
        } else {
            BINDING
        }
    }

    /// `Set-Cookie` for `name=value`, living `max_age` seconds (0 deletes).
    /// `value` must be cookie-safe (our tokens are base64url; a connector
    /// id is percent-encoded by the caller).
    pub fn set(&self, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.path
        ))
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_value_and_writes_scoped_attributes() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tusk_session=x; tusk_session=y"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("tusk_session=\"z\""),
        );
        assert_eq!(values(&h, SESSION), ["x", "y", "z"]);
        assert!(values(&h, CONNECTOR).is_empty());
        let jar = CookieJar::new("https://h.example/dex", "/dex");
        assert_eq!(
            jar.set(SESSION, "v", 60).unwrap(),
            "tusk_session=v; Path=/dex; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(jar.binding_name(), BINDING);
        assert_eq!(
            CookieJar::new("https://h.example", "").binding_name(),
            BINDING_HOST
        );
        let jar = CookieJar::new("http://127.0.0.1:5556", "");
        assert_eq!(jar.binding_name(), BINDING);
        assert_eq!(
            jar.set(SESSION, "v", 0).unwrap(),
            "tusk_session=v; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }
}
