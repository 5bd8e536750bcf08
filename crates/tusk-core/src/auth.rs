//! Pachyderm's auth vocabulary: subjects and role names.
//!
//! Only what configuration validation needs lives here for now; the
//! evaluation rules join it with the auth plane.

/// The 18 role names of the reference (auth-model.md §4), in its order.
pub const ROLES: &[&str] = &[
    "repoReader",
    "repoWriter",
    "repoOwner",
    "projectViewer",
    "projectWriter",
    "projectOwner",
    "projectCreator",
    "oidcAppAdmin",
    "idpAdmin",
    "identityAdmin",
    "debugger",
    "lokiLogReader",
    "pachdLogReader",
    "robotUser",
    "licenseAdmin",
    "secretAdmin",
    "jobAdmin",
    "clusterAdmin",
];

pub const ALL_CLUSTER_USERS: &str = "allClusterUsers";

const PREFIXES: &[&str] = &["pipeline", "internal", "robot", "pach", "user", "group"];

/// Checks a subject the way the reference does, with its byte-exact error
/// texts (clients match on them), plus tusk's refusal of an empty name.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject == ALL_CLUSTER_USERS {
        return Ok(());
    }
    let Some((prefix, name)) = subject.split_once(':') else {
        return Err("subject has no prefix, must be of the form <type>:<name>".into());
    };
    if !PREFIXES.contains(&prefix) {
        return Err(format!("subject has unrecognized prefix: {prefix}:"));
    }
    if name.is_empty() {
        return Err(format!(
            "subject `{subject}` has an empty name after the prefix"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let cases = [
            ("allClusterUsers", Ok(())),
            ("user:kilgore@kilgore.trout", Ok(())),
            ("robot:ci", Ok(())),
            ("pach:root", Ok(())),
            (
                "kilgore",
                Err("subject has no prefix, must be of the form <type>:<name>".to_string()),
            ),
            (
                "bogus:x",
                Err("subject has unrecognized prefix: bogus:".to_string()),
            ),
            (
                "user:",
                Err("subject `user:` has an empty name after the prefix".to_string()),
            ),
        ];
        for (subject, want) in cases {
            assert_eq!(check_subject(subject), want, "{subject}");
        }
    }
}
