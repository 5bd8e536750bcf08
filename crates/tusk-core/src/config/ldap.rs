//! The `ldap` connector's rules across fields, after its schema
//! ([`super::connector::LDAP_CONFIG`]) has checked each field: what Dex
//! silently ignores or fails on at login time, `tusk config check` reports
//! with the line and the fix. The connector itself refuses the same
//! combinations when it opens.

use super::schema::{Ctx, join};
use crate::yaml::{Node, Value};

fn text<'a>(node: &'a Node, key: &str) -> Option<(&'a str, &'a Node)> {
    match node.get(key) {
        Some(
            n @ Node {
                value: Value::Str(s),
                ..
            },
        ) if !s.trim().is_empty() => Some((s.trim(), n)),
        _ => None,
    }
}

fn on<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.get(key).filter(|n| n.value == Value::Bool(true))
}

fn scope(ctx: &mut Ctx<'_>, section: &Node, path: &str) {
    if let Some((s, n)) = text(section, "scope")
        && s != "sub"
        && s != "one"
    {
        ctx.error(
            n.pos,
            &join(path, "scope"),
            format!("scope `{s}` is not one Dex accepts"),
            Some(
                "use `sub` (the whole subtree, the default) or `one` (one level below baseDN)"
                    .into(),
            ),
        );
    }
}

fn filter(ctx: &mut Ctx<'_>, section: &Node, path: &str) {
    if let Some((f, n)) = text(section, "filter") {
        let depth_ok = f.chars().try_fold(0i64, |d, c| {
            let d = d + i64::from(c == '(') - i64::from(c == ')');
            (d >= 0).then_some(d)
        }) == Some(0);
        if !f.starts_with('(') || !f.ends_with(')') || !depth_ok {
            ctx.error(
                n.pos,
                &join(path, "filter"),
                format!("`{f}` is not one LDAP filter in parentheses (RFC 4515)"),
                Some(
                    "write e.g. `(objectClass=person)`; tusk adds the username clause itself"
                        .into(),
                ),
            );
        }
    }
}

