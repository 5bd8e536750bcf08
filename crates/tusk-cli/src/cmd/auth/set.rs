//! `tusk auth set`: set a principal's roles on the cluster, a project or a repo (`none` removes them).

use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use crate::names::{Kind, check_principal, describe, parse_roles, resource};
use tusk_proto::auth_v2 as pb;

/// Set a principal's roles on the cluster, a project or a repo (`none` removes them).
#[derive(clap::Args)]
#[command(
    after_help = "Usage forms:\n  tusk auth set cluster ROLES PRINCIPAL\n  tusk auth set project PROJECT ROLES PRINCIPAL\n  tusk auth set repo [PROJECT/]REPO ROLES PRINCIPAL [--project PROJECT]\n\nExamples:\n  tusk auth set cluster clusterAdmin user:alice@example.com\n  tusk auth set project default projectWriter,projectViewer group:analysts\n  tusk auth set repo default/images repoReader robot:ci\n  tusk auth set repo images none robot:ci"
)]
pub struct Args {
    kind: Kind,
    /// [NAME] ROLES PRINCIPAL; ROLES is comma-separated, or `none`.
    #[arg(num_args = 2..=3, value_name = "ARGS", required = true)]
    args: Vec<String>,
    /// The repo's project.
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args {
        kind,
        args,
        project,
    } = args;
    let (name, roles, principal) = match (kind, args.as_slice()) {
        (Kind::Cluster, [roles, principal]) => (None, roles, principal),
        (Kind::Cluster, [n, _, _]) => {
            return Err(
                Failure::usage(format!("the cluster has no name, but `{n}` was given"))
                    .help("tusk auth set cluster ROLES PRINCIPAL"),
            );
        }
        (Kind::Project | Kind::Repo, [name, roles, principal]) => {
            (Some(name.as_str()), roles, principal)
        }
        (k, _) => {
            let form = if k == Kind::Project {
                "tusk auth set project PROJECT ROLES PRINCIPAL"
            } else {
                "tusk auth set repo [PROJECT/]REPO ROLES PRINCIPAL"
            };
            return Err(Failure::usage(format!(
                "expected NAME, ROLES and PRINCIPAL, got {} argument(s)",
                args.len()
            ))
            .help(form));
        }
    };
    let roles = parse_roles(roles)?;
    check_principal(principal)?;
    let res = resource(kind, name, project.as_deref())?;
    call!(
        conn,
        auth,
        modify_role_binding,
        "ModifyRoleBinding",
        pb::ModifyRoleBindingRequest {
            resource: Some(res.clone()),
            principal: principal.clone(),
            roles: roles.clone()
        }
    );
    if roles.is_empty() {
        println!("Removed every role of {principal} on {}.", describe(&res));
    } else {
        println!(
            "{principal} now has {} on {}.",
            roles.join(", "),
            describe(&res)
        );
    }
    Ok(())
}
