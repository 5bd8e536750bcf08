//! `tusk idp delete-client`: delete a client.

use crate::client::{Conn, call};
use crate::error::Outcome;
use tusk_proto::identity_v2 as pb;

/// Delete a client.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  tusk idp delete-client grafana")]
pub struct Args {
    id: String,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { id } = args;
    call!(
        conn,
        identity,
        delete_oidc_client,
        "DeleteOIDCClient",
        pb::DeleteOidcClientRequest { id: id.clone() }
    );
    println!("Deleted client `{id}`.");
    Ok(())
}
