//! Configuration: Pachyderm's Helm values, its environment variables and
//! Kubernetes-style secrets, merged into one validated [`Config`].
//!
//! Precedence, lowest first (documented in the README):
//! 1. built-in defaults;
//! 2. `--values` files, merged in order like `helm -f` (maps merge, lists
//!    are replaced);
//! 3. secrets named by the values (`oidc.upstreamIDPsSecretName`, ...),
//!    which replace the inline value they stand for;
//! 4. Pachyderm's environment variables (`IDP_CONNECTORS`, `AUTH_ROOT_TOKEN`,
//!    ...), because in Pachyderm they are what the chart renders and pachd
//!    reads last.
//!
//! Loading never stops at the first problem: every diagnostic is collected,
//! and any error refuses the whole config, so a half-valid file is never
//! half-applied.

pub mod cidr;
pub mod connector;
pub mod diag;
pub mod duration;
pub mod schema;

use crate::Secret;
use crate::yaml::{self, Node, Pos, Value};
pub use cidr::Cidr;
pub use connector::{ConnectorSpec, Dialect};
pub use diag::{Diagnostic, Severity};
use schema::{Ctx, Kind, Schema, Strictness, check_map, check_value, f, join};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Reads one key of a named secret (a Kubernetes secret volume: the
/// directory `DIR/<name>` with one file per key). Implemented outside the
/// core, which does no I/O.
pub trait SecretSource {
    fn read(&self, name: &str, key: &str) -> Result<String, String>;
    /// Where the key lives, for messages (`/etc/secrets/okta/upstream-idps`).
    fn locate(&self, name: &str, key: &str) -> String;
}

/// A named input text. Bytes, not a string: deciding that a file is not
/// UTF-8 is validation, and belongs here with the other messages.
pub struct SourceText {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct Input<'a> {
    pub files: Vec<SourceText>,
    /// Only Pachyderm's variables are read; the caller may pass the whole
    /// environment.
    pub env: BTreeMap<String, String>,
    pub secrets: Option<&'a dyn SecretSource>,
    /// `host:port` tusk listens on; the issuer falls back to it.
    pub listen: String,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: String,
    /// Which rule produced the issuer, for `config show` and readiness.
    pub issuer_origin: &'static str,
    /// True when the mock IdP is on: no upstream configured and
    /// `oidc.mockIDP` not false.
    pub mock_idp: bool,
    pub connectors: Vec<ConnectorSpec>,
    /// Where the connector list came from; set means the identity API must
    /// refuse to edit connectors, as the reference does.
    pub connectors_origin: Option<String>,
    pub clients: Vec<ClientSpec>,
    pub id_token_expiry: Duration,
    pub rotation_token_expiry: Option<Duration>,
    pub require_verified_email: bool,
    pub user_accessible_issuer_host: String,
    pub activate_auth: bool,
    pub root_token: Option<Secret<String>>,
    /// principal → roles, reconciled at start (docs/auth-model.md §6).
    pub cluster_role_bindings: BTreeMap<String, Vec<String>>,
    /// `AUTH_CONFIG` as given (OIDCConfig without the secret).
    pub auth_config: Option<serde_json::Value>,
    pub session_duration: Duration,
    pub license_key: Option<Secret<String>>,
    pub tls: Option<TlsPem>,
    pub pachd_redirect_uri: String,
    pub provider: ProviderSettings,
}

/// tusk's own provider settings (values section `tusk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// `ES256` (default), `RS256` or `EdDSA`.
    pub signing_algorithm: String,
    pub key_rotation_period: Duration,
    pub refresh_reuse_interval: Duration,
    pub refresh_valid_if_not_used_for: Option<Duration>,
    /// Per client address; 0 turns the limit off.
    pub password_per_minute: u32,
    pub token_per_minute: u32,
    /// `/auth` requests per minute per client address (each one that
    /// validates is stored until it expires); 0 turns the limit off.
    pub authorize_per_minute: u32,
    /// Peers whose `X-Forwarded-For`/`Forwarded` is believed; from anyone
    /// else those headers are ignored.
    pub trusted_proxies: Vec<Cidr>,
    /// Open connections above this are closed as soon as they are accepted.
    pub max_connections: u32,
    /// The longest a request waits for a database connection before it is
    /// answered 503.
    pub database_acquire_timeout: Duration,
    pub theme_title: String,
    pub theme_logo_url: Option<String>,
    /// PEM RSA public key that verifies license activation codes.
    pub license_public_key: Option<String>,
    /// How long audit events are kept (`tusk.audit.retention`, 30 days).
    pub audit_retention: Duration,
}

#[derive(Clone)]
pub struct TlsPem {
    pub cert_chain: String,
    pub private_key: Secret<String>,
    pub origin: String,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPem")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSpec {
    pub id: String,
    /// `None`: generate one at bootstrap and keep it in the store.
    #[serde(skip)]
    pub secret: Option<Secret<String>>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub trusted_peers: Vec<String>,
    pub public: bool,
    pub logo_url: String,
    /// `id_token_signed_response_alg`: `RS256` for a client that cannot
    /// verify the default ES256; empty for the default.
    pub id_token_signing_alg: String,
}

pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

