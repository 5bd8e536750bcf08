//! `tusk auth use-auth-token`: read a token from stdin and save it as the context's session token.

use crate::client::{Conn, Target};
use crate::error::Outcome;
use crate::input::read_stdin_secret;
use tusk_proto::auth_v2 as pb;

/// Read a token from stdin and save it as the context's session token.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  echo \"$ROBOT_TOKEN\" | tusk auth use-auth-token\n  tusk auth use-auth-token < root-token"
)]
pub struct Args {}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let Args {} = args;
    let token = read_stdin_secret("token")?;
    let who = conn
        .auth()
        .who_am_i(conn.request_with(
            pb::WhoAmIRequest {},
            Some(&token),
            Some(crate::client::CALL_TIMEOUT),
        )?)
        .await;
    let who = match who {
        Ok(r) => r.into_inner(),
        Err(s) => {
            return Err(conn
                .fail("WhoAmI", s)
                .await
                .context("the token was not saved"));
        }
    };
    target.save_token(&token)?;
    let name = target.context.clone();
    println!(
        "Context `{name}` now acts as \"{}\" on {}.",
        who.username, conn.addr
    );
    Ok(())
}
