//! `tusk.resources.v1.Resources`: what PFS does to role bindings when it
//! creates or deletes a project or repo, for a platform that runs tusk
//! without PFS. The permission checks are PFS's.

use super::{caller, status};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::{AuthError, AuthService};
use tusk_core::auth::{Permission, Resource, ResourceType, not_authorized};
use tusk_proto::tusk::resources::v1 as pb;

pub struct ResourcesApi {
    svc: Arc<AuthService>,
}

impl ResourcesApi {
    pub fn new(svc: Arc<AuthService>) -> Self {
        ResourcesApi { svc }
    }

    async fn require(
        &self,
        subject: &str,
        on: &Resource,
        permission: Permission,
    ) -> Result<(), Status> {
        let e = self
            .svc
            .evaluate(subject, on, &[permission])
            .await
            .map_err(status)?;
        if e.authorized() {
            Ok(())
        } else {
            Err(status(AuthError::NotAuthorized(not_authorized(
                subject, &e.missing, on,
            ))))
        }
    }
}

impl ResourcesApi {
    /// One `role_binding_changed` per principal of a binding that was
    /// created (roles granted) or deleted with its resource (roles lost).
    async fn binding_changed(
        &self,
        actor: &str,
        on: &Resource,
        binding: tusk_core::auth::Binding,
        created: bool,
    ) {
        for (principal, roles) in binding {
            let roles: Vec<String> = roles.into_iter().collect();
            let (before, after) = if created {
                (Vec::new(), roles)
            } else {
                (roles, Vec::new())
            };
            let event = tusk_core::audit::AuditEvent::RoleBindingChanged {
                actor: actor.to_owned(),
                resource: on.binding_key(),
                principal,
                before,
                after,
            };
            self.svc.audit(event).await;
        }
    }
}

fn resource(r: Option<tusk_proto::auth_v2::Resource>) -> Result<Resource, Status> {
    let r = r.unwrap_or_default();
    let kind = ResourceType::from_i32(r.r#type).unwrap_or(ResourceType::Unknown);
    match kind {
        ResourceType::Project | ResourceType::Repo if Resource::is_valid_name(kind, &r.name) => {}
        ResourceType::Project | ResourceType::Repo => {
            return Err(status(AuthError::InvalidArgument(format!(
                "resource name {:?} is not valid: a project is `name`, a repo is `project/name`, without spaces",
                r.name
            ))));
        }
        other => {
            return Err(status(AuthError::InvalidArgument(format!(
                "unknown resource type {}: only PROJECT and REPO can be registered",
                other.name()
            ))));
        }
    }
    Ok(Resource { kind, name: r.name })
}

fn project_of(r: &Resource) -> Resource {
    Resource {
        kind: ResourceType::Project,
        name: r.project().unwrap_or_default().to_owned(),
    }
}

#[tonic::async_trait]
impl pb::resources_server::Resources for ResourcesApi {
    async fn create_resource(
        &self,
        req: Request<pb::CreateResourceRequest>,
    ) -> Result<Response<pb::CreateResourceResponse>, Status> {
        let c = caller(&self.svc, &req).await?;
        let r = req.into_inner();
        let res = resource(r.resource)?;
        match res.kind {
            ResourceType::Project => {
                self.require(&c.subject, &Resource::cluster(), Permission::PROJECT_CREATE)
                    .await?
            }
            _ => {
                self.require(
                    &c.subject,
                    &project_of(&res),
                    Permission::PROJECT_CREATE_REPO,
                )
                .await?
            }
        }
        let owner = if r.owner.is_empty() {
            c.subject.clone()
        } else {
            // Naming another owner is an admin act.
            self.require(
                &c.subject,
                &Resource::cluster(),
                Permission::CLUSTER_MODIFY_BINDINGS,
            )
            .await?;
            tusk_core::auth::check_subject(&r.owner).map_err(|m| status(AuthError::Other(m)))?;
            r.owner
        };
        self.svc
            .create_resource_binding(&res, Some(&owner))
            .await
            .map_err(status)?;
        // Read back: the binding holds what was actually granted.
        let granted = self.svc.get_role_binding(&res).await.map_err(status)?;
        self.binding_changed(&c.subject, &res, granted, true).await;
        Ok(Response::new(pb::CreateResourceResponse {}))
    }

    async fn delete_resource(
        &self,
        req: Request<pb::DeleteResourceRequest>,
    ) -> Result<Response<pb::DeleteResourceResponse>, Status> {
        let c = caller(&self.svc, &req).await?;
        let res = resource(req.into_inner().resource)?;
        let needed = if res.kind == ResourceType::Project {
            Permission::PROJECT_DELETE
        } else {
            Permission::REPO_DELETE
        };
        self.require(&c.subject, &res, needed).await?;
        let held = self.svc.get_role_binding(&res).await.map_err(status)?;
        self.svc
            .delete_resource_binding(&res)
            .await
            .map_err(status)?;
        self.binding_changed(&c.subject, &res, held, false).await;
        Ok(Response::new(pb::DeleteResourceResponse {}))
    }
}
