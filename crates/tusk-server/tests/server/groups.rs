//! Issue 14, "groups that grant": the groups an upstream connector reports
//! reach the auth plane on a login AND on every refresh at `/dex/token`,
//! replacing what was there (docs/oidc-connector.md §3), so a `group:`
//! role binding stops granting once the identity provider drops the group.
//! The connector is `local`, whose groups change when its config changes,
//! as an upstream's do when an admin edits them.

use super::audit_trail::with_token;
use super::*;
use std::sync::Arc;
use tusk_auth::{AuthService, AuthSettings, Managed, OidcConfig};
use tusk_core::auth::{Resource, ResourceType};
use tusk_oidc::ConnectorConfig;
use tusk_proto::auth_v2;
use tusk_server::AuthPlane;
use tusk_store::OidcClient;

/// Dex's example bcrypt hash, of the password `password`.
const HASH: &str = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W";
const SECRET: &str = "pachd-Secret-4f1";
const REDIRECT: &str = "http://127.0.0.1:9/authorization-code/callback";
const PROJECT: &str = "research";

/// The `local` connector with alice in `alice_groups` and bob in `data`.
fn connectors(alice_groups: &[&str]) -> Vec<ConnectorConfig> {
    vec![ConnectorConfig {
        id: "local".into(),
        name: "Local".into(),
        kind: "local".into(),
        config: json!({"users": [
            {"email": "alice@example.com", "hash": HASH, "groups": alice_groups},
            {"email": "bob@example.com", "hash": HASH, "groups": ["data"]},
        ]}),
    }]
}

struct Running {
    server: Server,
    issuer: String,
    root: String,
    provider: Arc<tusk_oidc::Provider>,
    auth: auth_v2::api_client::ApiClient<tonic::transport::Channel>,
}

async fn start() -> Running {
    let port = Port::bind().await.unwrap();
    let issuer = port.issuer();
    let store = Store::memory();
    let clock = tusk_testkit::clock_now();
    let clients = [OidcClient {
        id: "pachd".into(),
        secret: Secret::new(SECRET.into()),
        name: "pachd".into(),
        redirect_uris: vec![REDIRECT.into()],
        trusted: true,
        ..Default::default()
    }];
    let provider = tusk_testkit::provider(
        &issuer,
        &store,
        clock.clone(),
        &connectors(&["data"]),
        &clients,
    )
    .await
    .unwrap();
    let service = AuthService::new(
        store.clone(),
        clock,
        AuthSettings::default(),
        Some(provider.clone()),
    );
    let root = service.activate(None).await.unwrap();
    service
        .set_config(&OidcConfig {
            issuer: issuer.clone(),
            client_id: "pachd".into(),
            client_secret: Secret::new(SECRET.into()),
            redirect_uri: REDIRECT.into(),
            scopes: ["openid", "email", "profile", "groups"]
                .map(String::from)
                .to_vec(),
            require_email_verified: false,
            localhost_issuer: false,
            user_accessible_issuer_host: String::new(),
        })
        .await
        .unwrap();
    service
        .create_resource_binding(
            &Resource {
                kind: ResourceType::Project,
                name: PROJECT.into(),
            },
            None,
        )
        .await
        .unwrap();
    let options = ServerOptions {
        provider: Some(provider.clone()),
        auth: Some(AuthPlane {
            service,
            managed: Managed::default(),
        }),
        ..ServerOptions::new(issuer.clone())
    };
    let server = TestServer::start_on(port, store, options);
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Running {
        server,
        issuer,
        root,
        provider,
        auth: auth_v2::api_client::ApiClient::new(channel),
    }
}

fn project() -> Option<auth_v2::Resource> {
    Some(auth_v2::Resource {
        r#type: auth_v2::ResourceType::Project as i32,
        name: PROJECT.into(),
    })
}

/// A browser-less password login of `email` at the provider as pachd,
/// with `scope`; returns the token response.
async fn provider_login(issuer: &str, email: &str, scope: &str) -> Value {
    let c = crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>();
    let scope = scope.replace(' ', "+");
    let resp = c
        .get(format!(
            "{issuer}/auth?client_id=pachd&redirect_uri={redirect}&response_type=code&scope={scope}&state=st"
        ))
        .send()
        .await
        .unwrap();
    // One connector: `/auth` sends the browser to it, and it to its form.
    let to_connector = resp.headers()["location"].to_str().unwrap().to_owned();
    let resp = c.get(&to_connector).send().await.unwrap();
    let next = resp.headers()["location"].to_str().unwrap().to_owned();
    let ok = c
        .post(&next)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("login={email}&password=password"))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(
        ok.headers()
            .get("location")
            .unwrap_or_else(|| panic!("no redirect after the password form: {ok:?}"))
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    token(
        issuer,
        &format!("grant_type=authorization_code&code={code}&redirect_uri={redirect}"),
    )
    .await
}

async fn token(issuer: &str, form: &str) -> Value {
    let (status, body) = token_answer(issuer, form).await;
    assert_eq!(status, StatusCode::OK, "{form}: {body}");
    body
}

