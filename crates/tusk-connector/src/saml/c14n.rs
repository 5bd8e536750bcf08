//! Exclusive XML canonicalisation without comments
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`), over the tree of
//! [`super::xml`], of one element and its subtree: the bytes a SAML
//! signature's digest and `SignedInfo` are computed over.
//!
//! A namespace declaration is output on an element when the element or one
//! of its attributes uses the prefix (or the prefix is in the
//! `InclusiveNamespaces` list) and the nearest output ancestor did not
//! already output the same declaration. Declarations are sorted by prefix
//! (the default first), attributes by namespace URI then local name.

use super::xml::{Element, Node, Scope, XML_NS};

/// Canonical bytes of `el`, leaving out the element `skip` (the enveloped
/// signature) wherever it is in the subtree.
pub(crate) fn canonicalize(el: &Element, skip: Option<&Element>, inclusive: &[String]) -> String {
    let mut out = String::new();
    write(el, skip, inclusive, &Scope::new(), &mut out);
    out
}

fn write(
    el: &Element,
    skip: Option<&Element>,
    inclusive: &[String],
    rendered: &Scope,
    out: &mut String,
) {
    let mut used: Vec<&str> = vec![el.prefix.as_str()];
    for a in &el.attrs {
        if !a.prefix.is_empty() {
            used.push(a.prefix.as_str());
        }
    }
    for p in inclusive {
        let p = if p == "#default" { "" } else { p.as_str() };
        if el.scope.contains_key(p) {
            used.push(p);
        }
    }
    used.sort_unstable();
    used.dedup();
    let mut now_rendered = rendered.clone();
    let mut decls = String::new();
    for p in used {
        if p == "xml" {
            continue;
        }
        let uri = el.scope.get(p).map(String::as_str).unwrap_or("");
        let before = rendered.get(p).map(String::as_str).unwrap_or("");
        // The empty default namespace needs a declaration only to undo a
        // non-empty one output above.
        let needed = if p.is_empty() && uri.is_empty() {
            !before.is_empty()
        } else {
            rendered.get(p).map(String::as_str) != Some(uri)
        };
        if needed {
            if p.is_empty() {
                decls.push_str(" xmlns=\"");
            } else {
                decls.push_str(" xmlns:");
                decls.push_str(p);
                decls.push_str("=\"");
            }
            escape_attr(uri, &mut decls);
            decls.push('"');
            now_rendered.insert(p.to_owned(), uri.to_owned());
        }
    }
    let mut attrs: Vec<_> = el.attrs.iter().collect();
    attrs.sort_by(|a, b| (a.ns.as_str(), a.local.as_str()).cmp(&(b.ns.as_str(), b.local.as_str())));
    let name = el.qname();
    out.push('<');
    out.push_str(&name);
    out.push_str(&decls);
    for a in attrs {
        out.push(' ');
        if a.ns == XML_NS {
            out.push_str("xml:");
        } else if !a.prefix.is_empty() {
            out.push_str(&a.prefix);
            out.push(':');
        }
        out.push_str(&a.local);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    for child in &el.children {
        match child {
            Node::Text(t) => escape_text(t, out),
            Node::Element(c) => {
                if skip.is_some_and(|s| std::ptr::eq(s, c)) {
                    continue;
                }
                write(c, skip, inclusive, &now_rendered, out);
            }
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::xml::parse;
    use super::*;

    /// Examples in the spirit of the exc-c14n recommendation: unused
    /// declarations dropped, used ones pushed down, attributes sorted,
    /// empty elements expanded, text and attribute escapes.
    #[test]
    fn canonical_forms() {
        let check = |input: &str, path: &[usize], inclusive: &[&str], want: &str| {
            let root = parse(input).unwrap();
            let mut el = &root;
            for &i in path {
                el = el.elements().nth(i).unwrap();
            }
            let inc: Vec<String> = inclusive.iter().map(|s| s.to_string()).collect();
            assert_eq!(canonicalize(el, None, &inc), want, "{input}");
        };
        check(
            "<a:r xmlns:a='urn:a' xmlns:b='urn:b' z='1' b:y='2' a:x='3'><c/></a:r>",
            &[],
            &[],
            "<a:r xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" z=\"1\" a:x=\"3\" b:y=\"2\"><c></c></a:r>",
        );
        check(
            "<r xmlns='urn:d' xmlns:u='urn:u'><a:s xmlns:a='urn:a'><t>x &amp; &lt; &gt; \"</t></a:s></r>",
            &[0],
            &[],
            "<a:s xmlns:a=\"urn:a\"><t xmlns=\"urn:d\">x &amp; &lt; &gt; \"</t></a:s>",
        );
        check(
            "<r xmlns:u='urn:u'><s a='&#x9;&#xD;&quot;&amp;&lt;>'/></r>",
            &[0],
            &["u"],
            "<s xmlns:u=\"urn:u\" a=\"&#x9;&#xD;&quot;&amp;&lt;>\"></s>",
        );
        check(
            "<r xmlns='urn:d'><s xmlns=''><t/></s></r>",
            &[],
            &[],
            "<r xmlns=\"urn:d\"><s xmlns=\"\"><t></t></s></r>",
        );
        check(
            "<r><!-- gone --><s xml:lang='en'/></r>",
            &[],
            &[],
            "<r><s xml:lang=\"en\"></s></r>",
        );
    }
}
