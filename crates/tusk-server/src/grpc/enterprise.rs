//! `enterprise_v2.API` and `license_v2.API`. tusk is its own license
//! server for one cluster: a license is activated with a code signed by the
//! key the operator configures, and enterprise is active while it holds.

use super::{caller, off_or_permitted, status, timestamp};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::enterprise::{EnterpriseStatus, LicenseState};
use tusk_auth::{AuthError, AuthService};
use tusk_core::auth::Permission;
use tusk_proto::enterprise_v2 as epb;
use tusk_proto::license_v2 as lpb;

type R<T> = Result<Response<T>, Status>;

pub struct EnterpriseApi {
    svc: Arc<AuthService>,
}

pub struct LicenseApi {
    svc: Arc<AuthService>,
}

impl EnterpriseApi {
    pub fn new(svc: Arc<AuthService>) -> Self {
        EnterpriseApi { svc }
    }
}

impl LicenseApi {
    pub fn new(svc: Arc<AuthService>) -> Self {
        LicenseApi { svc }
    }
}

fn state_number(s: LicenseState) -> i32 {
    match s {
        LicenseState::None => epb::State::None as i32,
        LicenseState::Active => epb::State::Active as i32,
        LicenseState::Expired => epb::State::Expired as i32,
        LicenseState::HeartbeatFailed => epb::State::HeartbeatFailed as i32,
    }
}

fn info(s: &EnterpriseStatus) -> Option<epb::TokenInfo> {
    s.expires.map(|e| epb::TokenInfo {
        expires: Some(timestamp(e)),
    })
}

fn single_cluster() -> Status {
    status(AuthError::Unsupported(
        "tusk is the license server of its own cluster only; registering other clusters is not supported (activate each tusk with its own code)".into(),
    ))
}

#[tonic::async_trait]
impl tusk_proto::enterprise_v2::api_server::Api for EnterpriseApi {
    async fn activate(&self, req: Request<epb::ActivateRequest>) -> R<epb::ActivateResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_ENTERPRISE_ACTIVATE).await?;
        self.svc.enterprise_activate().await.map_err(status)?;
        Ok(Response::new(epb::ActivateResponse {}))
    }

    async fn get_state(&self, _req: Request<epb::GetStateRequest>) -> R<epb::GetStateResponse> {
        let s = self.svc.enterprise_status().await.map_err(status)?;
        Ok(Response::new(epb::GetStateResponse {
            state: state_number(s.enterprise_state()),
            info: info(&s),
            activation_code: s.unsigned_code(),
        }))
    }

    async fn get_activation_code(
        &self,
        req: Request<epb::GetActivationCodeRequest>,
    ) -> R<epb::GetActivationCodeResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_ENTERPRISE_GET_CODE).await?;
        let s = self.svc.enterprise_status().await.map_err(status)?;
        Ok(Response::new(epb::GetActivationCodeResponse {
            state: state_number(s.enterprise_state()),
            info: info(&s),
            activation_code: s.code.clone(),
        }))
    }

    async fn heartbeat(&self, req: Request<epb::HeartbeatRequest>) -> R<epb::HeartbeatResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_ENTERPRISE_HEARTBEAT).await?;
        self.svc.enterprise_heartbeat().await.map_err(status)?;
        Ok(Response::new(epb::HeartbeatResponse {}))
    }

    async fn deactivate(&self, req: Request<epb::DeactivateRequest>) -> R<epb::DeactivateResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_ENTERPRISE_DEACTIVATE).await?;
        self.svc.enterprise_deactivate().await.map_err(status)?;
        Ok(Response::new(epb::DeactivateResponse {}))
    }

    async fn pause(&self, req: Request<epb::PauseRequest>) -> R<epb::PauseResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_ENTERPRISE_PAUSE).await?;
        Err(status(AuthError::other(
            "this pachd instance is not in a pausable mode",
        )))
    }

    async fn unpause(&self, req: Request<epb::UnpauseRequest>) -> R<epb::UnpauseResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_ENTERPRISE_PAUSE).await?;
        Err(status(AuthError::other(
            "this pachd instance is not in an unpausable mode",
        )))
    }

    async fn pause_status(
        &self,
        req: Request<epb::PauseStatusRequest>,
    ) -> R<epb::PauseStatusResponse> {
        if self.svc.is_active().await.map_err(status)? {
            caller(&self.svc, &req).await?;
        }
        Ok(Response::new(epb::PauseStatusResponse {
            status: epb::pause_status_response::PauseStatus::Unpaused as i32,
        }))
    }
}

