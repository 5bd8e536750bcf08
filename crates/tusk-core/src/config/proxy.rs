//! The `ingress` and `proxy` sections: the public host and scheme every
//! derived URL uses, and the listener's TLS certificate.

use super::loader::Loader;
use super::lookup::Values;
use super::model::{Input, TlsPem};
use crate::Secret;
use crate::yaml::Pos;

/// Where users reach tusk, derived from the values as Pachyderm's chart
/// derives it.
pub(super) struct Endpoint {
    pub(super) ingress: bool,
    /// `ingress.host` when the ingress is on, else `proxy.host`.
    pub(super) host: Option<String>,
    /// `https` when either TLS switch or the ingress override is on.
    pub(super) proto: &'static str,
    /// `http(s)://host:port` of the `--listen` address, for setups with no
    /// host at all.
    pub(super) local: String,
}

pub(super) fn endpoint(v: Values<'_>, input: &Input<'_>) -> Endpoint {
    let ingress = v.bool_at(&["ingress", "enabled"], false);
    let host = if ingress {
        v.str_at(&["ingress", "host"])
    } else {
        None
    }
    .or_else(|| v.str_at(&["proxy", "host"]));
    let https = v.bool_at(&["ingress", "tls", "enabled"], false)
        || v.bool_at(&["proxy", "tls", "enabled"], false)
        || v.bool_at(&["ingress", "uriHttpsProtoOverride"], false);
    let proto = if https { "https" } else { "http" };
    let local = local_base(&input.listen);
    Endpoint {
        ingress,
        host,
        proto,
        local,
    }
}

impl Loader<'_> {
    /// `proxy.tls`: the certificate and key from the named secret.
    pub(super) fn tls(
        &mut self,
        input: &Input<'_>,
        v: Values<'_>,
        secret_start: usize,
    ) -> Option<TlsPem> {
        if v.bool_at(&["proxy", "tls", "enabled"], false) {
            let pos = v
                .get(&["proxy", "tls", "enabled"])
                .map_or(Pos::default(), |n| n.pos);
            match v.str_at(&["proxy", "tls", "secretName"]) {
                Some(name) => {
                    let cert = self.secret(
                        input,
                        secret_start,
                        "proxy.tls.secretName",
                        &name,
                        "tls.crt",
                        pos,
                    );
                    let key = self.secret(
                        input,
                        secret_start,
                        "proxy.tls.secretName",
                        &name,
                        "tls.key",
                        pos,
                    );
                    match (cert, key) {
                        (Some(cert_chain), Some(key)) => Some(TlsPem {
                            cert_chain,
                            private_key: Secret::new(key),
                            origin: format!("secret {name}"),
                        }),
                        _ => None,
                    }
                }
                None => {
                    self.ctx.error(
                        pos,
                        "proxy.tls.secretName",
                        "TLS is enabled but no secret holds the certificate",
                        Some("set proxy.tls.secretName to a secret with keys tls.crt and tls.key, or pass --tls-cert and --tls-key".into()),
                    );
                    None
                }
            }
        } else {
            None
        }
    }
}

/// `http://host:port` for a listen address; an unspecified host becomes
/// `localhost`, since a browser cannot go to 0.0.0.0.
/// `--listen` may carry `https://` when the listener itself serves TLS
/// (`--tls-cert`), so a derived issuer names the scheme the port speaks.
fn local_base(listen: &str) -> String {
    let (scheme, listen) = match listen.strip_prefix("https://") {
        Some(rest) => ("https", rest),
        None => ("http", listen.strip_prefix("http://").unwrap_or(listen)),
    };
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "30650"));
    let host = match host {
        "" | "0.0.0.0" | "[::]" | "::" => "localhost",
        h => h,
    };
    format!("{scheme}://{host}:{port}")
}
