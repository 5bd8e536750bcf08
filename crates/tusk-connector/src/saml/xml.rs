//! A small namespace-aware XML tree for SAML responses, read with
//! quick-xml. It refuses what a SAML response never needs and an attacker
//! would use: a DTD (so no entity expansion, no XXE, no billion laughs),
//! entities other than XML's five and character references, processing
//! instructions inside the document, unbound prefixes, more than one root,
//! nesting deeper than [`MAX_DEPTH`], and more than [`MAX_ATTRS`]
//! attributes on one element. Comments are dropped (exclusive
//! c14n without comments ignores them too). Line ends are normalised to
//! `\n` and attribute values as XML 1.0 §3.3.3 says for CDATA attributes,
//! so the tree holds the values canonicalisation must see.

use quick_xml::events::{BytesStart, Event};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Deeper nesting than any SAML response needs.
pub(crate) const MAX_DEPTH: usize = 64;

/// More namespace declarations than any SAML response needs; the cap keeps
/// the in-scope maps (shared, copied only where a declaration changes
/// them) small whatever the input.
pub(crate) const MAX_NS_DECLS: usize = 128;

/// More attributes on one element than any SAML element has.
pub(crate) const MAX_ATTRS: usize = 64;

pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// In-scope namespaces: prefix (`""` for the default) to URI. An empty URI
/// for `""` means "no default namespace".
pub(crate) type Scope = BTreeMap<String, String>;

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub prefix: String,
    pub local: String,
    /// Resolved namespace URI; `""` for unprefixed attributes.
    pub ns: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub prefix: String,
    pub local: String,
    /// Resolved namespace URI; `""` when none.
    pub ns: String,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<Attr>,
    /// Every namespace in scope here, inherited ones included; shared with
    /// the parent when this element declares none.
    pub scope: Rc<Scope>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    pub fn qname(&self) -> String {
        qname(&self.prefix, &self.local)
    }

    /// An unprefixed attribute's value.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.local == local)
            .map(|a| a.value.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The only child with this name; `Err` names how many there were.
    pub fn only_child(&self, ns: &str, local: &str) -> Result<Option<&Element>, usize> {
        let mut found = self.elements().filter(|e| e.is(ns, local));
        let first = found.next();
        match found.count() {
            0 => Ok(first),
            more => Err(more + 1),
        }
    }

    /// The element's text content (its text children joined), trimmed.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s.trim().to_owned()
    }

    /// Every element of the subtree, this one included, depth first.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            out.push(e);
            let mut kids: Vec<&Element> = e.elements().collect();
            kids.reverse();
            stack.extend(kids);
        }
        out
    }
}

pub(crate) fn qname(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_owned()
    } else {
        format!("{prefix}:{local}")
    }
}

fn split(name: &str) -> (&str, &str) {
    match name.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", name),
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(input: &str) -> Result<Element, String> {
    let normalised = input.replace("\r\n", "\n").replace('\r', "\n");
    let mut reader = quick_xml::Reader::from_str(&normalised);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut decls = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the XML is malformed: {e}"))?;
        match event {
            Event::DocType(_) => {
                return Err(
                    "the XML has a document type declaration (DTD); SAML responses never need one, and tusk refuses them so entities cannot be expanded".into(),
                );
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::PI(_) => {
                if !stack.is_empty() || root.is_some() {
                    return Err("the XML has a processing instruction inside the document".into());
                }
            }
            Event::Start(start) => {
                if root.is_some() {
                    return Err("the XML has more than one root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("the XML nests deeper than {MAX_DEPTH} elements"));
                }
                let parent = stack.last().map(|e| &e.scope);
                let el = open_element(&start, parent, &mut decls)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err("the XML has more than one root element".into());
                }
                let parent = stack.last().map(|e| &e.scope);
                let el = open_element(&start, parent, &mut decls)?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| "the XML closes an element it never opened".to_owned())?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| format!("the XML is not UTF-8: {e}"))?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = c
                    .decode()
                    .map_err(|e| format!("the XML is not UTF-8: {e}"))?;
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| format!("the XML has a bad character reference: {e}"))?
                        .ok_or_else(|| "the XML has a bad character reference".to_owned())?
                        .to_string()
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| format!("the XML is not UTF-8: {e}"))?;
                    predefined(&name)
                        .ok_or_else(|| {
                            format!(
                                "the XML uses the entity `&{}`; only XML's predefined entities are allowed",
                                crate::query::truncate(&name, 40)
                            )
                        })?
                        .to_owned()
                };
                push_text(&mut stack, &c)?;
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("the XML ends before its elements are closed".into());
    }
    root.ok_or_else(|| "the XML has no root element".into())
}

fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

