//! Role bindings: reading, modifying, per-resource creation and
//! deletion, the permissions a subject holds, and the cluster binding's
//! reconciliation with configuration.

use crate::error::AuthError;
use crate::service::{AuthService, Caller};
use std::collections::{BTreeMap, BTreeSet};
use tusk_core::audit::AuditEvent;
use tusk_core::auth::{self, Binding, Permission, Resource, ResourceType};
use tusk_store::RoleBinding;

impl AuthService {
    pub async fn get_role_binding(&self, resource: &Resource) -> Result<Binding, AuthError> {
        match self.store.get::<RoleBinding>(&resource.binding_key()).await {
            Ok(b) => Ok(b.entries),
            Err(tusk_store::Error::NotFound { .. }) => Ok(Binding::new()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn modify_role_binding(
        &self,
        caller: &Caller,
        resource: &Resource,
        principal: &str,
        roles: &[String],
    ) -> Result<(), AuthError> {
        self.require_active().await?;
        auth::check_subject(principal).map_err(AuthError::Other)?;
        resource.check_name().map_err(AuthError::Other)?;
        if principal.starts_with("pach:") && resource.kind == ResourceType::Cluster {
            return Err(AuthError::other(
                "cannot modify cluster role bindings for pach: users",
            ));
        }
        let needed = match resource.kind {
            ResourceType::Cluster => Permission::CLUSTER_MODIFY_BINDINGS,
            ResourceType::Project => Permission::PROJECT_MODIFY_BINDINGS,
            ResourceType::Repo => Permission::REPO_MODIFY_BINDINGS,
            other => {
                return Err(AuthError::Other(format!(
                    "unknown resource type {}",
                    other.name()
                )));
            }
        };
        let e = self.evaluate(&caller.subject, resource, &[needed]).await?;
        if !e.authorized() {
            return Err(AuthError::NotAuthorized(auth::not_authorized(
                &caller.subject,
                &e.missing,
                resource,
            )));
        }
        let mut wanted = BTreeSet::new();
        for r in roles {
            let Some(role) = auth::role(r) else {
                return Err(AuthError::Other(format!("unknown role {r:?}")));
            };
            auth::check_role_applies(role, resource).map_err(AuthError::Other)?;
            wanted.insert(r.clone());
        }
        let key = resource.binding_key();
        let mut before = BTreeSet::new();
        let result = self
            .store
            .update::<RoleBinding, _>(&key, |b| {
                // Runs again on a lost race; the last run saw what was replaced.
                before = b.entries.get(principal).cloned().unwrap_or_default();
                if wanted.is_empty() {
                    b.entries.remove(principal);
                } else {
                    b.entries.insert(principal.to_owned(), wanted.clone());
                }
                Ok(())
            })
            .await;
        match result {
            Ok(_) => {}
            Err(tusk_store::Error::NotFound { .. }) => {
                return Err(AuthError::NoRoleBinding {
                    kind: resource.kind.name().to_owned(),
                    name: resource.name.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.binding_written(&key).await;
        self.audit(AuditEvent::RoleBindingChanged {
            actor: caller.subject.clone(),
            resource: key,
            principal: principal.to_owned(),
            before: before.into_iter().collect(),
            after: wanted.into_iter().collect(),
        })
        .await;
        Ok(())
    }

    /// Creates a resource's binding, as PFS does when it creates a project
    /// or repo (the creator becomes its owner). For `tusk.resources.v1`.
    pub async fn create_resource_binding(
        &self,
        resource: &Resource,
        owner: Option<&str>,
    ) -> Result<(), AuthError> {
        let role = match resource.kind {
            ResourceType::Project => "projectOwner",
            ResourceType::Repo => "repoOwner",
            other => {
                return Err(AuthError::Other(format!(
                    "unknown resource type {}",
                    other.name()
                )));
            }
        };
        if resource.kind == ResourceType::Project {
            self.clear_orphaned_repos(resource).await?;
        }
        let mut entries = Binding::new();
        if let Some(owner) =
            owner.filter(|o| !o.starts_with("pach:") && !o.starts_with("internal:"))
        {
            entries.insert(owner.to_owned(), BTreeSet::from([role.to_owned()]));
        }
        let record = RoleBinding {
            id: resource.binding_key(),
            entries,
        };
        match self.store.create(&record).await {
            Ok(()) => {}
            Err(tusk_store::Error::AlreadyExists { .. }) => {
                return Err(AuthError::Other(format!(
                    "{} {} already exists",
                    resource.kind.name(),
                    resource.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.binding_written(&record.id).await;
        Ok(())
    }

    /// Repo bindings under a project that has no binding are orphans (a
    /// project deleted before deletes took its repos along): no repo can
    /// be registered under a missing project, so they are cleared before
    /// the project is created again, and the new project starts empty.
    async fn clear_orphaned_repos(&self, project: &Resource) -> Result<(), AuthError> {
        let key = project.binding_key();
        match self.store.get::<RoleBinding>(&key).await {
            Ok(_) => return Ok(()),
            Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let repos = Resource {
            kind: ResourceType::Repo,
            name: format!("{}/", project.name),
        };
        // Only the repos go: the prefix doubles as the exact id, which no
        // record has (a repo name is never empty), so a project binding a
        // concurrent creator just wrote is never touched.
        let prefix = repos.binding_key();
        let n = self
            .store
            .delete_with_prefix::<RoleBinding>(&prefix, &prefix)
            .await?;
        if n > 0 {
            tracing::warn!(project = %project.name, bindings = n, "removed orphaned repo role bindings before creating the project");
            self.changed(<RoleBinding as tusk_store::Record>::KIND, None);
        }
        Ok(())
    }

    /// Deletes a resource's binding. A project takes its repos' bindings
    /// with it in the same store step, so a project re-created under the
    /// old name cannot inherit grants on repos of the same names.
    pub async fn delete_resource_binding(&self, resource: &Resource) -> Result<(), AuthError> {
        let key = resource.binding_key();
        let deleted = if resource.kind == ResourceType::Project {
            let repos = Resource {
                kind: ResourceType::Repo,
                name: format!("{}/", resource.name),
            };
            self.store
                .delete_with_prefix::<RoleBinding>(&key, &repos.binding_key())
                .await?
        } else {
            match self.store.delete::<RoleBinding>(&key).await {
                Ok(()) => 1,
                Err(tusk_store::Error::NotFound { .. }) => 0,
                Err(e) => return Err(e.into()),
            }
        };
        if deleted == 0 {
            return Err(AuthError::NoRoleBinding {
                kind: resource.kind.name().to_owned(),
                name: resource.name.clone(),
            });
        }
        self.changed(<RoleBinding as tusk_store::Record>::KIND, None);
        Ok(())
    }

    /// Roles, for GetRolesForPermission.
    pub fn roles_for_permission(p: Permission) -> Vec<&'static auth::Role> {
        auth::roles_for_permission(p)
    }

    /// GetPermissions*: every permission, then the roles returned for the
    /// resource's type (sorted) and their concatenated permissions.
    pub async fn permissions(
        &self,
        subject: &str,
        resource: &Resource,
    ) -> Result<(Vec<Permission>, Vec<String>), AuthError> {
        let e = self.evaluate(subject, resource, &[]).await?;
        let kind = if resource.kind == ResourceType::SpecRepo {
            ResourceType::Repo
        } else {
            resource.kind
        };
        let mut roles: Vec<&auth::Role> = e
            .roles
            .iter()
            .filter(|r| r.returned_for.contains(&kind))
            .collect();
        roles.sort_by_key(|r| r.name);
        let permissions = roles
            .iter()
            .flat_map(|r| r.permissions.iter().copied())
            .collect();
        Ok((
            permissions,
            roles.iter().map(|r| r.name.to_owned()).collect(),
        ))
    }

    /// Reconciles the cluster binding with `AUTH_CLUSTER_RBAC` (auth-model
    /// §6): every principal not listed is removed, except `pach:` and
    /// `internal:` ones; each listed one is set. Removals are logged.
    pub async fn reconcile_cluster_bindings(
        &self,
        wanted: &BTreeMap<String, Vec<String>>,
    ) -> Result<(), AuthError> {
        let updated = self
            .store
            .update::<RoleBinding, _>("CLUSTER:", |b| {
                let keep = |p: &str| {
                    p.starts_with("pach:") || p.starts_with("internal:") || wanted.contains_key(p)
                };
                b.entries.retain(|p, _| keep(p));
                for (p, roles) in wanted {
                    b.entries.insert(p.clone(), roles.iter().cloned().collect());
                }
                Ok(())
            })
            .await;
        match updated {
            Ok(_) => {}
            Err(tusk_store::Error::NotFound { .. }) => return Err(AuthError::NotActivated),
            Err(e) => return Err(e.into()),
        }
        self.binding_written("CLUSTER:").await;
        Ok(())
    }
}