async fn token_answer(issuer: &str, form: &str) -> (StatusCode, Value) {
    let resp = crate::browser_client()
        .build()
        .unwrap()
        .post(format!("{issuer}/token"))
        .basic_auth("pachd", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn refresh(issuer: &str, tokens: &Value) -> Value {
    let rt = tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token in {tokens}"));
    token(
        issuer,
        &format!("grant_type=refresh_token&refresh_token={rt}"),
    )
    .await
}

impl Running {
    /// Authenticate{id_token}: the auth plane's login, which syncs groups.
    async fn pach_login(&mut self, tokens: &Value) -> String {
        self.auth
            .authenticate(auth_v2::AuthenticateRequest {
                id_token: tokens["id_token"].as_str().unwrap().to_owned(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .pach_token
    }

    async fn groups(&mut self, token: &str) -> Vec<String> {
        self.auth
            .get_groups(with_token(auth_v2::GetGroupsRequest {}, token))
            .await
            .unwrap()
            .into_inner()
            .groups
    }

    async fn roles_on_project(&mut self, token: &str) -> Vec<String> {
        self.auth
            .get_permissions(with_token(
                auth_v2::GetPermissionsRequest {
                    resource: project(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .roles
    }

    async fn users(&mut self) -> Vec<String> {
        let root = self.root.clone();
        self.auth
            .get_users(with_token(auth_v2::GetUsersRequest::default(), &root))
            .await
            .unwrap()
            .into_inner()
            .usernames
    }
}

#[tokio::test]
async fn a_refresh_replaces_the_auth_planes_groups_and_the_group_grant_goes() {
    let mut r = start().await;
    let scope = "openid email profile groups offline_access";
    let tokens = provider_login(&r.issuer, "alice@example.com", scope).await;
    let alice = r.pach_login(&tokens).await;
    assert_eq!(r.groups(&alice).await, ["group:data"]);
    let root = r.root.clone();
    r.auth
        .modify_role_binding(with_token(
            auth_v2::ModifyRoleBindingRequest {
                resource: project(),
                principal: "group:data".into(),
                roles: vec!["projectViewer".into()],
            },
            &root,
        ))
        .await
        .unwrap();
    assert!(
        r.roles_on_project(&alice)
            .await
            .contains(&"projectViewer".to_owned()),
        "the group binding grants after the login"
    );

    // Upstream, alice leaves `data` and joins `ops`; she refreshes.
    r.provider.set_connectors(&connectors(&["ops"]));
    let refreshed = refresh(&r.issuer, &tokens).await;
    assert!(refreshed["id_token"].is_string(), "{refreshed}");
    assert_eq!(
        r.groups(&alice).await,
        ["group:ops"],
        "replaced, not merged"
    );
    let roles = r.roles_on_project(&alice).await;
    assert!(
        !roles.contains(&"projectViewer".to_owned()),
        "the grant through group:data outlived the refresh: {roles:?}"
    );

    // All groups gone upstream: a refresh leaves none in the auth plane.
    r.provider.set_connectors(&connectors(&[]));
    let refreshed = refresh(&r.issuer, &refreshed).await;
    assert!(r.groups(&alice).await.is_empty());

    // Back in `data`: the next refresh grants again, although the empty
    // set left no membership record (alice still holds a session token).
    r.provider.set_connectors(&connectors(&["data"]));
    refresh(&r.issuer, &refreshed).await;
    assert_eq!(r.groups(&alice).await, ["group:data"]);
    assert!(
        r.roles_on_project(&alice)
            .await
            .contains(&"projectViewer".to_owned())
    );
    r.server.stop().await.unwrap();
}

#[tokio::test]
async fn a_refresh_creates_no_auth_plane_user_and_without_the_groups_scope_changes_nothing() {
    let mut r = start().await;
    // Bob uses the provider only, never the auth plane: his refresh
    // writes nothing there.
    let bob = provider_login(
        &r.issuer,
        "bob@example.com",
        "openid email groups offline_access",
    )
    .await;
    refresh(&r.issuer, &bob).await;
    assert!(
        !r.users().await.contains(&"user:bob@example.com".to_owned()),
        "a refresh created an auth-plane user"
    );

    // Alice's second session did not ask for groups: its refresh says
    // nothing about them, so her auth-plane groups stay.
    let with_groups = provider_login(
        &r.issuer,
        "alice@example.com",
        "openid email groups offline_access",
    )
    .await;
    let alice = r.pach_login(&with_groups).await;
    let without = provider_login(
        &r.issuer,
        "alice@example.com",
        "openid email offline_access",
    )
    .await;
    r.provider.set_connectors(&connectors(&["ops"]));
    refresh(&r.issuer, &without).await;
    assert_eq!(r.groups(&alice).await, ["group:data"]);

    // A group the auth plane cannot hold (over its length bound): the
    // refresh is refused in plain words, and the groups stay.
    let long = "g".repeat(tusk_core::auth::MAX_SUBJECT_BYTES + 1);
    r.provider.set_connectors(&connectors(&[&long]));
    let rt = with_groups["refresh_token"].as_str().unwrap();
    let (status, body) = token_answer(
        &r.issuer,
        &format!("grant_type=refresh_token&refresh_token={rt}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("ask an administrator"),
        "{body}"
    );
    assert_eq!(r.groups(&alice).await, ["group:data"]);
    r.server.stop().await.unwrap();
}
