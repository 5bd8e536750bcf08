//! The shape of every section tusk reads, as data, and one walker that
//! checks a parsed tree against it.
//!
//! Keeping the schema as tables (rather than serde attributes) is what lets
//! us report every unknown key with its line and a suggestion, coerce Helm's
//! loose scalars in one place, and know which fields are secret so that
//! `config show` can mask them without a second list to keep in step.

use super::diag::{Diagnostic, Severity, suggest};
use crate::yaml::{Node, Pos, Value};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    /// A string that must never be printed.
    Secret,
    Bool,
    Int,
    /// A Go duration string such as `24h` or `1h30m`.
    Duration,
    /// An absolute http(s) URL.
    Url,
    /// An issuer: an absolute URL, https unless the host is loopback.
    Issuer,
    StrList,
    Map(&'static Schema),
    List(&'static Schema),
    /// Anything; checked by the caller (connector configs, role bindings).
    Any,
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// Whether keys outside the schema are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Sections tusk owns: an unknown key is an error.
    Strict,
    /// Sections shared with the rest of Pachyderm's chart (`pachd`, `proxy`):
    /// unknown keys are someone else's, so only near-misses of our keys warn.
    Shared,
}

#[derive(Debug)]
pub struct Schema {
    pub fields: &'static [Field],
    pub strictness: Strictness,
    /// Keys that are recognised but wrong here, with the reason and fix.
    pub misplaced: &'static [(&'static str, &'static str)],
    /// Keys the reference once read and now ignores: a warning, not an error.
    pub obsolete: &'static [&'static str],
}

impl Schema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

pub const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

pub const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

/// Collects diagnostics while walking trees from several sources.
pub struct Ctx<'a> {
    pub sources: &'a [String],
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(sources: &'a [String]) -> Self {
        Ctx {
            sources,
            diags: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        severity: Severity,
        pos: Pos,
        path: &str,
        message: String,
        help: Option<String>,
    ) {
        let source = if pos.line == 0 && pos.source == usize::MAX {
            String::new()
        } else {
            self.sources.get(pos.source).cloned().unwrap_or_default()
        };
        self.diags.push(Diagnostic {
            severity,
            source,
            line: pos.line,
            path: path.to_owned(),
            message,
            help,
        });
    }

    pub fn error(
        &mut self,
        pos: Pos,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(Severity::Error, pos, path, message.into(), help);
    }

    pub fn warn(&mut self, pos: Pos, path: &str, message: impl Into<String>, help: Option<String>) {
        self.push(Severity::Warning, pos, path, message.into(), help);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.severity == Severity::Error)
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Checks a map node against a schema, coercing scalars in place (Helm
/// writes `clientID: 12345` and `enabled: "true"`; both mean what they say).
/// Returns false when the node is not a map at all.
pub fn check_map(ctx: &mut Ctx<'_>, node: &mut Node, path: &str, schema: &Schema) -> bool {
    let pos = node.pos;
    let Value::Map(entries) = &mut node.value else {
        if node.value != Value::Null {
            ctx.error(
                pos,
                path,
                format!("expected a map of settings, found {}", node.kind()),
                None,
            );
        }
        return false;
    };
    for (key, value) in entries.iter_mut() {
        let key_path = join(path, &key.name);
        match schema.field(&key.name) {
            Some(field) => check_value(ctx, value, &key_path, field.kind),
            None => unknown_key(ctx, key.pos, path, &key.name, schema),
        }
    }
    for field in schema.fields.iter().filter(|f| f.required) {
        let present = entries
            .iter()
            .find(|(k, _)| k.name == field.name)
            .is_some_and(|(_, v)| !is_empty(v));
        if !present {
            ctx.error(
                pos,
                path,
                format!("required key `{}` is missing or empty", field.name),
                Some(format!("add `{}: ...` here", field.name)),
            );
        }
    }
    true
}

fn is_empty(node: &Node) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Str(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn unknown_key(ctx: &mut Ctx<'_>, pos: Pos, path: &str, name: &str, schema: &Schema) {
    let key_path = join(path, name);
    if let Some((_, help)) = schema.misplaced.iter().find(|(k, _)| *k == name) {
        ctx.error(
            pos,
            &key_path,
            format!("unknown key `{name}`"),
            Some((*help).to_owned()),
        );
        return;
    }
    if schema.obsolete.contains(&name) {
        ctx.warn(
            pos,
            &key_path,
            format!("`{name}` is obsolete and ignored"),
            Some("remove it; current Dex and tusk do not read it".into()),
        );
        return;
    }
    let hint = suggest(name, schema.fields.iter().map(|f| f.name));
    match (schema.strictness, hint) {
        (Strictness::Strict, Some(hint)) => ctx.error(
            pos,
            &key_path,
            format!("unknown key `{name}`"),
            Some(format!("did you mean `{hint}`?")),
        ),
        (Strictness::Strict, None) => {
            let known: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
            ctx.error(
                pos,
                &key_path,
                format!("unknown key `{name}`"),
                Some(format!("the keys allowed here are: {}", known.join(", "))),
            )
        }
        (Strictness::Shared, Some(hint)) if hint != name => ctx.warn(
            pos,
            &key_path,
            format!("`{name}` is not a key tusk reads, so it is ignored"),
            Some(format!("did you mean `{hint}`?")),
        ),
        (Strictness::Shared, _) => {}
    }
}

pub fn check_value(ctx: &mut Ctx<'_>, node: &mut Node, path: &str, kind: Kind) {
    let pos = node.pos;
    // An explicit null means "unset" everywhere, as in Helm.
    if node.value == Value::Null {
        return;
    }
    match kind {
        Kind::Any => {}
        Kind::Str | Kind::Secret => coerce_str(ctx, node, path),
        Kind::Bool => {
            let b = match &node.value {
                Value::Bool(b) => Some(*b),
                Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" | "y" => Some(true),
                    "false" | "no" | "off" | "n" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            match b {
                Some(b) => node.value = Value::Bool(b),
                None => ctx.error(
                    pos,
                    path,
                    format!("expected true or false, found {}", describe(node)),
                    None,
                ),
            }
        }
        Kind::Int => {
            let i = match &node.value {
                Value::Int(i) => Some(*i),
                Value::Str(s) => s.trim().parse().ok(),
                _ => None,
            };
            match i {
                Some(i) => node.value = Value::Int(i),
                None => ctx.error(
                    pos,
                    path,
                    format!("expected a whole number, found {}", describe(node)),
                    None,
                ),
            }
        }
        Kind::Duration => {
            coerce_str(ctx, node, path);
            if let Value::Str(s) = &node.value
                && let Err(why) = super::duration::parse(s)
            {
                ctx.error(
                    pos,
                    path,
                    format!("`{s}` is not a duration: {why}"),
                    Some("write a Go duration such as `24h`, `90m` or `1h30m`".into()),
                );
            }
        }
        Kind::Url | Kind::Issuer => {
            coerce_str(ctx, node, path);
            if let Value::Str(s) = &node.value
                && let Err((message, help)) = check_url(s, matches!(kind, Kind::Issuer))
            {
                ctx.error(pos, path, message, help);
            }
        }
        Kind::StrList => match &mut node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    coerce_str(ctx, item, &format!("{path}[{i}]"));
                }
            }
            _ => ctx.error(
                pos,
                path,
                format!("expected a list, found {}", describe(node)),
                Some("write it as a YAML list, for example `[a, b]`".into()),
            ),
        },
        Kind::Map(schema) => {
            check_map(ctx, node, path, schema);
        }
        Kind::List(schema) => match &mut node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    check_map(ctx, item, &format!("{path}[{i}]"), schema);
                }
            }
            _ => ctx.error(
                pos,
                path,
                format!("expected a list, found {}", describe(node)),
                None,
            ),
        },
    }
}