#[tonic::async_trait]
impl tusk_proto::license_v2::api_server::Api for LicenseApi {
    async fn activate(&self, req: Request<lpb::ActivateRequest>) -> R<lpb::ActivateResponse> {
        let who = off_or_permitted(&self.svc, &req, Permission::CLUSTER_LICENSE_ACTIVATE).await?;
        let r = req.into_inner();
        let s = self
            .svc
            .license_activate(&r.activation_code, r.expires.map(|e| e.seconds), false)
            .await
            .map_err(status)?;
        self.svc
            .audit(tusk_core::audit::AuditEvent::LicenseChanged {
                actor: who.map(|c| c.subject),
            })
            .await;
        Ok(Response::new(lpb::ActivateResponse { info: info(&s) }))
    }

    async fn get_activation_code(
        &self,
        req: Request<lpb::GetActivationCodeRequest>,
    ) -> R<lpb::GetActivationCodeResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_LICENSE_GET_CODE).await?;
        let s = self.svc.enterprise_status().await.map_err(status)?;
        Ok(Response::new(lpb::GetActivationCodeResponse {
            state: state_number(s.license),
            info: info(&s),
            activation_code: s.code.clone(),
        }))
    }

    async fn delete_all(&self, req: Request<lpb::DeleteAllRequest>) -> R<lpb::DeleteAllResponse> {
        let who = off_or_permitted(&self.svc, &req, Permission::CLUSTER_DELETE_ALL).await?;
        self.svc.license_delete().await.map_err(status)?;
        self.svc
            .audit(tusk_core::audit::AuditEvent::LicenseChanged {
                actor: who.map(|c| c.subject),
            })
            .await;
        Ok(Response::new(lpb::DeleteAllResponse {}))
    }

    async fn add_cluster(
        &self,
        req: Request<lpb::AddClusterRequest>,
    ) -> R<lpb::AddClusterResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_LICENSE_ADD_CLUSTER).await?;
        Err(single_cluster())
    }

    async fn delete_cluster(
        &self,
        req: Request<lpb::DeleteClusterRequest>,
    ) -> R<lpb::DeleteClusterResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_LICENSE_DELETE_CLUSTER).await?;
        Err(single_cluster())
    }

    async fn list_clusters(
        &self,
        req: Request<lpb::ListClustersRequest>,
    ) -> R<lpb::ListClustersResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_LICENSE_LIST_CLUSTERS).await?;
        Ok(Response::new(lpb::ListClustersResponse {
            clusters: Vec::new(),
        }))
    }

    async fn update_cluster(
        &self,
        req: Request<lpb::UpdateClusterRequest>,
    ) -> R<lpb::UpdateClusterResponse> {
        off_or_permitted(&self.svc, &req, Permission::CLUSTER_LICENSE_UPDATE_CLUSTER).await?;
        Err(single_cluster())
    }

    async fn heartbeat(&self, _req: Request<lpb::HeartbeatRequest>) -> R<lpb::HeartbeatResponse> {
        Err(status(AuthError::Unsupported(
            "cluster ID or secret is not valid".into(),
        )))
    }

    async fn list_user_clusters(
        &self,
        req: Request<lpb::ListUserClustersRequest>,
    ) -> R<lpb::ListUserClustersResponse> {
        if self.svc.is_active().await.map_err(status)? {
            caller(&self.svc, &req).await?;
        }
        Ok(Response::new(lpb::ListUserClustersResponse {
            clusters: Vec::new(),
        }))
    }
}
