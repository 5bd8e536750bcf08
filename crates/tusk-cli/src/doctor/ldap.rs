//! `tusk doctor` for `ldap` connectors: for each one in the values, the
//! checks of [`tusk_connector::ldap::probe`] against the live directory
//! (connect with its TLS mode, service bind, the user and group search
//! bases), then the expiry of the directory's certificate, each failure
//! with its fix.
//!
//! Only from `--values`: a running server hands out connector configs with
//! `bindPW` masked, so the service bind cannot be tried from its answer.

use crate::output;
use tusk_connector::ldap::{Probe, probe};
use tusk_core::config::ConnectorSpec;

/// How a certificate's expiry is judged: `not_after` reads it from DER,
/// `now` is the time to judge against, and less than `renew_days` left is
/// a failure. Passed in by the caller, which owns the TLS checks.
pub struct Expiry {
    pub not_after: fn(&[u8]) -> Option<i64>,
    pub now: i64,
    pub renew_days: i64,
}

/// Probes every `ldap` connector, in order; one that fails never stops the
/// others.
pub async fn check(connectors: &[ConnectorSpec], expiry: &Expiry) -> Vec<Probe> {
    let mut out = Vec::new();
    for c in connectors.iter().filter(|c| c.type_ == "ldap") {
        let probes = probe(&c.id, &c.config).await;
        let cert = probes.iter().find_map(|p| p.certificate.clone());
        out.extend(probes);
        if let Some(t) = cert.as_deref().and_then(expiry.not_after) {
            out.push(certificate(&c.id, t, expiry));
        }
    }
    out
}

fn certificate(id: &str, not_after: i64, expiry: &Expiry) -> Probe {
    let days = (not_after - expiry.now).div_euclid(86_400);
    let detail = format!(
        "the directory's certificate expires {} ({days} days)",
        output::rfc3339(not_after)
    );
    let due = not_after - expiry.now < expiry.renew_days * 86_400;
    Probe {
        check: format!("ldap `{id}`: certificate"),
        ok: !due,
        detail,
        fix: due.then(|| "renew the directory's certificate before it expires".to_owned()),
        certificate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row: days until expiry, and whether doctor passes it.
    #[test]
    fn certificate_expiry_rows() {
        let now = 1_800_000_000;
        let expiry = Expiry {
            not_after: |_| None,
            now,
            renew_days: 14,
        };
        for (days, ok) in [
            (400, true),
            (15, true),
            (13, false),
            (0, false),
            (-3, false),
        ] {
            let p = certificate("corp", now + days * 86_400 + 60, &expiry);
            assert_eq!(p.ok, ok, "{days}: {p:?}");
            assert_eq!(p.fix.is_some(), !ok, "{days}");
            assert!(p.detail.contains(&format!("({days} days)")), "{p:?}");
        }
    }
}
