//! Pure logic of the `ldap` connector: RFC 4515 escaping, the user and
//! group search filters, and mapping a directory entry to an [`Identity`].
//! No I/O, so every rule is a table test.

use super::config::{Config, GroupSearch};
use crate::connector::Identity;
use std::collections::HashMap;

/// Longest login name tusk sends to the directory. Longer names cannot
/// match any real entry; refusing them keeps a login form from making the
/// directory evaluate megabyte filters.
pub const MAX_USERNAME_BYTES: usize = 512;

/// Escapes a value for use inside a filter (RFC 4515 §3): `*`, `(`, `)`,
/// `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`, so a login name can
/// never add a wildcard or a clause.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// `(&<admin filter><clause>)`, or the bare clause when the admin set no
/// filter.
fn and(admin: Option<&str>, eq: String) -> String {
    match admin {
        Some(f) => format!("(&{f}{eq})"),
        None => eq,
    }
}

/// The filter that finds the user who typed `username`: one equality per
/// username attribute, or-ed when there are several (as Dex).
pub fn user_filter(config: &Config, username: &str) -> String {
    let value = escape(username);
    let eqs: Vec<String> = config
        .user
        .username
        .iter()
        .map(|a| format!("({a}={value})"))
        .collect();
    let clause = match eqs.as_slice() {
        [one] => one.clone(),
        many => format!("(|{})", many.concat()),
    };
    and(config.user.filter.as_deref(), clause)
}

/// The filter that re-reads a known entry by its DN (base scope).
pub fn refresh_filter(config: &Config) -> String {
    config
        .user
        .filter
        .clone()
        .unwrap_or_else(|| "(objectClass=*)".to_owned())
}

/// The filter that finds the groups whose `group_attr` holds `value`.
pub fn group_filter(group: &GroupSearch, group_attr: &str, value: &str) -> String {
    and(
        group.filter.as_deref(),
        format!("({group_attr}={})", escape(value)),
    )
}

/// The attributes to ask for in the user search.
pub fn user_attrs(config: &Config) -> Vec<String> {
    let u = &config.user;
    let mut attrs = vec![u.id_attr.clone(), u.email_attr.clone()];
    attrs.extend(u.username.iter().cloned());
    attrs.extend(u.name_attr.iter().cloned());
    attrs.extend(u.preferred_username_attr.iter().cloned());
    if let Some(g) = &config.group {
        attrs.extend(g.matchers.iter().map(|m| m.user_attr.clone()));
    }
    // `DN` is the entry's name, not an attribute to ask for.
    attrs.retain(|a| !a.eq_ignore_ascii_case("dn"));
    attrs.sort_by_key(|a| a.to_ascii_lowercase());
    attrs.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    attrs
}

/// A directory entry as the connector needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
}

/// Attributes whose values are binary by syntax (Active Directory's
/// GUID and SID): always used in base64, even when a value happens to be
/// valid UTF-8, so one user's ID never changes form with its bytes.
const BINARY_ATTRS: &[&str] = &["objectGUID", "objectSid", "msDS-ConsistencyGuid"];

impl Entry {
    /// The entry from a search answer: values that are UTF-8 as text,
    /// the others (and every value of a binary attribute) in base64.
    pub fn from_search(
        dn: String,
        text: HashMap<String, Vec<String>>,
        binary: HashMap<String, Vec<Vec<u8>>>,
    ) -> Entry {
        use base64::Engine;
        let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
        let is_binary = |name: &str| BINARY_ATTRS.iter().any(|b| b.eq_ignore_ascii_case(name));
        let mut attrs: HashMap<String, Vec<String>> = HashMap::new();
        for (name, values) in text {
            let values = if is_binary(&name) {
                values.iter().map(|v| b64(v.as_bytes())).collect()
            } else {
                values
            };
            attrs.entry(name).or_default().extend(values);
        }
        for (name, values) in binary {
            attrs
                .entry(name)
                .or_default()
                .extend(values.iter().map(|v| b64(v)));
        }
        Entry { dn, attrs }
    }

