//! `auth_v2.API`: all 25 RPCs, with the reference's access levels
//! (docs/wire-api.md §3).

use super::{caller, code, permitted, status, timestamp, token};
use std::collections::HashMap;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::{AuthError, AuthService, OidcConfig, TokenInfo};
use tusk_core::Secret;
use tusk_core::audit::AuditEvent;
use tusk_core::auth::{Permission, Resource, ResourceType};
use tusk_proto::auth_v2 as pb;
use tusk_proto::auth_v2::api_server::Api;

pub struct AuthApi {
    svc: Arc<AuthService>,
}

impl AuthApi {
    pub fn new(svc: Arc<AuthService>) -> AuthApi {
        AuthApi { svc }
    }
}

type R<T> = Result<Response<T>, Status>;

fn resource(r: Option<pb::Resource>) -> Result<Resource, Status> {
    let r = r.unwrap_or_default();
    let kind = ResourceType::from_i32(r.r#type).ok_or_else(|| {
        status(AuthError::Other(format!(
            "unknown resource type {}",
            r.r#type
        )))
    })?;
    Ok(Resource { kind, name: r.name })
}

fn perms(list: &[Permission]) -> Vec<i32> {
    list.iter().map(|p| p.0).collect()
}

fn role(r: &tusk_core::auth::Role) -> pb::Role {
    pb::Role {
        name: r.name.to_owned(),
        permissions: perms(&r.permissions),
        can_be_bound_to: r.can_be_bound_to.iter().map(|t| *t as i32).collect(),
        returned_for: r.returned_for.iter().map(|t| *t as i32).collect(),
    }
}

fn binding(entries: tusk_core::auth::Binding) -> pb::RoleBinding {
    pb::RoleBinding {
        entries: entries
            .into_iter()
            .map(|(principal, roles)| {
                (
                    principal,
                    pb::Roles {
                        roles: roles
                            .into_iter()
                            .map(|r| (r, true))
                            .collect::<HashMap<_, _>>(),
                    },
                )
            })
            .collect(),
    }
}

fn prefixed(prefix: &'static str) -> impl Fn(AuthError) -> Status {
    move |e| match e {
        AuthError::Other(m) => status(AuthError::Other(format!("{prefix}{m}"))),
        // The code `status` maps it to, but the reference's text with the
        // RPC's prefix inside, which clients match on.
        AuthError::NoRoleBinding { kind, name } => {
            let text = format!(
                "{prefix}{} {kind} {name}",
                tusk_core::wire_text::NO_ROLE_BINDING
            );
            Status::new(code(&AuthError::NoRoleBinding { kind, name }), text)
        }
        other => status(other),
    }
}

#[tonic::async_trait]
impl Api for AuthApi {
    async fn activate(&self, req: Request<pb::ActivateRequest>) -> R<pb::ActivateResponse> {
        let root = req.into_inner().root_token;
        let pach_token = self.svc.activate(Some(&root)).await.map_err(status)?;
        Ok(Response::new(pb::ActivateResponse { pach_token }))
    }

