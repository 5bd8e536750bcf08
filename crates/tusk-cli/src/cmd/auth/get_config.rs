//! `tusk auth get-config`: show pachd's OIDC login configuration (client secret masked).

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
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
    let c = call!(
        conn,
        auth,
        get_configuration,
        "GetConfiguration",
        pb::GetConfigurationRequest {}
    )
    .configuration
    .unwrap_or_default();
    let value = config_out(&c, show_secrets);
    output::emit(out.output.text_as_yaml(), &value, String::new)
}

/// pachd's OIDC config in the file format `set-config` reads.
#[derive(serde::Serialize)]
struct OidcConfigOut {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    scopes: Vec<String>,
    require_email_verified: bool,
    localhost_issuer: bool,
    user_accessible_issuer_host: String,
}

fn config_out(c: &pb::OidcConfig, show_secrets: bool) -> OidcConfigOut {
    OidcConfigOut {
        issuer: c.issuer.clone(),
        client_id: c.client_id.clone(),
        client_secret: if show_secrets || c.client_secret.is_empty() {
            c.client_secret.clone()
        } else {
            "***".to_owned()
        },
        redirect_uri: c.redirect_uri.clone(),
        scopes: c.scopes.clone(),
        require_email_verified: c.require_email_verified,
        localhost_issuer: c.localhost_issuer,
        user_accessible_issuer_host: c.user_accessible_issuer_host.clone(),
    }
}
