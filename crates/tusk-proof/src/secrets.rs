//! One login through every path that handles a secret, recording each
//! secret and token used (DIR/secrets, `name<TAB>value`) and each error
//! answer (DIR/bodies), so `scripts/proof-secrets` can look for them in the
//! logs, the error answers and the database.

use crate::client::Client;
use crate::login::{self, Failure};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::Path;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;
use tusk_proto::auth_v2::api_client::ApiClient;
use tusk_proto::auth_v2::{
    AuthenticateRequest, GetOidcLoginRequest, GetRobotTokenRequest, WhoAmIRequest,
};

struct Record {
    secrets: String,
    bodies: String,
}

impl Record {
    fn secret(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            let _ = writeln!(self.secrets, "{name}\t{value}");
        }
    }

    /// Error answers only: a successful token answer holds tokens by design.
    fn body(&mut self, what: &str, status: u16, body: &str) {
        let _ = writeln!(self.bodies, "--- {what}: {status}\n{body}");
    }

    fn json_secrets(&mut self, prefix: &str, json: &serde_json::Value) {
        for key in ["access_token", "id_token", "refresh_token"] {
            if let Some(v) = json.get(key).and_then(|v| v.as_str()) {
                self.secret(&format!("{prefix}.{key}"), v);
            }
        }
    }
}

fn fail(step: &str) -> impl Fn(Failure) -> anyhow::Error + '_ {
    move |f| anyhow::anyhow!("{step} failed: {f}")
}

fn with_token<T>(msg: T, token: &str) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(msg);
    let v: MetadataValue<_> = token
        .parse()
        .map_err(|_| anyhow::anyhow!("a token is not a valid gRPC metadata value"))?;
    req.metadata_mut().insert("authn-token", v);
    Ok(req)
}

