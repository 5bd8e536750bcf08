//! `tusk idp get-config`: show the identity server's config.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use serde::Serialize;
use tusk_proto::identity_v2 as pb;

/// Show the identity server's config.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  tusk idp get-config\n  tusk idp get-config -o json")]
pub struct Args {
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { out } = args;
    let c = running(conn).await?;
    #[derive(Serialize)]
    struct ServerConfigOut {
        issuer: String,
        id_token_expiry: String,
        rotation_token_expiry: String,
    }
    let value = ServerConfigOut {
        issuer: c.issuer,
        id_token_expiry: c.id_token_expiry,
        rotation_token_expiry: c.rotation_token_expiry,
    };
    output::emit(out.output.text_as_yaml(), &value, String::new)
}

/// The config the identity server runs with; `set-config` reads it back to
/// say when the running values differ from what it stored.
pub(super) async fn running(conn: &Conn) -> Outcome<pb::IdentityServerConfig> {
    Ok(call!(
        conn,
        identity,
        get_identity_server_config,
        "GetIdentityServerConfig",
        pb::GetIdentityServerConfigRequest {}
    )
    .config
    .unwrap_or_default())
}
