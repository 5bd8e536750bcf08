//! `tusk auth revoke-sessions`: end a user's browser sessions at tusk's
//! OpenID provider, and the tokens issued through them
//! (`tusk.sessions.v1.Sessions/Revoke`). Cluster administrators only.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::names::check_principal;
use crate::output::{self, Out};
use serde_json::json;
use tusk_proto::tusk::sessions::v1 as pb;

/// End a user's browser sessions (all, or one by id) and their tokens.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth revoke-sessions --user user:alice@example.com\n  tusk auth revoke-sessions --user user:alice@example.com --id Q2hvb3NlIGFuIGlk\n\n`tusk auth list-sessions` shows the ids."
)]
pub struct Args {
    /// Whose sessions, as user:<email>.
    #[arg(long, value_name = "PRINCIPAL")]
    user: String,
    /// Only this session (its id from list-sessions). Ids may begin with
    /// `-`, which is taken as the value, not as a flag.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    id: Option<String>,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    check_principal(&args.user)?;
    let resp = call!(
        conn,
        sessions,
        revoke,
        "Sessions/Revoke",
        pb::RevokeRequest {
            user: args.user.clone(),
            id: args.id.clone().unwrap_or_default(),
        }
    );
    output::emit(args.out.output, &json!({"revoked": resp.revoked}), || {
        format!("{} session(s) of {} revoked", resp.revoked, args.user)
    })
}
