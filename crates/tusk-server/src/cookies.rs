//! The provider's browser cookies: `tusk_session`, which binds a browser
//! to its session at the provider, and `tusk_connector`, the login method
//! the browser last used (the chooser puts it first).
//!
//! Both are host-only (no `Domain`), scoped to the issuer's path,
//! `HttpOnly`, `SameSite=Lax` (sent on the top-level navigations a login
//! and a logout are, not on cross-site subrequests), and `Secure` when the
//! issuer is https. A value set by another issuer on a parent path also
//! arrives under the same name; the provider ignores values it has no
//! session for, so it costs a lookup and nothing more.

use http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "tusk_session";
pub const CONNECTOR: &str = "tusk_connector";

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
        let jar = CookieJar::new("http://127.0.0.1:5556", "");
        assert_eq!(
            jar.set(SESSION, "v", 0).unwrap(),
            "tusk_session=v; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }
}
