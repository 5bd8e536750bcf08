//! `tusk auth check`: show the roles and permissions you (or PRINCIPAL) have on a resource.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::names::{Kind, check_principal, describe, permission_names, resource};
use crate::output::{self, Out};
use serde_json::json;
use tusk_core::auth as core;
use tusk_proto::auth_v2 as pb;

/// Show the roles and permissions you (or PRINCIPAL) have on a resource.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth check project default\n  tusk auth check repo default/images\n  tusk auth check repo images --project default user:alice@example.com -o json"
)]
pub struct Args {
    kind: Kind,
    /// The project, or the repo as PROJECT/REPO (or REPO with --project).
    name: Option<String>,
    /// Check this principal instead of yourself.
    principal: Option<String>,
    /// The repo's project.
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args {
        kind,
        name,
        principal,
        project,
        out,
    } = args;
    // `check cluster PRINCIPAL`: the cluster has no name.
    let (name, principal) = match (kind, name, principal) {
        (Kind::Cluster, Some(n), None) if n.contains(':') || n == core::ALL_CLUSTER_USERS => {
            (None, Some(n))
        }
        (_, n, p) => (n, p),
    };
    let res = resource(kind, name.as_deref(), project.as_deref())?;
    let resp = match &principal {
        Some(p) => {
            check_principal(p)?;
            call!(
                conn,
                auth,
                get_permissions_for_principal,
                "GetPermissionsForPrincipal",
                pb::GetPermissionsForPrincipalRequest {
                    resource: Some(res.clone()),
                    principal: p.clone()
                }
            )
        }
        None => call!(
            conn,
            auth,
            get_permissions,
            "GetPermissions",
            pb::GetPermissionsRequest {
                resource: Some(res.clone())
            }
        ),
    };
    let perms = permission_names(&resp.permissions);
    let value = json!({
        "resource": describe(&res),
        "principal": principal,
        "roles": resp.roles,
        "permissions": perms,
    });
    output::emit(out.output, &value, || {
        let none = |v: &[String]| {
            if v.is_empty() {
                "(none)".to_owned()
            } else {
                v.join(", ")
            }
        };
        format!(
            "Roles: {}\nPermissions: {}",
            none(&resp.roles),
            none(&perms)
        )
    })
}
