//! Issue 15 items 3 and 4 over HTTP: the consent page of an untrusted
//! client (Allow, Deny, forged answers, GET refused) and the device
//! confirmation page (the code and client shown, GET never approving,
//! Cancel denying the poll, Continue leading to the login).

use super::*;
use tusk_server::ratelimit::RateLimits;

fn client() -> reqwest::Client {
    crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn start() -> (Server, String) {
    let (server, issuer, _) = super::provider_http::start_on(
        Store::memory(),
        RateLimits::default(),
        Default::default(),
        Default::default(),
    )
    .await;
    (server, issuer)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in\n{page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The form body that answers `page` with `decision`, carrying the page's
/// request id and single-use token.
fn answer_body(page: &str, decision: &str) -> String {
    format!(
        "req={}&token={}&decision={decision}",
        hidden(page, "req"),
        hidden(page, "token")
    )
}

/// Follows a login for `client_id` up to the page after the password.
async fn login(
    c: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    redirect: &str,
) -> reqwest::Response {
    let q = format!(
        "client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20email%20offline_access&state=xyz",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let r = c.get(format!("{issuer}/auth?{q}")).send().await.unwrap();
    let to_connector = location(&r);
    let r = c.get(&to_connector).send().await.unwrap();
    let form = location(&r);
    post_body(c, &form, "login=admin&password=password").await
}

async fn answer(
    c: &reqwest::Client,
    issuer: &str,
    page: &str,
    decision: &str,
) -> reqwest::Response {
    post_body(c, format!("{issuer}/consent"), answer_body(page, decision)).await
}

#[tokio::test]
async fn the_consent_page_allows_denies_and_refuses_forgeries() {
    let (server, issuer) = start().await;
    let c = client();
    const THIRD: &str = "http://127.0.0.1:9/third";
    // The trusted client goes straight to its code.
    let r = login(&c, &issuer, "app", "http://127.0.0.1:9/cb").await;
    assert!(location(&r).contains("code="), "{r:?}");
    // The untrusted one shows the page: its name, the scopes in words.
    let r = login(&c, &issuer, "third", THIRD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let page = r.text().await.unwrap();
    for needle in [
        "Allow Third Party to use your account?",
        "Know your email address",
        "Stay signed in (offline access)",
        "value=\"allow\"",
        "value=\"deny\"",
    ] {
        assert!(page.contains(needle), "{needle} missing in\n{page}");
    }
    // GET answers nothing; a forged token is refused with a page.
    let get = c.get(format!("{issuer}/consent")).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    let forged = post_body(
        &c,
        format!("{issuer}/consent"),
        format!("req={}&token=forged&decision=allow", hidden(&page, "req")),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let odd = post_body(&c, format!("{issuer}/consent"), answer_body(&page, "maybe")).await;
    assert_eq!(odd.status(), StatusCode::BAD_REQUEST);
    // Deny: access_denied to the client, with its state.
    let denied = answer(&c, &issuer, &page, "deny").await;
    let to = location(&denied);
    assert!(to.starts_with(THIRD), "{to}");
    assert!(
        to.contains("error=access_denied") && to.contains("state=xyz"),
        "{to}"
    );
    // Answering the same page again finds it gone.
    let again = answer(&c, &issuer, &page, "allow").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    // Allow: a code; the next login skips the page.
    let page = login(&c, &issuer, "third", THIRD)
        .await
        .text()
        .await
        .unwrap();
    let allowed = answer(&c, &issuer, &page, "allow").await;
    let to = location(&allowed);
    assert!(to.starts_with(&format!("{THIRD}?code=")), "{to}");
    let r = login(&c, &issuer, "third", THIRD).await;
    assert!(
        location(&r).contains("code="),
        "a remembered grant skips the page"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_device_link_confirms_the_code_before_any_login() {
    let (server, issuer) = start().await;
    let c = client();
    let start = || async {
        let d: Value = c
            .post(format!("{issuer}/device/code"))
            .basic_auth("app", Some("app-secret"))
            .body("scope=openid")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        d
    };
    let poll = |code: String| {
        let c = c.clone();
        let issuer = issuer.clone();
        async move {
            let r: Value = c
                .post(format!("{issuer}/token"))
                .basic_auth("app", Some("app-secret"))
                .body(format!(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={code}"
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r
        }
    };
    let d = start().await;
    let user_code = d["user_code"].as_str().unwrap();
    let link = d["verification_uri_complete"].as_str().unwrap();
    // The link shows the client and the code, before any credentials.
    let r = c.get(link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("Sign in to App with code {user_code}?")),
        "{page}"
    );
    assert!(!page.contains("type=\"password\""), "{page}");
    // GET never approves, nor does jumping to the login with the id.
    let req = hidden(&page, "req");
    let skip = c
        .get(format!("{issuer}/auth/test?req={req}"))
        .send()
        .await
        .unwrap();
    assert_eq!(skip.status(), StatusCode::BAD_REQUEST);
    assert!(
        skip.text()
            .await
            .unwrap()
            .contains("Confirm the code first")
    );
    // A forged confirmation is refused.
    let forged = post_body(
        &c,
        format!("{issuer}/device/confirm"),
        format!("req={req}&token=forged&decision=continue"),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    // Cancel: the device's poll answers access_denied.
    let cancel = post_body(
        &c,
        format!("{issuer}/device/confirm"),
        answer_body(&page, "cancel"),
    )
    .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    assert!(cancel.text().await.unwrap().contains("Sign-in cancelled"));
    let r = poll(d["device_code"].as_str().unwrap().to_owned()).await;
    assert_eq!(r["error"], "access_denied", "{r}");
    // Continue (here with a typed code): the login, then approval.
    let d = start().await;
    let typed = post_body(
        &c,
        format!("{issuer}/device"),
        format!("user_code={}", d["user_code"].as_str().unwrap()),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(typed.contains("Sign in to App with code"), "{typed}");
    let go = post_body(
        &c,
        format!("{issuer}/device/confirm"),
        answer_body(&typed, "continue"),
    )
    .await;
    let to_connector = location(&go);
    assert!(to_connector.contains("/auth/test?req="), "{to_connector}");
    let form = location(&c.get(&to_connector).send().await.unwrap());
    let done = post_body(&c, &form, "login=admin&password=password")
        .await
        .text()
        .await
        .unwrap();
    assert!(done.contains("Device connected"), "{done}");
    let r = poll(d["device_code"].as_str().unwrap().to_owned()).await;
    assert!(r["id_token"].is_string(), "{r}");
    server.stop().await.unwrap();
}

/// `tusk.consent.v1`: admins list and revoke a user's grants; others are
/// refused; a request naming no user is refused, not answered with
/// nothing; RevokeAuthTokensForUser removes the user's grants too.
#[tokio::test]
async fn consent_grants_over_grpc_for_admins_only() {
    use super::audit_trail::{
        Identity, channel, create_grafana, delete_grafana, start, with_token,
    };
    use tusk_proto::tusk::consent::v1 as pb;
    let r = start().await;
    for client in ["grafana", "notebook"] {
        r.store
            .create(&tusk_store::ConsentGrant {
                id: tusk_store::ConsentGrant::id_for("user:alice", client),
                subject: "user:alice".into(),
                client_id: client.into(),
                scopes: vec!["openid".into(), "email".into()],
                granted_at: 1_800_000_000,
            })
            .await
            .unwrap();
    }
    let ch = channel(r.server.addr).await;
    let mut api = pb::consent_client::ConsentClient::new(ch.clone());
    let list = |token: &str, subject: &str| {
        with_token(
            pb::ListRequest {
                subject: subject.into(),
            },
            token,
        )
    };
    let grants = api
        .list(list(&r.root, "user:alice"))
        .await
        .unwrap()
        .into_inner()
        .grants;
    let ids: Vec<&str> = grants.iter().map(|g| g.client_id.as_str()).collect();
    assert_eq!(ids, ["grafana", "notebook"]);
    assert_eq!(grants[0].scopes, ["openid", "email"]);
    assert_eq!(
        grants[0].granted_at.as_ref().map(|t| t.seconds),
        Some(1_800_000_000)
    );
    let refused = api.list(list(&r.alice, "user:alice")).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let empty = api.list(list(&r.root, " ")).await.unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument, "{empty:?}");
    assert!(empty.message().contains("user:<email>"), "{empty:?}");
    let revoke = |client: &str| {
        with_token(
            pb::RevokeRequest {
                subject: "user:alice".into(),
                client_id: client.into(),
            },
            &r.root,
        )
    };
    let n = api.revoke(revoke("grafana")).await.unwrap().into_inner();
    assert_eq!(n.revoked, 1);
    let n = api.revoke(revoke("grafana")).await.unwrap().into_inner();
    assert_eq!(n.revoked, 0, "already gone");
    // Revoking the user's tokens takes the remaining grant with them.
    let mut auth = tusk_proto::auth_v2::api_client::ApiClient::new(ch);
    auth.revoke_auth_tokens_for_user(with_token(
        tusk_proto::auth_v2::RevokeAuthTokensForUserRequest {
            username: "user:alice".into(),
        },
        &r.root,
    ))
    .await
    .unwrap();
    // Both revocations are in the audit trail (issue 15); the empty one
    // (nothing was left to revoke) is not.
    let trail: Vec<_> = r
        .store
        .list_audit(&tusk_core::audit::AuditQuery {
            subject: Some("user:alice".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|rec| match rec.event {
            tusk_core::audit::AuditEvent::ConsentChanged {
                actor,
                client,
                change,
                count,
                ..
            } => Some((actor, client, change, count)),
            _ => None,
        })
        .collect();
    use tusk_core::audit::ConsentChange::Revoked;
    assert_eq!(
        trail,
        [
            (None, String::new(), Revoked, 1),
            (
                Some("pach:root".to_owned()),
                "grafana".to_owned(),
                Revoked,
                1
            ),
        ],
        "newest first"
    );
    let grants = api
        .list(list(&r.root, "user:alice"))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(grants.is_empty(), "{grants:?}");
    // Deleting a client forgets the consent given to it: a new client
    // under the same id does not inherit it.
    let mut identity = Identity::new(channel(r.server.addr).await);
    create_grafana(&mut identity, &r.root).await;
    for user in ["user:bob", "user:carol"] {
        r.store
            .create(&tusk_store::ConsentGrant {
                id: tusk_store::ConsentGrant::id_for(user, "grafana"),
                subject: user.into(),
                client_id: "grafana".into(),
                scopes: vec!["openid".into()],
                granted_at: 1_800_000_000,
            })
            .await
            .unwrap();
    }
    delete_grafana(&mut identity, &r.root).await;
    for user in ["user:bob", "user:carol"] {
        let left = api.list(list(&r.root, user)).await.unwrap().into_inner();
        assert!(left.grants.is_empty(), "{user}: {left:?}");
    }
    r.server.stop().await.unwrap();
}

/// The identity API refuses the redirect URIs `config check` refuses
/// (issue 15): a `javascript:` or `data:` URI, a fragment, a user name
/// before the host, at CreateOIDCClient and UpdateOIDCClient alike, with
/// InvalidArgument naming the URI and the fix; a native app's
/// private-use scheme is accepted.
#[tokio::test]
async fn the_identity_api_refuses_dangerous_redirect_uris() {
    use super::audit_trail::{Identity, channel, start, with_token};
    use tusk_proto::identity_v2 as idp;
    let r = start().await;
    let mut identity = Identity::new(channel(r.server.addr).await);
    let client = |uri: &str| idp::OidcClient {
        id: "native".into(),
        name: "Native".into(),
        redirect_uris: vec![uri.into()],
        ..Default::default()
    };
    for (uri, said) in [
        (
            "javascript:alert(document.cookie)",
            "uses the scheme `javascript`",
        ),
        (
            "data:text/html,<script>x</script>",
            "uses the scheme `data`",
        ),
        ("https://app.example.com/cb#x", "has a fragment"),
        (
            "https://app.example.com@evil.example/cb",
            "user name or password",
        ),
    ] {
        let create = identity
            .create_oidc_client(with_token(
                idp::CreateOidcClientRequest {
                    client: Some(client(uri)),
                },
                &r.root,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            create.code(),
            tonic::Code::InvalidArgument,
            "{uri}: {create:?}"
        );
        assert!(create.message().contains(said), "{uri}: {create:?}");
    }
    identity
        .create_oidc_client(with_token(
            idp::CreateOidcClientRequest {
                client: Some(client("com.example.native:/cb")),
            },
            &r.root,
        ))
        .await
        .unwrap();
    let update = identity
        .update_oidc_client(with_token(
            idp::UpdateOidcClientRequest {
                client: Some(client("vbscript:msgbox(1)")),
            },
            &r.root,
        ))
        .await
        .unwrap_err();
    assert_eq!(update.code(), tonic::Code::InvalidArgument, "{update:?}");
    assert!(update.message().contains("`vbscript`"), "{update:?}");
    r.server.stop().await.unwrap();
}
