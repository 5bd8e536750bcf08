//! `tusk auth roles-for-permission`: list the roles that grant a permission.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::names::permission;
use crate::output::{self, Out};
use serde_json::json;
use tusk_proto::auth_v2 as pb;

/// List the roles that grant a permission.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth roles-for-permission REPO_READ\n  tusk auth roles-for-permission cluster_auth_get_config -o json"
)]
pub struct Args {
    /// A permission name such as REPO_READ (case does not matter).
    permission: String,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { permission: p, out } = args;
    let perm = permission(&p)?;
    let roles = call!(
        conn,
        auth,
        get_roles_for_permission,
        "GetRolesForPermission",
        pb::GetRolesForPermissionRequest { permission: perm.0 }
    )
    .roles;
    let mut names: Vec<String> = roles.into_iter().map(|r| r.name).collect();
    names.sort();
    output::emit(out.output, &json!(names), || names.join("\n"))
}
