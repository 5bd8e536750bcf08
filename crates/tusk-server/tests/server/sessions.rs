//! Browser sessions over HTTP (issue 15): the cookie's attributes, single
//! sign-on for a second client, `prompt=none`, logout clearing the cookie,
//! and a session that works on another replica sharing PostgreSQL.

use super::*;
use std::collections::HashMap;
use tusk_oidc::ConnectorConfig;
use tusk_store::OidcClient;

const APP_CB: &str = "http://127.0.0.1:9/cb";
const APP2_CB: &str = "http://127.0.0.1:9/cb2";

/// A server whose issuer is `issuer` (replicas share one), with a
/// password connector and two clients.
async fn start(store: Store, issuer: Option<&str>) -> (TestServer, String) {
    start_with(store, issuer, &["test"]).await
}

/// [`start`] with a password connector per id, named after it.
async fn start_with(store: Store, issuer: Option<&str>, ids: &[&str]) -> (TestServer, String) {
    let port = Port::bind().await.unwrap();
    let issuer = issuer.map_or_else(|| port.issuer(), str::to_owned);
    let connectors: Vec<ConnectorConfig> = ids
        .iter()
        .map(|id| ConnectorConfig {
            id: (*id).into(),
            name: format!("Login {id}"),
            kind: "mockPassword".into(),
            config: json!({"username": "admin", "password": "password"}),
        })
        .collect();
    let clients = [
        OidcClient {
            id: "app".into(),
            secret: Secret::new("app-secret".into()),
            name: "App".into(),
            redirect_uris: vec![APP_CB.into()],
            trusted: true,
            ..Default::default()
        },
        OidcClient {
            id: "app2".into(),
            secret: Secret::new("app2-secret".into()),
            name: "App 2".into(),
            redirect_uris: vec![APP2_CB.into()],
            trusted: true,
            ..Default::default()
        },
    ];
    let options = provider_options(&issuer, &store, &connectors, &clients).await;
    let server = TestServer::start_on(port, store, options);
    // Requests go to this replica's socket, under the issuer's path.
    let base = format!(
        "http://{}{}",
        server.addr,
        url::Url::parse(&issuer).unwrap().path()
    );
    (server, base)
}