fn coerce_str(ctx: &mut Ctx<'_>, node: &mut Node, path: &str) {
    let text = match &node.value {
        Value::Str(_) | Value::Null => return,
        Value::Int(i) => i.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Seq(_) | Value::Map(_) => {
            ctx.error(
                node.pos,
                path,
                format!("expected a string, found {}", node.kind()),
                None,
            );
            return;
        }
    };
    node.value = Value::Str(text);
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("the string `{}`", truncate(s, 40)),
        Value::Int(i) => format!("the number {i}"),
        _ => node.kind().to_owned(),
    }
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}

/// Checks an absolute URL. Issuers must be https outside loopback, because
/// a token issuer reached over plain HTTP can be impersonated on the path.
pub fn check_url(s: &str, issuer: bool) -> Result<url::Url, (String, Option<String>)> {
    if s.contains('<') || s.contains('>') {
        return Err((
            format!("`{s}` still contains a placeholder in angle brackets"),
            Some("replace the `<...>` part with your real host name".into()),
        ));
    }
    let url = url::Url::parse(s).map_err(|e| {
        (
            format!("`{}` is not a valid URL: {e}", truncate(s, 80)),
            Some("write an absolute URL such as `https://login.example.com`".into()),
        )
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err((
            format!("`{s}` uses the scheme `{}`", url.scheme()),
            Some("use an https:// URL".into()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err((format!("`{s}` has no host"), None));
    }
    if issuer {
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err((
                format!("issuer `{s}` uses plain http on a non-loopback host"),
                Some("use https:// (only localhost and 127.0.0.1 may use http)".into()),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err((
                format!("issuer `{s}` has a query or fragment"),
                Some("an issuer is a plain https URL with an optional path".into()),
            ));
        }
    }
    Ok(url)
}

pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub fn severity_errors(diags: &[Diagnostic]) -> usize {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}
