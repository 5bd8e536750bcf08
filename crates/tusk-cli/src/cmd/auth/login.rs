//! `tusk auth login`: log in and save the session token in the context.

use crate::client::{Conn, Target};
use crate::error::Outcome;
use crate::login;

/// Log in and save the session token in the context.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth login                    # opens a browser\n  tusk auth login --no-browser       # prints the URL\n  tusk auth login --device           # a short code for a browser elsewhere\n  tusk auth login -t \"$ID_TOKEN\"\n\nThe device flow uses the public client `tusk-cli`. Register it in the values:\n  oidc:\n    additionalClients: [{id: tusk-cli, name: tusk CLI, public: true, trusted: true, trusted_peers: []}]\n  pachd:\n    additionalTrustedPeers: [tusk-cli]"
)]
pub struct Args {
    /// Print the login URL instead of opening a browser.
    #[arg(long, short = 'b')]
    no_browser: bool,
    /// Log in with a short code shown here and entered in a browser on any device (OAuth device flow).
    #[arg(long, conflicts_with = "id_token")]
    device: bool,
    /// Log in with an ID token issued by tusk's provider (its audience must include pachd).
    #[arg(short = 't', long, value_name = "ID_TOKEN")]
    id_token: Option<String>,
    /// The public OIDC client the device flow uses.
    #[arg(
        long,
        default_value = "tusk-cli",
        value_name = "ID",
        requires = "device"
    )]
    client_id: String,
    /// The client the ID token must be issued to (pachd's OIDC client id).
    #[arg(long, default_value = "pachd", value_name = "ID", requires = "device")]
    audience: String,
    /// The provider's issuer URL for the device flow (default: the server's address with /dex).
    #[arg(long, value_name = "URL", requires = "device")]
    issuer: Option<String>,
}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let token = if let Some(id) = &args.id_token {
        login::id_token(conn, id).await?
    } else if args.device {
        let http = crate::client::http_client(target.ca_pem.as_deref())?;
        let issuer = args
            .issuer
            .clone()
            .unwrap_or_else(|| format!("{}/dex", target.addr.http_base()));
        let id = login::device(
            &http,
            &login::DeviceOptions {
                issuer,
                client_id: args.client_id.clone(),
                audience: args.audience.clone(),
            },
        )
        .await?;
        login::id_token(conn, &id).await?
    } else {
        login::browser(conn, !args.no_browser).await?
    };
    login::save_session(target, conn, &token).await
}
