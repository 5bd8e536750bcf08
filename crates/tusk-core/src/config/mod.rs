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
mod clients;
pub mod connector;
pub mod diag;
pub mod duration;
mod lookup;
mod oidc;
mod pachd;
mod proxy;
pub mod schema;
mod tables;
mod tusk;

use crate::Secret;
use crate::yaml::{self, Node, Pos, Value};
pub use cidr::Cidr;
pub use connector::{ConnectorSpec, Dialect};
pub use diag::{Diagnostic, Severity};
use lookup::Values;
use schema::{Ctx, check_map};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tables::VALUES;

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

/// The effective configuration. `Debug` is written by hand: `auth_config`
/// is JSON that may hold a client secret, so it is shown masked.
#[derive(Clone)]
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

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be left out unnoticed.
        let Config {
            issuer,
            issuer_origin,
            mock_idp,
            connectors,
            connectors_origin,
            clients,
            id_token_expiry,
            rotation_token_expiry,
            require_verified_email,
            user_accessible_issuer_host,
            activate_auth,
            root_token,
            cluster_role_bindings,
            auth_config,
            session_duration,
            license_key,
            tls,
            pachd_redirect_uri,
            provider,
        } = self;
        f.debug_struct("Config")
            .field("issuer", issuer)
            .field("issuer_origin", issuer_origin)
            .field("mock_idp", mock_idp)
            .field("connectors", connectors)
            .field("connectors_origin", connectors_origin)
            .field("clients", clients)
            .field("id_token_expiry", id_token_expiry)
            .field("rotation_token_expiry", rotation_token_expiry)
            .field("require_verified_email", require_verified_email)
            .field("user_accessible_issuer_host", user_accessible_issuer_host)
            .field("activate_auth", activate_auth)
            .field("root_token", root_token)
            .field("cluster_role_bindings", cluster_role_bindings)
            .field(
                "auth_config",
                &auth_config.as_ref().map(|c| connector::mask_config("", c)),
            )
            .field("session_duration", session_duration)
            .field("license_key", license_key)
            .field("tls", tls)
            .field("pachd_redirect_uri", pachd_redirect_uri)
            .field("provider", provider)
            .finish()
    }
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

    /// Builds the config section by section, in a fixed order: the order
    /// diagnostics are collected in is part of what users see.
    fn build(
        &mut self,
        input: &Input<'_>,
        values: &Node,
        env_start: usize,
        secret_start: usize,
    ) -> Option<Config> {
        let v = Values(values);
        let endpoint = proxy::endpoint(v, input);
        let oidc = self.oidc(input, v, &endpoint, env_start, secret_start);
        let (clients, pachd_redirect_uri) =
            self.clients_section(input, v, &endpoint, env_start, secret_start);
        let pachd = self.pachd(input, v, oidc.mock_idp, env_start, secret_start);
        let tls = self.tls(input, v, secret_start);
        let provider = self.tusk(v);
        if self.ctx.has_errors() {
            return None;
        }
        Some(Config {
            provider,
            issuer: oidc.issuer,
            issuer_origin: oidc.issuer_origin,
            mock_idp: oidc.mock_idp,
            connectors: oidc.connectors,
            connectors_origin: oidc.connectors_origin,
            clients,
            id_token_expiry: oidc.id_token_expiry,
            rotation_token_expiry: oidc.rotation_token_expiry,
            require_verified_email: oidc.require_verified_email,
            user_accessible_issuer_host: oidc.user_accessible_issuer_host,
            activate_auth: pachd.activate_auth,
            root_token: pachd.root_token,
            cluster_role_bindings: pachd.cluster_role_bindings,
            auth_config: pachd.auth_config,
            session_duration: pachd.session_duration,
            license_key: pachd.license_key,
            tls,
            pachd_redirect_uri,
        })
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