/// Checks one `ldap` connector config at `path`.
pub fn check(ctx: &mut Ctx<'_>, config: &Node, path: &str) {
    let no_ssl = on(config, "insecureNoSSL");
    if let (Some(_), Some(st)) = (no_ssl, on(config, "startTLS")) {
        ctx.error(
            st.pos,
            &join(path, "startTLS"),
            "both `insecureNoSSL` and `startTLS` are set",
            Some("StartTLS encrypts the connection: remove `insecureNoSSL` (or remove `startTLS` for clear text)".into()),
        );
    } else if let Some(n) = no_ssl {
        ctx.warn(
            n.pos,
            &join(path, "insecureNoSSL"),
            "users' passwords and `bindPW` cross the network in clear text",
            Some("use LDAPS (the default, port 636) or `startTLS: true`".into()),
        );
        for key in [
            "rootCA",
            "rootCAData",
            "clientCert",
            "clientKey",
            "insecureSkipVerify",
        ] {
            if let Some(n) = config
                .get(key)
                .filter(|n| n.value != Value::Null && n.value != Value::Bool(false))
            {
                ctx.warn(
                    n.pos,
                    &join(path, key),
                    format!("`{key}` has no effect with `insecureNoSSL: true`"),
                    Some("remove it, or use LDAPS / `startTLS: true`".into()),
                );
            }
        }
    }
    if no_ssl.is_none()
        && let Some(n) = on(config, "insecureSkipVerify")
    {
        ctx.warn(
            n.pos,
            &join(path, "insecureSkipVerify"),
            "the directory's certificate is not checked, so anyone on the path can read passwords",
            Some("set `rootCA` or `rootCAData` to the directory's CA instead".into()),
        );
    }
    let has_port = |h: &str| {
        h.rsplit_once(':').is_some_and(|(name, p)| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (name.ends_with(']') || !name.contains(':'))
        })
    };
    if let (Some((h, n)), Some(_), None) = (text(config, "host"), on(config, "startTLS"), no_ssl)
        && !h.contains("://")
        && !has_port(h)
    {
        ctx.warn(
            n.pos,
            &join(path, "host"),
            format!("`host` `{h}` has no port, so StartTLS goes to 636 (Dex's default), where directories usually expect LDAPS"),
            Some(format!("write the StartTLS port, e.g. `host: {h}:389`")),
        );
    }
    if let Some((h, n)) = text(config, "host")
        && (h.contains("://") || h.contains('/'))
    {
        ctx.error(
            n.pos,
            &join(path, "host"),
            format!("host `{h}` is a URL"),
            Some("write only `host` or `host:port` (e.g. `ldap.example.com:636`); choose TLS with `startTLS` or `insecureNoSSL`".into()),
        );
    }
    let pairs = [
        (
            "rootCA",
            "rootCAData",
            true,
            "keep one: a file path, or the base64 of the PEM",
        ),
        (
            "clientCert",
            "clientKey",
            false,
            "a client certificate needs both files",
        ),
        (
            "bindDN",
            "bindPW",
            false,
            "set both for a service account, or neither for an anonymous search",
        ),
    ];
    for (a, b, exclusive, help) in pairs {
        let (x, y) = (text(config, a), text(config, b));
        let problem = match (x, y) {
            (Some(_), Some((_, n))) if exclusive => {
                Some((n, format!("both `{a}` and `{b}` are set")))
            }
            (Some((_, n)), None) if !exclusive => {
                Some((n, format!("`{a}` is set but `{b}` is not")))
            }
            (None, Some((_, n))) if !exclusive => {
                Some((n, format!("`{b}` is set but `{a}` is not")))
            }
            _ => None,
        };
        if let Some((n, message)) = problem {
            ctx.error(n.pos, path, message, Some(help.into()));
        }
    }
    if let Some(us) = config.get("userSearch") {
        let p = join(path, "userSearch");
        if let Some(n) = us.get("username") {
            let ok = match &n.value {
                Value::Str(s) => !s.trim().is_empty(),
                Value::Seq(items) => {
                    !items.is_empty()
                        && items
                            .iter()
                            .all(|i| matches!(&i.value, Value::Str(s) if !s.trim().is_empty()))
                }
                _ => false,
            };
            if !ok {
                ctx.error(
                    n.pos,
                    &join(&p, "username"),
                    "`username` must be an attribute name or a list of them",
                    Some(
                        "write e.g. `username: uid`, or `username: [uid, mail]` to accept either"
                            .into(),
                    ),
                );
            }
        }
        scope(ctx, us, &p);
        filter(ctx, us, &p);
        if let (Some((_, n)), None) = (text(us, "emailSuffix"), text(us, "nameAttr")) {
            ctx.error(
                n.pos,
                &join(&p, "emailSuffix"),
                "`emailSuffix` makes the email `<nameAttr value>@<suffix>`, but `nameAttr` is not set",
                Some("set `userSearch.nameAttr` (e.g. `uid`)".into()),
            );
        }
    }
    if let Some(gs) = config.get("groupSearch") {
        let p = join(path, "groupSearch");
        scope(ctx, gs, &p);
        filter(ctx, gs, &p);
        let matchers = matches!(&gs.get("userMatchers").map(|n| &n.value), Some(Value::Seq(items)) if !items.is_empty());
        let legacy = text(gs, "userAttr").is_some() || text(gs, "groupAttr").is_some();
        if let Some((_, n)) = text(gs, "baseDN") {
            let pair = text(gs, "userAttr").is_some() && text(gs, "groupAttr").is_some();
            if !matchers && !pair {
                ctx.error(
                    n.pos,
                    &p,
                    "`baseDN` is set but no user matcher says how a group names its members",
                    Some("add `userMatchers: [{userAttr: DN, groupAttr: member}]` (or your directory's attributes)".into()),
                );
            }
            if text(gs, "nameAttr").is_none() {
                ctx.error(
                    n.pos,
                    &p,
                    "`baseDN` is set but `nameAttr` is not",
                    Some("set `groupSearch.nameAttr` to the attribute holding a group's name, e.g. `cn`".into()),
                );
            }
        }
        if legacy && !matchers {
            ctx.warn(
                gs.pos,
                &p,
                "`userAttr`/`groupAttr` are Dex's legacy form",
                Some("write `userMatchers: [{userAttr: ..., groupAttr: ...}]` instead".into()),
            );
        }
    }
}
