//! `identity_v2.API`: connectors, OIDC clients and the identity server
//! config. Every RPC needs auth active and its permission (no `off∨`).

use super::{permitted, status};
use serde_json::Value;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tusk_auth::{AuthService, Caller, ConnectorInput, Managed};
use tusk_core::Secret;
use tusk_core::audit::{AuditEvent, Change};
use tusk_core::auth::Permission;
use tusk_proto::identity_v2 as pb;
use tusk_proto::identity_v2::api_server::Api;
use tusk_proto::structs::{json_to_struct, struct_to_json};

pub struct IdentityApi {
    svc: Arc<AuthService>,
    managed: Managed,
}

impl IdentityApi {
    pub fn new(svc: Arc<AuthService>, managed: Managed) -> IdentityApi {
        IdentityApi { svc, managed }
    }
}

type R<T> = Result<Response<T>, Status>;

fn input(c: pb::IdpConnector) -> ConnectorInput {
    // The reference's pick: `config` if present, else `jsonConfig`.
    let config = match &c.config {
        Some(s) if !s.fields.is_empty() => Some(struct_to_json(s).to_string()),
        _ => Some(c.json_config.clone()).filter(|j| !j.trim().is_empty()),
    };
    ConnectorInput {
        id: c.id,
        name: c.name,
        kind: c.r#type,
        config_version: c.config_version,
        config,
    }
}

fn connector(c: tusk_store::Connector) -> pb::IdpConnector {
    let config: Value = serde_json::from_str(&c.config).unwrap_or(Value::Null);
    pb::IdpConnector {
        id: c.id,
        name: c.name,
        r#type: c.type_,
        config_version: c.config_version,
        json_config: String::new(),
        config: Some(json_to_struct(&config)),
    }
}

fn client(c: tusk_store::OidcClient) -> pb::OidcClient {
    pb::OidcClient {
        id: c.id,
        redirect_uris: c.redirect_uris,
        trusted_peers: c.trusted_peers,
        name: c.name,
        secret: c.secret.expose().clone(),
    }
}

fn record(c: pb::OidcClient) -> tusk_store::OidcClient {
    tusk_store::OidcClient {
        id: c.id,
        secret: Secret::new(c.secret),
        name: c.name,
        redirect_uris: c.redirect_uris,
        trusted_peers: c.trusted_peers,
        public: false,
        // identity_v2 clients are third-party: their users see consent.
        trusted: false,
        logo_url: String::new(),
        id_token_signing_alg: String::new(),
        // Pachyderm's OIDCClient has no field for these: back-channel
        // logout is registered in the values only (README).
        backchannel_logout_uri: String::new(),
        backchannel_logout_session_required: false,
    }
}

impl IdentityApi {
    async fn connector_changed(&self, who: Caller, connector: String, change: Change) {
        let event = AuditEvent::ConnectorChanged {
            actor: who.subject,
            connector,
            change,
        };
        self.svc.audit(event).await;
    }

    async fn client_changed(&self, who: Caller, client: String, change: Change) {
        let event = AuditEvent::ClientChanged {
            actor: who.subject,
            client,
            change,
        };
        self.svc.audit(event).await;
    }
}

