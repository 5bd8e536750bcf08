//! `tusk auth revoke`: revoke one token, or every token of a user.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::input::read_stdin_secret;
use crate::names::check_principal;
use tusk_proto::auth_v2 as pb;

/// Revoke one token, or every token of a user.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth revoke --user user:alice@example.com\n  echo \"$TOKEN\" | tusk auth revoke --token -"
)]
pub struct Args {
    /// The token to revoke; `-` reads it from stdin.
    #[arg(
        long,
        value_name = "TOKEN",
        required_unless_present = "user",
        conflicts_with = "user"
    )]
    token: Option<String>,
    /// Revoke every token of this user (e.g. user:alice@example.com).
    #[arg(long, value_name = "PRINCIPAL")]
    user: Option<String>,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { token, user } = args;
    let (n, what) = if let Some(user) = user {
        check_principal(&user)?;
        let r = call!(
            conn,
            auth,
            revoke_auth_tokens_for_user,
            "RevokeAuthTokensForUser",
            pb::RevokeAuthTokensForUserRequest {
                username: user.clone()
            }
        );
        (r.number, format!("of {user}"))
    } else {
        let t = match token.as_deref() {
            Some("-") | None => read_stdin_secret("token")?,
            Some(t) => t.to_owned(),
        };
        let r = call!(
            conn,
            auth,
            revoke_auth_token,
            "RevokeAuthToken",
            pb::RevokeAuthTokenRequest { token: t }
        );
        (r.number, String::new())
    };
    let plural = if n == 1 { "" } else { "s" };
    println!(
        "Revoked {n} token{plural}{}{what}.",
        if what.is_empty() { "" } else { " " }
    );
    Ok(())
}
