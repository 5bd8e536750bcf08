//! `tusk idp delete-connector`: delete a connector.

use crate::client::{Conn, call};
use crate::error::Outcome;
use tusk_proto::identity_v2 as pb;

/// Delete a connector.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  tusk idp delete-connector okta")]
pub struct Args {
    id: String,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { id } = args;
    call!(
        conn,
        identity,
        delete_idp_connector,
        "DeleteIDPConnector",
        pb::DeleteIdpConnectorRequest { id: id.clone() }
    );
    println!("Deleted connector `{id}`.");
    Ok(())
}
