//! `tusk auth get-config`: show pachd's OIDC login configuration (client secret masked).

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use serde::{Deserialize, Serialize};
use tusk_proto::auth_v2 as pb;

/// Show pachd's OIDC login configuration (client secret masked).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth get-config\n  tusk auth get-config -o json > auth.json"
)]
pub struct Args {
    /// Print the client secret instead of `***`.
    #[arg(long)]
    show_secrets: bool,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { show_secrets, out } = args;
    let c = stored(conn).await?;
    let value = OidcConfigFile::from_wire(&c, show_secrets);
    output::emit(out.output.text_as_yaml(), &value, String::new)
}

/// pachd's OIDC configuration as the server holds it.
pub async fn stored(conn: &Conn) -> Outcome<pb::OidcConfig> {
    Ok(call!(
        conn,
        auth,
        get_configuration,
        "GetConfiguration",
        pb::GetConfigurationRequest {}
    )
    .configuration
    .unwrap_or_default())
}

/// pachd's OIDC configuration as a file: what `get-config` prints and
/// `set-config` reads back. snake_case as on the wire, camelCase accepted
/// on input; unknown keys are refused by name.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OidcConfigFile {
    #[serde(default)]
    pub issuer: String,
    #[serde(default, alias = "clientId", alias = "clientID")]
    pub client_id: String,
    #[serde(default, alias = "clientSecret")]
    pub client_secret: Option<String>,
    #[serde(default, alias = "redirectUri", alias = "redirectURI")]
    pub redirect_uri: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, alias = "requireEmailVerified")]
    pub require_email_verified: bool,
    #[serde(default, alias = "localhostIssuer")]
    pub localhost_issuer: bool,
    #[serde(default, alias = "userAccessibleIssuerHost")]
    pub user_accessible_issuer_host: String,
}

impl OidcConfigFile {
    fn from_wire(c: &pb::OidcConfig, show_secrets: bool) -> OidcConfigFile {
        OidcConfigFile {
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            client_secret: Some(if show_secrets || c.client_secret.is_empty() {
                c.client_secret.clone()
            } else {
                "***".to_owned()
            }),
            redirect_uri: c.redirect_uri.clone(),
            scopes: c.scopes.clone(),
            require_email_verified: c.require_email_verified,
            localhost_issuer: c.localhost_issuer,
            user_accessible_issuer_host: c.user_accessible_issuer_host.clone(),
        }
    }
}
