//! `tusk auth whoami`: show who the session belongs to and when it expires.

use crate::client::{Conn, Target, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use serde_json::json;
use tusk_proto::auth_v2 as pb;

/// Show who the session belongs to and when it expires.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  tusk auth whoami\n  tusk auth whoami -o json")]
pub struct Args {
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, target: &Target, conn: &Conn) -> Outcome {
    let Args { out } = args;
    let who = call!(conn, auth, who_am_i, "WhoAmI", pb::WhoAmIRequest {});
    let expiration = who.expiration.map(|t| t.seconds);
    let value = json!({
        "username": who.username,
        "expiration": expiration.map(output::rfc3339),
        "context": target.context,
        "pachd_address": conn.addr.to_string(),
    });
    output::emit(out.output, &value, || {
        let exp = match expiration {
            Some(t) => format!(
                "session expires {} (in {})",
                output::rfc3339(t),
                output::human_duration(t - output::now())
            ),
            None => "session never expires".into(),
        };
        format!("You are \"{}\"\n{exp}", who.username)
    })
}
