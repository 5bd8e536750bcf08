//! Permission evaluation, one row per rule of docs/auth-model.md §5–§6.

use std::collections::{BTreeMap, BTreeSet};
use tusk_core::auth::{
    CompiledBinding, EvalError, Permission, Resource, ResourceType, evaluate, not_authorized,
    roles_for_permission,
};

fn p(name: &str) -> Permission {
    Permission::from_name(name).unwrap_or_else(|| panic!("unknown permission {name}"))
}

fn binding(entries: &[(&str, &[&str])]) -> CompiledBinding {
    let b: BTreeMap<String, BTreeSet<String>> = entries
        .iter()
        .map(|(k, roles)| {
            (
                (*k).to_owned(),
                roles.iter().map(|r| (*r).to_owned()).collect(),
            )
        })
        .collect();
    CompiledBinding::compile(&b)
}

fn res(kind: ResourceType, name: &str) -> Resource {
    Resource {
        kind,
        name: name.to_owned(),
    }
}

/// The world every row is evaluated in: the default cluster binding after
/// Activate, a project and a repo with their own bindings.
fn world() -> BTreeMap<&'static str, CompiledBinding> {
    BTreeMap::from([
        (
            "CLUSTER:",
            binding(&[
                ("pach:root", &["clusterAdmin"]),
                ("allClusterUsers", &["projectCreator"]),
                ("user:admin@x", &["clusterAdmin"]),
            ]),
        ),
        (
            "PROJECT:default",
            binding(&[("allClusterUsers", &["projectWriter"])]),
        ),
        (
            "PROJECT:p",
            binding(&[
                ("user:owner@x", &["projectOwner"]),
                ("group:readers", &["repoReader"]),
            ]),
        ),
        (
            "REPO:p/r",
            binding(&[
                ("user:alice@x", &["repoWriter"]),
                ("robot:ci", &["repoReader"]),
            ]),
        ),
        ("REPO:default/d", binding(&[])),
    ])
}

type Row = (
    &'static str,
    &'static str,
    &'static [&'static str],
    Resource,
    &'static [&'static str],
    Result<bool, EvalError>,
);

fn check(rows: Vec<Row>) {
    let w = world();
    for (rule, principal, groups, resource, wanted, want) in rows {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        let wanted: Vec<Permission> = wanted.iter().map(|n| p(n)).collect();
        let got =
            evaluate(principal, &groups, &resource, &wanted, |k| w.get(k)).map(|e| e.authorized());
        assert_eq!(got, want, "rule: {rule}");
    }
}

