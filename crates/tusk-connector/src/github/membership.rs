//! The pure half of the `github` connector: who may log in, which groups
//! they get, which email is theirs, and where the next page is. No I/O and
//! no clock, so every rule is a table test.

use super::config::{Access, OrgRule, TeamNameField};
use serde::Deserialize;

/// `GET /user`, only what tusk reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub id: u64,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Email {
    pub email: String,
    #[serde(default)]
    pub verified: bool,
    #[serde(default)]
    pub primary: bool,
}

/// One entry of `GET /user/orgs` (and a team's `organization`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Org {
    pub login: String,
}

/// One entry of `GET /user/teams`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Team {
    pub name: String,
    pub slug: String,
    pub organization: Org,
}

/// Why a user may not log in. Shown to the user in plain words; the
/// connector logs the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Denied {
    /// Member of none of the configured organizations.
    NotInOrgs,
    /// Member of a configured organization, but of none of its listed teams.
    NotInTeams { orgs: Vec<String> },
}

/// The names of a team that `teamNameField` selects.
pub(crate) fn team_names(t: &Team, field: TeamNameField) -> Vec<String> {
    match field {
        TeamNameField::Name => vec![t.name.clone()],
        TeamNameField::Slug => vec![t.slug.clone()],
        TeamNameField::Both => vec![t.name.clone(), t.slug.clone()],
    }
}

/// The names of the user's teams in `org` (organization logins compare
/// without case, as GitHub's do).
fn teams_in(org: &str, teams: &[Team], field: TeamNameField) -> Vec<String> {
    teams
        .iter()
        .filter(|t| t.organization.login.eq_ignore_ascii_case(org))
        .flat_map(|t| team_names(t, field))
        .collect()
}

/// Dex's `groupsForOrgs`: a user may log in when a member of at least one
/// listed organization that lists no teams, or of at least one listed team
/// of a listed organization. Groups are `org:team` for the teams of every
/// organization the user belongs to, filtered to the listed teams where an
/// organization lists some. `member` answers the membership check of each
/// listed organization, in order.
pub(crate) fn groups_for_orgs(
    rules: &[OrgRule],
    member: &[bool],
    teams: &[Team],
    field: TeamNameField,
) -> Result<Vec<String>, Denied> {
    let mut groups = Vec::new();
    let mut in_org_without_teams = false;
    let mut in_org_not_team = Vec::new();
    for (rule, is_member) in rules.iter().zip(member) {
        if !is_member {
            continue;
        }
        let mut names = teams_in(&rule.name, teams, field);
        if rule.teams.is_empty() {
            in_org_without_teams = true;
        } else {
            names.retain(|n| rule.teams.contains(n));
            if names.is_empty() {
                in_org_not_team.push(rule.name.clone());
            }
        }
        groups.extend(names.into_iter().map(|n| format!("{}:{n}", rule.name)));
    }
    if in_org_without_teams || !groups.is_empty() {
        Ok(groups)
    } else if !in_org_not_team.is_empty() {
        Err(Denied::NotInTeams {
            orgs: in_org_not_team,
        })
    } else {
        Err(Denied::NotInOrgs)
    }
}

/// The groups of a login, given what the API answered. `member` holds the
/// membership answers for `orgs` (or the legacy `org`), in order; `orgs`
/// and `teams` are the user's (`/user/orgs` is only read for
/// `loadAllGroups`). `None` means no groups claim at all.
pub(crate) fn groups(
    access: &Access,
    groups_scope: bool,
    member: &[bool],
    user_orgs: &[Org],
    teams: &[Team],
    field: TeamNameField,
) -> Result<Option<Vec<String>>, Denied> {
    match access {
        Access::Orgs(rules) => groups_for_orgs(rules, member, teams, field).map(Some),
        Access::LegacyOrg(org) => {
            if member.first().copied().unwrap_or(false) {
                Ok(Some(teams_in(org, teams, field)))
            } else {
                Err(Denied::NotInOrgs)
            }
        }
        Access::Anyone { load_all_groups } if groups_scope && *load_all_groups => {
            let mut out = Vec::new();
            for o in user_orgs {
                out.push(o.login.clone());
                for t in teams_in(&o.login, teams, field) {
                    out.push(format!("{}:{t}", o.login));
                }
            }
            Ok(Some(out))
        }
        Access::Anyone { .. } => Ok(None),
    }
}

/// Why no email could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoEmail {
    /// The user has no verified primary address (and none in the
    /// preferred domain).
    NoVerified,
    /// GitHub listed an address without `@`.
    Malformed,
}

