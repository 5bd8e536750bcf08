//! The `pachd` section's auth bootstrap (with `ACTIVATE_AUTH`,
//! `AUTH_ROOT_TOKEN`, `LICENSE_KEY`, `AUTH_CLUSTER_RBAC`, `AUTH_CONFIG` and
//! `SESSION_DURATION_MINUTES` over it): activation, the root token, the
//! license key, cluster role bindings and the session length.

use super::diag;
use super::loader::Loader;
use super::lookup::Values;
use super::model::{DEFAULT_SESSION_MINUTES, Input};
use super::schema::{self, Kind, check_map, check_value, join};
use super::tables::AUTH_CONFIG_ENV;
use crate::Secret;
use crate::yaml::{Node, Pos, Value};
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) struct Pachd {
    pub(super) activate_auth: bool,
    pub(super) root_token: Option<Secret<String>>,
    pub(super) license_key: Option<Secret<String>>,
    pub(super) cluster_role_bindings: BTreeMap<String, Vec<String>>,
    pub(super) auth_config: Option<serde_json::Value>,
    pub(super) session_duration: Duration,
}

impl Loader<'_> {
    /// `mock_idp`: the chart adds its demo bindings while the mock IdP is on.
    pub(super) fn pachd(
        &mut self,
        input: &Input<'_>,
        v: Values<'_>,
        mock_idp: bool,
        env_start: usize,
        secret_start: usize,
    ) -> Pachd {
        // Auth bootstrap.
        let activate_auth = match input.env.get("ACTIVATE_AUTH") {
            Some(v) => {
                let mut node = Node::new(
                    Value::Str(v.clone()),
                    Pos {
                        source: env_start + 5,
                        line: 0,
                    },
                );
                check_value(&mut self.ctx, &mut node, "", Kind::Bool);
                node.value == Value::Bool(true)
            }
            None => v.bool_at(&["pachd", "activateAuth"], true),
        };
        let root_token = input
            .env
            .get("AUTH_ROOT_TOKEN")
            .cloned()
            .or_else(|| {
                let name = v.str_at(&["pachd", "rootTokenSecretName"])?;
                let pos = v
                    .get(&["pachd", "rootTokenSecretName"])
                    .map_or(Pos::default(), |n| n.pos);
                self.secret(
                    input,
                    secret_start + 2,
                    "pachd.rootTokenSecretName",
                    &name,
                    "root-token",
                    pos,
                )
            })
            .or_else(|| v.str_at(&["pachd", "rootToken"]))
            .map(|t| Secret::new(t.trim().to_owned()));
        let license_key = input
            .env
            .get("LICENSE_KEY")
            .cloned()
            .or_else(|| {
                let name = v.str_at(&["pachd", "enterpriseLicenseKeySecretName"])?;
                let pos = v
                    .get(&["pachd", "enterpriseLicenseKeySecretName"])
                    .map_or(Pos::default(), |n| n.pos);
                self.secret(
                    input,
                    secret_start + 4,
                    "pachd.enterpriseLicenseKeySecretName",
                    &name,
                    "enterprise-license-key",
                    pos,
                )
            })
            .or_else(|| v.str_at(&["pachd", "enterpriseLicenseKey"]))
            .map(|t| Secret::new(t.trim().to_owned()));

        let mut cluster_role_bindings = BTreeMap::new();
        if let Some(mut node) = self.env_node(input, env_start, "AUTH_CLUSTER_RBAC") {
            cluster_role_bindings = self.role_bindings(&mut node, "");
        } else if let Some(node) = v.get(&["pachd", "pachAuthClusterRoleBindings"]) {
            cluster_role_bindings =
                self.role_bindings(&mut node.clone(), "pachd.pachAuthClusterRoleBindings");
        }
        if mock_idp {
            // The chart renders these only while the mock IdP is on (§4).
            cluster_role_bindings
                .entry("user:kilgore@kilgore.trout".to_owned())
                .or_insert_with(|| vec!["clusterAdmin".to_owned()]);
            cluster_role_bindings
                .entry("allClusterUsers".to_owned())
                .or_insert_with(|| vec!["projectCreator".to_owned()]);
        }

        let auth_config = self
            .env_node(input, env_start, "AUTH_CONFIG")
            .and_then(|mut n| {
                check_map(&mut self.ctx, &mut n, "", &AUTH_CONFIG_ENV).then(|| n.to_json())
            });
        let session_duration = match input.env.get("SESSION_DURATION_MINUTES") {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(m) if m > 0 && m <= 10 * 365 * 24 * 60 => Duration::from_secs(m * 60),
                _ => {
                    self.ctx.error(
                        Pos {
                            source: env_start + 12,
                            line: 0,
                        },
                        "",
                        format!("`{}` is not a number of minutes", schema::truncate(v, 40)),
                        Some(format!(
                            "set a whole number such as {DEFAULT_SESSION_MINUTES} (30 days)"
                        )),
                    );
                    Duration::from_secs(DEFAULT_SESSION_MINUTES * 60)
                }
            },
            None => Duration::from_secs(DEFAULT_SESSION_MINUTES * 60),
        };
        Pachd {
            activate_auth,
            root_token,
            license_key,
            cluster_role_bindings,
            auth_config,
            session_duration,
        }
    }

    fn role_bindings(&mut self, node: &mut Node, path: &str) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let Value::Map(entries) = &mut node.value else {
            if node.value != Value::Null {
                self.ctx.error(
                    node.pos,
                    path,
                    format!(
                        "expected a map of principal to roles, found {}",
                        node.kind()
                    ),
                    Some("write entries such as `user:alice@example.com: [clusterAdmin]`".into()),
                );
            }
            return out;
        };
        for (key, value) in entries.iter_mut() {
            let key_path = join(path, &key.name);
            if let Err(why) = crate::auth::check_subject(&key.name) {
                self.ctx.error(key.pos, &key_path, why, Some("write principals as `user:<email>`, `group:<name>`, `robot:<name>` or `allClusterUsers`".into()));
            }
            check_value(&mut self.ctx, value, &key_path, Kind::StrList);
            let mut roles = Vec::new();
            if let Value::Seq(items) = &value.value {
                for item in items {
                    if let Value::Str(role) = &item.value {
                        if crate::auth::ROLES.contains(&role.as_str()) {
                            roles.push(role.clone());
                        } else {
                            let hint = diag::suggest(role, crate::auth::ROLES.iter().copied());
                            self.ctx.error(
                                item.pos,
                                &key_path,
                                format!("unknown role \"{role}\""),
                                Some(match hint {
                                    Some(h) => format!("did you mean `{h}`?"),
                                    None => format!("roles are: {}", crate::auth::ROLES.join(", ")),
                                }),
                            );
                        }
                    }
                }
            }
            out.insert(key.name.clone(), roles);
        }
        out
    }
}
