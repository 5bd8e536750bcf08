//! `tusk auth list-sessions`: a user's browser sessions at tusk's OpenID
//! provider (`tusk.sessions.v1.Sessions/List`). Cluster administrators only.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::names::check_principal;
use crate::output::{self, Out, rfc3339};
use serde_json::{Value, json};
use tusk_proto::tusk::sessions::v1 as pb;

/// List a user's browser sessions (single sign-on) at the provider.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth list-sessions --user user:alice@example.com\n  tusk auth list-sessions --user user:alice@example.com -o json\n\nThe ID is the session's public id (the `sid` in its ID tokens); cookies are never shown."
)]
pub struct Args {
    /// Whose sessions, as user:<email>.
    #[arg(long, value_name = "PRINCIPAL")]
    user: String,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    check_principal(&args.user)?;
    let resp = call!(
        conn,
        sessions,
        list,
        "Sessions/List",
        pb::ListRequest {
            user: args.user.clone()
        }
    );
    let at = |t: &Option<prost_types::Timestamp>| rfc3339(t.as_ref().map_or(0, |t| t.seconds));
    let rows: Vec<Value> = resp
        .sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "user": s.user,
                "connector": s.connector_id,
                "created": at(&s.created),
                "last_seen": at(&s.last_seen),
                "expires": at(&s.expires),
                "clients": s.clients,
            })
        })
        .collect();
    output::emit(args.out.output, &Value::Array(rows.clone()), || {
        if rows.is_empty() {
            return format!("{} has no browser sessions.", args.user);
        }
        let mut s = format!(
            "{:<24} {:<12} {:<22} {:<22} {:<22} CLIENTS\n",
            "ID", "CONNECTOR", "CREATED", "LAST SEEN", "EXPIRES"
        );
        for r in &rows {
            let clients: Vec<&str> = r["clients"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            s.push_str(&format!(
                "{:<24} {:<12} {:<22} {:<22} {:<22} {}\n",
                r["id"].as_str().unwrap_or(""),
                r["connector"].as_str().unwrap_or(""),
                r["created"].as_str().unwrap_or(""),
                r["last_seen"].as_str().unwrap_or(""),
                r["expires"].as_str().unwrap_or(""),
                clients.join(",")
            ));
        }
        s.trim_end().to_owned()
    })
}
