//! Upstream IdP connectors in their three dialects, and each connector
//! type's own config fields.
//!
//! - Helm values / secret `upstream-idps` / `IDP_CONNECTORS`: `id`, `name`,
//!   `type`, `configVersion`, `jsonConfig`, `config`.
//! - `tusk idp` files (pachctl's): `id`, `name`, `type`, `version`, `config`,
//!   keys case-insensitive.
//! - the gRPC `IDPConnector` message, which arrives as JSON.
//!
//! In each, `config` may be a map or a JSON string, and `jsonConfig` a JSON
//! string. Unknown keys are errors everywhere, including inside `config`,
//! where the reference silently ignores them.

use super::schema::{Ctx, Kind, Schema, Strictness, check_map, f, join, req};
use crate::yaml::{self, Node, Value};
use serde::Serialize;

/// One connector, validated. `config` is JSON because it is stored and sent
/// on the wire as JSON; its secret fields are known from the type's schema.
#[derive(Clone, PartialEq, Serialize)]
pub struct ConnectorSpec {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// `None` when the source does not manage versions (Helm values).
    pub config_version: Option<i64>,
    pub config: serde_json::Value,
}

impl std::fmt::Debug for ConnectorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorSpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("type", &self.type_)
            .field("config_version", &self.config_version)
            .field("config", &mask_config(&self.type_, &self.config))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Helm,
    IdpFile,
    Grpc,
}

/// The built-in mock IdP's connector (docs/identity-and-config.md §4).
pub fn mock_idp() -> ConnectorSpec {
    ConnectorSpec {
        id: "test".into(),
        name: "test".into(),
        type_: "mockPassword".into(),
        config_version: None,
        config: serde_json::json!({"username": "admin", "password": "password"}),
    }
}

/// Every connector type the reference accepts (docs/identity-and-config.md §3).
pub const KNOWN_TYPES: &[&str] = &[
    "keystone",
    "mockCallback",
    "mockPassword",
    "ldap",
    "gitea",
    "github",
    "gitlab",
    "google",
    "oidc",
    "oauth",
    "saml",
    "authproxy",
    "linkedin",
    "microsoft",
    "bitbucket-cloud",
    "openshift",
    "atlassian-crowd",
    "samlExperimental",
    "local",
];

static HELM_ENVELOPE: Schema = Schema {
    fields: &[
        req("id", Kind::Str),
        f("name", Kind::Str),
        req("type", Kind::Str),
        f("configVersion", Kind::Int),
        f("jsonConfig", Kind::Any),
        f("config", Kind::Any),
    ],
    strictness: Strictness::Strict,
    misplaced: &[("version", HELM_VERSION_HELP)],
    obsolete: &[],
};

static IDP_FILE_ENVELOPE: Schema = Schema {
    fields: &[
        req("id", Kind::Str),
        f("name", Kind::Str),
        req("type", Kind::Str),
        f("version", Kind::Int),
        f("jsonConfig", Kind::Any),
        f("config", Kind::Any),
    ],
    strictness: Strictness::Strict,
    misplaced: &[(
        "configVersion",
        "`tusk idp` files call it `version`; rename the key (it must be the stored version + 1 on update)",
    )],
    obsolete: &[],
};

