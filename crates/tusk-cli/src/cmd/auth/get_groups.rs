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
    after_help = "Examples:\n  tusk auth get-groups\n  tusk auth get-groups --user user:alice@example.com -o json\n  tusk auth get-groups user:alice@example.com"
)]
pub struct Args {
    /// Whose groups (needs CLUSTER_AUTH_GET_GROUPS); pachctl's positional form works too.
    #[arg(long, value_name = "PRINCIPAL", conflicts_with = "principal")]
    user: Option<String>,
    /// The same as --user, as `pachctl auth get-groups USER` takes it.
    #[arg(value_name = "PRINCIPAL")]
    principal: Option<String>,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args {
        user,
        principal,
        out,
    } = args;
    let user = user.or(principal);
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