#[test]
fn evaluation_rules() {
    use ResourceType::*;
    check(vec![
        (
            "cluster admin has every cluster permission",
            "user:admin@x",
            &[],
            res(Cluster, ""),
            &["CLUSTER_AUTH_ROTATE_ROOT_TOKEN", "CLUSTER_DELETE_ALL"],
            Ok(true),
        ),
        (
            "cluster roles flow down to repos",
            "user:admin@x",
            &[],
            res(Repo, "p/r"),
            &["REPO_DELETE"],
            Ok(true),
        ),
        (
            "allClusterUsers entries apply to everyone",
            "user:nobody@x",
            &[],
            res(Cluster, ""),
            &["PROJECT_CREATE"],
            Ok(true),
        ),
        (
            "no role, no permission",
            "user:nobody@x",
            &[],
            res(Cluster, ""),
            &["CLUSTER_MODIFY_BINDINGS"],
            Ok(false),
        ),
        (
            "project binding applies to its repos",
            "user:owner@x",
            &[],
            res(Repo, "p/r"),
            &["REPO_MODIFY_BINDINGS", "REPO_WRITE"],
            Ok(true),
        ),
        (
            "project binding applies to the project",
            "user:owner@x",
            &[],
            res(Project, "p"),
            &["PROJECT_DELETE"],
            Ok(true),
        ),
        (
            "groups are looked up in each binding",
            "user:g@x",
            &["group:readers"],
            res(Repo, "p/r"),
            &["REPO_READ"],
            Ok(true),
        ),
        (
            "a group grants nothing to non-members",
            "user:g@x",
            &[],
            res(Repo, "p/r"),
            &["REPO_READ"],
            Ok(false),
        ),
        (
            "repo binding grants on that repo",
            "user:alice@x",
            &[],
            res(Repo, "p/r"),
            &["REPO_WRITE"],
            Ok(true),
        ),
        (
            "grants only add: writer cannot delete",
            "user:alice@x",
            &[],
            res(Repo, "p/r"),
            &["REPO_WRITE", "REPO_DELETE"],
            Ok(false),
        ),
        (
            "robots are principals too",
            "robot:ci",
            &[],
            res(Repo, "p/r"),
            &["REPO_READ"],
            Ok(true),
        ),
        (
            "spec repos are readable by all users",
            "user:nobody@x",
            &[],
            res(SpecRepo, "p/r"),
            &["REPO_READ"],
            Ok(true),
        ),
        (
            "spec repos otherwise evaluate as the repo",
            "user:alice@x",
            &[],
            res(SpecRepo, "p/r"),
            &["REPO_WRITE"],
            Ok(true),
        ),
        (
            "project default gives allClusterUsers projectWriter",
            "user:nobody@x",
            &[],
            res(Project, "default"),
            &["PROJECT_CREATE_REPO"],
            Ok(true),
        ),
        (
            "a repo under a project without a binding",
            "user:alice@x",
            &[],
            res(Repo, "ghost/r"),
            &["REPO_READ"],
            Err(EvalError::NoRoleBinding {
                kind: "PROJECT",
                name: "ghost".into(),
            }),
        ),
        (
            "a repo without a binding",
            "user:alice@x",
            &[],
            res(Repo, "p/ghost"),
            &["REPO_READ"],
            Err(EvalError::NoRoleBinding {
                kind: "REPO",
                name: "p/ghost".into(),
            }),
        ),
        (
            "cluster grants stop before missing bindings",
            "user:admin@x",
            &[],
            res(Repo, "ghost/r"),
            &["REPO_READ"],
            Ok(true),
        ),
        (
            "an empty repo binding still lets the project decide",
            "user:nobody@x",
            &[],
            res(Repo, "default/d"),
            &["REPO_READ"],
            Ok(false),
        ),
    ]);
}

#[test]
fn auth_off_is_not_activated() {
    let empty: BTreeMap<&str, CompiledBinding> = BTreeMap::from([("CLUSTER:", binding(&[]))]);
    let got = evaluate(
        "user:a@x",
        &[],
        &Resource::cluster(),
        &[p("CLUSTER_GET_BINDINGS")],
        |k| empty.get(k),
    );
    assert_eq!(got, Err(EvalError::NotActivated));
    let none: BTreeMap<&str, CompiledBinding> = BTreeMap::new();
    assert_eq!(
        evaluate("user:a@x", &[], &Resource::cluster(), &[], |k| none.get(k)),
        Err(EvalError::NotActivated)
    );
}

#[test]
fn get_permissions_reports_all_roles_and_permissions() {
    let w = world();
    let e = evaluate(
        "user:alice@x",
        &[],
        &res(ResourceType::Repo, "p/r"),
        &[],
        |k| w.get(k),
    )
    .unwrap();
    assert_eq!(e.roles.names(), ["projectCreator", "repoWriter"]);
    assert!(e.satisfied.contains(&p("REPO_WRITE")) && e.satisfied.contains(&p("PROJECT_CREATE")));
    assert!(e.missing.contains(&p("REPO_DELETE")));
    // Unknown permission numbers are never granted, never panic.
    let e = evaluate(
        "user:admin@x",
        &[],
        &Resource::cluster(),
        &[Permission(9999), Permission(-1)],
        |k| w.get(k),
    )
    .unwrap();
    assert_eq!(e.missing.len(), 2);
}

#[test]
fn error_texts_are_byte_exact() {
    assert_eq!(
        not_authorized(
            "user:a@b.c",
            &[p("CLUSTER_AUTH_GET_CONFIG")],
            &Resource::cluster()
        ),
        "user:a@b.c is not authorized to perform this operation - needs permissions [CLUSTER_AUTH_GET_CONFIG] on CLUSTER . Run `pachctl auth roles-for-permission` to find roles that grant a given permission."
    );
    assert_eq!(
        EvalError::NoRoleBinding {
            kind: "REPO",
            name: "p/r".into()
        }
        .to_string(),
        "no role binding exists for REPO p/r"
    );
    let names: Vec<&str> = roles_for_permission(p("REPO_READ"))
        .iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        names,
        [
            "repoReader",
            "repoWriter",
            "repoOwner",
            "projectOwner",
            "clusterAdmin"
        ]
    );
}

