//! `tusk.sessions.v1.Sessions`: users' browser sessions at the provider,
//! listed and revoked by cluster administrators.

use super::{admin, status, timestamp, token};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::{AuthError, AuthService};
use tusk_proto::tusk::sessions::v1 as pb;

pub struct SessionsApi {
    svc: Arc<AuthService>,
}

impl SessionsApi {
    pub fn new(svc: Arc<AuthService>) -> Self {
        SessionsApi { svc }
    }

    async fn admin_for<T>(&self, req: &Request<T>) -> Result<tusk_auth::Caller, Status> {
        let presented = token(req).map_err(status)?;
        admin(&self.svc, presented.as_deref()).await.map_err(status)
    }
}

fn user_of(user: &str) -> Result<&str, Status> {
    if user.is_empty() {
        return Err(status(AuthError::InvalidArgument(
            "name the user whose sessions to use, as user:<email>".into(),
        )));
    }
    Ok(user)
}

#[tonic::async_trait]
impl pb::sessions_server::Sessions for SessionsApi {
    async fn list(
        &self,
        req: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        self.admin_for(&req).await?;
        let r = req.into_inner();
        let sessions = self
            .svc
            .list_sessions(user_of(&r.user)?)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListResponse {
            sessions: sessions
                .into_iter()
                .map(|s| pb::Session {
                    id: s.id,
                    user: s.user,
                    connector_id: s.connector_id,
                    created: Some(timestamp(s.created_at)),
                    last_seen: Some(timestamp(s.last_seen)),
                    expires: Some(timestamp(s.expires_at)),
                    clients: s.clients,
                })
                .collect(),
        }))
    }

    async fn revoke(
        &self,
        req: Request<pb::RevokeRequest>,
    ) -> Result<Response<pb::RevokeResponse>, Status> {
        let who = self.admin_for(&req).await?;
        let r = req.into_inner();
        let id = (!r.id.is_empty()).then_some(r.id.as_str());
        let revoked = self
            .svc
            .revoke_sessions(user_of(&r.user)?, id)
            .await
            .map_err(status)?;
        self.svc
            .audit(tusk_core::audit::AuditEvent::TokenRevoked {
                actor: Some(who.subject),
                subject: Some(r.user.clone()),
                count: i64::try_from(revoked).unwrap_or(i64::MAX),
            })
            .await;
        Ok(Response::new(pb::RevokeResponse { revoked }))
    }
}