    /// The values of `name`, matched case-insensitively as LDAP attribute
    /// names are; `DN` is the entry's distinguished name (as in Dex).
    pub fn values(&self, name: &str) -> Vec<String> {
        let found: Vec<String> = self
            .attrs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect();
        if found.is_empty() && name.eq_ignore_ascii_case("dn") {
            return vec![self.dn.clone()];
        }
        found
    }

    /// The first non-empty value of `name`.
    pub fn first(&self, name: &str) -> Option<String> {
        self.values(name).into_iter().find(|v| !v.is_empty())
    }
}

/// Maps the user's entry to an identity, as Dex does: the ID from
/// `idAttr`, the name from `nameAttr`, the preferred username from
/// `preferredUsernameAttr`, the email from `emailAttr` or
/// `<name>@<emailSuffix>`; a configured attribute the entry lacks is an
/// error naming the entry and the attributes. Emails count as verified.
pub fn identity(config: &Config, entry: &Entry) -> Result<Identity, String> {
    let u = &config.user;
    let mut missing: Vec<String> = Vec::new();
    let mut get = |attr: &str| {
        let v = entry.first(attr);
        if v.is_none() {
            missing.push(attr.to_owned());
        }
        v.unwrap_or_default()
    };
    let user_id = get(&u.id_attr);
    let username = u.name_attr.as_deref().map(&mut get).unwrap_or_default();
    let preferred_username = u
        .preferred_username_attr
        .as_deref()
        .map(&mut get)
        .unwrap_or_default();
    let email = match &u.email_suffix {
        Some(suffix) => format!("{username}@{suffix}"),
        None => get(&u.email_attr),
    };
    if !missing.is_empty() {
        return Err(format!(
            "the entry `{}` has no {} attribute; give the entry the attribute, or point {} at one every user has",
            entry.dn,
            missing
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if missing.contains(&u.email_attr) && u.email_suffix.is_none() {
                "the userSearch attributes (or set `emailSuffix`)"
            } else {
                "the userSearch attributes"
            }
        ));
    }
    Ok(Identity {
        user_id,
        username,
        preferred_username,
        email,
        email_verified: true,
        groups: Vec::new(),
        connector_data: None,
        upstream_id_token: None,
    })
}

