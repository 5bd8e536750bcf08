//! `tusk idp get-client`: show one client (secret masked).

use super::client_file::client_out;
use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use tusk_proto::identity_v2 as pb;

/// Show one client (secret masked).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk idp get-client grafana\n  tusk idp get-client grafana -o json --show-secrets"
)]
pub struct Args {
    id: String,
    /// Print the secret instead of `***`.
    #[arg(long)]
    show_secrets: bool,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args {
        id,
        show_secrets,
        out,
    } = args;
    let c = call!(
        conn,
        identity,
        get_oidc_client,
        "GetOIDCClient",
        pb::GetOidcClientRequest { id }
    )
    .client
    .unwrap_or_default();
    output::emit(
        out.output.text_as_yaml(),
        &client_out(&c, show_secrets),
        String::new,
    )
}
