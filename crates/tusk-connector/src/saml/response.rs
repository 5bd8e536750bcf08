//! Validation of a SAML `Response` posted to the ACS: pure, no I/O, the
//! time passed in. The rules (docs/saml-connector.md states them for
//! admins):
//!
//! - The document is a `samlp:Response` holding exactly one
//!   `saml:Assertion`, as its direct child; no `EncryptedAssertion`, and no
//!   signature anywhere but as a direct child of the response or of the
//!   assertion. `ID` values are unique in the document.
//! - The assertion itself must carry a valid signature by a configured
//!   certificate. A response signature, when present, must be valid too;
//!   it never stands in for the assertion's (a signed response wrapping an
//!   unsigned assertion is refused).
//! - Everything the login uses is read from the very assertion element
//!   whose canonical bytes were verified, never looked up again by `ID`.
//! - Status is Success; `InResponseTo` of the response (when present) and
//!   of the bearer `SubjectConfirmationData` (required) are the id of the
//!   request tusk sent, so unsolicited (IdP-initiated) responses are
//!   refused; `Recipient` (required) and `Destination` (when present) are
//!   the ACS URL; `Audience` is the SP entity id; issuers are `ssoIssuer`
//!   when set; `NotBefore`/`NotOnOrAfter` hold within [`SKEW_SECS`].

use super::dsig::{self, DS, PublicKey};
use super::xml::{self, Element};
use base64::Engine;
use std::collections::HashSet;

pub(crate) const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Clock skew tolerated on `NotBefore` and `NotOnOrAfter`, both ways (the
/// same as the `oidc` connector's on token times).
pub const SKEW_SECS: i64 = 60;

/// The largest `SAMLResponse` form value read (base64 characters).
pub const MAX_RESPONSE_CHARS: usize = 512 * 1024;

/// What the checks compare against.
pub(crate) struct Rules<'a> {
    /// `None` only with `insecureSkipSignatureValidation`.
    pub keys: Option<&'a [PublicKey]>,
    pub audience: &'a str,
    /// The ACS URL (`redirectURI`).
    pub recipient: &'a str,
    pub sso_issuer: Option<&'a str>,
}

/// What a verified assertion says about the user.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    pub name_id: String,
    pub attributes: Vec<(String, Vec<String>)>,
}

/// Decodes and validates the form value `SAMLResponse` for the request
/// `request_id`, at unix time `now`.
pub(crate) fn validate(
    saml_response: &str,
    rules: &Rules<'_>,
    request_id: &str,
    now: i64,
) -> Result<Verified, String> {
    if saml_response.len() > MAX_RESPONSE_CHARS {
        return Err(format!(
            "the SAML response is larger than {MAX_RESPONSE_CHARS} characters"
        ));
    }
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "the SAMLResponse form value is not base64".to_owned())?;
    let text = String::from_utf8(raw).map_err(|_| "the SAML response is not UTF-8".to_owned())?;
    let root = xml::parse(&text)?;
    validate_tree(&root, rules, request_id, now)
}