/// Dex's `userEmail`: the first verified address in `preferred` domain,
/// else the verified primary one. GitHub Enterprise Server cannot verify
/// addresses, so there (`enterprise`) every address counts as verified.
pub(crate) fn choose_email(
    emails: &[Email],
    preferred: Option<&str>,
    enterprise: bool,
) -> Result<String, NoEmail> {
    let mut primary = None;
    for e in emails {
        let verified = e.verified || enterprise;
        if let Some(domain) = preferred {
            let Some((_, host)) = e.email.split_once('@') else {
                return Err(NoEmail::Malformed);
            };
            if verified && domain_matches(domain, host) {
                return Ok(e.email.clone());
            }
        }
        if verified && e.primary && primary.is_none() {
            primary = Some(e.email.clone());
        }
    }
    primary.ok_or(NoEmail::NoVerified)
}

/// `preferredEmailDomain` matching: equal, or equal label by label where
/// the pattern's label is `*` (so `*.example.com` matches `eu.example.com`
/// but neither `example.com` nor `a.eu.example.com`). Case-insensitive,
/// as domain names are.
pub(crate) fn domain_matches(pattern: &str, domain: &str) -> bool {
    if pattern.eq_ignore_ascii_case(domain) {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let d: Vec<&str> = domain.split('.').collect();
    p.len() == d.len()
        && p.iter()
            .zip(&d)
            .all(|(p, d)| *p == "*" || p.eq_ignore_ascii_case(d))
}

/// The `rel="next"` URL of a `Link` header (RFC 8288), as GitHub sends it:
/// `<https://api.github.com/user/teams?page=2>; rel="next", <...>; rel="last"`.
pub(crate) fn next_link(link: &str) -> Option<String> {
    for part in link.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((url, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"'))
                .is_some_and(|v| v.split_whitespace().any(|r| r == "next"))
        });
        if is_next {
            return Some(url.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn team(org: &str, name: &str, slug: &str) -> Team {
        Team {
            name: name.into(),
            slug: slug.into(),
            organization: Org { login: org.into() },
        }
    }

    fn teams() -> Vec<Team> {
        vec![
            team("acme", "Data Engineers", "data-engineers"),
            team("acme", "Admins", "admins"),
            team("umbrella", "Research", "research"),
        ]
    }

    fn rule(name: &str, teams: &[&str]) -> OrgRule {
        OrgRule {
            name: name.into(),
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn org_and_team_rules() {
        use TeamNameField::*;
        type Row<'a> = (
            Vec<OrgRule>,
            Vec<bool>,
            TeamNameField,
            Result<Vec<&'a str>, Denied>,
        );
        let rows: Vec<Row> = vec![
            // In the org, no teams listed: all its teams.
            (
                vec![rule("acme", &[])],
                vec![true],
                Name,
                Ok(vec!["acme:Data Engineers", "acme:Admins"]),
            ),
            (
                vec![rule("acme", &[])],
                vec![true],
                Slug,
                Ok(vec!["acme:data-engineers", "acme:admins"]),
            ),
            (
                vec![rule("acme", &[])],
                vec![true],
                Both,
                Ok(vec![
                    "acme:Data Engineers",
                    "acme:data-engineers",
                    "acme:Admins",
                    "acme:admins",
                ]),
            ),
            // Not a member.
            (
                vec![rule("acme", &[])],
                vec![false],
                Name,
                Err(Denied::NotInOrgs),
            ),
            // Teams listed: only those, matched by the selected name.
            (
                vec![rule("acme", &["Admins"])],
                vec![true],
                Name,
                Ok(vec!["acme:Admins"]),
            ),
            (
                vec![rule("acme", &["admins"])],
                vec![true],
                Name,
                Err(Denied::NotInTeams {
                    orgs: vec!["acme".into()],
                }),
            ),
            (
                vec![rule("acme", &["admins"])],
                vec![true],
                Slug,
                Ok(vec!["acme:admins"]),
            ),
            (
                vec![rule("acme", &["admins"])],
                vec![true],
                Both,
                Ok(vec!["acme:admins"]),
            ),
            // Two orgs: one with teams the user lacks, one without teams.
            (
                vec![rule("acme", &["nope"]), rule("umbrella", &[])],
                vec![true, true],
                Name,
                Ok(vec!["umbrella:Research"]),
            ),
            // Member of an org without teams in it: allowed, no groups.
            (vec![rule("initech", &[])], vec![true], Name, Ok(vec![])),
            // The org's login differs in case from the config: still its teams, named as configured.
            (
                vec![rule("ACME", &["Admins"])],
                vec![true],
                Name,
                Ok(vec!["ACME:Admins"]),
            ),
        ];
        for (rules, member, field, want) in rows {
            let got = groups_for_orgs(&rules, &member, &teams(), field);
            let want = want.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, want, "{rules:?} {member:?} {field:?}");
        }
    }

    #[test]
    fn legacy_org_and_load_all_groups() {
        let orgs = vec![
            Org {
                login: "acme".into(),
            },
            Org {
                login: "umbrella".into(),
            },
        ];
        let t = teams();
        let legacy = Access::LegacyOrg("acme".into());
        assert_eq!(
            groups(&legacy, false, &[true], &[], &t, TeamNameField::Name),
            Ok(Some(vec!["Data Engineers".into(), "Admins".into()]))
        );
        assert_eq!(
            groups(&legacy, false, &[false], &[], &t, TeamNameField::Name),
            Err(Denied::NotInOrgs)
        );
        let all = Access::Anyone {
            load_all_groups: true,
        };
        assert_eq!(
            groups(&all, true, &[], &orgs, &t, TeamNameField::Slug),
            Ok(Some(vec![
                "acme".into(),
                "acme:data-engineers".into(),
                "acme:admins".into(),
                "umbrella".into(),
                "umbrella:research".into()
            ]))
        );
        assert_eq!(
            groups(&all, false, &[], &orgs, &t, TeamNameField::Slug),
            Ok(None)
        );
        let none = Access::Anyone {
            load_all_groups: false,
        };
        assert_eq!(
            groups(&none, true, &[], &orgs, &t, TeamNameField::Slug),
            Ok(None)
        );
    }

    fn email(e: &str, verified: bool, primary: bool) -> Email {
        Email {
            email: e.into(),
            verified,
            primary,
        }
    }

    #[test]
    fn email_choice() {
        let list = vec![
            email("old@corp.example", false, false),
            email("me@users.noreply.github.com", true, false),
            email("me@home.example", true, true),
            email("me@eu.corp.example", true, false),
        ];
        type Row<'a> = (Option<&'a str>, bool, Result<&'a str, NoEmail>);
        let rows: Vec<Row> = vec![
            (None, false, Ok("me@home.example")),
            (Some("eu.corp.example"), false, Ok("me@eu.corp.example")),
            (Some("*.corp.example"), false, Ok("me@eu.corp.example")),
            // `*` stands for one label only.
            (Some("*.github.com"), false, Ok("me@home.example")),
            (
                Some("users.noreply.github.com"),
                false,
                Ok("me@users.noreply.github.com"),
            ),
            // Unverified preferred address: the primary wins.
            (Some("corp.example"), false, Ok("me@home.example")),
            // GitHub Enterprise: every address counts as verified.
            (Some("corp.example"), true, Ok("old@corp.example")),
        ];
        for (preferred, enterprise, want) in rows {
            let got = choose_email(&list, preferred, enterprise);
            assert_eq!(got, want.map(String::from), "{preferred:?} {enterprise}");
        }
        let unverified = vec![email("a@b.example", false, true)];
        assert_eq!(
            choose_email(&unverified, None, false),
            Err(NoEmail::NoVerified)
        );
        assert_eq!(
            choose_email(&unverified, None, true),
            Ok("a@b.example".into())
        );
        let bad = vec![email("no-at-sign", true, true)];
        assert_eq!(
            choose_email(&bad, Some("x.example"), false),
            Err(NoEmail::Malformed)
        );
        assert_eq!(choose_email(&[], None, false), Err(NoEmail::NoVerified));
    }

    #[test]
    fn link_headers() {
        let rows: &[(&str, Option<&str>)] = &[
            (
                r#"<https://api.github.com/user/teams?page=2>; rel="next", <https://api.github.com/user/teams?page=3>; rel="last""#,
                Some("https://api.github.com/user/teams?page=2"),
            ),
            (
                r#"<https://api.github.com/user/teams?page=1>; rel="prev", <https://api.github.com/user/teams?page=1>; rel="first""#,
                None,
            ),
            (
                r#"<https://x/a?page=4>; rel="last", <https://x/a?page=2>; rel=next"#,
                Some("https://x/a?page=2"),
            ),
            ("", None),
            ("garbage", None),
            ("<unterminated; rel=\"next\"", None),
        ];
        for (header, want) in rows {
            assert_eq!(next_link(header).as_deref(), *want, "{header}");
        }
    }
}
