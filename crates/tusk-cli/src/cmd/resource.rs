//! `tusk resource create|delete project|repo NAME`: tell tusk about a
//! project or repo (`tusk.resources.v1.Resources`), as PFS would when it
//! creates one, so its owner binding exists.

use crate::client::{ClientArgs, Conn, call};
use crate::error::Outcome;
use crate::names::{Kind, check_principal, resource};
use clap::{Subcommand, ValueEnum};
use tusk_proto::tusk::resources::v1 as pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceKind {
    Project,
    Repo,
}

#[derive(Subcommand)]
pub enum ResourceCommand {
    /// Register a project or repo; you (or --owner) become its owner.
    #[command(
        after_help = "Examples:\n  tusk resource create project analytics\n  tusk resource create repo analytics/images\n  tusk resource create repo images --project analytics --owner user:alice@example.com"
    )]
    Create {
        kind: ResourceKind,
        /// The project, or the repo as PROJECT/REPO (or REPO with --project).
        name: String,
        /// The repo's project.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Make this principal the owner instead of you (cluster admins only).
        #[arg(long, value_name = "PRINCIPAL")]
        owner: Option<String>,
    },
    /// Forget a project or repo and its role binding.
    #[command(
        after_help = "Examples:\n  tusk resource delete repo analytics/images\n  tusk resource delete project analytics"
    )]
    Delete {
        kind: ResourceKind,
        /// The project, or the repo as PROJECT/REPO.
        name: String,
        /// The repo's project.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
    },
}

fn kind(k: ResourceKind) -> Kind {
    match k {
        ResourceKind::Project => Kind::Project,
        ResourceKind::Repo => Kind::Repo,
    }
}

pub async fn run(args: ClientArgs, cmd: ResourceCommand) -> Outcome {
    let target = args.resolve()?;
    let conn = Conn::new(&target)?;
    match cmd {
        ResourceCommand::Create {
            kind: k,
            name,
            project,
            owner,
        } => {
            let res = resource(kind(k), Some(&name), project.as_deref())?;
            if let Some(o) = &owner {
                check_principal(o)?;
            }
            call!(
                conn,
                resources,
                create_resource,
                "CreateResource",
                pb::CreateResourceRequest {
                    resource: Some(res.clone()),
                    owner: owner.clone().unwrap_or_default()
                }
            );
            println!(
                "Created {} {}{}.",
                if k == ResourceKind::Project {
                    "project"
                } else {
                    "repo"
                },
                res.name,
                owner.map_or_else(String::new, |o| format!(", owned by {o}"))
            );
            Ok(())
        }
        ResourceCommand::Delete {
            kind: k,
            name,
            project,
        } => {
            let res = resource(kind(k), Some(&name), project.as_deref())?;
            call!(
                conn,
                resources,
                delete_resource,
                "DeleteResource",
                pb::DeleteResourceRequest {
                    resource: Some(res.clone())
                }
            );
            println!(
                "Deleted {} {} and its role binding.",
                if k == ResourceKind::Project {
                    "project"
                } else {
                    "repo"
                },
                res.name
            );
            Ok(())
        }
    }
}