#[tonic::async_trait]
impl Api for IdentityApi {
    async fn set_identity_server_config(
        &self,
        req: Request<pb::SetIdentityServerConfigRequest>,
    ) -> R<pb::SetIdentityServerConfigResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_SET_CONFIG).await?;
        let c = req.into_inner().config.unwrap_or_default();
        let config = tusk_store::IdentityConfig {
            id: String::new(),
            issuer: c.issuer,
            id_token_expiry: c.id_token_expiry,
            rotation_token_expiry: c.rotation_token_expiry,
        };
        self.svc
            .set_identity_config(&self.managed, &config)
            .await
            .map_err(status)?;
        self.svc
            .audit(AuditEvent::SettingsChanged {
                actor: who.subject,
                settings: "identity".into(),
            })
            .await;
        Ok(Response::new(pb::SetIdentityServerConfigResponse {}))
    }

    async fn get_identity_server_config(
        &self,
        req: Request<pb::GetIdentityServerConfigRequest>,
    ) -> R<pb::GetIdentityServerConfigResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_GET_CONFIG).await?;
        let c = self.svc.effective_identity_config().await.map_err(status)?;
        Ok(Response::new(pb::GetIdentityServerConfigResponse {
            config: Some(pb::IdentityServerConfig {
                issuer: c.issuer,
                id_token_expiry: c.id_token_expiry,
                rotation_token_expiry: c.rotation_token_expiry,
            }),
        }))
    }

    async fn create_idp_connector(
        &self,
        req: Request<pb::CreateIdpConnectorRequest>,
    ) -> R<pb::CreateIdpConnectorResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_CREATE_IDP).await?;
        let c = req.into_inner().connector.unwrap_or_default();
        let id = c.id.clone();
        self.svc
            .create_connector(&self.managed, &input(c))
            .await
            .map_err(status)?;
        self.connector_changed(who, id, Change::Created).await;
        Ok(Response::new(pb::CreateIdpConnectorResponse {}))
    }

    async fn update_idp_connector(
        &self,
        req: Request<pb::UpdateIdpConnectorRequest>,
    ) -> R<pb::UpdateIdpConnectorResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_UPDATE_IDP).await?;
        let c = req.into_inner().connector.unwrap_or_default();
        let id = c.id.clone();
        self.svc
            .update_connector(&self.managed, &input(c))
            .await
            .map_err(status)?;
        self.connector_changed(who, id, Change::Updated).await;
        Ok(Response::new(pb::UpdateIdpConnectorResponse {}))
    }

    async fn list_idp_connectors(
        &self,
        req: Request<pb::ListIdpConnectorsRequest>,
    ) -> R<pb::ListIdpConnectorsResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_LIST_IDPS).await?;
        let connectors = self
            .svc
            .list_connectors()
            .await
            .map_err(status)?
            .into_iter()
            .map(connector)
            .collect();
        Ok(Response::new(pb::ListIdpConnectorsResponse { connectors }))
    }

    async fn get_idp_connector(
        &self,
        req: Request<pb::GetIdpConnectorRequest>,
    ) -> R<pb::GetIdpConnectorResponse> {
        permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_GET_IDP).await?;
        let c = self
            .svc
            .get_connector(&req.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetIdpConnectorResponse {
            connector: Some(connector(c)),
        }))
    }

    async fn delete_idp_connector(
        &self,
        req: Request<pb::DeleteIdpConnectorRequest>,
    ) -> R<pb::DeleteIdpConnectorResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_IDENTITY_DELETE_IDP).await?;
        let id = req.into_inner().id;
        self.svc
            .delete_connector(&self.managed, &id)
            .await
            .map_err(status)?;
        self.connector_changed(who, id, Change::Deleted).await;
        Ok(Response::new(pb::DeleteIdpConnectorResponse {}))
    }

    async fn create_oidc_client(
        &self,
        req: Request<pb::CreateOidcClientRequest>,
    ) -> R<pb::CreateOidcClientResponse> {
        let who = permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_IDENTITY_CREATE_OIDC_CLIENT,
        )
        .await?;
        let c = req.into_inner().client.unwrap_or_default();
        let created = self.svc.create_client(&record(c)).await.map_err(status)?;
        self.client_changed(who, created.id.clone(), Change::Created)
            .await;
        Ok(Response::new(pb::CreateOidcClientResponse {
            client: Some(client(created)),
        }))
    }

    async fn update_oidc_client(
        &self,
        req: Request<pb::UpdateOidcClientRequest>,
    ) -> R<pb::UpdateOidcClientResponse> {
        let who = permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_IDENTITY_UPDATE_OIDC_CLIENT,
        )
        .await?;
        let c = req.into_inner().client.unwrap_or_default();
        let id = c.id.clone();
        self.svc.update_client(&record(c)).await.map_err(status)?;
        self.client_changed(who, id, Change::Updated).await;
        Ok(Response::new(pb::UpdateOidcClientResponse {}))
    }

    async fn get_oidc_client(
        &self,
        req: Request<pb::GetOidcClientRequest>,
    ) -> R<pb::GetOidcClientResponse> {
        permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_IDENTITY_GET_OIDC_CLIENT,
        )
        .await?;
        let c = self
            .svc
            .get_client(&req.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetOidcClientResponse {
            client: Some(client(c)),
        }))
    }

    async fn list_oidc_clients(
        &self,
        req: Request<pb::ListOidcClientsRequest>,
    ) -> R<pb::ListOidcClientsResponse> {
        permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_IDENTITY_LIST_OIDC_CLIENTS,
        )
        .await?;
        let clients = self
            .svc
            .list_clients()
            .await
            .map_err(status)?
            .into_iter()
            .map(client)
            .collect();
        Ok(Response::new(pb::ListOidcClientsResponse { clients }))
    }

    async fn delete_oidc_client(
        &self,
        req: Request<pb::DeleteOidcClientRequest>,
    ) -> R<pb::DeleteOidcClientResponse> {
        let who = permitted(
            &self.svc,
            &req,
            Permission::CLUSTER_IDENTITY_DELETE_OIDC_CLIENT,
        )
        .await?;
        let id = req.into_inner().id;
        self.svc.delete_client(&id).await.map_err(status)?;
        self.client_changed(who, id, Change::Deleted).await;
        Ok(Response::new(pb::DeleteOidcClientResponse {}))
    }

    async fn delete_all(&self, req: Request<pb::DeleteAllRequest>) -> R<pb::DeleteAllResponse> {
        let who = permitted(&self.svc, &req, Permission::CLUSTER_DELETE_ALL).await?;
        // Listed first, so the trail names each client and connector removed.
        let clients = self.svc.list_clients().await.map_err(status)?;
        let connectors = self.svc.list_connectors().await.map_err(status)?;
        self.svc.delete_all_identity().await.map_err(status)?;
        for c in clients {
            self.client_changed(who.clone(), c.id, Change::Deleted)
                .await;
        }
        for c in connectors {
            self.connector_changed(who.clone(), c.id, Change::Deleted)
                .await;
        }
        Ok(Response::new(pb::DeleteAllResponse {}))
    }
}