fn validate_tree(
    root: &Element,
    rules: &Rules<'_>,
    request_id: &str,
    now: i64,
) -> Result<Verified, String> {
    if !root.is(PROTOCOL, "Response") {
        return Err(format!(
            "the document is a <{}>, not a SAML 2.0 <samlp:Response>",
            root.qname()
        ));
    }
    // Structure first: one assertion, where it belongs; signatures only
    // where they belong; unique IDs.
    let all = root.descendants();
    if all.iter().any(|e| e.is(ASSERTION, "EncryptedAssertion")) {
        return Err("the response holds an encrypted assertion; tusk does not decrypt assertions: turn assertion encryption off for this SP at the IdP".into());
    }
    let assertions = all.iter().filter(|e| e.is(ASSERTION, "Assertion")).count();
    if assertions != 1 {
        return Err(format!(
            "the response holds {assertions} assertions; exactly one is accepted"
        ));
    }
    let assertion = match root.only_child(ASSERTION, "Assertion") {
        Ok(Some(a)) => a,
        _ => return Err("the assertion is not a direct child of the response".into()),
    };
    let signatures = all.iter().filter(|e| e.is(DS, "Signature")).count();
    let response_sig = root
        .only_child(DS, "Signature")
        .map_err(|_| "the response has more than one signature".to_owned())?;
    let assertion_sig = assertion
        .only_child(DS, "Signature")
        .map_err(|_| "the assertion has more than one signature".to_owned())?;
    let placed = usize::from(response_sig.is_some()) + usize::from(assertion_sig.is_some());
    if signatures != placed {
        return Err(
            "the response has a signature outside the response and assertion elements".into(),
        );
    }
    let mut ids = HashSet::new();
    for e in &all {
        if let Some(id) = e.attr("ID")
            && !ids.insert(id)
        {
            return Err(format!(
                "the ID `{}` appears twice in the response",
                crate::query::truncate(id, 80)
            ));
        }
    }

    if let Some(keys) = rules.keys {
        let sig = assertion_sig.ok_or_else(|| {
            "the assertion is not signed; tusk requires the IdP to sign the assertion (a signature on the response alone is not enough): turn on assertion signing at the IdP".to_owned()
        })?;
        dsig::verify(assertion, sig, keys)?;
        if let Some(sig) = response_sig {
            dsig::verify(root, sig, keys)?;
        }
    }

    // The response envelope.
    check_issuer(root, rules, "response")?;
    if let Some(irt) = root.attr("InResponseTo")
        && irt != request_id
    {
        return Err(wrong_request(irt));
    }
    if let Some(dest) = root.attr("Destination")
        && dest != rules.recipient
    {
        return Err(format!(
            "the response's Destination is `{}`, not this connector's redirectURI `{}`",
            crate::query::truncate(dest, 200),
            rules.recipient
        ));
    }
    check_status(root)?;

    // The assertion.
    if check_issuer(assertion, rules, "assertion")?.is_none() {
        return Err("the assertion has no Issuer".into());
    }
    let subject = single(assertion, "Subject")?;
    let name_id = single(subject, "NameID")?.text();
    if name_id.is_empty() {
        return Err("the assertion's NameID is empty".into());
    }
    check_confirmation(subject, rules, request_id, now)?;
    check_conditions(single(assertion, "Conditions")?, rules, now)?;
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in assertion.children_named(ASSERTION, "AttributeStatement") {
        for attr in statement.children_named(ASSERTION, "Attribute") {
            let name = attr.attr("Name").unwrap_or("").to_owned();
            let values = attr
                .children_named(ASSERTION, "AttributeValue")
                .map(Element::text)
                .collect();
            attributes.push((name, values));
        }
    }
    Ok(Verified {
        name_id,
        attributes,
    })
}

fn single<'a>(parent: &'a Element, local: &str) -> Result<&'a Element, String> {
    match parent.only_child(ASSERTION, local) {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(format!("the <{}> has no {local}", parent.qname())),
        Err(n) => Err(format!("the <{}> has {n} {local} elements", parent.qname())),
    }
}

fn wrong_request(got: &str) -> String {
    format!(
        "the response answers request `{}`, not the one tusk sent for this login; tusk accepts only responses to its own requests (no IdP-initiated login): start the login from the application",
        crate::query::truncate(got, 80)
    )
}

fn check_issuer(el: &Element, rules: &Rules<'_>, what: &str) -> Result<Option<String>, String> {
    let issuer = match el.only_child(ASSERTION, "Issuer") {
        Ok(Some(i)) => i.text(),
        Ok(None) => return Ok(None),
        Err(_) => return Err(format!("the {what} has more than one Issuer")),
    };
    if let Some(want) = rules.sso_issuer
        && issuer != want
    {
        return Err(format!(
            "the {what}'s Issuer is `{}`, not the configured ssoIssuer `{want}`",
            crate::query::truncate(&issuer, 200)
        ));
    }
    Ok(Some(issuer))
}

fn check_status(root: &Element) -> Result<(), String> {
    let status = match root.only_child(PROTOCOL, "Status") {
        Ok(Some(s)) => s,
        _ => return Err("the response has no (single) Status".into()),
    };
    let code = match status.only_child(PROTOCOL, "StatusCode") {
        Ok(Some(c)) => c.attr("Value").unwrap_or(""),
        _ => return Err("the response's Status has no (single) StatusCode".into()),
    };
    if code == SUCCESS {
        return Ok(());
    }
    let short = code.rsplit(':').next().unwrap_or(code);
    let message = status
        .only_child(PROTOCOL, "StatusMessage")
        .ok()
        .flatten()
        .map(|m| format!(": {}", crate::query::truncate(&m.text(), 200)))
        .unwrap_or_default();
    Err(format!(
        "the IdP answered status `{}` instead of Success{message}",
        crate::query::truncate(short, 80)
    ))
}

