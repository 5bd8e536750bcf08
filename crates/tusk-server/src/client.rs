//! The client's address: the TCP peer, or, when the peer is a configured
//! trusted proxy, the address that proxy reports. Rate limits, login
//! throttling and request logs all key on it.
//!
//! A forwarding header is believed only from a trusted peer: anyone else
//! could put any address in it and pick their own rate-limit bucket. Even
//! from a trusted proxy only the right-most hops are believed: each proxy
//! appends the address it received from, so entries left of the first
//! untrusted hop were written by the client and may be forged.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use tusk_core::config::Cidr;

/// The derived client address, set on every request by the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// `tusk.trustedProxies`; empty believes no forwarding header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address for a request from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.ip().to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // `X-Forwarded-For` is the common header; `Forwarded` (RFC 7239) is
        // read when it is absent. Several header lines form one list.
        let hops: Vec<Option<IpAddr>> = if headers.contains_key("x-forwarded-for") {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|v| v.to_str().unwrap_or_default().split(','))
                .map(parse_hop)
                .collect()
        } else {
            headers
                .get_all(http::header::FORWARDED)
                .iter()
                .flat_map(|v| v.to_str().unwrap_or_default().split(','))
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| parse_hop(v))
                })
                .collect()
        };
        for hop in hops.into_iter().rev() {
            // An unreadable hop (`unknown`, an obfuscated name, garbage)
            // ends the walk: what lies left of it cannot be attributed.
            let Some(ip) = hop else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, or RFC 7239's
/// quoted `"[2001:db8::1]:4711"`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let bracketed = text.strip_prefix('[')?;
    let inner = bracketed.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let trusted = TrustedProxies(vec![
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ]);
        let none = TrustedProxies::default();
        // (trusted list, peer, header name, header value, expected client)
        let rows: &[(&TrustedProxies, &str, &str, &str, &str)] = &[
            (
                &none,
                "198.51.100.9:1",
                "x-forwarded-for",
                "1.2.3.4",
                "198.51.100.9",
            ),
            (
                &trusted,
                "198.51.100.9:1",
                "x-forwarded-for",
                "1.2.3.4",
                "198.51.100.9",
            ),
            (
                &trusted,
                "10.0.0.2:1",
                "x-forwarded-for",
                "1.2.3.4",
                "1.2.3.4",
            ),
            (
                &trusted,
                "10.0.0.2:1",
                "x-forwarded-for",
                "6.6.6.6, 1.2.3.4, 10.0.0.3",
                "1.2.3.4",
            ),
            (
                &trusted,
                "10.0.0.2:1",
                "x-forwarded-for",
                "10.0.0.4, 10.0.0.3",
                "10.0.0.4",
            ),
            (
                &trusted,
                "10.0.0.2:1",
                "x-forwarded-for",
                "6.6.6.6, unknown, 10.0.0.3",
                "10.0.0.3",
            ),
            (
                &trusted,
                "10.0.0.2:1",
                "x-forwarded-for",
                "1.2.3.4:5678",
                "1.2.3.4",
            ),
            (
                &trusted,
                "[::1]:1",
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https",
                "2001:db8::1",
            ),
            (
                &trusted,
                "10.0.0.2:1",
                "forwarded",
                "For=192.0.2.60;proto=http",
                "192.0.2.60",
            ),
            (&trusted, "10.0.0.2:1", "x-real-ip", "1.2.3.4", "10.0.0.2"),
        ];
        for (list, peer, name, value, want) in rows {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(value).unwrap(),
            );
            let got = list.client(peer.parse().unwrap(), &headers);
            assert_eq!(got.to_string(), *want, "{peer} {name}: {value}");
        }
    }
}