#[test]
fn huge_permission_lists_are_deduplicated_in_linear_time() {
    let w = world();
    let wanted: Vec<Permission> = (0..200_000).map(|i| Permission(10_000 + i % 7)).collect();
    let e = evaluate("user:admin@x", &[], &Resource::cluster(), &wanted, |k| {
        w.get(k)
    })
    .unwrap();
    assert_eq!(e.missing.len(), 7);
}

/// The one project/repo name rule the server and the CLI share, with the
/// 255-byte cap on each part that the CLI's own copy used to lack.
#[test]
fn resource_names_follow_one_rule() {
    let long = "a".repeat(256);
    let at_cap = "a".repeat(255);
    for (kind, name, want) in [
        (ResourceType::Project, "default", true),
        (ResourceType::Project, at_cap.as_str(), true),
        (ResourceType::Project, long.as_str(), false),
        (ResourceType::Project, "", false),
        (ResourceType::Project, "a b", false),
        (ResourceType::Project, "a/b", false),
        (ResourceType::Repo, "default/images", true),
        (ResourceType::Repo, "images", false),
        (ResourceType::Repo, "/images", false),
        (ResourceType::Repo, "default/", false),
        (ResourceType::Repo, "a/b/c", false),
        (ResourceType::Repo, "default/im ages", false),
        (ResourceType::Repo, &format!("{long}/r"), false),
        (ResourceType::Repo, &format!("p/{long}"), false),
        (ResourceType::Cluster, "", false),
    ] {
        assert_eq!(
            Resource::is_valid_name(kind, name),
            want,
            "{kind:?} {name:?}"
        );
    }
}

