//! Names typed on the command line (principals, roles, permissions,
//! resources) checked and turned into wire values before anything is sent,
//! so a typo is named with a suggestion instead of costing a round trip.

use crate::error::{Failure, Outcome};
use clap::ValueEnum;
use tusk_core::auth as core;
use tusk_proto::auth_v2 as pb;

/// What a role binding is on, as the commands spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Cluster,
    Project,
    Repo,
}

/// The nearest name, for "did you mean".
pub fn did_you_mean<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    tusk_core::config::diag::suggest(unknown, known)
}

pub fn check_principal(p: &str) -> Outcome {
    core::check_subject(p).map_err(|why| {
        Failure::usage(format!("principal `{p}` is not valid: {why}")).help(
            "principals look like user:alice@example.com, group:analysts, robot:ci, pach:root, or allClusterUsers",
        )
    })
}

/// A comma-separated role list, or `none` for no roles.
pub fn parse_roles(text: &str) -> Outcome<Vec<String>> {
    if text == "none" {
        return Ok(Vec::new());
    }
    let mut roles = Vec::new();
    for r in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !core::ROLES.contains(&r) {
            let help = match did_you_mean(r, core::ROLES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the roles are: {}", core::ROLES.join(", ")),
            };
            return Err(Failure::usage(format!("unknown role `{r}`")).help(help));
        }
        if !roles.iter().any(|x| x == r) {
            roles.push(r.to_owned());
        }
    }
    if roles.is_empty() {
        return Err(Failure::usage("no roles given").help(
            "give roles separated by commas (repoReader,repoWriter), or `none` to remove the principal's roles",
        ));
    }
    Ok(roles)
}

/// The wire resource for a kind and an optional name.
pub fn resource(kind: Kind, name: Option<&str>, project: Option<&str>) -> Outcome<pb::Resource> {
    let need = |what: &str| {
        Failure::usage(format!("a {what} name is required")).help(match kind {
            Kind::Repo => "name the repo as PROJECT/REPO, or REPO with --project PROJECT",
            _ => "name the project, e.g. `default`",
        })
    };
    let (t, name) = match kind {
        Kind::Cluster => {
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                return Err(Failure::usage(format!(
                    "the cluster has no name, but `{n}` was given"
                ))
                .help("leave the name out: `tusk auth … cluster …`"));
            }
            (pb::ResourceType::Cluster, String::new())
        }
        Kind::Project => {
            let n = name.ok_or_else(|| need("project"))?;
            if !core::Resource::is_valid_name(core::ResourceType::Project, n) {
                return Err(Failure::usage(format!("`{n}` is not a project name"))
                    .help("a project name has no spaces and no `/`, and at most 255 bytes"));
            }
            (pb::ResourceType::Project, n.to_owned())
        }
        Kind::Repo => {
            let n = name.ok_or_else(|| need("repo"))?;
            let full = match (n.split_once('/'), project) {
                (Some(_), Some(p)) => {
                    return Err(Failure::usage(format!(
                        "repo `{n}` already names its project, and --project {p} names another"
                    ))
                    .help("use either PROJECT/REPO or REPO --project PROJECT"));
                }
                (Some(_), None) => n.to_owned(),
                (None, p) => format!("{}/{n}", p.unwrap_or("default")),
            };
            if !core::Resource::is_valid_name(core::ResourceType::Repo, &full) {
                return Err(Failure::usage(format!("`{full}` is not a repo name")).help(
                    "write PROJECT/REPO without spaces, each part at most 255 bytes, e.g. default/images",
                ));
            }
            (pb::ResourceType::Repo, full)
        }
    };
    Ok(pb::Resource {
        r#type: t as i32,
        name,
    })
}

/// A resource as the messages name it: `REPO default/images`.
pub fn describe(r: &pb::Resource) -> String {
    let t = core::ResourceType::from_i32(r.r#type).unwrap_or(core::ResourceType::Unknown);
    if r.name.is_empty() {
        t.name().to_owned()
    } else {
        format!("{} {}", t.name(), r.name)
    }
}

/// A permission name in any case, `-` or `_`.
pub fn permission(text: &str) -> Outcome<core::Permission> {
    let norm = text.trim().to_ascii_uppercase().replace('-', "_");
    match core::Permission::from_name(&norm).filter(|p| p.0 != 0) {
        Some(p) => Ok(p),
        None => {
            let names = core::PERMISSIONS.iter().skip(1).map(|(_, n)| *n);
            Err(
                Failure::usage(format!("unknown permission `{text}`")).help(
                    match did_you_mean(&norm, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "permission names look like REPO_READ or CLUSTER_AUTH_GET_CONFIG (see docs/wire-api.md)".into(),
                    },
                ),
            )
        }
    }
}

/// Names, without the repeats a server may send.
pub fn permission_names(ps: &[i32]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in ps {
        let name = core::Permission(*p).name().to_owned();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_checked_with_a_suggestion() {
        assert_eq!(parse_roles("none").ok(), Some(vec![]));
        assert_eq!(
            parse_roles("repoReader, repoWriter,repoReader").ok(),
            Some(vec!["repoReader".to_owned(), "repoWriter".to_owned()])
        );
        let e = parse_roles("clusterAdmn").err();
        assert!(e.as_ref().is_some_and(
            |e| e.code == 2 && e.help.as_deref() == Some("did you mean `clusterAdmin`?")
        ));
        assert!(parse_roles(",").is_err());
    }

    #[test]
    fn resources_by_kind_and_name() {
        let ok = |k, n: Option<&str>, p: Option<&str>| resource(k, n, p).map(|r| describe(&r)).ok();
        assert_eq!(ok(Kind::Cluster, None, None).as_deref(), Some("CLUSTER"));
        assert_eq!(
            ok(Kind::Project, Some("p"), None).as_deref(),
            Some("PROJECT p")
        );
        assert_eq!(
            ok(Kind::Repo, Some("p/r"), None).as_deref(),
            Some("REPO p/r")
        );
        assert_eq!(
            ok(Kind::Repo, Some("r"), None).as_deref(),
            Some("REPO default/r")
        );
        assert_eq!(
            ok(Kind::Repo, Some("r"), Some("x")).as_deref(),
            Some("REPO x/r")
        );
        let long = "a".repeat(256);
        let long_project_repo = format!("{long}/r");
        assert!(resource(Kind::Project, Some(&"a".repeat(255)), None).is_ok());
        for (k, n, p) in [
            (Kind::Cluster, Some("c"), None),
            (Kind::Project, None, None),
            (Kind::Project, Some("a/b"), None),
            (Kind::Repo, Some("p/r"), Some("q")),
            (Kind::Repo, Some("a/b/c"), None),
            (Kind::Repo, Some("has space"), None),
            // The server's cap on each part: refused here, before sending.
            (Kind::Project, Some(&long), None),
            (Kind::Repo, Some(&long), Some("p")),
            (Kind::Repo, Some(&long_project_repo), None),
        ] {
            assert!(resource(k, n, p).is_err(), "{k:?} {n:?} {p:?}");
        }
    }

    #[test]
    fn permissions_by_any_case() {
        assert_eq!(permission("repo_read").ok(), Some(core::Permission(200)));
        assert_eq!(permission("REPO-READ").ok(), Some(core::Permission(200)));
        let e = permission("REPO_REED").err();
        assert!(e.is_some_and(|e| e.help.as_deref() == Some("did you mean `REPO_READ`?")));
        assert!(permission("PERMISSION_UNKNOWN").is_err());
    }
}