fn http() -> reqwest::Client {
    crate::browser_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn auth_query(client: &str, extra: &str) -> String {
    let cb = if client == "app" { APP_CB } else { APP2_CB };
    format!(
        "/auth?client_id={client}&redirect_uri={}&response_type=code&scope=openid&state=st{extra}",
        url::form_urlencoded::byte_serialize(cb.as_bytes()).collect::<String>()
    )
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// `name`'s `Set-Cookie` header on the response, if any.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// A password login from a browser without a session; returns the
/// `Set-Cookie` of the session and the redirect to the client.
async fn log_in(c: &reqwest::Client, base: &str, client: &str) -> (String, String) {
    let r = c
        .get(format!("{base}{}", auth_query(client, "")))
        .send()
        .await
        .unwrap();
    let req = query(&format!("http://x{}", location(&r)))["req"].clone();
    let r = c
        .post(format!("{base}/auth/test/login?state={req}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("login=admin&password=password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The chooser's memory: the login method, as its own cookie.
    let last = set_cookie(&r, "tusk_connector").expect("the last connector");
    assert!(last.starts_with("tusk_connector=test;"), "{last}");
    (
        set_cookie(&r, "tusk_session").expect("a session cookie"),
        location(&r),
    )
}

/// `/auth` for `app2` with `prompt=none`, with the `cookie` (`name=value`)
/// if any; returns where it redirects.
async fn silent_app2(c: &reqwest::Client, base: &str, cookie: Option<&str>) -> String {
    let mut req = c.get(format!("{base}{}", auth_query("app2", "&prompt=none")));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    location(&req.send().await.unwrap())
}

/// `name=value` of a `Set-Cookie` header, for the `Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_login_sets_a_scoped_cookie_and_a_second_client_needs_no_password() {
    let (server, base) = start(Store::memory(), None).await;
    let c = http();
    let (cookie, back) = log_in(&c, &base, "app").await;
    assert!(back.starts_with(APP_CB) && back.contains("code="), "{back}");
    let value = pair(&cookie);
    assert!(value.len() > "tusk_session=".len() + 40, "{cookie}");
    // Host-only, the issuer's path, not readable by scripts, Lax; not
    // Secure on a plain-http issuer.
    for part in ["Path=/dex", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(part), "{part} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Domain") && !cookie.contains("Secure"),
        "{cookie}"
    );
    // The store keeps the hash, never the value.
    let stored = server
        .store
        .list::<tusk_store::BrowserSession>()
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let raw = &value["tusk_session=".len()..];
    assert_eq!(stored[0].id, tusk_store::hash_token(raw));
    assert!(!format!("{stored:?}").contains(raw));

    // The second client: straight back with a code, no login form.
    let to = silent_app2(&c, &base, Some(&value)).await;
    assert!(
        to.starts_with(APP2_CB) && query(&to).contains_key("code"),
        "{to}"
    );
    // Without the cookie: login_required at the client.
    let to = silent_app2(&c, &base, None).await;
    assert_eq!(query(&to)["error"], "login_required", "{to}");
    assert_eq!(query(&to)["state"], "st");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn logout_clears_the_cookie_and_ends_single_sign_on() {
    let (server, base) = start(Store::memory(), None).await;
    let c = http();
    let (cookie, _) = log_in(&c, &base, "app").await;
    let value = pair(&cookie);
    let r = c
        .post(format!("{base}/logout?confirm=1"))
        .header("cookie", &value)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cleared = set_cookie(&r, "tusk_session").expect("the cookie is cleared");
    assert!(
        cleared.starts_with("tusk_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let to = silent_app2(&c, &base, Some(&value)).await;
    assert_eq!(query(&to)["error"], "login_required");
    assert!(
        server
            .store
            .list::<tusk_store::BrowserSession>()
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await.unwrap();
}

/// Replicas share the store: a session made on one answers on the other.
#[tokio::test]
async fn a_session_made_on_one_replica_signs_in_on_another_over_postgres() {
    let admin = std::env::var("TUSK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = admin.trim_end_matches('/');
    let name = format!("tusk_hs1_sessions_{}", std::process::id());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{admin}/postgres"))
        .await
        .unwrap();
    use sqlx::Executor;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .await
    .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let url = format!("{admin}/{name}");
    let issuer = "http://sso.example.test/dex";
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = Store::new(tusk_store_sql::open_postgres(&url).await.unwrap());
        replicas.push(start(store, Some(issuer)).await);
    }
    let c = http();
    let (cookie, _) = log_in(&c, &replicas[0].1, "app").await;
    let to = silent_app2(&c, &replicas[1].1, Some(&pair(&cookie))).await;
    assert!(
        to.starts_with(APP2_CB) && query(&to).contains_key("code"),
        "{to}"
    );
    for (server, _) in replicas {
        server.stop().await.unwrap();
    }
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .await
    .unwrap();
}

/// The chooser lists the login method the browser last used first, marked.
#[tokio::test]
async fn the_chooser_puts_the_last_used_connector_first() {
    let (server, base) = start_with(Store::memory(), None, &["alpha", "beta"]).await;
    let c = http();
    let page = |cookie: Option<&'static str>| {
        let mut req = c.get(format!("{base}{}", auth_query("app", "")));
        if let Some(v) = cookie {
            req = req.header("cookie", v);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let plain = page(None).await;
    let (a, b) = (
        plain.find("Login alpha").unwrap(),
        plain.find("Login beta").unwrap(),
    );
    assert!(a < b && !plain.contains("last used"), "{plain}");
    let remembered = page(Some("tusk_connector=beta")).await;
    let (a, b) = (
        remembered.find("Login alpha").unwrap(),
        remembered.find("Login beta").unwrap(),
    );
    assert!(b < a, "{remembered}");
    assert!(
        remembered.contains("Login beta (last used)"),
        "{remembered}"
    );
    server.stop().await.unwrap();
}
