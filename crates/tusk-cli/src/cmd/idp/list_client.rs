//! `tusk idp list-client`: list the clients (secrets masked).

use super::client_file::{ClientOut, client_out};
use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use tusk_proto::identity_v2 as pb;

/// List the clients (secrets masked).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  tusk idp list-client\n  tusk idp list-client -o yaml")]
pub struct Args {
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { out } = args;
    let list = call!(
        conn,
        identity,
        list_oidc_clients,
        "ListOIDCClients",
        pb::ListOidcClientsRequest {}
    )
    .clients;
    let rows: Vec<ClientOut> = list.iter().map(|c| client_out(c, false)).collect();
    output::emit(out.output, &rows, || {
        if rows.is_empty() {
            return "No clients.".into();
        }
        let mut s = format!("{:<16} {:<20} {}\n", "ID", "NAME", "REDIRECT URIS");
        for c in &list {
            s.push_str(&format!(
                "{:<16} {:<20} {}\n",
                c.id,
                c.name,
                c.redirect_uris.join(" ")
            ));
        }
        s
    })
}
