//! Redirect URI matching and building.

use tusk_store::OidcClient;

/// Exact redirect URI matching (RFC 9700 §4.1.3), with one exception for
/// public native clients (RFC 8252 §7.3): a registered loopback URI matches
/// the same URI on any port.
pub fn redirect_matches(client: &OidcClient, requested: &str) -> bool {
    if client.redirect_uris.iter().any(|r| r == requested) {
        return true;
    }
    if !client.public {
        return false;
    }
    let Ok(req) = url::Url::parse(requested) else {
        return false;
    };
    if req.scheme() != "http" || !is_loopback_host(&req) {
        return false;
    }
    client.redirect_uris.iter().any(|registered| {
        url::Url::parse(registered).is_ok_and(|reg| {
            reg.scheme() == "http"
                && reg.host() == req.host()
                && reg.path() == req.path()
                && reg.query() == req.query()
                && req.fragment().is_none()
        })
    })
}

fn is_loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Appends query parameters to a URL that may already have a query.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => base.to_owned(),
    }
}