pub async fn run(
    issuer: &str,
    address: &str,
    root: &str,
    connectors: &[String],
    out: &Path,
    c: Client,
) -> anyhow::Result<bool> {
    let http = login::http();
    let issuer = issuer.trim_end_matches('/');
    let token_url = format!("{issuer}/token");
    let mut r = Record {
        secrets: String::new(),
        bodies: String::new(),
    };
    r.secret("root_token", root);
    r.secret("client_secret", &c.client_secret);
    r.secret("password", &c.password);
    let basic = Some((c.client_id.as_str(), c.client_secret.as_str()));

    for connector in connectors {
        let p = |s: &str| format!("{connector}.{s}");
        let code = login::code_via(&http, issuer, &c, Some(connector))
            .await
            .map_err(fail("login"))?;
        r.secret(&p("code"), &code.code);
        r.secret(&p("code_verifier"), &code.verifier);
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code.code.as_str()),
            ("redirect_uri", c.redirect_uri.as_str()),
            ("code_verifier", code.verifier.as_str()),
        ];
        let (status, body) = login::post_form(&http, &token_url, basic, &grant)
            .await
            .map_err(fail("code exchange"))?;
        anyhow::ensure!(
            status == 200,
            "code exchange through {connector}: HTTP {status}: {body}"
        );
        let tokens: serde_json::Value = serde_json::from_str(&body).context("token answer")?;
        r.json_secrets(&p("first"), &tokens);
        let access = tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let refresh = tokens["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();

        let resp = http
            .get(format!("{issuer}/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .context("userinfo")?;
        let s = resp.status().as_u16();
        let b = resp.text().await.unwrap_or_default();
        if s != 200 {
            r.body("userinfo", s, &b);
        }
        let (s, b) = login::post_form(
            &http,
            &format!("{issuer}/token/introspect"),
            Some((c.client_id.as_str(), "wrong-secret")),
            &[("token", access.as_str())],
        )
        .await
        .map_err(fail("introspection"))?;
        r.body("introspection with a wrong secret", s, &b);
        let _ = login::post_form(
            &http,
            &format!("{issuer}/token/introspect"),
            basic,
            &[("token", access.as_str())],
        )
        .await;
        if !refresh.is_empty() {
            let (s, b) = login::post_form(
                &http,
                &token_url,
                basic,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ],
            )
            .await
            .map_err(fail("refresh"))?;
            if s == 200 {
                let json: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
                r.json_secrets(&p("refreshed"), &json);
            } else {
                r.body("refresh", s, &b);
            }
            // The rotated token again: reuse detection answers with an error.
            let (s, b) = login::post_form(
                &http,
                &token_url,
                basic,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ],
            )
            .await
            .map_err(fail("refresh reuse"))?;
            r.body("refresh reuse", s, &b);
        }

        // A wrong client secret, then a replayed code (last: a replay revokes
        // the session, RFC 6749 §4.1.2).
        let (s, b) = login::post_form(
            &http,
            &token_url,
            Some((c.client_id.as_str(), "wrong-secret")),
            &grant,
        )
        .await
        .map_err(fail("wrong secret"))?;
        r.body("wrong client secret", s, &b);
        let (s, b) = login::post_form(&http, &token_url, basic, &grant)
            .await
            .map_err(fail("code replay"))?;
        r.body("code replay", s, &b);
        let (s, b) = login::post_form(
            &http,
            &format!("{issuer}/token/revoke"),
            basic,
            &[("token", refresh.as_str())],
        )
        .await
        .map_err(fail("revocation"))?;
        if s != 200 {
            r.body("revocation", s, &b);
        }
        let resp = http
            .get(format!("{issuer}/userinfo"))
            .bearer_auth(format!("{access}x"))
            .send()
            .await
            .context("userinfo")?;
        let s = resp.status().as_u16();
        r.body(
            "userinfo with a tampered token",
            s,
            &resp.text().await.unwrap_or_default(),
        );
    }

    // Pachyderm's login: GetOIDCLogin, the browser part, Authenticate.
    let channel = Endpoint::from_shared(address.to_owned())
        .with_context(|| format!("--address `{address}` is not a URL"))?
        .connect()
        .await
        .with_context(|| format!("{address}: cannot connect"))?;
    let mut api = ApiClient::new(channel);
    let oidc = api
        .get_oidc_login(Request::new(GetOidcLoginRequest {}))
        .await
        .map_err(|s| anyhow::anyhow!("GetOIDCLogin: {}", s.message()))?
        .into_inner();
    r.secret("pachd.oidc_state", &oidc.state);
    let mut url = url::Url::parse(&oidc.login_url).context("GetOIDCLogin's login_url")?;
    // With several connectors /auth shows a chooser; pick the first as a
    // person would.
    if let Some(first) = connectors.first() {
        url.query_pairs_mut().append_pair("connector_id", first);
    }
    let back = format!(
        "{}/authorization-code/callback",
        address.trim_end_matches('/')
    );
    let mut pachd = c.clone();
    pachd.redirect_uri.clone_from(&back);
    let callback = login::follow(&http, url, &pachd, &back)
        .await
        .map_err(fail("Pachyderm OIDC login"))?;
    if let Some((_, code)) = callback.query_pairs().find(|(k, _)| k == "code") {
        r.secret("pachd.code", &code);
    }
    let resp = http.get(callback).send().await.context("the callback")?;
    let s = resp.status().as_u16();
    let b = resp.text().await.unwrap_or_default();
    if !(200..400).contains(&s) {
        r.body("authorization-code callback", s, &b);
    }
    let pach = api
        .authenticate(Request::new(AuthenticateRequest {
            oidc_state: oidc.state.clone(),
            id_token: String::new(),
        }))
        .await
        .map_err(|s| anyhow::anyhow!("Authenticate: {}", s.message()))?
        .into_inner()
        .pach_token;
    r.secret("pachd.session_token", &pach);
    let _ = api.who_am_i(with_token(WhoAmIRequest {}, &pach)?).await;
    let robot = api
        .get_robot_token(with_token(
            GetRobotTokenRequest {
                robot: "proof".into(),
                ttl: 3600,
            },
            root,
        )?)
        .await
        .map_err(|s| anyhow::anyhow!("GetRobotToken: {}", s.message()))?
        .into_inner()
        .token;
    r.secret("robot_token", &robot);
    if let Err(s) = api
        .who_am_i(with_token(WhoAmIRequest {}, &format!("{pach}x"))?)
        .await
    {
        r.body("WhoAmI with a tampered token", s.code() as u16, s.message());
    }
    if let Err(s) = api
        .authenticate(Request::new(AuthenticateRequest {
            oidc_state: String::new(),
            id_token: format!(
                "{}.x",
                r.secrets
                    .lines()
                    .find(|l| l.contains("id_token"))
                    .and_then(|l| l.split('\t').nth(1))
                    .unwrap_or_default()
            ),
        }))
        .await
    {
        r.body(
            "Authenticate with a tampered ID token",
            s.code() as u16,
            s.message(),
        );
    }

    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    std::fs::write(out.join("secrets"), &r.secrets)
        .with_context(|| format!("{}: cannot write", out.join("secrets").display()))?;
    std::fs::write(out.join("bodies"), &r.bodies)
        .with_context(|| format!("{}: cannot write", out.join("bodies").display()))?;
    println!("secrets_recorded: {}", r.secrets.lines().count());
    println!(
        "error_answers_recorded: {}",
        r.bodies.lines().filter(|l| l.starts_with("--- ")).count()
    );
    Ok(true)
}