/// Satisfied and missing permissions, and the roles met, in order.
type Outcome = (Vec<Permission>, Vec<Permission>, Vec<&'static str>);

/// A plain evaluator over the raw bindings (role names, permission lists,
/// every set a `Vec`), written from docs/auth-model.md §5 without the
/// compiled form: bindings in the order spec-repo default, cluster,
/// project, resource, stopping once every wanted permission is granted;
/// within a binding the principal, then allClusterUsers, then groups.
fn reference(
    principal: &str,
    groups: &[String],
    resource: &Resource,
    wanted: &[Permission],
    world: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
) -> Result<Outcome, EvalError> {
    let all = wanted.is_empty();
    let mut granted: Vec<Permission> = Vec::new();
    let mut met: Vec<&'static str> = Vec::new();
    let mut apply = |b: &BTreeMap<String, BTreeSet<String>>, granted: &mut Vec<Permission>| {
        let subjects = [principal, "allClusterUsers"]
            .into_iter()
            .chain(groups.iter().map(String::as_str));
        for s in subjects {
            let Some(names) = b.get(s) else { continue };
            for r in tusk_core::auth::roles() {
                if names.contains(r.name) && !met.contains(&r.name) {
                    met.push(r.name);
                    granted.extend(r.permissions.iter().copied());
                }
            }
        }
    };
    let done = |g: &Vec<Permission>| !all && wanted.iter().all(|p| g.contains(p));
    let mut kind = resource.kind;
    if kind == ResourceType::SpecRepo {
        let spec = BTreeMap::from([(
            "allClusterUsers".to_owned(),
            BTreeSet::from(["repoReader".to_owned()]),
        )]);
        apply(&spec, &mut granted);
        kind = ResourceType::Repo;
    }
    let walk = (|| {
        if !done(&granted) || all {
            let c = world
                .get("CLUSTER:")
                .filter(|b| !b.is_empty())
                .ok_or(EvalError::NotActivated)?;
            apply(c, &mut granted);
        }
        if done(&granted) || kind == ResourceType::Cluster {
            return Ok(());
        }
        if kind == ResourceType::Repo {
            let project = resource.name.split_once('/').map_or("", |(p, _)| p);
            let b = world.get(&format!("PROJECT:{project}")).ok_or_else(|| {
                EvalError::NoRoleBinding {
                    kind: "PROJECT",
                    name: project.to_owned(),
                }
            })?;
            apply(b, &mut granted);
            if done(&granted) {
                return Ok(());
            }
        }
        let key = format!("{}:{}", kind.name(), resource.name);
        let b = world.get(&key).ok_or_else(|| EvalError::NoRoleBinding {
            kind: kind.name(),
            name: resource.name.clone(),
        })?;
        apply(b, &mut granted);
        Ok(())
    })();
    walk?;
    let candidates: Vec<Permission> = if all {
        tusk_core::auth::PERMISSIONS
            .iter()
            .skip(1)
            .map(|(n, _)| Permission(*n))
            .collect()
    } else {
        wanted.to_vec()
    };
    let (mut satisfied, mut missing) = (Vec::new(), Vec::new());
    for p in candidates {
        if satisfied.contains(&p) || missing.contains(&p) {
            continue;
        }
        if granted.contains(&p) {
            satisfied.push(p);
        } else {
            missing.push(p);
        }
    }
    Ok((satisfied, missing, met))
}

/// The compiled evaluation agrees with [`reference`] on generated worlds
/// and checks, so the compact binding form cannot silently diverge.
#[test]
fn compiled_evaluation_matches_the_reference_on_generated_cases() {
    // xorshift: deterministic, so a failure names a reproducible case.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let principals = [
        "user:a@x",
        "user:b@x",
        "user:\u{e9}@x",
        "robot:ci",
        "pach:root",
        "group:g0",
        "group:g1",
        "group:G1",
        "allClusterUsers",
        "user:a@x0",
    ];
    let mut names: Vec<&str> = tusk_core::auth::ROLES.to_vec();
    names.push("noSuchRole");
    let keys = [
        "CLUSTER:",
        "PROJECT:p",
        "PROJECT:q",
        "REPO:p/r",
        "REPO:p/s",
        "REPO:q/r",
        "JOB:j",
    ];
    let resources = [
        res(ResourceType::Cluster, ""),
        res(ResourceType::Project, "p"),
        res(ResourceType::Project, "q"),
        res(ResourceType::Repo, "p/r"),
        res(ResourceType::Repo, "p/s"),
        res(ResourceType::Repo, "q/r"),
        res(ResourceType::Repo, "z/r"),
        res(ResourceType::SpecRepo, "p/r"),
        res(ResourceType::SpecRepo, "q/x"),
        res(ResourceType::Job, "j"),
        res(ResourceType::Unknown, "u"),
    ];
    let known: Vec<i32> = tusk_core::auth::PERMISSIONS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut compared = 0;
    for world_no in 0..300 {
        let mut raw: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for key in keys {
            // Some bindings are missing, so NoRoleBinding is exercised.
            if next(6) == 0 {
                continue;
            }
            let mut b = BTreeMap::new();
            for _ in 0..next(6) {
                let roles = (0..1 + next(3))
                    .map(|_| names[next(names.len())].to_owned())
                    .collect();
                b.insert(principals[next(principals.len())].to_owned(), roles);
            }
            raw.insert(key.to_owned(), b);
        }
        let compiled: BTreeMap<String, CompiledBinding> = raw
            .iter()
            .map(|(k, b)| (k.clone(), CompiledBinding::compile(b)))
            .collect();
        for _ in 0..40 {
            let principal = principals[next(principals.len())];
            let groups: Vec<String> = (0..next(3))
                .map(|_| principals[5 + next(3)].to_owned())
                .collect();
            let resource = &resources[next(resources.len())];
            // Empty (all), known, repeated and unknown numbers.
            let wanted: Vec<Permission> = (0..next(5))
                .map(|_| match next(8) {
                    0 => Permission(9999),
                    _ => Permission(known[next(known.len())]),
                })
                .collect();
            let got = evaluate(principal, &groups, resource, &wanted, |k| compiled.get(k))
                .map(|e| (e.satisfied, e.missing, e.roles.names()));
            let want = reference(principal, &groups, resource, &wanted, &raw);
            assert_eq!(
                got, want,
                "world {world_no}: {principal} {groups:?} on {resource:?} wanting {wanted:?} in {raw:?}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 300 * 40);
}
