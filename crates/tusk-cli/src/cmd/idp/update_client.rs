//! `tusk idp update-client`: change a client's name, redirect URIs or trusted peers (the secret cannot change).

use super::client_file::ClientInput;
use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use tusk_proto::identity_v2 as pb;

/// Change a client's name, redirect URIs or trusted peers (the secret cannot change).
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  tusk idp update-client --id grafana --redirect-uri https://grafana.example.com/login/generic_oauth"
)]
pub struct Args {
    #[command(flatten)]
    input: ClientInput,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { input } = args;
    let c = input.load(false)?;
    if !c.secret.is_empty() {
        return Err(Failure::usage("a client's secret cannot be changed").help(
            "remove `secret` from the file; to change it, delete the client and create it again",
        ));
    }
    call!(
        conn,
        identity,
        update_oidc_client,
        "UpdateOIDCClient",
        pb::UpdateOidcClientRequest {
            client: Some(c.clone())
        }
    );
    println!("Updated client `{}`.", c.id);
    Ok(())
}