static OIDC_SECTION: Schema = Schema {
    fields: &[
        f("issuerURI", Kind::Issuer),
        f("requireVerifiedEmail", Kind::Bool),
        f("IDTokenExpiry", Kind::Duration),
        f("RotationTokenExpiry", Kind::Duration),
        f("userAccessibleOauthIssuerHost", Kind::Str),
        f("upstreamIDPs", Kind::Any),
        f("upstreamIDPsSecretName", Kind::Str),
        f("dexCredentialSecretName", Kind::Str),
        f("mockIDP", Kind::Bool),
        f("additionalClients", Kind::Any),
        f("additionalClientsSecretName", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[
        (
            "connectors",
            "the list of upstream IdPs is `oidc.upstreamIDPs`",
        ),
        (
            "staticClients",
            "extra OIDC clients go in `oidc.additionalClients`",
        ),
    ],
    obsolete: &[],
};

static PACHD_SECTION: Schema = Schema {
    fields: &[
        f("activateAuth", Kind::Bool),
        f("rootToken", Kind::Secret),
        f("rootTokenSecretName", Kind::Str),
        f("oauthClientID", Kind::Str),
        f("oauthClientSecret", Kind::Secret),
        f("oauthClientSecretSecretName", Kind::Str),
        f("oauthRedirectURI", Kind::Url),
        f("localhostIssuer", Kind::Str),
        f("pachAuthClusterRoleBindings", Kind::Any),
        f("additionalTrustedPeers", Kind::StrList),
        f("enterpriseLicenseKey", Kind::Secret),
        f("enterpriseLicenseKeySecretName", Kind::Str),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

static TLS_SECTION: Schema = Schema {
    fields: &[f("enabled", Kind::Bool), f("secretName", Kind::Str)],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

static PROXY_SECTION: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("host", Kind::Str),
        f("tls", Kind::Map(&TLS_SECTION)),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

static INGRESS_SECTION: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("host", Kind::Str),
        f("tls", Kind::Map(&TLS_SECTION)),
        f("uriHttpsProtoOverride", Kind::Bool),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

static CONSOLE_CONFIG: Schema = Schema {
    fields: &[
        f("oauthClientID", Kind::Str),
        f("oauthClientSecret", Kind::Secret),
        f("oauthRedirectURI", Kind::Url),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

static CONSOLE_SECTION: Schema = Schema {
    fields: &[
        f("enabled", Kind::Bool),
        f("config", Kind::Map(&CONSOLE_CONFIG)),
    ],
    strictness: Strictness::Shared,
    misplaced: &[],
    obsolete: &[],
};

static TUSK_REFRESH: Schema = Schema {
    fields: &[
        f("reuseInterval", Kind::Duration),
        f("validIfNotUsedFor", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[(
        "absoluteLifetime",
        "the absolute lifetime is Pachyderm's `oidc.RotationTokenExpiry`",
    )],
    obsolete: &[],
};

static TUSK_SIGNING: Schema = Schema {
    fields: &[
        f("algorithm", Kind::Str),
        f("rotationPeriod", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static TUSK_RATE_LIMIT: Schema = Schema {
    fields: &[
        f("passwordPerMinute", Kind::Int),
        f("tokenPerMinute", Kind::Int),
        f("authorizePerMinute", Kind::Int),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static TUSK_AUDIT: Schema = Schema {
    fields: &[f("retention", Kind::Duration)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static TUSK_THEME: Schema = Schema {
    fields: &[f("title", Kind::Str), f("logoURL", Kind::Url)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static TUSK_LICENSE: Schema = Schema {
    fields: &[f("publicKey", Kind::Str)],
    strictness: Strictness::Strict,
    misplaced: &[(
        "key",
        "the license key itself is `pachd.enterpriseLicenseKey`; `tusk.license.publicKey` is the PEM key that verifies it",
    )],
    obsolete: &[],
};

static TUSK_SERVER: Schema = Schema {
    fields: &[f("maxConnections", Kind::Int)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static TUSK_DATABASE: Schema = Schema {
    fields: &[f("acquireTimeout", Kind::Duration)],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// tusk's own settings, which Pachyderm's chart does not have.
static TUSK_SECTION: Schema = Schema {
    fields: &[
        f("audit", Kind::Map(&TUSK_AUDIT)),
        f("license", Kind::Map(&TUSK_LICENSE)),
        f("refreshTokens", Kind::Map(&TUSK_REFRESH)),
        f("signing", Kind::Map(&TUSK_SIGNING)),
        f("rateLimit", Kind::Map(&TUSK_RATE_LIMIT)),
        f("theme", Kind::Map(&TUSK_THEME)),
        f("trustedProxies", Kind::StrList),
        f("server", Kind::Map(&TUSK_SERVER)),
        f("database", Kind::Map(&TUSK_DATABASE)),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// The top of a values file: Pachyderm's whole chart lives here, so only
/// the sections tusk reads are checked.
static VALUES: Schema = Schema {
    fields: &[
        f("oidc", Kind::Map(&OIDC_SECTION)),
        f("pachd", Kind::Map(&PACHD_SECTION)),
        f("proxy", Kind::Map(&PROXY_SECTION)),
        f("ingress", Kind::Map(&INGRESS_SECTION)),
        f("console", Kind::Map(&CONSOLE_SECTION)),
        f("tusk", Kind::Map(&TUSK_SECTION)),
    ],
    strictness: Strictness::Shared,
    misplaced: &[(
        "upstreamIDPs",
        "`upstreamIDPs` goes under `oidc:`; indent it as `oidc.upstreamIDPs`",
    )],
    obsolete: &[],
};

/// OIDC clients, in Pachyderm's snake_case and Dex's camelCase alike: the
/// reference silently drops Dex's spelling, which loses redirect URIs.
static CLIENT: Schema = Schema {
    fields: &[
        schema::req("id", Kind::Str),
        f("secret", Kind::Secret),
        f("name", Kind::Str),
        f("redirect_uris", Kind::StrList),
        f("redirectURIs", Kind::StrList),
        f("trusted_peers", Kind::StrList),
        f("trustedPeers", Kind::StrList),
        f("public", Kind::Bool),
        f("logo_url", Kind::Str),
        f("logoURL", Kind::Str),
        f("id_token_signed_response_alg", Kind::Str),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static IDP_CONFIG_ENV: Schema = Schema {
    fields: &[
        f("issuer", Kind::Issuer),
        f("id_token_expiry", Kind::Duration),
        f("rotation_token_expiry", Kind::Duration),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

static AUTH_CONFIG_ENV: Schema = Schema {
    fields: &[
        f("client_id", Kind::Str),
        f("issuer", Kind::Issuer),
        f("localhost_issuer", Kind::Bool),
        f("require_email_verified", Kind::Bool),
        f("user_accessible_issuer_host", Kind::Str),
        f("redirect_uri", Kind::Url),
        f("scopes", Kind::StrList),
        f("client_secret", Kind::Secret),
    ],
    strictness: Strictness::Strict,
    misplaced: &[],
    obsolete: &[],
};

/// Shortest client secret `config check` accepts.
pub const MIN_CLIENT_SECRET_BYTES: usize = 16;

/// The environment variables tusk reads, as in Pachyderm (docs/identity-and-config.md §6).
pub const ENV_VARS: &[&str] = &[
    "IDP_CONNECTORS",
    "IDP_CONFIG",
    "IDP_CLIENTS",
    "IDP_ADDITIONAL_CLIENTS",
    "TRUSTED_PEERS",
    "ACTIVATE_AUTH",
    "AUTH_ROOT_TOKEN",
    "AUTH_CONFIG",
    "AUTH_CLIENT_SECRET",
    "AUTH_CLUSTER_RBAC",
    "CONSOLE_OAUTH_ID",
    "CONSOLE_OAUTH_SECRET",
    "SESSION_DURATION_MINUTES",
    "LICENSE_KEY",
];

const DEFAULT_ID_TOKEN_EXPIRY: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_SESSION_MINUTES: u64 = 43_200;

/// Validates and merges every source into a [`Config`]. On failure the
/// error holds every diagnostic found (errors and warnings).
pub fn load(input: &Input<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let mut names: Vec<String> = input.files.iter().map(|f| f.name.clone()).collect();
    let env_start = names.len();
    for var in ENV_VARS {
        names.push(format!("${var}"));
    }
    let secret_start = names.len();
    // Secrets are numbered as they are read; reserve their names up front
    // so positions stay stable.
    let secret_keys = [
        ("oidc.upstreamIDPsSecretName", "upstream-idps"),
        (
            "oidc.additionalClientsSecretName",
            "additional-oidc-clients",
        ),
        ("pachd.rootTokenSecretName", "root-token"),
        (
            "pachd.oauthClientSecretSecretName",
            "pachd-oauth-client-secret",
        ),
        (
            "pachd.enterpriseLicenseKeySecretName",
            "enterprise-license-key",
        ),
    ];
    for (path, key) in secret_keys {
        names.push(format!("secret {key} (from {path})"));
    }

    let mut loader = Loader {
        ctx: Ctx::new(&names),
    };
    let mut values = loader.read_files(&input.files);
    if let Some(v) = values.as_mut() {
        check_map(&mut loader.ctx, v, "", &VALUES);
    }
    let values = values.unwrap_or(Node::new(Value::Map(Vec::new()), Pos::default()));
    let config = loader.build(input, &values, env_start, secret_start);
    let mut diags = loader.ctx.diags;
    diags.sort_by(|a, b| (a.severity, &a.source, a.line).cmp(&(b.severity, &b.source, b.line)));
    match config {
        Some(config) if !diags.iter().any(|d| d.severity == Severity::Error) => Ok(Loaded {
            config,
            warnings: diags,
        }),
        _ => Err(diags),
    }
}

struct Loader<'a> {
    ctx: Ctx<'a>,
}

fn text_of(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "this is not UTF-8 text (invalid byte at offset {}); is it a binary file?",
            e.valid_up_to()
        )
    })
}

impl Loader<'_> {
    fn read_files(&mut self, files: &[SourceText]) -> Option<Node> {
        let mut merged: Option<Node> = None;
        for (index, file) in files.iter().enumerate() {
            let pos = Pos {
                source: index,
                line: 0,
            };
            let node = match self.parse_text(&file.bytes, index) {
                Some(node) => node,
                None => continue,
            };
            let Some(node) = node else {
                self.ctx.error(
                    pos,
                    "",
                    "the values file is empty",
                    Some(
                        "add settings such as `oidc:` to it, or leave out this --values flag"
                            .into(),
                    ),
                );
                continue;
            };
            if !matches!(node.value, Value::Map(_)) {
                self.ctx.error(
                    Pos { source: index, line: node.pos.line },
                    "",
                    format!("a values file must be a map of settings, like Helm's values.yaml, but this one is {}", node.kind()),
                    Some("start the file with a key such as `oidc:`".into()),
                );
                continue;
            }
            match merged.as_mut() {
                Some(base) => base.merge(node),
                None => merged = Some(node),
            }
        }
        merged
    }

    /// `Some(None)` is an empty text; `None` means it failed (and was reported).
    fn parse_text(&mut self, bytes: &[u8], source: usize) -> Option<Option<Node>> {
        let pos = Pos { source, line: 0 };
        let text = match text_of(bytes) {
            Ok(t) => t,
            Err(why) => {
                self.ctx.error(pos, "", why, None);
                return None;
            }
        };
        match yaml::parse(text, source) {
            Ok(node) => Some(node),
            Err(e) => {
                self.ctx.error(
                    Pos {
                        source,
                        line: e.line,
                    },
                    "",
                    format!("this is not valid YAML or JSON: {}", e.message),
                    None,
                );
                None
            }
        }
    }

    /// Parses an environment variable's YAML, reporting problems against it.
    fn env_node(&mut self, input: &Input<'_>, env_start: usize, var: &str) -> Option<Node> {
        let value = input.env.get(var)?;
        let index = env_start + ENV_VARS.iter().position(|v| *v == var)?;
        self.parse_text(value.as_bytes(), index).flatten()
    }

    fn secret(
        &mut self,
        input: &Input<'_>,
        _source: usize,
        path: &str,
        name: &str,
        key: &str,
        pos: Pos,
    ) -> Option<String> {
        let Some(secrets) = input.secrets else {
            self.ctx.error(
                pos,
                path,
                format!("names the secret `{name}`, but no secrets directory was given"),
                Some(format!(
                    "run with --secrets-dir DIR, where DIR/{name}/{key} holds the value"
                )),
            );
            return None;
        };
        match secrets.read(name, key) {
            Ok(v) => Some(v),
            Err(why) => {
                self.ctx.error(
                    pos,
                    path,
                    format!(
                        "cannot read key `{key}` of secret `{name}` ({}): {why}",
                        secrets.locate(name, key)
                    ),
                    Some(format!(
                        "create the file {} or fix the secret name",
                        secrets.locate(name, key)
                    )),
                );
                None
            }
        }
    }

    fn build(
        &mut self,
        input: &Input<'_>,
        values: &Node,
        env_start: usize,
        secret_start: usize,
    ) -> Option<Config> {
        let get = |path: &[&str]| -> Option<&Node> {
            let mut node = values;
            for key in path {
                node = node.get(key)?;
            }
            (node.value != Value::Null).then_some(node)
        };
        let str_at = |path: &[&str]| -> Option<String> {
            match get(path).map(|n| &n.value) {
                Some(Value::Str(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                _ => None,
            }
        };
        let bool_at = |path: &[&str], default: bool| -> bool {
            match get(path).map(|n| &n.value) {
                Some(Value::Bool(b)) => *b,
                _ => default,
            }
        };
        let dur_at = |path: &[&str]| -> Option<Duration> {
            str_at(path).and_then(|s| duration::parse(&s).ok())
        };

        // Derived host and protocol, as the chart derives them (§7).
        let ingress = bool_at(&["ingress", "enabled"], false);
        let host = if ingress {
            str_at(&["ingress", "host"])
        } else {
            None
        }
        .or_else(|| str_at(&["proxy", "host"]));
        let https = bool_at(&["ingress", "tls", "enabled"], false)
            || bool_at(&["proxy", "tls", "enabled"], false)
            || bool_at(&["ingress", "uriHttpsProtoOverride"], false);
        let proto = if https { "https" } else { "http" };
        let local = local_base(&input.listen);

        // Environment IDP_CONFIG.
        let idp_config = self
            .env_node(input, env_start, "IDP_CONFIG")
            .and_then(|mut n| check_map(&mut self.ctx, &mut n, "", &IDP_CONFIG_ENV).then_some(n));
        let env_str = |node: &Option<Node>, key: &str| -> Option<String> {
            match node.as_ref().and_then(|n| n.get(key)).map(|n| &n.value) {
                Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            }
        };

        let (issuer, issuer_origin) = if let Some(i) = env_str(&idp_config, "issuer") {
            (i, "environment IDP_CONFIG.issuer")
        } else if let Some(i) = str_at(&["oidc", "issuerURI"]) {
            (i, "oidc.issuerURI")
        } else if let Some(h) = host.as_deref() {
            (
                format!("{proto}://{h}/dex"),
                if ingress {
                    "ingress.host"
                } else {
                    "proxy.host"
                },
            )
        } else {
            (format!("{local}/dex"), "the --listen address")
        };
        let issuer = issuer.trim_end_matches('/').to_owned();
        if issuer.starts_with("http://") && host.is_some() {
            self.ctx.warn(
                get(&["proxy", "host"]).map_or(Pos::default(), |n| n.pos),
                "proxy.tls.enabled",
                format!("the issuer `{issuer}` is plain http, so tokens and passwords cross the network unencrypted"),
                Some("enable TLS (proxy.tls.enabled: true) as the Okta guide requires".into()),
            );
        }

        let id_token_expiry = env_str(&idp_config, "id_token_expiry")
            .and_then(|s| duration::parse(&s).ok())
            .or_else(|| dur_at(&["oidc", "IDTokenExpiry"]))
            .unwrap_or(DEFAULT_ID_TOKEN_EXPIRY);
        let rotation_token_expiry = env_str(&idp_config, "rotation_token_expiry")
            .and_then(|s| duration::parse(&s).ok())
            .or_else(|| dur_at(&["oidc", "RotationTokenExpiry"]))
            .or(Some(Duration::from_secs(48 * 3600)));

        // Connectors: env > secret > inline values.
        let mut connectors = Vec::new();
        let mut connectors_origin = None;
        if let Some(mut node) = self.env_node(input, env_start, "IDP_CONNECTORS") {
            connectors = connector::parse_list(&mut self.ctx, &mut node, "");
            connectors_origin = Some("environment variable IDP_CONNECTORS".to_owned());
        } else if let Some(name) = str_at(&["oidc", "upstreamIDPsSecretName"]) {
            let pos = get(&["oidc", "upstreamIDPsSecretName"]).map_or(Pos::default(), |n| n.pos);
            if let Some(text) = self.secret(
                input,
                secret_start,
                "oidc.upstreamIDPsSecretName",
                &name,
                "upstream-idps",
                pos,
            ) && let Some(Some(mut node)) = self.parse_text(text.as_bytes(), secret_start)
            {
                connectors = connector::parse_list(&mut self.ctx, &mut node, "");
            }
            connectors_origin = Some(format!("secret {name}, key upstream-idps"));
        } else if let Some(node) = get(&["oidc", "upstreamIDPs"]) {
            let mut node = node.clone();
            connectors = connector::parse_list(&mut self.ctx, &mut node, "oidc.upstreamIDPs");
            if !connectors.is_empty() || matches!(&node.value, Value::Seq(s) if !s.is_empty()) {
                connectors_origin = Some("values oidc.upstreamIDPs".to_owned());
            }
        }
        let upstream_configured = connectors_origin.is_some();
        let mock_idp = !upstream_configured && bool_at(&["oidc", "mockIDP"], true);
        for c in &connectors {
            self.check_redirect(c, &issuer, issuer_origin);
        }
        if mock_idp {
            connectors.push(connector::mock_idp());
        }

        // Clients.
        let console_enabled = bool_at(&["console", "enabled"], true);
        let pachd_id = str_at(&["pachd", "oauthClientID"]).unwrap_or_else(|| "pachd".into());
        let console_id = input
            .env
            .get("CONSOLE_OAUTH_ID")
            .cloned()
            .or_else(|| str_at(&["console", "config", "oauthClientID"]))
            .unwrap_or_else(|| "console".into());
        let pachd_redirect_uri =
            str_at(&["pachd", "oauthRedirectURI"]).unwrap_or_else(|| match &host {
                Some(h) => format!("{proto}://{h}/authorization-code/callback"),
                None => format!("{local}/authorization-code/callback"),
            });
        let console_redirect =
            str_at(&["console", "config", "oauthRedirectURI"]).unwrap_or_else(|| match &host {
                Some(h) => format!("{proto}://{h}/oauth/callback/?inline=true"),
                None => "http://localhost:4000/oauth/callback/?inline=true".into(),
            });
        let mut pachd_peers = Vec::new();
        if console_enabled {
            pachd_peers.push(console_id.clone());
        }
        if let Some(Value::Seq(items)) = get(&["pachd", "additionalTrustedPeers"]).map(|n| &n.value)
        {
            pachd_peers.extend(items.iter().filter_map(|i| match &i.value {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            }));
        }
        if let Some(mut node) = self.env_node(input, env_start, "TRUSTED_PEERS") {
            check_value(&mut self.ctx, &mut node, "", Kind::StrList);
            pachd_peers.extend(
                node.to_json()
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from)),
            );
        }
        let pachd_secret = input
            .env
            .get("AUTH_CLIENT_SECRET")
            .cloned()
            .or_else(|| {
                let name = str_at(&["pachd", "oauthClientSecretSecretName"])?;
                let pos = get(&["pachd", "oauthClientSecretSecretName"])
                    .map_or(Pos::default(), |n| n.pos);
                self.secret(
                    input,
                    secret_start + 3,
                    "pachd.oauthClientSecretSecretName",
                    &name,
                    "pachd-oauth-client-secret",
                    pos,
                )
            })
            .or_else(|| str_at(&["pachd", "oauthClientSecret"]))
            .map(Secret::new);
        // Where each built-in client's secret came from, for the length check.
        let env_pos = |var: &str| Pos {
            source: env_start + ENV_VARS.iter().position(|v| *v == var).unwrap_or(0),
            line: 0,
        };
        let node_pos = |path: &[&str]| get(path).map_or(Pos::default(), |n| n.pos);
        let pachd_origin = if input.env.contains_key("AUTH_CLIENT_SECRET") {
            (env_pos("AUTH_CLIENT_SECRET"), "")
        } else if get(&["pachd", "oauthClientSecretSecretName"]).is_some() {
            (
                node_pos(&["pachd", "oauthClientSecretSecretName"]),
                "pachd.oauthClientSecretSecretName",
            )
        } else {
            (
                node_pos(&["pachd", "oauthClientSecret"]),
                "pachd.oauthClientSecret",
            )
        };
        let console_origin = if input.env.contains_key("CONSOLE_OAUTH_SECRET") {
            (env_pos("CONSOLE_OAUTH_SECRET"), "")
        } else {
            (
                node_pos(&["console", "config", "oauthClientSecret"]),
                "console.config.oauthClientSecret",
            )
        };
        let mut clients = vec![ClientSpec {
            id: pachd_id,
            secret: pachd_secret,
            name: "pachd".into(),
            redirect_uris: vec![pachd_redirect_uri.clone()],
            trusted_peers: pachd_peers,
            public: false,
            logo_url: String::new(),
            id_token_signing_alg: String::new(),
        }];
        if console_enabled {
            clients.push(ClientSpec {
                id: console_id,
                secret: input
                    .env
                    .get("CONSOLE_OAUTH_SECRET")
                    .cloned()
                    .or_else(|| str_at(&["console", "config", "oauthClientSecret"]))
                    .map(Secret::new),
                name: "console".into(),
                redirect_uris: vec![console_redirect],
                trusted_peers: Vec::new(),
                public: false,
                logo_url: String::new(),
                id_token_signing_alg: String::new(),
            });
        }
        for (client, (pos, path)) in clients.iter().zip([pachd_origin, console_origin]) {
            self.check_client_secret(pos, path, client);
        }
        if let Some(mut node) = self.env_node(input, env_start, "IDP_CLIENTS") {
            clients = self.clients(&mut node, "");
        }
        let additional =
            if let Some(mut node) = self.env_node(input, env_start, "IDP_ADDITIONAL_CLIENTS") {
                self.clients(&mut node, "")
            } else if let Some(name) = str_at(&["oidc", "additionalClientsSecretName"]) {
                let pos =
                    get(&["oidc", "additionalClientsSecretName"]).map_or(Pos::default(), |n| n.pos);
                let text = self.secret(
                    input,
                    secret_start + 1,
                    "oidc.additionalClientsSecretName",
                    &name,
                    "additional-oidc-clients",
                    pos,
                );
                match text.and_then(|t| self.parse_text(t.as_bytes(), secret_start + 1).flatten()) {
                    Some(mut node) => self.clients(&mut node, ""),
                    None => Vec::new(),
                }
            } else if let Some(node) = get(&["oidc", "additionalClients"]) {
                self.clients(&mut node.clone(), "oidc.additionalClients")
            } else {
                Vec::new()
            };
        for client in additional {
            if let Some(existing) = clients.iter().find(|c| c.id == client.id) {
                self.ctx.error(
                    Pos::default(),
                    "oidc.additionalClients",
                    format!(
                        "client id `{}` is already used by the {} client",
                        client.id, existing.name
                    ),
                    Some("give the additional client another id".into()),
                );
            } else {
                clients.push(client);
            }
        }

        // Auth bootstrap.
        let activate_auth = match input.env.get("ACTIVATE_AUTH") {
            Some(v) => {
                let mut node = Node::new(
                    Value::Str(v.clone()),
                    Pos {
                        source: env_start + 5,
                        line: 0,
                    },
                );
                check_value(&mut self.ctx, &mut node, "", Kind::Bool);
                node.value == Value::Bool(true)
            }
            None => bool_at(&["pachd", "activateAuth"], true),
        };
        let root_token = input
            .env
            .get("AUTH_ROOT_TOKEN")
            .cloned()
            .or_else(|| {
                let name = str_at(&["pachd", "rootTokenSecretName"])?;
                let pos = get(&["pachd", "rootTokenSecretName"]).map_or(Pos::default(), |n| n.pos);
                self.secret(
                    input,
                    secret_start + 2,
                    "pachd.rootTokenSecretName",
                    &name,
                    "root-token",
                    pos,
                )
            })
            .or_else(|| str_at(&["pachd", "rootToken"]))
            .map(|t| Secret::new(t.trim().to_owned()));
        let license_key = input
            .env
            .get("LICENSE_KEY")
            .cloned()
            .or_else(|| {
                let name = str_at(&["pachd", "enterpriseLicenseKeySecretName"])?;
                let pos = get(&["pachd", "enterpriseLicenseKeySecretName"])
                    .map_or(Pos::default(), |n| n.pos);
                self.secret(
                    input,
                    secret_start + 4,
                    "pachd.enterpriseLicenseKeySecretName",
                    &name,
                    "enterprise-license-key",
                    pos,
                )
            })
            .or_else(|| str_at(&["pachd", "enterpriseLicenseKey"]))
            .map(|t| Secret::new(t.trim().to_owned()));

        let mut cluster_role_bindings = BTreeMap::new();
        if let Some(mut node) = self.env_node(input, env_start, "AUTH_CLUSTER_RBAC") {
            cluster_role_bindings = self.role_bindings(&mut node, "");
        } else if let Some(node) = get(&["pachd", "pachAuthClusterRoleBindings"]) {
            cluster_role_bindings =
                self.role_bindings(&mut node.clone(), "pachd.pachAuthClusterRoleBindings");
        }
        if mock_idp {
            // The chart renders these only while the mock IdP is on (§4).
            cluster_role_bindings
                .entry("user:kilgore@kilgore.trout".to_owned())
                .or_insert_with(|| vec!["clusterAdmin".to_owned()]);
            cluster_role_bindings
                .entry("allClusterUsers".to_owned())
                .or_insert_with(|| vec!["projectCreator".to_owned()]);
        }

        let auth_config = self
            .env_node(input, env_start, "AUTH_CONFIG")
            .and_then(|mut n| {
                check_map(&mut self.ctx, &mut n, "", &AUTH_CONFIG_ENV).then(|| n.to_json())
            });
        let session_duration = match input.env.get("SESSION_DURATION_MINUTES") {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(m) if m > 0 && m <= 10 * 365 * 24 * 60 => Duration::from_secs(m * 60),
                _ => {
                    self.ctx.error(
                        Pos {
                            source: env_start + 12,
                            line: 0,
                        },
                        "",
                        format!("`{}` is not a number of minutes", schema::truncate(v, 40)),
                        Some(format!(
                            "set a whole number such as {DEFAULT_SESSION_MINUTES} (30 days)"
                        )),
                    );
                    Duration::from_secs(DEFAULT_SESSION_MINUTES * 60)
                }
            },
            None => Duration::from_secs(DEFAULT_SESSION_MINUTES * 60),
        };

        let tls = if bool_at(&["proxy", "tls", "enabled"], false) {
            let pos = get(&["proxy", "tls", "enabled"]).map_or(Pos::default(), |n| n.pos);
            match str_at(&["proxy", "tls", "secretName"]) {
                Some(name) => {
                    let cert = self.secret(
                        input,
                        secret_start,
                        "proxy.tls.secretName",
                        &name,
                        "tls.crt",
                        pos,
                    );
                    let key = self.secret(
                        input,
                        secret_start,
                        "proxy.tls.secretName",
                        &name,
                        "tls.key",
                        pos,
                    );
                    match (cert, key) {
                        (Some(cert_chain), Some(key)) => Some(TlsPem {
                            cert_chain,
                            private_key: Secret::new(key),
                            origin: format!("secret {name}"),
                        }),
                        _ => None,
                    }
                }
                None => {
                    self.ctx.error(
                        pos,
                        "proxy.tls.secretName",
                        "TLS is enabled but no secret holds the certificate",
                        Some("set proxy.tls.secretName to a secret with keys tls.crt and tls.key, or pass --tls-cert and --tls-key".into()),
                    );
                    None
                }
            }
        } else {
            None
        };

        let algorithm = str_at(&["tusk", "signing", "algorithm"]).unwrap_or_else(|| "ES256".into());
        if !["ES256", "RS256", "EdDSA"].contains(&algorithm.as_str()) {
            self.ctx.error(
                get(&["tusk", "signing", "algorithm"]).map_or(Pos::default(), |n| n.pos),
                "tusk.signing.algorithm",
                format!("unsupported signing algorithm `{algorithm}`"),
                Some("use ES256 (default), RS256 or EdDSA".into()),
            );
        }
        let per_minute = |this: &mut Self, key: &str, default: u32| -> u32 {
            match get(&["tusk", "rateLimit", key]).map(|n| (&n.value, n.pos)) {
                Some((Value::Int(i), pos)) => u32::try_from(*i).unwrap_or_else(|_| {
                    this.ctx.error(
                        pos,
                        &format!("tusk.rateLimit.{key}"),
                        format!("{i} is out of range"),
                        Some("use 0 (off) or a positive number of requests per minute".into()),
                    );
                    default
                }),
                _ => default,
            }
        };
        let audit_retention =
            dur_at(&["tusk", "audit", "retention"]).unwrap_or(Duration::from_secs(30 * 24 * 3600));
        if audit_retention < Duration::from_secs(3600) {
            self.ctx.error(
                get(&["tusk", "audit", "retention"]).map_or(Pos::default(), |n| n.pos),
                "tusk.audit.retention",
                "the audit trail would be purged within the hour",
                Some(
                    "keep audit events at least an hour, for example `720h` (30 days, the default)"
                        .into(),
                ),
            );
        }
        let password_per_minute = per_minute(self, "passwordPerMinute", 30);
        let token_per_minute = per_minute(self, "tokenPerMinute", 1200);
        let authorize_per_minute = per_minute(self, "authorizePerMinute", 120);
        let mut trusted_proxies = Vec::new();
        if let Some(Value::Seq(items)) = get(&["tusk", "trustedProxies"]).map(|n| &n.value) {
            for (i, item) in items.iter().enumerate() {
                let Value::Str(text) = &item.value else {
                    continue;
                };
                match Cidr::parse(text) {
                    Ok(c) => trusted_proxies.push(c),
                    Err(why) => self.ctx.error(
                        item.pos,
                        &format!("tusk.trustedProxies[{i}]"),
                        format!("`{text}` is not an address or address range: {why}"),
                        Some("list the proxies' addresses or CIDR ranges, such as 10.0.0.0/8 or 192.0.2.7".into()),
                    ),
                }
            }
        }
        let max_connections =
            match get(&["tusk", "server", "maxConnections"]).map(|n| (&n.value, n.pos)) {
                Some((Value::Int(i), pos)) => {
                    u32::try_from(*i)
                        .ok()
                        .filter(|n| *n > 0)
                        .unwrap_or_else(|| {
                            self.ctx.error(
                    pos,
                    "tusk.server.maxConnections",
                    format!("{i} is out of range"),
                    Some("use a positive number of connections, such as 1024 (the default)".into()),
                );
                            1024
                        })
                }
                _ => 1024,
            };
        let acquire_path = ["tusk", "database", "acquireTimeout"];
        let database_acquire_timeout = match dur_at(&acquire_path) {
            Some(d) if d.is_zero() || d > Duration::from_secs(300) => {
                self.ctx.error(
                    get(&acquire_path).map_or(Pos::default(), |n| n.pos),
                    "tusk.database.acquireTimeout",
                    format!("{} s is out of range", d.as_secs_f64()),
                    Some("use a duration from 1ms to 5m, such as 2s (the default)".into()),
                );
                Duration::from_secs(2)
            }
            Some(d) => d,
            None => Duration::from_secs(2),
        };
        let provider = ProviderSettings {
            signing_algorithm: algorithm,
            key_rotation_period: dur_at(&["tusk", "signing", "rotationPeriod"])
                .unwrap_or(Duration::from_secs(6 * 3600)),
            refresh_reuse_interval: dur_at(&["tusk", "refreshTokens", "reuseInterval"])
                .unwrap_or(Duration::ZERO),
            refresh_valid_if_not_used_for: dur_at(&["tusk", "refreshTokens", "validIfNotUsedFor"]),
            password_per_minute,
            token_per_minute,
            authorize_per_minute,
            trusted_proxies,
            max_connections,
            database_acquire_timeout,
            theme_title: str_at(&["tusk", "theme", "title"]).unwrap_or_else(|| "Pachyderm".into()),
            theme_logo_url: str_at(&["tusk", "theme", "logoURL"]),
            license_public_key: str_at(&["tusk", "license", "publicKey"]),
            audit_retention,
        };
        if self.ctx.has_errors() {
            return None;
        }
        Some(Config {
            provider,
            issuer,
            issuer_origin,
            mock_idp,
            connectors,
            connectors_origin,
            clients,
            id_token_expiry,
            rotation_token_expiry,
            require_verified_email: bool_at(&["oidc", "requireVerifiedEmail"], false),
            user_accessible_issuer_host: str_at(&["oidc", "userAccessibleOauthIssuerHost"])
                .map(|h| {
                    if h.starts_with("http") {
                        h
                    } else {
                        format!("{proto}://{h}")
                    }
                })
                .or_else(|| host.as_ref().map(|h| format!("{proto}://{h}")))
                .unwrap_or_else(|| local.clone()),
            activate_auth,
            root_token,
            cluster_role_bindings,
            auth_config,
            session_duration,
            license_key,
            tls,
            pachd_redirect_uri,
        })
    }

    /// The upstream must send users back to our `/callback`; the reference
    /// only finds out at login time, with a 500.
    fn check_redirect(&mut self, c: &ConnectorSpec, issuer: &str, issuer_origin: &str) {
        if c.type_ != "oidc" {
            return;
        }
        let skip = c.config.get("insecureSkipIssuerCallbackDomainCheck")
            == Some(&serde_json::Value::Bool(true));
        let Some(redirect) = c.config.get("redirectURI").and_then(|v| v.as_str()) else {
            return;
        };
        let expected = format!("{issuer}/callback");
        if skip || redirect.trim_end_matches('/') == expected {
            return;
        }
        let message = format!(
            "connector `{}`: redirectURI `{redirect}` is not this server's callback `{expected}`",
            c.id
        );
        if issuer_origin == "the --listen address" {
            // The seed document's values carry only the oidc section; the
            // host usually arrives in another values file. Say how to
            // connect the two rather than refuse.
            // The hint keeps the redirect's scheme and port: `proxy.host`
            // only yields `https://<host>/dex`, so it fits only that URI;
            // anything else (a port, plain http, another path) is matched
            // by `oidc.issuerURI`, or by pointing the redirect at this
            // listener's own callback.
            let redirect = redirect.trim_end_matches('/');
            let implied = redirect.strip_suffix("/callback");
            let host = url::Url::parse(redirect)
                .ok()
                .and_then(|u| u.host_str().map(String::from));
            let hint = match (implied, host) {
                (Some(implied), Some(h)) if implied == format!("https://{h}/dex") => format!(
                    "set `proxy.host: {h}` and `proxy.tls.enabled: true` so the issuer becomes {implied}, or set redirectURI to `{expected}` (this listener's callback)"
                ),
                (Some(implied), Some(_)) => format!(
                    "set `oidc.issuerURI: {implied}` if users reach tusk there, or set redirectURI to `{expected}` (this listener's callback) and register it at the IdP"
                ),
                _ => format!(
                    "set redirectURI to `{expected}` (this listener's callback) and register it at the IdP, or set oidc.issuerURI to where users reach tusk"
                ),
            };
            self.ctx.warn(
                Pos {
                    source: usize::MAX,
                    line: 0,
                },
                "oidc.upstreamIDPs",
                message,
                Some(hint),
            );
        } else {
            self.ctx.error(
                Pos { source: usize::MAX, line: 0 },
                "oidc.upstreamIDPs",
                message,
                Some(format!(
                    "set redirectURI to `{expected}` and register it at the IdP, or set insecureSkipIssuerCallbackDomainCheck: true if a proxy rewrites it"
                )),
            );
        }
    }

    fn clients(&mut self, node: &mut Node, path: &str) -> Vec<ClientSpec> {
        check_value(&mut self.ctx, node, path, Kind::List(&CLIENT));
        let Value::Seq(items) = &node.value else {
            return Vec::new();
        };
        let clients: Vec<ClientSpec> = items
            .iter()
            .filter_map(|item| {
                let s = |a: &str, b: &str| -> Option<String> {
                    [a, b]
                        .iter()
                        .find_map(|k| match item.get(k).map(|n| &n.value) {
                            Some(Value::Str(v)) => Some(v.clone()),
                            _ => None,
                        })
                };
                let list = |a: &str, b: &str| -> Vec<String> {
                    [a, b]
                        .iter()
                        .flat_map(|k| match item.get(k).map(|n| &n.value) {
                            Some(Value::Seq(v)) => v
                                .iter()
                                .filter_map(|x| match &x.value {
                                    Value::Str(s) => Some(s.clone()),
                                    _ => None,
                                })
                                .collect(),
                            _ => Vec::new(),
                        })
                        .collect()
                };
                let id = s("id", "id")?;
                Some(ClientSpec {
                    name: s("name", "name").unwrap_or_else(|| id.clone()),
                    secret: s("secret", "secret").map(Secret::new),
                    redirect_uris: list("redirect_uris", "redirectURIs"),
                    trusted_peers: list("trusted_peers", "trustedPeers"),
                    public: item.get("public").map(|n| &n.value) == Some(&Value::Bool(true)),
                    logo_url: s("logo_url", "logoURL").unwrap_or_default(),
                    id_token_signing_alg: s(
                        "id_token_signed_response_alg",
                        "id_token_signed_response_alg",
                    )
                    .unwrap_or_default(),
                    id,
                })
            })
            .collect();
        for (i, item) in items.iter().enumerate() {
            let id = item.get("id").map(|n| &n.value);
            if let Some(c) = clients
                .iter()
                .find(|c| id == Some(&Value::Str(c.id.clone())))
            {
                let pos = item.get("secret").map_or(item.pos, |n| n.pos);
                self.check_client_secret(pos, &format!("{path}[{i}].secret"), c);
            }
        }
        for c in &clients {
            if !c.id_token_signing_alg.is_empty()
                && !["ES256", "RS256", "EdDSA"].contains(&c.id_token_signing_alg.as_str())
            {
                self.ctx.error(
                    node.pos,
                    &join(path, "id_token_signed_response_alg"),
                    format!(
                        "client `{}` asks for the signing algorithm `{}`",
                        c.id, c.id_token_signing_alg
                    ),
                    Some("use ES256, RS256 or EdDSA".into()),
                );
            }
        }
        clients
    }

    /// A client secret is the client's only credential at the token
    /// endpoint; a short one falls to guessing, so it is refused rather
    /// than warned about. The message gives the length, never the secret.
    fn check_client_secret(&mut self, pos: Pos, path: &str, client: &ClientSpec) {
        let Some(secret) = client.secret.as_ref().filter(|_| !client.public) else {
            return;
        };
        let len = secret.expose().len();
        if len < MIN_CLIENT_SECRET_BYTES {
            self.ctx.error(
                pos,
                path,
                format!("client `{}` has a secret of {len} bytes", client.id),
                Some(format!(
                    "use a random secret of at least {MIN_CLIENT_SECRET_BYTES} bytes, for example the output of `openssl rand -hex 32`"
                )),
            );
        }
    }

    fn role_bindings(&mut self, node: &mut Node, path: &str) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let Value::Map(entries) = &mut node.value else {
            if node.value != Value::Null {
                self.ctx.error(
                    node.pos,
                    path,
                    format!(
                        "expected a map of principal to roles, found {}",
                        node.kind()
                    ),
                    Some("write entries such as `user:alice@example.com: [clusterAdmin]`".into()),
                );
            }
            return out;
        };
        for (key, value) in entries.iter_mut() {
            let key_path = join(path, &key.name);
            if let Err(why) = crate::auth::check_subject(&key.name) {
                self.ctx.error(key.pos, &key_path, why, Some("write principals as `user:<email>`, `group:<name>`, `robot:<name>` or `allClusterUsers`".into()));
            }
            check_value(&mut self.ctx, value, &key_path, Kind::StrList);
            let mut roles = Vec::new();
            if let Value::Seq(items) = &value.value {
                for item in items {
                    if let Value::Str(role) = &item.value {
                        if crate::auth::ROLES.contains(&role.as_str()) {
                            roles.push(role.clone());
                        } else {
                            let hint = diag::suggest(role, crate::auth::ROLES.iter().copied());
                            self.ctx.error(
                                item.pos,
                                &key_path,
                                format!("unknown role \"{role}\""),
                                Some(match hint {
                                    Some(h) => format!("did you mean `{h}`?"),
                                    None => format!("roles are: {}", crate::auth::ROLES.join(", ")),
                                }),
                            );
                        }
                    }
                }
            }
            out.insert(key.name.clone(), roles);
        }
        out
    }
}

/// `http://host:port` for a listen address; an unspecified host becomes
/// `localhost`, since a browser cannot go to 0.0.0.0.
/// `--listen` may carry `https://` when the listener itself serves TLS
/// (`--tls-cert`), so a derived issuer names the scheme the port speaks.
fn local_base(listen: &str) -> String {
    let (scheme, listen) = match listen.strip_prefix("https://") {
        Some(rest) => ("https", rest),
        None => ("http", listen.strip_prefix("http://").unwrap_or(listen)),
    };
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "30650"));
    let host = match host {
        "" | "0.0.0.0" | "[::]" | "::" => "localhost",
        h => h,
    };
    format!("{scheme}://{host}:{port}")
}

impl Config {
    /// The effective config as JSON for `tusk config show` and readiness,
    /// with every secret masked.
    pub fn show(&self) -> serde_json::Value {
        let mask = |s: &Option<Secret<String>>| match s {
            Some(s) if !s.is_empty() => serde_json::Value::String("***".into()),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({
            "issuer": self.issuer,
            "issuerOrigin": self.issuer_origin,
            "mockIDP": self.mock_idp,
            "connectorsOrigin": self.connectors_origin,
            "connectors": self.connectors.iter().map(|c| serde_json::json!({
                "id": c.id, "name": c.name, "type": c.type_,
                "configVersion": c.config_version,
                "config": connector::mask_config(&c.type_, &c.config),
            })).collect::<Vec<_>>(),
            "clients": self.clients.iter().map(|c| serde_json::json!({
                "id": c.id, "name": c.name, "secret": mask(&c.secret),
                "redirect_uris": c.redirect_uris, "trusted_peers": c.trusted_peers,
                "public": c.public,
            })).collect::<Vec<_>>(),
            "idTokenExpirySeconds": self.id_token_expiry.as_secs(),
            "rotationTokenExpirySeconds": self.rotation_token_expiry.map(|d| d.as_secs()),
            "requireVerifiedEmail": self.require_verified_email,
            "userAccessibleOauthIssuerHost": self.user_accessible_issuer_host,
            "activateAuth": self.activate_auth,
            "rootToken": mask(&self.root_token),
            "clusterRoleBindings": self.cluster_role_bindings,
            "authConfig": self.auth_config.as_ref().map(|c| connector::mask_config("", c)),
            "sessionDurationMinutes": self.session_duration.as_secs() / 60,
            "enterpriseLicenseKey": mask(&self.license_key),
            "tls": self.tls.as_ref().map(|t| serde_json::json!({"origin": t.origin, "privateKey": "***"})),
            "pachdRedirectURI": self.pachd_redirect_uri,
            "auditRetentionSeconds": self.provider.audit_retention.as_secs(),
        })
    }
}

/// Validates one connector outside the values (a `tusk idp` file or a gRPC
/// message), with the same rules as `tusk config check`.
pub fn parse_connector(
    text: &[u8],
    source_name: &str,
    dialect: Dialect,
) -> Result<ConnectorSpec, Vec<Diagnostic>> {
    let names = [source_name.to_owned()];
    let mut ctx = Ctx::new(&names);
    let node = match text_of(text).map_err(|e| (0, e)).and_then(|t| {
        yaml::parse(t, 0).map_err(|e| {
            (
                e.line,
                format!("this is not valid YAML or JSON: {}", e.message),
            )
        })
    }) {
        Ok(Some(node)) => Some(node),
        Ok(None) => {
            ctx.error(Pos::default(), "", "the connector file is empty", None);
            None
        }
        Err((line, why)) => {
            ctx.error(Pos { source: 0, line }, "", why, None);
            None
        }
    };
    let spec = node.and_then(|mut n| connector::parse_one(&mut ctx, &mut n, "", dialect));
    match spec {
        Some(spec) if !ctx.has_errors() => Ok(spec),
        _ => Err(ctx.diags),
    }
}
