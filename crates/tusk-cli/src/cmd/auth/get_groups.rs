//! `tusk auth get-groups`: list your groups, or another principal's.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::names::check_principal;
use crate::output::{self, Out};
use serde_json::json;
use tusk_proto::auth_v2 as pb;

/// List your groups, or another principal's.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth get-groups\n  tusk auth get-groups --user user:alice@example.com -o json"
)]
pub struct Args {
    /// Whose groups (needs CLUSTER_AUTH_GET_GROUPS).
    #[arg(long, value_name = "PRINCIPAL")]
    user: Option<String>,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { user, out } = args;
    let groups = match &user {
        Some(u) => {
            check_principal(u)?;
            call!(
                conn,
                auth,
                get_groups_for_principal,
                "GetGroupsForPrincipal",
                pb::GetGroupsForPrincipalRequest {
                    principal: u.clone()
                }
            )
            .groups
        }
        None => call!(conn, auth, get_groups, "GetGroups", pb::GetGroupsRequest {}).groups,
    };
    output::emit(out.output, &json!(groups), || {
        if groups.is_empty() {
            "(no groups)".into()
        } else {
            groups.join("\n")
        }
    })
}