fn check_confirmation(
    subject: &Element,
    rules: &Rules<'_>,
    request_id: &str,
    now: i64,
) -> Result<(), String> {
    let mut reasons = Vec::new();
    for c in subject.children_named(ASSERTION, "SubjectConfirmation") {
        let result = (|| {
            if c.attr("Method") != Some(BEARER) {
                return Err(format!(
                    "method `{}` is not bearer",
                    crate::query::truncate(c.attr("Method").unwrap_or(""), 80)
                ));
            }
            let data = single(c, "SubjectConfirmationData")?;
            match data.attr("InResponseTo") {
                Some(irt) if irt == request_id => {}
                Some(irt) => return Err(wrong_request(irt)),
                None => return Err("the assertion answers no request (no InResponseTo): IdP-initiated login is refused; start the login from the application".into()),
            }
            match data.attr("Recipient") {
                Some(r) if r == rules.recipient => {}
                Some(r) => {
                    return Err(format!(
                        "Recipient is `{}`, not this connector's redirectURI `{}`",
                        crate::query::truncate(r, 200),
                        rules.recipient
                    ));
                }
                None => return Err("SubjectConfirmationData has no Recipient".into()),
            }
            let until = data
                .attr("NotOnOrAfter")
                .ok_or_else(|| "SubjectConfirmationData has no NotOnOrAfter".to_owned())?;
            check_window(data.attr("NotBefore"), Some(until), now)
        })();
        match result {
            Ok(()) => return Ok(()),
            Err(e) => reasons.push(e),
        }
    }
    if reasons.is_empty() {
        return Err("the assertion's Subject has no SubjectConfirmation".into());
    }
    Err(format!(
        "no bearer subject confirmation holds: {}",
        reasons.join("; ")
    ))
}

fn check_conditions(conditions: &Element, rules: &Rules<'_>, now: i64) -> Result<(), String> {
    check_window(
        conditions.attr("NotBefore"),
        conditions.attr("NotOnOrAfter"),
        now,
    )?;
    let mut restrictions = 0;
    for r in conditions.children_named(ASSERTION, "AudienceRestriction") {
        restrictions += 1;
        let audiences: Vec<String> = r
            .children_named(ASSERTION, "Audience")
            .map(Element::text)
            .collect();
        if !audiences.iter().any(|a| a == rules.audience) {
            return Err(format!(
                "the assertion is meant for audience {}, not this SP `{}` (entityIssuer, or redirectURI when unset)",
                crate::query::truncate(&format!("{audiences:?}"), 200),
                rules.audience
            ));
        }
    }
    if restrictions == 0 {
        return Err("the assertion has no AudienceRestriction".into());
    }
    Ok(())
}

fn check_window(
    not_before: Option<&str>,
    not_on_or_after: Option<&str>,
    now: i64,
) -> Result<(), String> {
    if let Some(nb) = not_before {
        let t = parse_time(nb)?;
        if now + SKEW_SECS < t {
            return Err(format!(
                "the assertion is not valid before {nb} (tusk's clock says {}, skew allowed {SKEW_SECS}s): check the clocks",
                format_time(now)
            ));
        }
    }
    if let Some(na) = not_on_or_after {
        let t = parse_time(na)?;
        if now - SKEW_SECS >= t {
            return Err(format!(
                "the assertion expired at {na} (tusk's clock says {}, skew allowed {SKEW_SECS}s): log in again",
                format_time(now)
            ));
        }
    }
    Ok(())
}

/// Parses an `xs:dateTime` with a time zone (`Z` or `±hh:mm`) to unix
/// seconds; fractions of a second are dropped.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("`{}` is not a SAML time", crate::query::truncate(s, 40));
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':' =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let digits = |r: std::ops::Range<usize>| -> Result<i64, String> {
                let part = rest.get(r).ok_or_else(bad)?;
                if !part.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                part.parse().map_err(|_| bad())
            };
            let (oh, om) = (digits(1..3)?, digits(4..6)?);
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Formats unix seconds as `YYYY-MM-DDThh:mm:ssZ`.
pub(crate) fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn times() {
        let check = |s: &str, want: Option<i64>| {
            assert_eq!(parse_time(s).ok(), want, "{s}");
        };
        check("1970-01-01T00:00:00Z", Some(0));
        check("2026-12-07T17:20:05.123Z", Some(1_796_664_005));
        check("2026-12-07T18:20:05+01:00", Some(1_796_664_005));
        check("2026-12-07T17:20:05", None);
        check("2026-13-07T17:20:05Z", None);
        check("2026-12-07T17:20:05.Z", None);
        check("２026-12-07T17:20:05Z", None);
        check("", None);
        check("2026-12-07T17:20:05+0é:0", None);
        assert_eq!(format_time(1_796_664_005), "2026-12-07T17:20:05Z");
    }
}