/// The group names of the group entries found, in order, without repeats;
/// a group without `nameAttr` is an error naming it.
pub fn group_names(group: &GroupSearch, entries: &[Entry]) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for e in entries {
        let Some(name) = e.first(&group.name_attr) else {
            return Err(format!(
                "the group entry `{}` has no `{}` attribute; set groupSearch.nameAttr to an attribute every group has",
                e.dn, group.name_attr
            ));
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// What refresh keeps in `connector_data`: the entry's DN and the login
/// name, so refresh re-reads that exact entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshData {
    pub dn: String,
    pub username: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::super::config::parse;
    use super::*;
    use serde_json::json;

    #[test]
    fn binary_values_are_base64_and_binary_attributes_always() {
        // Text values, binary attribute name, binary values, what `values` gives.
        type Row<'a> = (&'a [&'a str], &'a str, &'a [&'a [u8]], &'a [&'a str]);
        let rows: &[Row] = &[
            // A GUID whose bytes are not UTF-8 arrives as binary.
            (&[], "objectGUID", &[&[0xff, 0x00, 0x10]], &["/wAQ"]),
            // A GUID whose bytes happen to be UTF-8 arrives as text: same form.
            (&["A\u{1}B"], "objectGUID", &[], &["QQFC"]),
            (&["A\u{1}B"], "OBJECTGUID", &[], &["QQFC"]),
            (&["AB"], "objectSid", &[], &["QUI="]),
            // Other attributes keep their text; their binary values are base64.
            (&["alice"], "uid", &[], &["alice"]),
            (&["a"], "jpegPhoto", &[&[0xff]], &["a", "/w=="]),
        ];
        for (text, name, binary, want) in rows {
            let mut t = HashMap::new();
            if !text.is_empty() {
                t.insert(
                    name.to_string(),
                    text.iter().map(|v| v.to_string()).collect(),
                );
            }
            let mut b = HashMap::new();
            if !binary.is_empty() {
                b.insert(
                    name.to_string(),
                    binary.iter().map(|v| v.to_vec()).collect(),
                );
            }
            let e = Entry::from_search("cn=x".into(), t, b);
            assert_eq!(e.values(name), *want, "{name} {text:?}");
        }
    }

    fn config(user_search: serde_json::Value) -> Config {
        parse(
            "l",
            &json!({"host": "h", "userSearch": user_search,
                "groupSearch": {"baseDN": "ou=groups", "nameAttr": "cn", "filter": "(objectClass=groupOfNames)",
                    "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}, {"userAttr": "uid", "groupAttr": "memberUid"}]}}),
        )
        .unwrap()
    }

    #[test]
    fn escaping_rows() {
        let rows = [
            ("alice", "alice"),
            ("*", "\\2a"),
            ("admin)(|(uid=*", "admin\\29\\28|\\28uid=\\2a"),
            ("a\\b", "a\\5cb"),
            ("nul\0byte", "nul\\00byte"),
            ("zoë,=+<>;\"", "zoë,=+<>;\""),
            ("", ""),
        ];
        for (input, want) in rows {
            assert_eq!(escape(input), want, "{input:?}");
        }
    }

    /// For many strings made of the characters filters care about: the
    /// escaped form holds no `*`, `(`, `)` or NUL, every `\` starts a hex
    /// pair, and the whole filter parses.
    #[test]
    fn escaping_leaves_no_operator() {
        let alphabet: Vec<char> = "*()\\\0=|&!~<>a é🔑,+\"".chars().collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let c = config(json!({"baseDN": "dc=x", "username": "uid"}));
        for _ in 0..5000 {
            let len = (seed % 12) as usize;
            let s: String = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let e = escape(&s);
            assert!(!e.contains(['*', '(', ')', '\0']), "{s:?} -> {e}");
            let mut chars = e.chars();
            while let Some(ch) = chars.next() {
                if ch == '\\' {
                    let pair: String = chars.by_ref().take(2).collect();
                    assert!(
                        pair.len() == 2 && pair.chars().all(|h| h.is_ascii_hexdigit()),
                        "{s:?} -> {e}"
                    );
                }
            }
            let f = user_filter(&c, &s);
            assert!(ldap3::parse_filter(&f).is_ok(), "{s:?} -> {f}");
        }
    }

    /// One row: the admin's filter (or none), the typed name, the filter sent.
    #[test]
    fn user_filters() {
        let rows = [
            (None, "alice", "(uid=alice)"),
            (
                Some("(objectClass=person)"),
                "alice",
                "(&(objectClass=person)(uid=alice))",
            ),
            (None, "*", "(uid=\\2a)"),
            (
                Some("(objectClass=person)"),
                "x)(uid=*))(|(uid=*",
                "(&(objectClass=person)(uid=x\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a))",
            ),
        ];
        for (admin, name, want) in rows {
            let mut us = json!({"baseDN": "dc=x", "username": "uid"});
            if let Some(f) = admin {
                us["filter"] = json!(f);
            }
            let c = config(us);
            let got = user_filter(&c, name);
            assert_eq!(got, want, "{name}");
            // Every filter we build parses as exactly what we meant.
            assert!(ldap3::parse_filter(&got).is_ok(), "{got}");
        }
        // Several username attributes (later Dex): any may match.
        let c = config(
            json!({"baseDN": "dc=x", "username": ["uid", "mail"], "filter": "(objectClass=person)"}),
        );
        let got = user_filter(&c, "a*)");
        assert_eq!(
            got,
            "(&(objectClass=person)(|(uid=a\\2a\\29)(mail=a\\2a\\29)))"
        );
        assert!(ldap3::parse_filter(&got).is_ok(), "{got}");
        assert_eq!(user_attrs(&c), ["mail", "uid"]);
    }

    #[test]
    fn group_filters_escape_dns() {
        let c = config(json!({"baseDN": "dc=x", "username": "uid"}));
        let g = c.group.as_ref().unwrap();
        let got = group_filter(g, "member", "cn=O\\2CBrien (ops*),dc=x");
        assert_eq!(
            got,
            "(&(objectClass=groupOfNames)(member=cn=O\\5c2CBrien \\28ops\\2a\\29,dc=x))"
        );
        assert!(ldap3::parse_filter(&got).is_ok());
        assert_eq!(refresh_filter(&c), "(objectClass=*)");
        assert_eq!(user_attrs(&c), ["mail", "uid"]);
        let by_dn =
            config(json!({"baseDN": "dc=x", "username": "uid", "idAttr": "DN", "nameAttr": "cn"}));
        assert_eq!(user_attrs(&by_dn), ["cn", "mail", "uid"]);
    }

    fn entry(pairs: &[(&str, &[&str])]) -> Entry {
        Entry {
            dn: "uid=a,dc=x".into(),
            attrs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        }
    }

    /// One row: userSearch, entry attributes, and the identity fields
    /// (id, name, preferred, email) or the words of the error.
    #[test]
    fn identity_rows() {
        type Row<'a> = (
            serde_json::Value,
            &'a [(&'a str, &'a [&'a str])],
            Result<[&'a str; 4], &'a [&'a str]>,
        );
        let rows: Vec<Row> = vec![
            (
                json!({}),
                &[("uid", &["a"]), ("mail", &["a@x.io"])],
                Ok(["a", "", "", "a@x.io"]),
            ),
            (
                json!({}),
                &[("UID", &["a"]), ("Mail", &["a@x.io", "b@x.io"])],
                Ok(["a", "", "", "a@x.io"]),
            ),
            (
                json!({"nameAttr": "cn", "preferredUsernameAttr": "uid", "idAttr": "DN"}),
                &[("uid", &["a"]), ("cn", &["Alice A"]), ("mail", &["a@x.io"])],
                Ok(["uid=a,dc=x", "Alice A", "a", "a@x.io"]),
            ),
            (
                json!({"nameAttr": "uid", "emailSuffix": "corp.example"}),
                &[("uid", &["a"])],
                Ok(["a", "a", "", "a@corp.example"]),
            ),
            (
                json!({}),
                &[("uid", &["a"])],
                Err(&["`uid=a,dc=x`", "no `mail` attribute", "emailSuffix"]),
            ),
            (
                json!({}),
                &[("mail", &["a@x.io"])],
                Err(&["no `uid` attribute"]),
            ),
            (
                json!({"nameAttr": "cn"}),
                &[("uid", &["a"]), ("mail", &[""])],
                Err(&["`cn`, `mail`"]),
            ),
        ];
        for (extra, attrs, want) in rows {
            let mut us = json!({"baseDN": "dc=x", "username": "uid"});
            for (k, v) in extra.as_object().unwrap() {
                us[k] = v.clone();
            }
            let c = config(us);
            match (identity(&c, &entry(attrs)), want) {
                (Ok(id), Ok([uid, name, pref, mail])) => {
                    assert_eq!(
                        [
                            id.user_id.as_str(),
                            &id.username,
                            &id.preferred_username,
                            &id.email
                        ],
                        [uid, name, pref, mail],
                        "{extra}"
                    );
                    assert!(id.email_verified);
                }
                (Err(msg), Err(words)) => {
                    for w in words {
                        assert!(msg.contains(w), "{extra}: `{msg}` lacks `{w}`");
                    }
                }
                (got, want) => panic!("{extra}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn group_names_dedupe_and_require_the_name() {
        let c = config(json!({"baseDN": "dc=x", "username": "uid"}));
        let g = c.group.as_ref().unwrap();
        let groups = [
            entry(&[("cn", &["eng"])]),
            entry(&[("CN", &["ops"])]),
            entry(&[("cn", &["eng"])]),
        ];
        assert_eq!(group_names(g, &groups).unwrap(), ["eng", "ops"]);
        let err = group_names(g, &[entry(&[("description", &["x"])])]).unwrap_err();
        assert!(err.contains("no `cn` attribute"), "{err}");
    }
}
