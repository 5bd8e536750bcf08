//! `tusk auth revoke-consent`: forget what a user allowed one client, or
//! every client (`tusk.consent.v1.Consent/Revoke`); their next login to
//! such a client asks again. Cluster administrators only.

use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use crate::names::check_principal;
use tusk_proto::tusk::consent::v1 as pb;

/// Revoke a user's consent to one client, or to all clients.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth revoke-consent --user user:alice@example.com --client grafana\n  tusk auth revoke-consent --user user:alice@example.com --all"
)]
pub struct Args {
    /// The user, as user:<email>.
    #[arg(long, value_name = "PRINCIPAL")]
    user: String,
    /// The client whose grant goes.
    #[arg(long, value_name = "CLIENT_ID", required_unless_present = "all")]
    client: Option<String>,
    /// Every grant of the user.
    #[arg(long, conflicts_with = "client")]
    all: bool,
}

/// Grants belong to users, named as Pachyderm names them.
pub(super) fn check_user(user: &str) -> Outcome {
    check_principal(user)?;
    if !user.starts_with("user:") {
        return Err(
            Failure::usage(format!("`{user}` is not a user; only users give consent"))
                .help("name the user as user:alice@example.com"),
        );
    }
    Ok(())
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    check_user(&args.user)?;
    let r = call!(
        conn,
        consent,
        revoke,
        "Consent/Revoke",
        pb::RevokeRequest {
            subject: args.user.clone(),
            client_id: args.client.clone().unwrap_or_default(),
        }
    );
    let plural = if r.revoked == 1 { "" } else { "s" };
    match &args.client {
        Some(c) => println!(
            "Revoked {} grant{plural} of {} to {c}.",
            r.revoked, args.user
        ),
        None => println!("Revoked {} grant{plural} of {}.", r.revoked, args.user),
    }
    Ok(())
}
