//! The discovery document and the JWKS as ready responses (issue 16,
//! item 6): serialized into a `Bytes` body with its `ETag` once per key or
//! configuration change, so a request clones reference counts, and a
//! client that sends the tag back (`If-None-Match`, RFC 9110 §13.1.2) gets
//! `304 Not Modified` without a body.

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use std::sync::{Arc, RwLock};

/// One document, ready to serve.
struct Ready {
    /// The provider's text this was built from; a different `Arc` means
    /// the document changed (keys rotated).
    source: Arc<String>,
    body: Bytes,
    etag: HeaderValue,
}

/// A document the provider hands out as `Arc<String>`, rebuilt when that
/// `Arc` changes. `cache_control` is sent with both 200 and 304.
pub(crate) struct Prebuilt {
    ready: RwLock<Option<Arc<Ready>>>,
    cache_control: Option<HeaderValue>,
}

impl Prebuilt {
    pub(crate) fn new(cache_control: Option<HeaderValue>) -> Prebuilt {
        Prebuilt {
            ready: RwLock::new(None),
            cache_control,
        }
    }

    fn ready(&self, source: Arc<String>) -> Arc<Ready> {
        if let Some(r) = self.ready.read().ok().and_then(|g| g.clone())
            && Arc::ptr_eq(&r.source, &source)
        {
            return r;
        }
        let body = Bytes::copy_from_slice(source.as_bytes());
        // The store's SHA-256 hex; 128 bits of it make a strong tag. Hex in
        // quotes is always a valid header value.
        let hex = tusk_store::hash_token(&source);
        let etag = HeaderValue::from_str(&format!("\"{}\"", &hex[..32]))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        let ready = Arc::new(Ready { source, body, etag });
        if let Ok(mut g) = self.ready.write() {
            *g = Some(ready.clone());
        }
        ready
    }

    /// The response to a GET of the document `source`, given the
    /// request's headers: 304 when `If-None-Match` names its tag.
    pub(crate) fn respond(&self, source: Arc<String>, request: &HeaderMap) -> Response {
        let ready = self.ready(source);
        let not_modified = none_match(request, &ready.etag);
        let mut r = if not_modified {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(Body::from(ready.body.clone()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        };
        let h = r.headers_mut();
        h.insert(header::ETAG, ready.etag.clone());
        if let Some(cc) = &self.cache_control {
            h.insert(header::CACHE_CONTROL, cc.clone());
        }
        r
    }
}

/// Whether `If-None-Match` (every instance, each a list) matches `etag`
/// under the weak comparison RFC 9110 §13.1.2 prescribes for it: `*`
/// matches, `W/` is ignored on both sides. A malformed member matches
/// nothing, so the full document is sent.
fn none_match(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = strip_weak(etag.as_bytes());
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|member| member.trim_ascii())
        .any(|member| member == b"*" || (is_tag(member) && strip_weak(member) == ours))
}

fn strip_weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// `"…"` or `W/"…"`, with no quote inside.
fn is_tag(member: &[u8]) -> bool {
    let t = strip_weak(member);
    t.len() >= 2
        && t.first() == Some(&b'"')
        && t.last() == Some(&b'"')
        && !t[1..t.len() - 1].contains(&b'"')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// One row per rule: the request's `If-None-Match` instances, and
    /// whether they match the tag `"abc"`.
    fn check(headers: &[&str], matches: bool) {
        let mut h = HeaderMap::new();
        for v in headers {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        assert_eq!(
            none_match(&h, &HeaderValue::from_static("\"abc\"")),
            matches,
            "{headers:?}"
        );
    }

    #[test]
    fn if_none_match_rows() {
        check(&[], false);
        check(&["\"abc\""], true);
        check(&["\"abd\""], false);
        check(&["W/\"abc\""], true);
        check(&["*"], true);
        check(&["\"x\", \"abc\""], true);
        check(&["\"x\",W/\"abc\" "], true);
        check(&["\"x\", \"y\""], false);
        check(&["\"x\"", "\"abc\""], true);
        check(&["abc"], false);
        check(&["\"abc"], false);
        check(&["\"a\"bc\""], false);
        check(&[""], false);
        check(&["W/abc"], false);
    }

    #[test]
    fn a_changed_document_gets_a_new_tag_and_the_same_one_keeps_it() {
        let p = Prebuilt::new(None);
        let one = Arc::new("{\"keys\":[1]}".to_owned());
        let a = p.respond(one.clone(), &HeaderMap::new());
        let b = p.respond(one, &HeaderMap::new());
        assert_eq!(a.headers()[header::ETAG], b.headers()[header::ETAG]);
        let two = Arc::new("{\"keys\":[2]}".to_owned());
        let c = p.respond(two, &HeaderMap::new());
        assert_ne!(a.headers()[header::ETAG], c.headers()[header::ETAG]);
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, a.headers()[header::ETAG].clone());
        let stale = p.respond(Arc::new("{\"keys\":[2]}".to_owned()), &h);
        assert_eq!(stale.status(), StatusCode::OK);
    }
}