    async fn deactivate(&self, req: Request<pb::DeactivateRequest>) -> R<pb::DeactivateResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_AUTH_DEACTIVATE).await?;
        self.svc.deactivate().await.map_err(status)?;
        self.svc
            .audit(AuditEvent::Deactivated { actor: who.subject })
            .await;
        Ok(Response::new(pb::DeactivateResponse {}))
    }

    async fn get_configuration(
        &self,
        req: Request<pb::GetConfigurationRequest>,
    ) -> R<pb::GetConfigurationResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_AUTH_GET_CONFIG).await?;
        let c = self.svc.get_config().await.map_err(status)?;
        Ok(Response::new(pb::GetConfigurationResponse {
            configuration: Some(pb::OidcConfig {
                issuer: c.issuer,
                client_id: c.client_id,
                client_secret: c.client_secret.expose().clone(),
                redirect_uri: c.redirect_uri,
                scopes: c.scopes,
                require_email_verified: c.require_email_verified,
                localhost_issuer: c.localhost_issuer,
                user_accessible_issuer_host: c.user_accessible_issuer_host,
            }),
        }))
    }

    async fn set_configuration(
        &self,
        req: Request<pb::SetConfigurationRequest>,
    ) -> R<pb::SetConfigurationResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_AUTH_SET_CONFIG).await?;
        let c = req.into_inner().configuration.unwrap_or_default();
        let config = OidcConfig {
            issuer: c.issuer,
            client_id: c.client_id,
            client_secret: Secret::new(c.client_secret),
            redirect_uri: c.redirect_uri,
            scopes: c.scopes,
            require_email_verified: c.require_email_verified,
            localhost_issuer: c.localhost_issuer,
            user_accessible_issuer_host: c.user_accessible_issuer_host,
        };
        self.svc.set_config(&config).await.map_err(status)?;
        self.svc
            .audit(AuditEvent::SettingsChanged {
                actor: who.subject,
                settings: "auth".into(),
            })
            .await;
        Ok(Response::new(pb::SetConfigurationResponse {}))
    }

    async fn authenticate(
        &self,
        req: Request<pb::AuthenticateRequest>,
    ) -> R<pb::AuthenticateResponse> {
        let r = req.into_inner();
        let pach_token = self
            .svc
            .authenticate_login(&r.oidc_state, &r.id_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::AuthenticateResponse { pach_token }))
    }

    async fn authorize(&self, req: Request<pb::AuthorizeRequest>) -> R<pb::AuthorizeResponse> {
        let c = caller(&self.svc, &req).await?;
        let r = req.into_inner();
        let resource = resource(r.resource)?;
        // There are fewer than 100 permissions; a longer list is a mistake
        // or an attempt to make evaluation expensive.
        if r.permissions.len() > 1024 {
            return Err(status(AuthError::InvalidArgument(format!(
                "{} permissions requested; ask for at most 1024 (Pachyderm has fewer than 100)",
                r.permissions.len()
            ))));
        }
        let wanted: Vec<Permission> = r.permissions.iter().map(|p| Permission(*p)).collect();
        // Nothing asked, nothing to check: the reference stops before
        // reading any binding (an empty list means "all" only to
        // GetPermissions).
        if wanted.is_empty() {
            return Ok(Response::new(pb::AuthorizeResponse {
                authorized: true,
                satisfied: Vec::new(),
                missing: Vec::new(),
                principal: c.subject,
            }));
        }
        let e = self
            .svc
            .evaluate(&c.subject, &resource, &wanted)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::AuthorizeResponse {
            authorized: e.authorized(),
            satisfied: perms(&e.satisfied),
            missing: perms(&e.missing),
            principal: c.subject,
        }))
    }

    async fn get_permissions(
        &self,
        req: Request<pb::GetPermissionsRequest>,
    ) -> R<pb::GetPermissionsResponse> {
        let c = caller(&self.svc, &req).await?;
        let resource = resource(req.into_inner().resource)?;
        let (permissions, roles) = self
            .svc
            .permissions(&c.subject, &resource)
            .await
            .map_err(prefixed("cannot get permissions for principal: "))?;
        Ok(Response::new(pb::GetPermissionsResponse {
            permissions: perms(&permissions),
            roles,
        }))
    }

    async fn get_permissions_for_principal(
        &self,
        req: Request<pb::GetPermissionsForPrincipalRequest>,
    ) -> R<pb::GetPermissionsResponse> {
        permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_AUTH_GET_PERMISSIONS_FOR_PRINCIPAL,
        )
        .await?;
        let r = req.into_inner();
        let resource = resource(r.resource)?;
        tusk_core::auth::check_subject(&r.principal).map_err(|m| status(AuthError::Other(m)))?;
        let (permissions, roles) = self
            .svc
            .permissions(&r.principal, &resource)
            .await
            .map_err(prefixed("cannot evaluate role binding: "))?;
        Ok(Response::new(pb::GetPermissionsResponse {
            permissions: perms(&permissions),
            roles,
        }))
    }

    async fn who_am_i(&self, req: Request<pb::WhoAmIRequest>) -> R<pb::WhoAmIResponse> {
        let c = caller(&self.svc, &req).await?;
        Ok(Response::new(pb::WhoAmIResponse {
            username: c.subject,
            expiration: c.expires_at.map(timestamp),
        }))
    }

    async fn get_roles_for_permission(
        &self,
        req: Request<pb::GetRolesForPermissionRequest>,
    ) -> R<pb::GetRolesForPermissionResponse> {
        caller(&self.svc, &req).await?;
        let p = Permission(req.into_inner().permission);
        let roles = AuthService::roles_for_permission(p)
            .into_iter()
            .map(role)
            .collect();
        Ok(Response::new(pb::GetRolesForPermissionResponse { roles }))
    }

    async fn modify_role_binding(
        &self,
        req: Request<pb::ModifyRoleBindingRequest>,
    ) -> R<pb::ModifyRoleBindingResponse> {
        let c = caller(&self.svc, &req).await?;
        let r = req.into_inner();
        let resource = resource(r.resource)?;
        self.svc
            .modify_role_binding(&c, &resource, &r.principal, &r.roles)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ModifyRoleBindingResponse {}))
    }

    async fn get_role_binding(
        &self,
        req: Request<pb::GetRoleBindingRequest>,
    ) -> R<pb::GetRoleBindingResponse> {
        caller(&self.svc, &req).await?;
        let resource = resource(req.into_inner().resource)?;
        let entries = self.svc.get_role_binding(&resource).await.map_err(status)?;
        Ok(Response::new(pb::GetRoleBindingResponse {
            binding: Some(binding(entries)),
        }))
    }

    async fn get_oidc_login(
        &self,
        _req: Request<pb::GetOidcLoginRequest>,
    ) -> R<pb::GetOidcLoginResponse> {
        let (login_url, state) = self.svc.oidc_login().await.map_err(status)?;
        Ok(Response::new(pb::GetOidcLoginResponse { login_url, state }))
    }

    async fn get_robot_token(
        &self,
        req: Request<pb::GetRobotTokenRequest>,
    ) -> R<pb::GetRobotTokenResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_AUTH_GET_ROBOT_TOKEN).await?;
        let r = req.into_inner();
        let token = self
            .svc
            .get_robot_token(&r.robot, r.ttl)
            .await
            .map_err(status)?;
        let robot = r.robot.strip_prefix("robot:").unwrap_or(&r.robot);
        self.svc
            .audit(AuditEvent::TokenMinted {
                actor: Some(who.subject),
                subject: format!("robot:{robot}"),
                kind: "robot".into(),
                client: None,
            })
            .await;
        Ok(Response::new(pb::GetRobotTokenResponse { token }))
    }

    async fn revoke_auth_token(
        &self,
        req: Request<pb::RevokeAuthTokenRequest>,
    ) -> R<pb::RevokeAuthTokenResponse> {
        caller(&self.svc, &req).await?;
        let number = self
            .svc
            .revoke_token(&req.into_inner().token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RevokeAuthTokenResponse { number }))
    }

    async fn revoke_auth_tokens_for_user(
        &self,
        req: Request<pb::RevokeAuthTokensForUserRequest>,
    ) -> R<pb::RevokeAuthTokensForUserResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_AUTH_REVOKE_USER_TOKENS).await?;
        let username = req.into_inner().username;
        let number = self
            .svc
            .revoke_tokens_for_user(&username)
            .await
            .map_err(status)?;
        self.svc
            .audit(AuditEvent::TokenRevoked {
                actor: Some(who.subject),
                subject: Some(username),
                count: number,
            })
            .await;
        Ok(Response::new(pb::RevokeAuthTokensForUserResponse {
            number,
        }))
    }

    async fn set_groups_for_user(
        &self,
        req: Request<pb::SetGroupsForUserRequest>,
    ) -> R<pb::SetGroupsForUserResponse> {
        permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_AUTH_MODIFY_GROUP_MEMBERS,
        )
        .await?;
        let r = req.into_inner();
        self.svc
            .set_groups_for_user(&r.username, &r.groups)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::SetGroupsForUserResponse {}))
    }

    async fn modify_members(
        &self,
        req: Request<pb::ModifyMembersRequest>,
    ) -> R<pb::ModifyMembersResponse> {
        permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_AUTH_MODIFY_GROUP_MEMBERS,
        )
        .await?;
        let r = req.into_inner();
        self.svc
            .modify_members(&r.group, &r.add, &r.remove)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ModifyMembersResponse {}))
    }

    async fn get_groups(&self, req: Request<pb::GetGroupsRequest>) -> R<pb::GetGroupsResponse> {
        let c = caller(&self.svc, &req).await?;
        let groups = self.svc.groups_of(&c.subject).await.map_err(status)?;
        Ok(Response::new(pb::GetGroupsResponse { groups }))
    }

    async fn get_groups_for_principal(
        &self,
        req: Request<pb::GetGroupsForPrincipalRequest>,
    ) -> R<pb::GetGroupsResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_AUTH_GET_GROUPS).await?;
        let groups = self
            .svc
            .groups_of(&req.into_inner().principal)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetGroupsResponse { groups }))
    }

    async fn get_users(&self, req: Request<pb::GetUsersRequest>) -> R<pb::GetUsersResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_AUTH_GET_GROUP_USERS).await?;
        let usernames = self
            .svc
            .users_in(&req.into_inner().group)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetUsersResponse { usernames }))
    }

    async fn extract_auth_tokens(
        &self,
        req: Request<pb::ExtractAuthTokensRequest>,
    ) -> R<pb::ExtractAuthTokensResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_AUTH_EXTRACT_TOKENS).await?;
        let tokens = self
            .svc
            .extract_tokens()
            .await
            .map_err(status)?
            .into_iter()
            .map(|t| pb::TokenInfo {
                subject: t.subject,
                expiration: t.expires_at.map(timestamp),
                hashed_token: t.hashed_token,
            })
            .collect();
        Ok(Response::new(pb::ExtractAuthTokensResponse { tokens }))
    }

    async fn restore_auth_token(
        &self,
        req: Request<pb::RestoreAuthTokenRequest>,
    ) -> R<pb::RestoreAuthTokenResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_AUTH_RESTORE_TOKEN).await?;
        let t = req.into_inner().token.unwrap_or_default();
        let info = TokenInfo {
            subject: t.subject,
            expires_at: t.expiration.map(|e| e.seconds),
            hashed_token: t.hashed_token,
        };
        self.svc.restore_token(&info).await.map_err(status)?;
        Ok(Response::new(pb::RestoreAuthTokenResponse {}))
    }

    async fn delete_expired_auth_tokens(
        &self,
        req: Request<pb::DeleteExpiredAuthTokensRequest>,
    ) -> R<pb::DeleteExpiredAuthTokensResponse> {
        permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_AUTH_DELETE_EXPIRED_TOKENS,
        )
        .await?;
        self.svc.delete_expired_tokens().await.map_err(status)?;
        Ok(Response::new(pb::DeleteExpiredAuthTokensResponse {}))
    }

    async fn rotate_root_token(
        &self,
        req: Request<pb::RotateRootTokenRequest>,
    ) -> R<pb::RotateRootTokenResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_AUTH_ROTATE_ROOT_TOKEN).await?;
        let wanted = req.into_inner().root_token;
        let root_token = self
            .svc
            .rotate_root_token(Some(&wanted))
            .await
            .map_err(status)?;
        self.svc
            .audit(AuditEvent::RootTokenRotated { actor: who.subject })
            .await;
        Ok(Response::new(pb::RotateRootTokenResponse { root_token }))
    }
}

/// Used by tests and the resources API: the caller's token, if any.
pub fn request_token<T>(req: &Request<T>) -> Option<String> {
    token(req).ok().flatten()
}
