//! `tusk auth list-consents`: the OIDC clients a user allowed, and which
//! scopes (`tusk.consent.v1.Consent/List`). Cluster administrators only.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out, rfc3339};
use serde_json::{Value, json};
use tusk_proto::tusk::consent::v1 as pb;

/// List the consent a user gave third-party OIDC clients.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth list-consents --user user:alice@example.com\n  tusk auth list-consents --user user:alice@example.com -o json\n\nTrusted clients (pachd, console, `trusted: true`) never ask, so they are never listed."
)]
pub struct Args {
    /// The user, as user:<email>.
    #[arg(long, value_name = "PRINCIPAL")]
    user: String,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    super::revoke_consent::check_user(&args.user)?;
    let r = call!(
        conn,
        consent,
        list,
        "Consent/List",
        pb::ListRequest {
            subject: args.user.clone()
        }
    );
    let rows: Vec<Value> = r
        .grants
        .iter()
        .map(|g| {
            json!({
                "client_id": g.client_id,
                "scopes": g.scopes,
                "granted_at": rfc3339(g.granted_at.as_ref().map_or(0, |t| t.seconds)),
            })
        })
        .collect();
    output::emit(args.out.output, &Value::Array(rows.clone()), || {
        if rows.is_empty() {
            return format!("{} has allowed no client.", args.user);
        }
        let mut s = String::new();
        for (row, g) in rows.iter().zip(&r.grants) {
            s.push_str(&format!(
                "{}  {}  {}\n",
                g.client_id,
                row["granted_at"].as_str().unwrap_or(""),
                g.scopes.join(" ")
            ));
        }
        s.trim_end().to_owned()
    })
}
