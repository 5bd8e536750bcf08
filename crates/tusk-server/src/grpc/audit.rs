//! `tusk.audit.v1.Audit`: the stored audit trail, for cluster
//! administrators only.

use super::{admin, status, timestamp, token};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::AuthService;
use tusk_core::audit::{AuditQuery, AuditRecord};
use tusk_proto::tusk::audit::v1 as pb;

pub struct AuditApi {
    svc: Arc<AuthService>,
}

impl AuditApi {
    pub fn new(svc: Arc<AuthService>) -> Self {
        AuditApi { svc }
    }
}

fn event(r: AuditRecord) -> pb::Event {
    let details = serde_json::to_string(&r.event).unwrap_or_default();
    pb::Event {
        id: r.id,
        at: Some(timestamp(r.at)),
        event: r.event.name().to_owned(),
        actor: r.event.actor().unwrap_or_default().to_owned(),
        subject: r.event.subject().unwrap_or_default().to_owned(),
        resource: r.event.resource().unwrap_or_default().to_owned(),
        details,
    }
}

#[tonic::async_trait]
impl pb::audit_server::Audit for AuditApi {
    async fn list(
        &self,
        req: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let presented = token(&req).map_err(status)?;
        admin(&self.svc, presented.as_deref())
            .await
            .map_err(status)?;
        let r = req.into_inner();
        let filter = |s: String| (!s.is_empty()).then_some(s);
        let query = AuditQuery {
            actor: filter(r.actor),
            subject: filter(r.subject),
            resource: filter(r.resource),
            since: r.since.map(|t| t.seconds),
            until: r.until.map(|t| t.seconds),
            limit: usize::try_from(r.limit).unwrap_or(usize::MAX),
        };
        let records = self
            .svc
            .store()
            .list_audit(&query)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::ListResponse {
            events: records.into_iter().map(event).collect(),
        }))
    }
}
