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

pub mod branding;
pub mod cidr;
mod clients;
pub mod connector;
pub mod diag;
pub mod duration;
mod ldap;
mod loader;
mod lookup;
mod model;
mod oidc;
mod pachd;
mod proxy;
pub mod schema;
mod tables;
mod tusk;

use crate::yaml::{self, Node, Pos, Value};
pub use cidr::Cidr;
pub use clients::check_redirect_uri;
pub use connector::{ConnectorSpec, Dialect};
pub use diag::{Diagnostic, Severity};
use loader::{Loader, text_of};
use lookup::Values;
pub use model::{
    ClientSpec, Config, ENV_VARS, Input, Loaded, MIN_CLIENT_SECRET_BYTES, ProviderSettings,
    SecretSource, SessionSettings, SourceText, TlsPem,
};
use schema::{Ctx, check_map};
use tables::VALUES;

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

impl Loader<'_> {
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
