//! `tusk.consent.v1.Consent`: the consent grants users gave OIDC clients,
//! listed and revoked by cluster administrators only. The grants are
//! tusk-oidc's records; this maps them to the wire.

use super::{admin, status, timestamp, token};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::AuthService;
use tusk_core::audit::{AuditEvent, ConsentChange};
use tusk_proto::tusk::consent::v1 as pb;

pub struct ConsentApi {
    svc: Arc<AuthService>,
}

impl ConsentApi {
    pub fn new(svc: Arc<AuthService>) -> Self {
        ConsentApi { svc }
    }

    async fn admin<T>(&self, req: &Request<T>) -> Result<tusk_auth::Caller, Status> {
        let presented = token(req).map_err(status)?;
        admin(&self.svc, presented.as_deref()).await.map_err(status)
    }
}

/// The subject must be named: an empty one would list or revoke nothing
/// and look like success.
fn subject(s: &str) -> Result<&str, Status> {
    if s.trim().is_empty() {
        return Err(Status::invalid_argument(
            "the request names no user; send subject as user:<email>",
        ));
    }
    Ok(s)
}

#[tonic::async_trait]
impl pb::consent_server::Consent for ConsentApi {
    async fn list(
        &self,
        req: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        self.admin(&req).await?;
        let r = req.into_inner();
        let grants = tusk_oidc::consent::grants_of(self.svc.store(), subject(&r.subject)?)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::ListResponse {
            grants: grants
                .into_iter()
                .map(|g| pb::Grant {
                    subject: g.subject,
                    client_id: g.client_id,
                    scopes: g.scopes,
                    granted_at: Some(timestamp(g.granted_at)),
                })
                .collect(),
        }))
    }

    async fn revoke(
        &self,
        req: Request<pb::RevokeRequest>,
    ) -> Result<Response<pb::RevokeResponse>, Status> {
        let who = self.admin(&req).await?;
        let r = req.into_inner();
        let client = (!r.client_id.is_empty()).then_some(r.client_id.as_str());
        let revoked =
            tusk_oidc::consent::revoke_grants(self.svc.store(), subject(&r.subject)?, client)
                .await
                .map_err(|e| status(e.into()))?;
        if revoked > 0 {
            self.svc
                .audit(AuditEvent::ConsentChanged {
                    actor: Some(who.subject),
                    subject: r.subject.clone(),
                    client: r.client_id.clone(),
                    change: ConsentChange::Revoked,
                    scopes: Vec::new(),
                    count: revoked,
                })
                .await;
        }
        Ok(Response::new(pb::RevokeResponse { revoked }))
    }
}
