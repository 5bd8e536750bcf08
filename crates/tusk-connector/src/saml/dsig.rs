//! XML-DSig verification of one enveloped signature, with the keys of the
//! configured certificates only (never a key or certificate the document
//! carries in `KeyInfo`).
//!
//! The accepted shape is the one SAML IdPs produce, and nothing wider:
//! exclusive c14n for `SignedInfo`; exactly one `Reference`, whose `URI` is
//! `#` + the `ID` of the signature's own parent; its transforms exactly
//! enveloped-signature then exclusive c14n; RSA with SHA-256, SHA-512 or
//! SHA-1. The caller reads only the element passed in as `signed`, the one
//! whose canonical bytes were digested, so a second element elsewhere in
//! the document with the same `ID` cannot be substituted.

use super::c14n::canonicalize;
use super::xml::Element;
use aws_lc_rs::{digest, signature};
use base64::Engine;

pub(crate) const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// An RSA public key of a configured certificate, as PKCS#1 DER.
#[derive(Clone)]
pub(crate) struct PublicKey(pub Vec<u8>);

/// Verifies `sig`, a `ds:Signature` child of `signed`, over `signed`.
pub(crate) fn verify(signed: &Element, sig: &Element, keys: &[PublicKey]) -> Result<(), String> {
    let what = signed.qname();
    let id = signed
        .attr("ID")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("the signed <{what}> has no ID attribute"))?;
    let info = one(sig, DS, "SignedInfo")?;
    let c14n = one(info, DS, "CanonicalizationMethod")?;
    if c14n.attr("Algorithm") != Some(EXC_C14N) {
        return Err(format!(
            "the signature on <{what}> uses canonicalisation `{}`; only exclusive c14n ({EXC_C14N}) is accepted",
            algorithm(c14n)
        ));
    }
    let info_inclusive = prefix_list(c14n);
    let method = one(info, DS, "SignatureMethod")?;
    let alg: &'static signature::RsaParameters = match method.attr("Algorithm") {
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256") => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512") => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        Some("http://www.w3.org/2000/09/xmldsig#rsa-sha1") => {
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        _ => {
            return Err(format!(
                "the signature on <{what}> uses algorithm `{}`; tusk accepts rsa-sha256, rsa-sha512 and rsa-sha1",
                algorithm(method)
            ));
        }
    };
    let reference = one(info, DS, "Reference")?;
    let uri = reference.attr("URI").unwrap_or("");
    if uri.strip_prefix('#') != Some(id) {
        return Err(format!(
            "the signature inside <{what}> references `{}`, not the element it is in (ID `{}`)",
            crate::query::truncate(uri, 80),
            crate::query::truncate(id, 80)
        ));
    }
    let transforms: Vec<&Element> = match one(reference, DS, "Transforms") {
        Ok(t) => t.children_named(DS, "Transform").collect(),
        Err(e) => return Err(e),
    };
    let algs: Vec<&str> = transforms
        .iter()
        .map(|t| t.attr("Algorithm").unwrap_or(""))
        .collect();
    if algs != [ENVELOPED, EXC_C14N] {
        return Err(format!(
            "the signature on <{what}> uses transforms {algs:?}; tusk accepts exactly enveloped-signature then exclusive c14n"
        ));
    }
    let ref_inclusive = transforms
        .get(1)
        .map(|t| prefix_list(t))
        .unwrap_or_default();
    let digest_alg = match one(reference, DS, "DigestMethod")?.attr("Algorithm") {
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => &digest::SHA256,
        Some("http://www.w3.org/2001/04/xmlenc#sha512") => &digest::SHA512,
        Some("http://www.w3.org/2000/09/xmldsig#sha1") => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        other => {
            return Err(format!(
                "the signature on <{what}> uses digest `{}`; tusk accepts sha256, sha512 and sha1",
                crate::query::truncate(other.unwrap_or(""), 80)
            ));
        }
    };
    let want = b64(&one(reference, DS, "DigestValue")?.text())
        .map_err(|_| format!("the signature on <{what}> has a DigestValue that is not base64"))?;
    let bytes = canonicalize(signed, Some(sig), &ref_inclusive);
    let got = digest::digest(digest_alg, bytes.as_bytes());
    if got.as_ref() != want.as_slice() {
        return Err(format!(
            "the digest of <{what}> does not match its signature: the element was changed after it was signed"
        ));
    }
    let value = b64(&one(sig, DS, "SignatureValue")?.text()).map_err(|_| {
        format!("the signature on <{what}> has a SignatureValue that is not base64")
    })?;
    let signed_info = canonicalize(info, None, &info_inclusive);
    let ok = keys.iter().any(|k| {
        signature::UnparsedPublicKey::new(alg, &k.0)
            .verify(signed_info.as_bytes(), &value)
            .is_ok()
    });
    if !ok {
        return Err(format!(
            "the signature on <{what}> was not made by the configured certificate (`ca`/`caData`)"
        ));
    }
    Ok(())
}

fn one<'a>(parent: &'a Element, ns: &str, local: &str) -> Result<&'a Element, String> {
    match parent.only_child(ns, local) {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(format!("<{}> has no {local}", parent.qname())),
        Err(n) => Err(format!(
            "<{}> has {n} {local} elements; one is allowed",
            parent.qname()
        )),
    }
}

fn algorithm(e: &Element) -> String {
    crate::query::truncate(e.attr("Algorithm").unwrap_or(""), 80)
}

fn prefix_list(transform: &Element) -> Vec<String> {
    transform
        .children_named(EXC_C14N, "InclusiveNamespaces")
        .filter_map(|e| e.attr("PrefixList"))
        .flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}