static GRPC_ENVELOPE: Schema = Schema {
    fields: &[
        req("id", Kind::Str),
        f("name", Kind::Str),
        req("type", Kind::Str),
        f("configVersion", Kind::Int),
        f("jsonConfig", Kind::Any),
        f("config", Kind::Any),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static CLAIM_MAPPING: Schema = Schema {
    fields: &[
        f("preferred_username", Kind::Str),
        f("email", Kind::Str),
        f("groups", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static DISCOVERY_OVERRIDES: Schema = Schema {
    fields: &[
        f("tokenURL", Kind::Url),
        f("authURL", Kind::Url),
        f("jwksURL", Kind::Url),
        f("userInfoURL", Kind::Url),
        f("deviceAuthURL", Kind::Url),
        f("endSessionURL", Kind::Url),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// `version` anywhere in a Helm values connector entry.
const HELM_VERSION_HELP: &str = "`version` belongs in `tusk idp` connector files; in Helm values tusk manages the version (configVersion) itself, so remove this line";

const ENVELOPE_KEY_HELP: &str =
    "this key belongs to the connector entry, one level up, not inside `config`";

pub static OIDC_CONFIG: Schema = Schema {
    fields: &[
        req("issuer", Kind::Issuer),
        req("clientID", Kind::Str),
        f("clientSecret", Kind::Secret),
        req("redirectURI", Kind::Url),
        f("insecureSkipIssuerCallbackDomainCheck", Kind::Bool),
        f("basicAuthUnsupported", Kind::Bool),
        f("scopes", Kind::StrList),
        f("rootCAs", Kind::StrList),
        f("insecureSkipVerify", Kind::Bool),
        f("insecureSkipEmailVerified", Kind::Bool),
        f("insecureEnableGroups", Kind::Bool),
        f("getUserInfo", Kind::Bool),
        f("userIDKey", Kind::Str),
        f("userNameKey", Kind::Str),
        f("promptType", Kind::Str),
        f("acrValues", Kind::StrList),
        f("overrideClaimMapping", Kind::Bool),
        f("claimMapping", Kind::Map(&CLAIM_MAPPING)),
        f(
            "providerDiscoveryOverrides",
            Kind::Map(&DISCOVERY_OVERRIDES),
        ),
        f("allowedGroups", Kind::StrList),
        f("claimModifications", Kind::Any),
        f("issuerAlias", Kind::Str),
        f("pkceChallenge", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[
        ("version", ENVELOPE_KEY_HELP),
        ("id", ENVELOPE_KEY_HELP),
        ("name", ENVELOPE_KEY_HELP),
        ("type", ENVELOPE_KEY_HELP),
    ],
    obsolete: &["hostedDomains", "forwardedLoginParams"],
};

/// Dex's `saml` connector, field for field.
pub static SAML_CONFIG: Schema = Schema {
    fields: &[
        req("ssoURL", Kind::Url),
        f("ca", Kind::Str),
        f("caData", Kind::Str),
        f("entityIssuer", Kind::Str),
        f("ssoIssuer", Kind::Str),
        req("redirectURI", Kind::Url),
        req("usernameAttr", Kind::Str),
        req("emailAttr", Kind::Str),
        f("groupsAttr", Kind::Str),
        f("groupsDelim", Kind::Str),
        f("allowedGroups", Kind::StrList),
        f("filterGroups", Kind::Bool),
        f("nameIDPolicyFormat", Kind::Str),
        f("insecureSkipSignatureValidation", Kind::Bool),
    ],
    strictness: Strictness::Strict,
    misplaced: &[
        ("version", ENVELOPE_KEY_HELP),
        ("id", ENVELOPE_KEY_HELP),
        ("name", ENVELOPE_KEY_HELP),
        ("type", ENVELOPE_KEY_HELP),
    ],
    obsolete: &[],
};

/// What the `saml` schema cannot say: `ca` xor `caData`, a `caData` that
/// holds certificates (the failing one named by its line), and a loud
/// warning for `insecureSkipSignatureValidation`.
fn check_saml(ctx: &mut Ctx<'_>, config: &Node, path: &str) {
    let insecure = config
        .get("insecureSkipSignatureValidation")
        .is_some_and(|n| n.value == Value::Bool(true));
    let present = |key: &str| {
        config
            .get(key)
            .filter(|n| matches!(&n.value, Value::Str(s) if !s.trim().is_empty()))
    };
    match (present("ca"), present("caData")) {
        (Some(ca), Some(_)) => ctx.error(
            ca.pos,
            &join(path, "ca"),
            "both `ca` and `caData` are set",
            Some("keep one: `ca` is a PEM file's path, `caData` the PEM itself".into()),
        ),
        (None, None) if !insecure => ctx.error(
            config.pos,
            path,
            "no IdP certificate: a saml connector needs `ca` or `caData`",
            Some(
                "set `caData` to the IdP's signing certificate (PEM), or `ca` to a PEM file".into(),
            ),
        ),
        (None, Some(data)) => {
            if let Value::Str(text) = &data.value {
                let pem = crate::certificate::pem_text(text);
                if let Err(e) = crate::certificate::parse_pem(&pem) {
                    // A block scalar's node starts at its first line, so
                    // the PEM's line maps onto the file; base64 or a
                    // one-line string keeps the key's line.
                    let mut pos = data.pos;
                    if let (Some(line), true) = (e.line, pem == *text && text.contains('\n')) {
                        pos.line += line - 1;
                    }
                    ctx.error(
                        pos,
                        &join(path, "caData"),
                        format!("the IdP certificate does not parse: {e}"),
                        Some("paste the IdP's signing certificate as PEM, from its metadata or admin console".into()),
                    );
                }
            }
        }
        _ => {}
    }
    if let Some(n) = config
        .get("insecureSkipSignatureValidation")
        .filter(|_| insecure)
    {
        ctx.warn(
            n.pos,
            &join(path, "insecureSkipSignatureValidation"),
            "SAML signatures will NOT be checked: anyone who can reach tusk can log in as anyone through this connector",
            Some("remove this line and set `caData` to the IdP's signing certificate; it is for tests only".into()),
        );
    }
}

static MOCK_PASSWORD_CONFIG: Schema = Schema {
    fields: &[req("username", Kind::Str), req("password", Kind::Secret)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static MOCK_CALLBACK_CONFIG: Schema = Schema {
    fields: &[],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static LOCAL_USER: Schema = Schema {
    fields: &[
        req("email", Kind::Str),
        req("hash", Kind::Secret),
        f("username", Kind::Str),
        f("userID", Kind::Str),
        f("groups", Kind::StrList),
    ],
    strictness: Strictness::Strict,
    misplaced: &[(
        "password",
        "store a hash, never the password: put an argon2id or bcrypt hash in `hash`",
    )],
    obsolete: &[],
};

static LOCAL_CONFIG: Schema = Schema {
    fields: &[req("users", Kind::List(&LOCAL_USER))],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static GITHUB_ORG: Schema = Schema {
    fields: &[req("name", Kind::Str), f("teams", Kind::StrList)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// Dex's `github` connector (docs/github-connector.md §1).
pub static GITHUB_CONFIG: Schema = Schema {
    fields: &[
        req("clientID", Kind::Str),
        req("clientSecret", Kind::Secret),
        req("redirectURI", Kind::Url),
        f("orgs", Kind::List(&GITHUB_ORG)),
        f("org", Kind::Str),
        f("loadAllGroups", Kind::Bool),
        f("teamNameField", Kind::Str),
        f("useLoginAsID", Kind::Bool),
        f("preferredEmailDomain", Kind::Str),
        f("hostName", Kind::Str),
        f("rootCA", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[
        ("version", ENVELOPE_KEY_HELP),
        ("id", ENVELOPE_KEY_HELP),
        ("name", ENVELOPE_KEY_HELP),
        ("type", ENVELOPE_KEY_HELP),
        (
            "teams",
            "`teams` belongs inside an `orgs` entry: `orgs: [{name: <org>, teams: [...]}]`",
        ),
    ],
    obsolete: &[],
};

static LDAP_USER_SEARCH: Schema = Schema {
    fields: &[
        req("baseDN", Kind::Str),
        f("filter", Kind::Str),
        // One attribute name, or a list of them (later Dex): `super::ldap`.
        req("username", Kind::Any),
        f("scope", Kind::Str),
        f("idAttr", Kind::Str),
        f("emailAttr", Kind::Str),
        f("nameAttr", Kind::Str),
        f("preferredUsernameAttr", Kind::Str),
        f("emailSuffix", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static LDAP_USER_MATCHER: Schema = Schema {
    fields: &[req("userAttr", Kind::Str), req("groupAttr", Kind::Str)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static LDAP_GROUP_SEARCH: Schema = Schema {
    fields: &[
        f("baseDN", Kind::Str),
        f("filter", Kind::Str),
        f("scope", Kind::Str),
        f("userMatchers", Kind::List(&LDAP_USER_MATCHER)),
        f("userAttr", Kind::Str),
        f("groupAttr", Kind::Str),
        f("nameAttr", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// Dex's `ldap` connector, field for field; cross-field rules are in
/// `super::ldap`.
pub static LDAP_CONFIG: Schema = Schema {
    fields: &[
        req("host", Kind::Str),
        f("insecureNoSSL", Kind::Bool),
        f("insecureSkipVerify", Kind::Bool),
        f("startTLS", Kind::Bool),
        f("rootCA", Kind::Str),
        f("rootCAData", Kind::Str),
        f("clientCert", Kind::Str),
        f("clientKey", Kind::Str),
        f("bindDN", Kind::Str),
        f("bindPW", Kind::Secret),
        f("usernamePrompt", Kind::Str),
        req("userSearch", Kind::Map(&LDAP_USER_SEARCH)),
        f("groupSearch", Kind::Map(&LDAP_GROUP_SEARCH)),
    ],
    strictness: Strictness::Strict,
    misplaced: &[
        ("version", ENVELOPE_KEY_HELP),
        ("id", ENVELOPE_KEY_HELP),
        ("name", ENVELOPE_KEY_HELP),
        ("type", ENVELOPE_KEY_HELP),
    ],
    obsolete: &[],
};

/// The config schema of a connector type, where tusk knows it.
pub fn config_schema(type_: &str) -> Option<&'static Schema> {
    match type_ {
        "oidc" => Some(&OIDC_CONFIG),
        "mockPassword" => Some(&MOCK_PASSWORD_CONFIG),
        "mockCallback" => Some(&MOCK_CALLBACK_CONFIG),
        "local" => Some(&LOCAL_CONFIG),
        "github" => Some(&GITHUB_CONFIG),
        "ldap" => Some(&LDAP_CONFIG),
        "saml" => Some(&SAML_CONFIG),
        _ => None,
    }
}

/// Replaces the secret fields of a connector config with `***`, driven by
/// the type's schema so no second list of secret names can drift.
pub fn mask_config(type_: &str, config: &serde_json::Value) -> serde_json::Value {
    match config_schema(type_) {
        Some(schema) => mask_with(schema, config),
        // Unknown types: mask anything that looks like a credential.
        None => mask_by_name(config),
    }
}

fn mask_with(schema: &Schema, value: &serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        let masked = match schema.field(k).map(|f| f.kind) {
            Some(Kind::Secret) => mask_leaf(v),
            Some(Kind::Map(inner)) => mask_with(inner, v),
            Some(Kind::List(inner)) => match v {
                serde_json::Value::Array(items) => {
                    serde_json::Value::Array(items.iter().map(|i| mask_with(inner, i)).collect())
                }
                other => other.clone(),
            },
            Some(Kind::Any) => mask_by_name(v),
            // Unknown keys never pass validation, but a secret must not
            // leak even if one does.
            None => mask_by_name(v),
            Some(_) => v.clone(),
        };
        out.insert(k.clone(), masked);
    }
    serde_json::Value::Object(out)
}

fn mask_by_name(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let secret = [
                        "secret", "password", "passwd", "token", "key", "hash", "bindpw",
                    ]
                    .iter()
                    .any(|s| lower.contains(s));
                    (
                        k.clone(),
                        if secret {
                            mask_leaf(v)
                        } else {
                            mask_by_name(v)
                        },
                    )
                })
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(mask_by_name).collect())
        }
        other => other.clone(),
    }
}

fn mask_leaf(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if s.is_empty() => v.clone(),
        serde_json::Value::Null => v.clone(),
        _ => serde_json::Value::String("***".into()),
    }
}

/// Validates a list of connectors (Helm dialect) at `path`. Problems go to
/// `ctx`; the valid entries come back, so one bad entry never hides the
/// diagnostics of the others.
pub fn parse_list(ctx: &mut Ctx<'_>, node: &mut Node, path: &str) -> Vec<ConnectorSpec> {
    let pos = node.pos;
    let Value::Seq(items) = &mut node.value else {
        if node.value != Value::Null {
            ctx.error(
                pos,
                path,
                format!("expected a list of connectors, found {}", node.kind()),
                Some("write each connector as a list item starting with `- type: ...`".into()),
            );
        }
        return Vec::new();
    };
    let mut out: Vec<ConnectorSpec> = Vec::new();
    // Duplicates are found on the raw ids, so an invalid first entry still
    // makes its twin a reported duplicate.
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in items.iter_mut().enumerate() {
        let item_path = format!("{path}[{i}]");
        let raw_id = match item.get("id") {
            Some(Node {
                value: Value::Str(s),
                pos,
            }) => Some((s.trim().to_owned(), *pos)),
            _ => None,
        };
        if let Some((id, pos)) = &raw_id {
            if seen.contains(id) {
                ctx.error(
                    *pos,
                    &join(&item_path, "id"),
                    format!("duplicate connector id `{id}`"),
                    Some("give every connector its own id".into()),
                );
                continue;
            }
            seen.push(id.clone());
        }
        if let Some(spec) = parse_one(ctx, item, &item_path, Dialect::Helm) {
            out.push(spec);
        }
    }
    out
}

/// Validates one connector in the given dialect.
pub fn parse_one(
    ctx: &mut Ctx<'_>,
    node: &mut Node,
    path: &str,
    dialect: Dialect,
) -> Option<ConnectorSpec> {
    let before = ctx.diags.len();
    if dialect == Dialect::IdpFile {
        lowercase_envelope_keys(node);
    }
    let schema = match dialect {
        Dialect::Helm => &HELM_ENVELOPE,
        Dialect::IdpFile => &IDP_FILE_ENVELOPE,
        Dialect::Grpc => &GRPC_ENVELOPE,
    };
    if !check_map(ctx, node, path, schema) {
        if node.value == Value::Null {
            ctx.error(node.pos, path, "a connector entry is empty", None);
        }
        return None;
    }
    let text = |key: &str| match node.get(key).map(|n| &n.value) {
        Some(Value::Str(s)) => s.trim().to_owned(),
        _ => String::new(),
    };
    let id = text("id");
    let type_ = text("type");
    let name = match text("name") {
        n if n.is_empty() => id.clone(),
        n => n,
    };
    let version_key = if dialect == Dialect::IdpFile {
        "version"
    } else {
        "configVersion"
    };
    let config_version = match node.get(version_key).map(|n| &n.value) {
        Some(Value::Int(v)) => Some(*v),
        _ => None,
    };
    if !type_.is_empty() && !KNOWN_TYPES.contains(&type_.as_str()) {
        let pos = node.get("type").map_or(node.pos, |n| n.pos);
        let hint = super::diag::suggest(&type_, KNOWN_TYPES.iter().copied());
        ctx.error(
            pos,
            &join(path, "type"),
            format!("unknown connector type \"{type_}\""),
            Some(match hint {
                Some(h) => format!("did you mean `{h}`?"),
                None => format!("use one of: {}", KNOWN_TYPES.join(", ")),
            }),
        );
    }
    if id.contains(['/', '?', '#', ' ']) {
        let pos = node.get("id").map_or(node.pos, |n| n.pos);
        ctx.error(
            pos,
            &join(path, "id"),
            format!("connector id `{id}` contains a character that cannot appear in a URL path"),
            Some("use letters, digits, `-` and `_`".into()),
        );
    }
    let config = pick_config(ctx, node, path, &type_);
    // `version` inside `config` is an envelope key one level up only in
    // `tusk idp` files; in Helm values the envelope refuses it too (tusk
    // numbers the versions itself), so moving it up would earn a second
    // error: say what fixes it in this dialect.
    if dialect == Dialect::Helm {
        for key in ["config", "jsonConfig"] {
            let misplaced = join(&join(path, key), "version");
            for d in ctx.diags[before..].iter_mut() {
                if d.path == misplaced {
                    d.help = Some(HELM_VERSION_HELP.to_owned());
                }
            }
        }
    }
    if ctx.diags[before..]
        .iter()
        .any(|d| d.severity == super::diag::Severity::Error)
    {
        return None;
    }
    Some(ConnectorSpec {
        id,
        name,
        type_,
        config_version,
        config: config.unwrap_or(serde_json::Value::Object(Default::default())),
    })
}

/// pachctl reads its connector files case-insensitively (`ID`, `Type`).
fn lowercase_envelope_keys(node: &mut Node) {
    if let Value::Map(entries) = &mut node.value {
        for (key, _) in entries.iter_mut() {
            let lower = key.name.to_ascii_lowercase();
            if let Some(canonical) = ["id", "name", "type", "version", "config", "jsonconfig"]
                .iter()
                .find(|k| **k == lower)
            {
                key.name = if *canonical == "jsonconfig" {
                    "jsonConfig".into()
                } else {
                    (*canonical).into()
                };
            }
        }
    }
}

/// The reference's rule: `config` if present, else `jsonConfig` unless it
/// is `""` or `"null"`, else "no configs are defined".
fn pick_config(
    ctx: &mut Ctx<'_>,
    node: &mut Node,
    path: &str,
    type_: &str,
) -> Option<serde_json::Value> {
    let mut chosen: Option<(Node, String)> = None;
    for key in ["config", "jsonConfig"] {
        let Some(value) = node.get(key) else { continue };
        let key_path = join(path, key);
        let parsed = match &value.value {
            Value::Null => continue,
            Value::Str(s) if s.trim().is_empty() || s.trim() == "null" => continue,
            // A string holds JSON (or YAML); positions inside it are
            // relative to the string, so report at the key's line.
            Value::Str(s) => match yaml::parse(s, value.pos.source) {
                Ok(Some(mut inner)) => {
                    relocate(&mut inner, value.pos.line);
                    inner
                }
                Ok(None) => continue,
                Err(e) => {
                    ctx.error(
                        value.pos,
                        &key_path,
                        format!(
                            "the embedded JSON does not parse: {} (line {} of the string)",
                            e.message, e.line
                        ),
                        None,
                    );
                    return None;
                }
            },
            Value::Map(_) => value.clone(),
            _ => {
                ctx.error(
                    value.pos,
                    &key_path,
                    format!("expected a map or a JSON string, found {}", value.kind()),
                    None,
                );
                return None;
            }
        };
        chosen = Some((parsed, key_path));
        break;
    }
    let Some((mut config, config_path)) = chosen else {
        if type_ == "mockCallback" || !KNOWN_TYPES.contains(&type_) {
            return None;
        }
        ctx.error(
            node.pos,
            path,
            "no configs are defined",
            Some("add a `config:` map with the connector's settings".into()),
        );
        return None;
    };
    match config_schema(type_) {
        Some(schema) => {
            let is_map = check_map(ctx, &mut config, &config_path, schema);
            if type_ == "github" {
                check_github(ctx, &config, &config_path);
            }
            if is_map && type_ == "ldap" {
                super::ldap::check(ctx, &config, &config_path);
            }
            if is_map && type_ == "saml" {
                check_saml(ctx, &config, &config_path);
            }
        }
        None if KNOWN_TYPES.contains(&type_) => ctx.warn(
            config.pos,
            &config_path,
            format!("tusk does not validate or open `{type_}` connectors yet; it is stored but logins through it will fail"),
            Some("use an `oidc` connector if the provider speaks OpenID Connect".into()),
        ),
        None => {}
    }
    Some(config.to_json())
}

/// The `github` combinations Dex refuses at open, reported by
/// `config check` with their lines (docs/github-connector.md §1).
fn check_github(ctx: &mut Ctx<'_>, config: &Node, path: &str) {
    let text = |key: &str| match config.get(key) {
        Some(Node {
            value: Value::Str(s),
            pos,
        }) if !s.trim().is_empty() => Some((s.trim(), *pos)),
        _ => None,
    };
    let orgs_set = matches!(config.get("orgs"), Some(Node { value: Value::Seq(items), .. }) if !items.is_empty());
    if let Some((_, pos)) = text("org")
        && orgs_set
    {
        ctx.error(
            pos,
            &format!("{path}.org"),
            "`org` and `orgs` cannot both be set",
            Some("move the `org` value into `orgs` as `- name: <org>` and remove `org`".into()),
        );
    }
    if let Some((field, pos)) = text("teamNameField")
        && !["name", "slug", "both"].contains(&field)
    {
        ctx.error(
            pos,
            &format!("{path}.teamNameField"),
            format!("unsupported team name field `{field}`"),
            Some("use `name` (the default), `slug` or `both`".into()),
        );
    }
    let host = text("hostName");
    if let Some((h, pos)) = host
        && h.contains('/')
    {
        ctx.error(
            pos,
            &format!("{path}.hostName"),
            format!("`{h}` is not a host name"),
            Some("write only the host (and port), e.g. `github.example.com`, without https:// or a path".into()),
        );
    }
    if let Some((_, pos)) = text("rootCA")
        && host.is_none()
    {
        ctx.error(
            pos,
            &format!("{path}.rootCA"),
            "`rootCA` needs `hostName`",
            Some(
                "a private CA is for GitHub Enterprise: set `hostName`, or remove `rootCA`".into(),
            ),
        );
    }
    if let Some((d, pos)) = text("preferredEmailDomain")
        && d.ends_with('*')
    {
        ctx.error(
            pos,
            &format!("{path}.preferredEmailDomain"),
            format!("`{d}` ends with `*`"),
            Some("a `*` may stand only for a leading label, e.g. `*.example.com`".into()),
        );
    }
}

/// Moves every position of a tree parsed from an embedded string to the
/// line of the key that held it: the best place we can point an editor at.
fn relocate(node: &mut Node, line: usize) {
    node.pos.line = line;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|i| relocate(i, line)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.pos.line = line;
            relocate(v, line);
        }),
        _ => {}
    }
}
