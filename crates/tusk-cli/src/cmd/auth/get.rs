//! `tusk auth get`: show the role binding of the cluster, a project or a repo.

use crate::client::{Conn, call};
use crate::error::Outcome;
use crate::names::{Kind, describe, resource};
use crate::output::{self, Out};
use serde_json::{Value, json};
use tusk_proto::auth_v2 as pb;

/// Show the role binding of the cluster, a project or a repo.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth get cluster\n  tusk auth get project default\n  tusk auth get repo default/images -o yaml"
)]
pub struct Args {
    kind: Kind,
    /// The project, or the repo as PROJECT/REPO.
    name: Option<String>,
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
        project,
        out,
    } = args;
    let res = resource(kind, name.as_deref(), project.as_deref())?;
    let binding = call!(
        conn,
        auth,
        get_role_binding,
        "GetRoleBinding",
        pb::GetRoleBindingRequest {
            resource: Some(res.clone())
        }
    )
    .binding
    .unwrap_or_default();
    let mut entries: Vec<(String, Vec<String>)> = binding
        .entries
        .into_iter()
        .map(|(p, r)| {
            let mut roles: Vec<String> = r
                .roles
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| n)
                .collect();
            roles.sort();
            (p, roles)
        })
        .filter(|(_, r)| !r.is_empty())
        .collect();
    entries.sort();
    let value: serde_json::Map<String, Value> =
        entries.iter().map(|(p, r)| (p.clone(), json!(r))).collect();
    output::emit(out.output, &Value::Object(value), || {
        if entries.is_empty() {
            return format!("No role bindings on {}.", describe(&res));
        }
        entries
            .iter()
            .map(|(p, r)| format!("{p}: {}", r.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}
