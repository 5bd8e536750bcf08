//! `tusk idp get-connector`: show one connector in the `tusk idp` file format (secrets masked).

use super::connector_file::connector_out;
use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use tusk_proto::identity_v2 as pb;

/// Show one connector in the `tusk idp` file format (secrets masked).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk idp get-connector okta\n  tusk idp get-connector okta -o json --show-secrets"
)]
pub struct Args {
    id: String,
    /// Print secrets instead of `***`.
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
        get_idp_connector,
        "GetIDPConnector",
        pb::GetIdpConnectorRequest { id }
    )
    .connector
    .unwrap_or_default();
    output::emit(
        out.output.text_as_yaml(),
        &connector_out(&c, show_secrets),
        String::new,
    )
}
