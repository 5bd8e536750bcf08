//! `tusk auth logout`: revoke the session token on the server and forget it here.

use crate::client::{Conn, Target};
use crate::error::Outcome;
use tusk_core::wire_text;
use tusk_proto::auth_v2 as pb;

/// Revoke the session token on the server and forget it here.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  tusk auth logout")]
pub struct Args {}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let Args {} = args;
    let name = target.context.clone();
    let Some(token) = target.file.get(&name).and_then(|c| c.session_token) else {
        println!("Not logged in: context `{name}` has no session.");
        return Ok(());
    };
    let revoked = conn
        .auth()
        .revoke_auth_token(conn.request_with(
            pb::RevokeAuthTokenRequest {
                token: token.clone(),
            },
            Some(&token),
            Some(crate::client::CALL_TIMEOUT),
        )?)
        .await;
    // Forget it here in every case: the user asked to be logged out.
    target.file.set_field(&name, "session_token", None);
    target.file.save()?;
    match revoked {
        Ok(_) => {
            println!(
                "Logged out: the session was revoked on {} and removed from context `{name}`.",
                conn.addr
            );
            Ok(())
        }
        Err(s) => {
            let f = conn.fail("RevokeAuthToken", s).await;
            // The server answered that it no longer knows the token (or
            // that auth is off): nothing is left to revoke there.
            let gone = [
                wire_text::BAD_TOKEN,
                wire_text::EXPIRED_TOKEN,
                wire_text::NOT_ACTIVATED,
            ];
            if gone.iter().any(|t| f.message.contains(t)) {
                println!(
                    "Logged out: the server no longer knew the session; it was removed from context `{name}`."
                );
                Ok(())
            } else {
                Err(f.context(format!("the session was removed from context `{name}`, but not revoked on the server")).help(
                    "it stays valid until it expires; a cluster admin can revoke it with `tusk auth revoke --user PRINCIPAL`",
                ))
            }
        }
    }
}