fn push_text(stack: &mut [Element], s: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(el) => {
            match el.children.last_mut() {
                Some(Node::Text(t)) => t.push_str(s),
                _ => el.children.push(Node::Text(s.to_owned())),
            }
            Ok(())
        }
        // Whitespace around the root is allowed; anything else is not XML.
        None if s.trim().is_empty() => Ok(()),
        None => Err("the XML has text outside its root element".into()),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn open_element(
    start: &BytesStart<'_>,
    parent: Option<&Rc<Scope>>,
    decls: &mut usize,
) -> Result<Element, String> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| "the XML has an element name that is not UTF-8".to_owned())?
        .to_owned();
    let mut declared: Vec<(String, String)> = Vec::new();
    let mut raw_attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("the XML has a malformed attribute in <{name}>: {e}"))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| "the XML has an attribute name that is not UTF-8".to_owned())?
            .to_owned();
        let raw = std::str::from_utf8(&a.value)
            .map_err(|_| "the XML has an attribute value that is not UTF-8".to_owned())?;
        // XML 1.0 §3.3.3: literal tabs and line ends become spaces, then
        // references are replaced (so `&#xA;` stays a line feed).
        let spaced = raw.replace(['\t', '\n'], " ");
        let value = quick_xml::escape::unescape(&spaced)
            .map_err(|e| format!("the XML has a bad reference in attribute `{key}`: {e}"))?
            .into_owned();
        if key == "xmlns" || key.starts_with("xmlns:") {
            *decls += 1;
            if *decls > MAX_NS_DECLS {
                return Err(format!(
                    "the XML declares more than {MAX_NS_DECLS} namespaces"
                ));
            }
        }
        if key == "xmlns" {
            declared.push((String::new(), value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(format!(
                    "the XML undeclares prefix `{p}`, which XML 1.0 does not allow"
                ));
            }
            declared.push((p.to_owned(), value));
        } else {
            // Checked as they are read: each attribute is compared with
            // the ones before it for duplicates, so an unbounded count
            // would cost time quadratic in the input.
            if raw_attrs.len() >= MAX_ATTRS {
                return Err(format!(
                    "the XML has more than {MAX_ATTRS} attributes in <{}>",
                    crate::query::truncate(&name, 60)
                ));
            }
            raw_attrs.push((key, value));
        }
    }
    let scope = match (parent, declared.is_empty()) {
        (Some(p), true) => Rc::clone(p),
        (p, _) => {
            let mut s: Scope = p.map(|p| (**p).clone()).unwrap_or_default();
            s.extend(declared);
            Rc::new(s)
        }
    };
    let (prefix, local) = split(&name);
    let ns = resolve(&scope, prefix, &name)?;
    let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
    for (key, value) in raw_attrs {
        let (p, l) = split(&key);
        let ans = if p.is_empty() {
            String::new()
        } else {
            resolve(&scope, p, &key)?
        };
        if attrs.iter().any(|x| x.local == l && x.ns == ans) {
            return Err(format!("the XML repeats attribute `{key}` in <{name}>"));
        }
        attrs.push(Attr {
            prefix: p.to_owned(),
            local: l.to_owned(),
            ns: ans,
            value,
        });
    }
    Ok(Element {
        prefix: prefix.to_owned(),
        local: local.to_owned(),
        ns,
        attrs,
        scope,
        children: Vec::new(),
    })
}

fn resolve(scope: &Scope, prefix: &str, name: &str) -> Result<String, String> {
    if prefix == "xml" {
        return Ok(XML_NS.to_owned());
    }
    match scope.get(prefix) {
        Some(uri) => Ok(uri.clone()),
        None if prefix.is_empty() => Ok(String::new()),
        None => Err(format!(
            "the XML uses prefix `{prefix}` in `{}` without declaring it",
            crate::query::truncate(name, 60)
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn refuses_what_saml_never_needs() {
        let check = |input: &str, want: &str| {
            let err = parse(input).expect_err(input);
            assert!(err.contains(want), "{input}: {err}");
        };
        check(
            "<!DOCTYPE r [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]><r>&b;</r>",
            "document type declaration",
        );
        check(
            "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
            "document type declaration",
        );
        check("<r>&x;</r>", "entity `&x`");
        check("<r><?pi x?></r>", "processing instruction");
        check("<r/><r/>", "more than one root");
        check("<a:r/>", "prefix `a`");
        check("<r x='1' x='2'/>", "");
        check("<r><s></r>", "malformed");
        check("<r>", "ends before");
        check("", "no root");
        check(&"<a>".repeat(MAX_DEPTH + 1), "deeper");
        let many: String = (0..=MAX_NS_DECLS)
            .map(|i| format!(" xmlns:p{i}='urn:{i}'"))
            .collect();
        check(&format!("<r{many}/>"), "more than 128 namespaces");
        // Duplicate-attribute checks compare each attribute with the ones
        // before it; the cap keeps that from being quadratic in the input.
        let attrs: String = (0..=MAX_ATTRS).map(|i| format!(" a{i}=''")).collect();
        check(&format!("<r{attrs}/>"), "more than 64 attributes");
    }

    /// A response-sized element made of attributes is refused quickly,
    /// not after comparing every pair.
    #[test]
    fn many_attributes_are_refused() {
        // Before the cap, each attribute was compared with every earlier
        // one: 60,000 of them cost about a minute. The cap refuses the
        // element at attribute 65, so the work is bounded by construction
        // (no timing assertion: the refusal itself is the proof).
        let attrs: String = (0..60_000).map(|i| format!(" a{i}=''")).collect();
        let err = parse(&format!("<r{attrs}/>")).unwrap_err();
        assert!(err.contains("attributes"), "{err}");
        let ok: String = (0..64).map(|i| format!(" a{i}=''")).collect();
        assert!(parse(&format!("<r{ok}/>")).is_ok());
        let over: String = (0..65).map(|i| format!(" a{i}=''")).collect();
        assert!(parse(&format!("<r{over}/>")).is_err());
    }

    #[test]
    fn resolves_namespaces_and_references() {
        let root =
            parse("<p:r xmlns:p='urn:p' xmlns='urn:d' a='x\ty&#xA;&lt;'><c>t&amp;<![CDATA[<u>]]></c></p:r>")
                .unwrap();
        assert!(root.is("urn:p", "r"));
        assert_eq!(root.attr("a"), Some("x y\n<"));
        let c = root.elements().next().unwrap();
        assert!(c.is("urn:d", "c"));
        assert_eq!(c.text(), "t&<u>");
    }
}
