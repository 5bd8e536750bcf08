//! `tusk doctor` for `saml` connectors: the IdP certificate parses and is
//! in date (a warning within [`WARN_DAYS`], a failure once expired), the
//! IdP's `ssoURL` answers, `redirectURI` is tusk's ACS (`<issuer>/callback`),
//! and signature checks are not turned off.

use crate::error::chain;
use serde_json::Value;
use tusk_connector::saml::{Certificate, ca_data_text, parse_pem};

/// A certificate expiring sooner than this is flagged for renewal.
pub(super) const WARN_DAYS: i64 = 30;

/// What the certificate check concludes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Ok(String),
    /// In date, but expiring soon: shown as ok with a warning in the text.
    Warn(String),
    Fail {
        detail: String,
        fix: String,
    },
}

const CERT_FIX: &str = "put the IdP's current signing certificate (from its metadata or admin console) in config.caData; during a rollover caData may hold both the old and the new one";

/// The verdict on the configured certificate text at unix time `now`. Pure.
pub(super) fn certificate_verdict(pem: &str, now: i64) -> Verdict {
    let certs: Vec<Certificate> = match parse_pem(pem) {
        Ok(c) => c,
        Err(e) => {
            return Verdict::Fail {
                detail: format!("the IdP certificate does not parse: {e}"),
                fix: CERT_FIX.into(),
            };
        }
    };
    let describe = |c: &Certificate| {
        let days = (c.not_after - now).div_euclid(86_400);
        format!("`{}` (line {}) expires in {days} day(s)", c.subject, c.line)
    };
    let valid: Vec<&Certificate> = certs
        .iter()
        .filter(|c| c.not_before <= now && now < c.not_after)
        .collect();
    let Some(best) = valid.iter().max_by_key(|c| c.not_after) else {
        let all: Vec<String> = certs
            .iter()
            .map(|c| {
                if c.not_before > now {
                    format!("`{}` (line {}) is not valid yet", c.subject, c.line)
                } else {
                    format!("`{}` (line {}) has expired", c.subject, c.line)
                }
            })
            .collect();
        return Verdict::Fail {
            detail: format!(
                "no configured IdP certificate is valid now: {}; logins fail",
                all.join(", ")
            ),
            fix: CERT_FIX.into(),
        };
    };
    if best.not_after - now < WARN_DAYS * 86_400 {
        Verdict::Warn(format!(
            "WARNING: {}; get the IdP's next certificate and add it to caData before then",
            describe(best)
        ))
    } else {
        Verdict::Ok(describe(best))
    }
}

/// One line of doctor's report, as this module finds it: `fix` is set
/// exactly when the check failed.
#[derive(Debug)]
pub(super) struct Finding {
    pub name: String,
    pub detail: String,
    pub fix: Option<String>,
}

/// The findings so far; doctor prints them in order.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn ok(&mut self, name: String, detail: impl Into<String>) {
        self.0.push(Finding {
            name,
            detail: detail.into(),
            fix: None,
        });
    }
    fn fail(&mut self, name: String, detail: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Finding {
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }
}

/// Checks one `saml` connector.
pub(super) async fn check(id: &str, config: &Value, tusk_issuer: Option<&str>) -> Vec<Finding> {
    let mut report = Findings::default();
    check_into(id, config, tusk_issuer, &mut report).await;
    report.0
}

async fn check_into(id: &str, config: &Value, tusk_issuer: Option<&str>, report: &mut Findings) {
    let name = |what: &str| format!("{id}: {what}");
    let text = |k: &str| {
        config
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    if let Some(issuer) = tusk_issuer {
        let acs = format!("{}/callback", issuer.trim_end_matches('/'));
        let redirect = text("redirectURI");
        if redirect == acs {
            report.ok(
                name("redirectURI"),
                format!("{acs}, tusk's ACS (POST binding)"),
            );
        } else {
            report.fail(
                name("redirectURI"),
                format!("config.redirectURI is \"{redirect}\", but tusk receives SAML responses at \"{acs}\""),
                format!("set config.redirectURI to \"{acs}\" and use it as the ACS URL at the IdP (tusk's SP metadata at {issuer}/saml/{id}/metadata has it)"),
            );
        }
    }
    let insecure = config.get("insecureSkipSignatureValidation") == Some(&Value::Bool(true));
    if insecure {
        report.fail(
            name("signatures"),
            "insecureSkipSignatureValidation is true: SAML signatures are not checked, so anyone can log in as anyone",
            "remove insecureSkipSignatureValidation and set config.caData to the IdP's signing certificate",
        );
    }
    // 1. The certificate.
    let pem = match (text("ca"), text("caData")) {
        (path, _) if !path.is_empty() => match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) => {
                report.fail(
                    name("certificate"),
                    format!("cannot read config.ca {path} here: {e}"),
                    "run doctor where the file is, or put the certificate itself in config.caData",
                );
                None
            }
        },
        (_, data) if !data.is_empty() => Some(ca_data_text(&data)),
        _ if insecure => None,
        _ => {
            report.fail(
                name("certificate"),
                "neither config.ca nor config.caData is set",
                CERT_FIX,
            );
            None
        }
    };
    if let Some(pem) = pem {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match certificate_verdict(&pem, now) {
            Verdict::Ok(d) | Verdict::Warn(d) => report.ok(name("certificate"), d),
            Verdict::Fail { detail, fix } => report.fail(name("certificate"), detail, fix),
        }
    }
    // 2. The IdP's SSO endpoint answers (any HTTP status: without a
    // SAMLRequest most IdPs answer 4xx, which still proves it is there).
    let sso = text("ssoURL");
    let http = match crate::client::http_client(None) {
        Ok(h) => h,
        Err(f) => return report.fail(name("ssoURL"), f.message, f.help.unwrap_or_default()),
    };
    match http.get(&sso).send().await {
        Ok(r) => report.ok(name("ssoURL"), format!("{sso} answered {}", r.status())),
        Err(e) => report.fail(
            name("ssoURL"),
            format!("{sso} is unreachable: {}", chain(&e)),
            "check config.ssoURL against the IdP's metadata (its SingleSignOnService location), and that this machine can reach it",
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn certificate_verdicts() {
        let pem = include_str!("../../../tusk-core/tests/core/data/saml-idp-cert.pem");
        let cert = &parse_pem(pem).unwrap()[0];
        let day = 86_400;
        let check = |pem: &str, now: i64, want: &str, fails: bool| {
            let v = certificate_verdict(pem, now);
            let (text, failed) = match &v {
                Verdict::Ok(d) | Verdict::Warn(d) => (d.clone(), false),
                Verdict::Fail { detail, .. } => (detail.clone(), true),
            };
            assert_eq!(failed, fails, "{v:?}");
            assert!(text.contains(want), "{v:?}");
        };
        check(pem, cert.not_before + day, "CN=tusk-config-test-idp", false);
        check(pem, cert.not_after - 10 * day, "WARNING", false);
        check(pem, cert.not_after + 1, "has expired", true);
        check(pem, cert.not_before - day, "is not valid yet", true);
        check("junk", 0, "does not parse: line 1", true);
        let warn = certificate_verdict(pem, cert.not_after - 31 * day);
        assert!(matches!(warn, Verdict::Ok(_)), "{warn:?}");
    }
}
