//! `tusk idp create-client`: register an OIDC client; prints its secret once.

use super::client_file::ClientInput;
use crate::client::{Conn, call};
use crate::error::Outcome;
use tusk_proto::identity_v2 as pb;

/// Register an OIDC client; prints its secret once.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk idp create-client --id grafana --name Grafana --redirect-uri https://grafana.example.com/login/generic_oauth\n  tusk idp create-client --config client.yaml\n\nclient.yaml: id, name, redirect_uris, trusted_peers, secret (optional: generated when empty)"
)]
pub struct Args {
    #[command(flatten)]
    input: ClientInput,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { input } = args;
    let c = input.load(true)?;
    let created = call!(
        conn,
        identity,
        create_oidc_client,
        "CreateOIDCClient",
        pb::CreateOidcClientRequest {
            client: Some(c.clone())
        }
    )
    .client
    .unwrap_or_default();
    println!("Created client `{}`.", created.id);
    if c.secret.is_empty() && !created.secret.is_empty() {
        // The only time the generated secret is shown.
        println!(
            "Client secret (shown once; keep it safe): {}",
            created.secret
        );
    }
    Ok(())
}
