//! `tusk doctor`: checks a deployment from the outside, one line per
//! check, each failure with its fix.
//!
//! For every upstream `oidc` connector (from `--values`, or from the
//! running server): discovery answers; the issuer matches exactly (with
//! the trailing-slash hint and the exact value to write); the JWKS parses;
//! `redirectURI` is `<issuer>/callback` (or the skip flag is set); the
//! upstream's token endpoint accepts the client credentials (a dummy code
//! earns `invalid_grant` when they are good and `invalid_client` when they
//! are not); the TLS chain verifies and is not about to expire; and this
//! machine's clock agrees with the upstream's `Date`. For every `ldap`
//! connector in `--values` (doctor/ldap.rs): connect (TLS mode), service
//! bind, and the user and group search bases. Against a running
//! server (`--address`) it also checks tusk's own `/readyz`, gRPC, issuer
//! discovery and TLS. `github` connectors (from `--values`, or from the
//! running server) get their own checks (`doctor/github.rs`): API
//! reachability with `rootCA`, and the OAuth app's credentials.

mod github;

mod ldap;

mod saml;

use crate::client::{self, Address, ClientArgs, Conn, Target};
use crate::config_args::{self, SourceArgs};
use crate::error::{Failure, Outcome, chain};
use crate::output::{self, Format, Out};
use clap::Args;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    out: Out,
}

/// The connector types doctor checks against their live systems.
const CHECKED_KINDS: &[&str] = &["oidc", "saml"];

/// Largest clock difference tolerated: the provider's ID-token leeway.
const MAX_SKEW_SECS: i64 = 60;
/// A certificate expiring sooner than this is reported as due.
const RENEW_DAYS: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ok,
    Fail,
    Skip,
}

struct Check {
    name: String,
    state: State,
    detail: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn ok(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.push(name, State::Ok, detail, None);
    }
    fn fail(&mut self, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, State::Fail, detail, Some(fix.into()));
    }
    fn skip(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.push(name, State::Skip, detail, None);
    }
    fn push(
        &mut self,
        name: impl Into<String>,
        state: State,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        let c = Check {
            name: name.into(),
            state,
            detail: detail.into(),
            fix,
        };
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            // Show progress as it goes when a person is watching.
            println!("{}", line(&c));
        }
        self.0.push(c);
    }
}

fn line(c: &Check) -> String {
    let tag = match c.state {
        State::Ok => "ok  ",
        State::Fail => "FAIL",
        State::Skip => "skip",
    };
    match &c.fix {
        Some(fix) => format!("{tag}  {}: {} — fix: {fix}", c.name, c.detail),
        None => format!("{tag}  {}: {}", c.name, c.detail),
    }
}

/// One upstream connector to check (`oidc`, `saml` or `github`).
struct Upstream {
    id: String,
    kind: String,
    config: Value,
}

pub async fn run(args: DoctorArgs) -> Outcome {
    let mut report = Report::default();
    let values_mode = !args.source.values.is_empty();
    let mut tusk_issuer: Option<String> = None;
    let mut upstreams: Vec<Upstream> = Vec::new();
    let mut githubs: Vec<Upstream> = Vec::new();
    let mut ldap_checked = false;
    if values_mode {
        let (loaded, diags) = args.source.load().map_err(Failure::usage)?;
        config_args::print_diagnostics(&diags);
        match loaded {
            config_args::Loaded::Ok(config) => {
                tusk_issuer = Some(config.issuer.clone());
                githubs.extend(
                    config
                        .connectors
                        .iter()
                        .filter(|c| c.type_ == "github")
                        .map(|c| Upstream {
                            id: c.id.clone(),
                            kind: c.type_.clone(),
                            config: c.config.clone(),
                        }),
                );
                upstreams.extend(
                    config
                        .connectors
                        .iter()
                        .filter(|c| CHECKED_KINDS.contains(&c.type_.as_str()))
                        .map(|c| Upstream {
                            id: c.id.clone(),
                            kind: c.type_.clone(),
                            config: c.config.clone(),
                        }),
                );
                report.ok(
                    "values",
                    format!(
                        "configuration valid; issuer {}, {} connector(s), {} of type oidc or saml",
                        config.issuer,
                        config.connectors.len(),
                        upstreams.len()
                    ),
                );
                let expiry = ldap::Expiry {
                    not_after,
                    now: output::now(),
                    renew_days: RENEW_DAYS,
                };
                ldap_checked = config.connectors.iter().any(|c| c.type_ == "ldap");
                for p in ldap::check(&config.connectors, &expiry).await {
                    let state = if p.ok { State::Ok } else { State::Fail };
                    report.push(p.check, state, p.detail, p.fix);
                }
            }
            config_args::Loaded::Refused => {
                return Err(Failure::usage(format!(
                    "configuration refused: {}",
                    config_args::summary(&diags)
                ))
                .help("fix the errors above (`tusk config check` shows the same), then run doctor again"));
            }
        }
    }
    // The running server: explicitly asked for, or the only thing to check.
    let server_mode =
        args.client.address.is_some() || args.client.context.is_some() || !values_mode;
    if server_mode {
        let target = args.client.resolve()?;
        let (issuer, server_upstreams) =
            check_server(&target, &args.source.values, &mut report).await;
        if tusk_issuer.is_none() {
            tusk_issuer = issuer;
        }
        if !values_mode {
            upstreams = server_upstreams;
            githubs = github::from_server(&target)
                .await
                .into_iter()
                .map(|(id, config)| Upstream {
                    id,
                    kind: "github".into(),
                    config,
                })
                .collect();
        }
    }
    for u in &upstreams {
        match u.kind.as_str() {
            "saml" => saml::check(&u.id, &u.config, tusk_issuer.as_deref())
                .await
                .into_iter()
                .for_each(|f| match f.fix {
                    Some(fix) => report.fail(f.name, f.detail, fix),
                    None => report.ok(f.name, f.detail),
                }),
            _ => check_upstream(u, tusk_issuer.as_deref(), &mut report).await,
        }
    }
    if upstreams.is_empty() && githubs.is_empty() && !ldap_checked {
        report.skip(
            "upstream",
            "no upstream connector (oidc, saml, github, ldap) to check",
        );
    }
    for g in &githubs {
        for f in github::check(&g.id, &g.config, tusk_issuer.as_deref())
            .await
            .0
        {
            match f {
                github::Finding::Ok(name, detail) => report.ok(name, detail),
                github::Finding::Fail(name, detail, fix) => report.fail(name, detail, fix),
                github::Finding::Skip(name, detail) => report.skip(name, detail),
            }
        }
    }
    let failed = report.0.iter().filter(|c| c.state == State::Fail).count();
    let value = json!(
        report
            .0
            .iter()
            .map(|c| json!({
                "check": c.name,
                "status": match c.state { State::Ok => "ok", State::Fail => "FAIL", State::Skip => "skip" },
                "detail": c.detail,
                "fix": c.fix,
            }))
            .collect::<Vec<_>>()
    );
    let live =
        args.out.output == Format::Text && std::io::IsTerminal::is_terminal(&std::io::stdout());
    output::emit(args.out.output, &value, || {
        let mut s = String::new();
        if !live {
            for c in &report.0 {
                s.push_str(&line(c));
                s.push('\n');
            }
        }
        s.push_str(&format!(
            "{} check(s), {failed} failed",
            report.0.iter().filter(|c| c.state != State::Skip).count()
        ));
        s
    })?;
    if failed > 0 {
        // The summary line said it; exit 1 without repeating it.
        return Err(Failure::run(""));
    }
    Ok(())
}

/// Where to fix a broken connector. Connectors that come from
/// configuration (values, a Secret, `IDP_CONNECTORS`) cannot be changed
/// through the identity API (the server refuses `idp update-connector`
/// then), so the fix names the source instead; `origin` is the server's
/// `connectorsOrigin`, absent when the connectors live in its store.
fn connector_fix(id: &str, origin: Option<&str>, values: &[std::path::PathBuf]) -> String {
    let why = format!("the upstream checks for `{id}` below say why");
    match origin {
        None => format!(
            "{why}; fix its config with `tusk idp get-connector {id} -o yaml`, edit, then `tusk idp update-connector --config FILE`"
        ),
        Some(origin) => {
            let files = values
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let place = match origin.strip_prefix("values ") {
                Some(key) if !files.is_empty() => format!("`{key}` in {files}"),
                Some(key) => format!("`{key}` in the server's --values file"),
                None => origin.to_owned(),
            };
            let apply = if origin.starts_with("environment") {
                "restart tusk to apply it"
            } else {
                "the server reloads it"
            };
            format!(
                "{why}; the connectors come from {place} (the identity API refuses changes to them): edit `{id}` there and {apply}"
            )
        }
    }
}

/// tusk's own checks; returns the issuer it reports and its connectors.
async fn check_server(
    target: &Target,
    values: &[std::path::PathBuf],
    report: &mut Report,
) -> (Option<String>, Vec<Upstream>) {
    let addr = &target.addr;
    let http = match client::http_client(target.ca_pem.as_deref()) {
        Ok(h) => h,
        Err(f) => {
            report.fail("tusk: readyz", f.message, f.help.unwrap_or_default());
            return (None, Vec::new());
        }
    };
    let readyz_url = format!("{}/readyz", addr.http_base());
    let mut issuer = None;
    let mut from_readyz: Vec<Upstream> = Vec::new();
    match client::readyz(&http, target).send().await {
        Ok(resp) => {
            let code = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            issuer = body["checks"]["config"]["issuer"]
                .as_str()
                .map(str::to_owned);
            let origin = body["checks"]["config"]["connectorsOrigin"]
                .as_str()
                .map(str::to_owned);
            if let Some(list) = body["checks"]["config"]["connectors"].as_array() {
                from_readyz = list
                    .iter()
                    .filter(|c| CHECKED_KINDS.iter().any(|k| c["type"] == *k))
                    .map(|c| Upstream {
                        id: c["id"].as_str().unwrap_or("").to_owned(),
                        kind: c["type"].as_str().unwrap_or("").to_owned(),
                        config: c["config"].clone(),
                    })
                    .collect();
            }
            if body["ready"] == true {
                report.ok(
                    "tusk: readyz",
                    format!(
                        "{readyz_url} ready (store {})",
                        body["checks"]["store"]["backend"].as_str().unwrap_or("?")
                    ),
                );
            } else {
                let mut why = Vec::new();
                if body["checks"]["store"]["ok"] != true {
                    why.push(format!(
                        "store: {}",
                        body["checks"]["store"]["error"]
                            .as_str()
                            .unwrap_or("not ok")
                    ));
                }
                if body["draining"] == true {
                    why.push("the server is shutting down".into());
                }
                let no_login = body["reason"] == "no_connector_available";
                if no_login {
                    why.push("no connector can log anyone in".into());
                }
                report.fail(
                    "tusk: readyz",
                    format!("{readyz_url} answered {code}, not ready: {}", why.join("; ")),
                    if no_login {
                        "every configured connector is unavailable: the connector checks below say why"
                    } else {
                        "check the server's log; for the store, that the database is reachable (--database-url) and the data dir writable"
                    },
                );
            }
            for c in body["checks"]["connectors"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let id = c["id"].as_str().unwrap_or("?");
                if c["ok"] == true {
                    report.ok(format!("tusk: connector {id}"), "open");
                } else {
                    report.fail(
                        format!("tusk: connector {id}"),
                        format!(
                            "unavailable: {}",
                            c["error"].as_str().unwrap_or("unknown error")
                        ),
                        connector_fix(id, origin.as_deref(), values),
                    );
                }
            }
        }
        Err(e) => {
            let (detail, fix) = unreachable(addr, &e).await;
            report.fail("tusk: readyz", format!("{readyz_url}: {detail}"), fix);
        }
    }
    // gRPC, through the same connector as every other command.
    match Conn::new(target) {
        Ok(conn) => {
            let mut req = tonic::Request::new(());
            req.set_timeout(client::CALL_TIMEOUT);
            match conn.version().get_version(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    report.ok(
                        "tusk: gRPC",
                        format!(
                            "{addr} answers (version {}.{}.{}{})",
                            r.major,
                            r.minor,
                            r.micro,
                            if r.additional.is_empty() {
                                String::new()
                            } else {
                                format!(" {}", r.additional)
                            }
                        ),
                    );
                }
                Err(s) => {
                    let f = conn.fail("GetVersion", s).await;
                    report.fail("tusk: gRPC", f.message, f.help.unwrap_or_default());
                }
            }
        }
        Err(f) => report.fail("tusk: gRPC", f.message, f.help.unwrap_or_default()),
    }
    if addr.tls {
        check_tls("tusk: TLS", addr, target.ca_pem.as_deref(), report).await;
    }
    let issuer_url = issuer
        .clone()
        .unwrap_or_else(|| format!("{}/dex", addr.http_base()));
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer_url.trim_end_matches('/')
    );
    match http.get(&discovery).send().await {
        Ok(r) if r.status().is_success() => {
            let doc: Value = r.json().await.unwrap_or(Value::Null);
            match doc["issuer"].as_str() {
                Some(i) if i == issuer_url => report.ok("tusk: issuer", format!("{discovery} reports {i}")),
                other => report.fail(
                    "tusk: issuer",
                    format!("{discovery} reports issuer {other:?}, not {issuer_url:?}"),
                    "a proxy may rewrite the host: set oidc.issuerURI (or proxy.host) to the URL browsers and pachd use",
                ),
            }
        }
        Ok(r) => report.fail(
            "tusk: issuer",
            format!("{discovery} answered {}", r.status()),
            "the issuer must be served by tusk under /dex; check oidc.issuerURI and the proxy's /dex route",
        ),
        Err(e) => {
            let plain_to_tls = url::Url::parse(&issuer_url).ok().and_then(|u| {
                let host = u.host_str()?.to_owned();
                (u.scheme() == "http").then_some(Address {
                    tls: false,
                    host,
                    port: u.port_or_known_default().unwrap_or(80),
                })
            });
            let fix = match plain_to_tls {
                Some(a) if client::speaks_tls(&a).await => format!(
                    "the issuer says http:// but {} speaks TLS: set oidc.issuerURI to {}",
                    a.authority(),
                    issuer_url.replacen("http://", "https://", 1)
                ),
                _ => "the issuer must be reachable from browsers and clients: check oidc.issuerURI, proxy.host and DNS".to_owned(),
            };
            report.fail("tusk: issuer", format!("{discovery}: {}", chain(&e)), fix);
        }
    }
    if let Ok(u) = url::Url::parse(&issuer_url)
        && u.scheme() == "https"
        && let Some(host) = u.host_str()
    {
        let a = Address {
            tls: true,
            host: host.to_owned(),
            port: u.port_or_known_default().unwrap_or(443),
        };
        if a != *addr {
            check_tls("tusk: issuer TLS", &a, target.ca_pem.as_deref(), report).await;
        }
    }
    // Prefer the full connector configs (with secrets) when the session may
    // read them; else the masked ones from /readyz.
    let mut upstreams = from_readyz;
    if let Ok(conn) = Conn::new(target)
        && conn.has_token()
        && let Ok(req) = conn.request(tusk_proto::identity_v2::ListIdpConnectorsRequest {})
        && let Ok(resp) = conn.identity().list_idp_connectors(req).await
    {
        upstreams = resp
            .into_inner()
            .connectors
            .iter()
            .filter(|c| CHECKED_KINDS.contains(&c.r#type.as_str()))
            .map(|c| Upstream {
                id: c.id.clone(),
                kind: c.r#type.clone(),
                config: c.config.as_ref().map_or_else(
                    || serde_json::from_str(&c.json_config).unwrap_or(Value::Null),
                    tusk_proto::structs::struct_to_json,
                ),
            })
            .collect();
    }
    (issuer, upstreams)
}

/// Why an HTTP request to tusk failed, told apart like the gRPC errors.
async fn unreachable(addr: &Address, e: &reqwest::Error) -> (String, String) {
    let text = chain(e);
    if !addr.tls && speaks_tls_http(addr).await {
        return (
            format!("the server expects TLS ({text})"),
            format!("use the TLS address grpcs://{}", addr.authority()),
        );
    }
    if addr.tls && (text.contains("InvalidContentType") || text.contains("corrupt message")) {
        return (
            format!("the server does not speak TLS ({text})"),
            format!("use the plain-text address grpc://{}", addr.authority()),
        );
    }
    if text.contains("certificate") {
        return (
            text,
            "pass the CA that signed the server's certificate with --ca-cert FILE".into(),
        );
    }
    (
        text,
        "is tusk running there? Start it with `tusk serve`, or point --address at it".into(),
    )
}

async fn speaks_tls_http(addr: &Address) -> bool {
    client::speaks_tls(addr).await
}

/// Verifies the TLS chain of `addr` and reports the leaf's expiry.
async fn check_tls(name: &str, addr: &Address, extra_ca: Option<&[u8]>, report: &mut Report) {
    let verifier = match client::verifier(extra_ca, true) {
        Ok(v) => v,
        Err(f) => return report.fail(name, f.message, f.help.unwrap_or_default()),
    };
    let config = match client::tls_config(verifier.clone(), &[b"h2", b"http/1.1"]) {
        Ok(c) => c,
        Err(f) => return report.fail(name, f.message, f.help.unwrap_or_default()),
    };
    let result = client::tls_handshake(addr, Arc::new(config)).await;
    let chain_len = verifier.seen.lock().map(|s| s.len()).unwrap_or(0);
    let expiry = verifier
        .seen
        .lock()
        .ok()
        .and_then(|s| s.first().and_then(|c| not_after(c.as_ref())));
    let now = output::now();
    let expiry_text = expiry.map_or_else(String::new, |t| {
        let days = (t - now).div_euclid(86_400);
        format!(
            "; the certificate expires {} ({days} days)",
            output::rfc3339(t)
        )
    });
    match result {
        Ok(_) => match expiry {
            Some(t) if t - now < RENEW_DAYS * 86_400 => report.fail(
                name,
                format!(
                    "{} verified, chain of {chain_len}{expiry_text}",
                    addr.authority()
                ),
                "renew the certificate before it expires",
            ),
            _ => report.ok(
                name,
                format!(
                    "{} verified, chain of {chain_len}{expiry_text}",
                    addr.authority()
                ),
            ),
        },
        Err(e) => {
            let rustls_err = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            let fix = match rustls_err {
                Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired))
                | Some(rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext { .. })) => {
                    "renew the certificate".to_owned()
                }
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. },
                )) => format!("the certificate does not name {}: reissue it with that host in its subject alternative names", addr.host),
                Some(rustls::Error::InvalidCertificate(_)) => {
                    "the chain does not lead to a CA this machine trusts: serve the full chain (leaf + intermediates), or give the CA with --ca-cert (for upstreams, config.rootCAs)".to_owned()
                }
                Some(rustls::Error::InvalidMessage(_)) => "the port answers in plain text: use http:// for it".to_owned(),
                _ => "check that the host and port serve TLS and are reachable from here".to_owned(),
            };
            report.fail(name, format!("{}: {e}{expiry_text}", addr.authority()), fix);
        }
    }
}

fn is_okta(host: &str) -> bool {
    ["okta.com", "oktapreview.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// The trailing-slash hint of docs/oidc-connector.md §2, when that is the only
/// difference.
pub fn issuer_hint(configured: &str, discovered: &str) -> Option<String> {
    if configured.trim_end_matches('/') != discovered.trim_end_matches('/')
        || configured == discovered
    {
        return None;
    }
    let how = if discovered.ends_with('/') {
        "with"
    } else {
        "without"
    };
    Some(format!(
        "hint: the provider reports its issuer {how} a trailing slash; set issuer to \"{discovered}\""
    ))
}

async fn check_upstream(u: &Upstream, tusk_issuer: Option<&str>, report: &mut Report) {
    let id = &u.id;
    let c = &u.config;
    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let flag = |k: &str| c.get(k) == Some(&Value::Bool(true));
    let issuer = text("issuer");
    let name = |what: &str| format!("{id}: {what}");
    if issuer.is_empty() {
        report.fail(
            name("issuer"),
            "config.issuer is empty",
            "set config.issuer to the provider's issuer URL",
        );
        return;
    }
    let parsed = url::Url::parse(&issuer).ok();
    // Extra CAs the connector trusts: inline PEM, or files readable here.
    let mut extra = Vec::new();
    for ca in c
        .get("rootCAs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = ca.as_str() {
            if s.contains("-----BEGIN") {
                extra.extend_from_slice(s.as_bytes());
            } else if let Ok(b) = std::fs::read(s) {
                extra.extend_from_slice(&b);
            }
        }
    }
    let extra_ca = (!extra.is_empty()).then_some(extra.as_slice());
    let http = match build_http(extra_ca, flag("insecureSkipVerify")) {
        Ok(h) => h,
        Err(f) => return report.fail(name("discovery"), f.message, f.help.unwrap_or_default()),
    };
    // 1. Discovery.
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let mut date: Option<SystemTime> = None;
    let doc: Option<Value> = match http.get(&discovery_url).send().await {
        Ok(r) => {
            date = r
                .headers()
                .get("date")
                .and_then(|d| d.to_str().ok())
                .and_then(|d| httpdate::parse_http_date(d).ok());
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            if !status.is_success() {
                report.fail(
                    name("discovery"),
                    format!("{discovery_url} answered {status}: {}", snippet(&body)),
                    "check config.issuer: Okta's org issuer is https://<org>.okta.com, a custom authorization server https://<org>.okta.com/oauth2/<name>",
                );
                None
            } else {
                match serde_json::from_str::<Value>(&body) {
                    Ok(v) if v.is_object() => {
                        report.ok(name("discovery"), format!("{discovery_url} answered"));
                        Some(v)
                    }
                    _ => {
                        report.fail(
                            name("discovery"),
                            format!("{discovery_url} is not a JSON discovery document: {}", snippet(&body)),
                            "config.issuer must be the provider's issuer, whose discovery document is JSON",
                        );
                        None
                    }
                }
            }
        }
        Err(e) => {
            report.fail(
                name("discovery"),
                format!("{discovery_url}: {}", chain(&e)),
                "check the issuer's host name and that this machine (and tusk) can reach it: DNS, proxy, firewall",
            );
            None
        }
    };
    // 2. Issuer, exactly.
    if let Some(doc) = &doc {
        let discovered = doc["issuer"].as_str().unwrap_or("");
        if !text("issuerAlias").is_empty() {
            report.ok(
                name("issuer"),
                format!("issuerAlias is set; the provider reports {discovered:?}"),
            );
        } else if discovered == issuer {
            report.ok(name("issuer"), format!("{issuer} matches the provider's"));
        } else {
            let detail = format!(
                "configured {issuer:?}, the provider reports {discovered:?}; they must be identical"
            );
            match issuer_hint(&issuer, discovered) {
                Some(hint) => report.fail(name("issuer"), detail, hint),
                None => report.fail(
                    name("issuer"),
                    detail,
                    format!("set issuer to \"{discovered}\" if that is the provider you mean (or issuerAlias for providers that report another issuer)"),
                ),
            }
        }
    } else {
        report.skip(name("issuer"), "discovery failed");
    }
    // 3. JWKS.
    match doc.as_ref().and_then(|d| d["jwks_uri"].as_str()) {
        Some(jwks_uri) => match http.get(jwks_uri).send().await {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                match tusk_jose::VerifyingKeys::from_jwks(&v) {
                    Ok(keys) if !keys.is_empty() => {
                        report.ok(name("JWKS"), format!("{jwks_uri}: {} usable key(s)", keys.len()))
                    }
                    Ok(_) => report.fail(
                        name("JWKS"),
                        format!("{jwks_uri} has no usable signing key"),
                        "the provider must publish its ID-token signing keys (RS256, ES256 or EdDSA)",
                    ),
                    Err(e) => report.fail(
                        name("JWKS"),
                        format!("{jwks_uri} is not a valid key set: {e}"),
                        "the provider's jwks_uri must serve a JWK set",
                    ),
                }
            }
            Ok(r) => report.fail(
                name("JWKS"),
                format!("{jwks_uri} answered {}", r.status()),
                "the provider's jwks_uri must serve its keys",
            ),
            Err(e) => report.fail(
                name("JWKS"),
                format!("{jwks_uri}: {}", chain(&e)),
                "the jwks_uri must be reachable from tusk",
            ),
        },
        None if doc.is_some() => report.fail(
            name("JWKS"),
            "the discovery document has no jwks_uri",
            "the provider must advertise jwks_uri",
        ),
        None => report.skip(name("JWKS"), "discovery failed"),
    }
    // 4. redirectURI.
    let redirect = text("redirectURI");
    match tusk_issuer {
        Some(t) => {
            let want = format!("{}/callback", t.trim_end_matches('/'));
            if redirect == want {
                report.ok(
                    name("redirectURI"),
                    format!("{redirect} is tusk's callback"),
                );
            } else if flag("insecureSkipIssuerCallbackDomainCheck") {
                report.ok(
                    name("redirectURI"),
                    format!("{redirect:?} differs from {want:?}, allowed by insecureSkipIssuerCallbackDomainCheck; it must still route to tusk's /callback"),
                );
            } else {
                report.fail(
                    name("redirectURI"),
                    format!("{redirect:?} is not tusk's callback {want:?}"),
                    format!("set redirectURI to \"{want}\" and register that URL at the provider as the sign-in redirect"),
                );
            }
        }
        None => report.skip(name("redirectURI"), "tusk's issuer is unknown"),
    }
    // 5. Client credentials, with a code that cannot be valid.
    let secret = text("clientSecret");
    match doc.as_ref().and_then(|d| d["token_endpoint"].as_str()) {
        _ if secret == "***" => report.skip(
            name("credentials"),
            "the client secret is masked; log in as an admin (or use --values) to check it",
        ),
        Some(token_url) => {
            let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or("");
            let methods: Vec<&str> = doc
                .as_ref()
                .and_then(|d| d["token_endpoint_auth_methods_supported"].as_array())
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let post = is_okta(host)
                || flag("basicAuthUnsupported")
                || (!methods.is_empty()
                    && !methods.contains(&"client_secret_basic")
                    && methods.contains(&"client_secret_post"));
            check_credentials(
                &http,
                token_url,
                &text("clientID"),
                &secret,
                &redirect,
                post,
                &name("credentials"),
                report,
            )
            .await;
        }
        None if doc.is_some() => report.fail(
            name("credentials"),
            "the discovery document has no token_endpoint",
            "the provider must advertise token_endpoint",
        ),
        None => report.skip(name("credentials"), "discovery failed"),
    }
    // 6. TLS chain and expiry.
    if let Some(u) = parsed.as_ref().filter(|u| u.scheme() == "https")
        && let Some(host) = u.host_str()
    {
        let a = Address {
            tls: true,
            host: host.to_owned(),
            port: u.port_or_known_default().unwrap_or(443),
        };
        if flag("insecureSkipVerify") {
            report.fail(
                name("TLS"),
                "insecureSkipVerify is set: the upstream's certificate is not checked",
                "remove insecureSkipVerify; add the upstream's CA to rootCAs instead",
            );
        } else {
            check_tls(&name("TLS"), &a, extra_ca, report).await;
        }
    }
    // 7. Clock.
    match date {
        Some(d) => {
            let theirs = d
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |x| x.as_secs() as i64);
            let skew = output::now() - theirs;
            if skew.abs() <= MAX_SKEW_SECS {
                report.ok(
                    name("clock"),
                    format!("within {}s of the provider's clock", skew.abs().max(1)),
                );
            } else {
                report.fail(
                    name("clock"),
                    format!(
                        "this machine's clock is {} {} the provider's",
                        output::human_duration(skew),
                        if skew > 0 { "ahead of" } else { "behind" }
                    ),
                    "synchronise the clocks with NTP (chrony, systemd-timesyncd): ID tokens are refused as expired or not yet valid",
                );
            }
        }
        None if doc.is_some() => report.skip(name("clock"), "the provider sent no Date header"),
        None => report.skip(name("clock"), "discovery failed"),
    }
}

fn build_http(extra_ca: Option<&[u8]>, insecure: bool) -> Outcome<reqwest::Client> {
    if !insecure {
        return client::http_client(extra_ca);
    }
    let config = client::tls_config(client::verifier(None, false)?, &[b"http/1.1"])?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| Failure::run(format!("cannot build the HTTP client: {}", chain(&e))))
}

#[allow(clippy::too_many_arguments)]
async fn check_credentials(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    secret: &str,
    redirect: &str,
    post: bool,
    name: &str,
    report: &mut Report,
) {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", "tusk-doctor-not-a-real-code"),
        ("redirect_uri", redirect),
    ];
    if post {
        pairs.push(("client_id", client_id));
        pairs.push(("client_secret", secret));
    }
    let mut req = http
        .post(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(crate::login::form(&pairs));
    if !post {
        let enc = |s: &str| crate::login::form(&[("", s)])[1..].to_owned();
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(client_id),
            enc(secret)
        ));
        req = req.header("authorization", format!("Basic {basic}"));
    }
    let how = if post {
        "client_secret_post"
    } else {
        "client_secret_basic"
    };
    match req.send().await {
        Ok(r) => {
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let code = body["error"].as_str().unwrap_or("");
            let desc = body["error_description"].as_str().unwrap_or("");
            match code {
                "invalid_grant" => report.ok(
                    name,
                    format!("{token_url} accepted clientID and clientSecret ({how}); the dummy code was refused as expected"),
                ),
                "invalid_client" | "unauthorized_client" => report.fail(
                    name,
                    format!("{token_url} refused the client ({how}): {code}: {desc}"),
                    "check clientID and clientSecret against the application at the provider (Okta: Applications → your app → General → Client Credentials)",
                ),
                _ if status == reqwest::StatusCode::UNAUTHORIZED => report.fail(
                    name,
                    format!("{token_url} answered 401 ({how}): {code} {desc}"),
                    "check clientID and clientSecret; if the provider wants the secret in the form body, set basicAuthUnsupported: true",
                ),
                _ => report.fail(
                    name,
                    format!("{token_url} answered {status} ({how}) with {code:?} {desc:?}, not invalid_grant"),
                    "the credentials could not be confirmed: check that the application allows the authorization_code grant",
                ),
            }
        }
        Err(e) => report.fail(
            name,
            format!("{token_url}: {}", chain(&e)),
            "the token endpoint must be reachable from tusk",
        ),
    }
}

fn snippet(body: &str) -> String {
    let one: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}…", one.chars().take(120).collect::<String>())
    } else {
        one
    }
}

// --- X.509 notAfter, read straight from the DER -----------------------------

/// One DER TLV: (tag, contents, rest).
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The leaf certificate's notAfter, in seconds since the epoch.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    for _ in 0..3 {
        // serialNumber, signature, issuer
        rest = tlv(rest)?.2;
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, time, _) = tlv(after_not_before)?;
    let s = std::str::from_utf8(time).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(0..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r).and_then(|x| x.parse::<i64>().ok());
    let (mo, d, h, mi, sec) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
    Some(output::days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_hint_rows() {
        for (configured, discovered, want) in [
            ("https://x.okta.com/", "https://x.okta.com", Some("without")),
            ("https://x.okta.com", "https://x.okta.com/", Some("with")),
            ("https://x.okta.com", "https://x.okta.com", None),
            ("https://x.okta.com", "https://y.okta.com", None),
        ] {
            let hint = issuer_hint(configured, discovered);
            match want {
                Some(w) => {
                    let h = hint.unwrap_or_default();
                    assert!(h.contains(&format!("{w} a trailing slash")), "{h}");
                    assert!(
                        h.ends_with(&format!("set issuer to \"{discovered}\"")),
                        "{h}"
                    );
                }
                None => assert_eq!(hint, None),
            }
        }
    }

    #[test]
    fn okta_hosts() {
        for (host, okta) in [
            ("dev-1.okta.com", true),
            ("okta.com", true),
            ("x.oktapreview.com", true),
            ("notokta.com", false),
            ("okta.com.evil.io", false),
        ] {
            assert_eq!(is_okta(host), okta, "{host}");
        }
    }

    #[test]
    fn not_after_of_a_generated_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap_or_default();
        params.not_after = rcgen::date_time_ymd(2031, 7, 9);
        let key = rcgen::KeyPair::generate();
        let cert = key.and_then(|k| params.self_signed(&k));
        let der = cert.map(|c| c.der().to_vec()).unwrap_or_default();
        assert_eq!(
            not_after(&der).map(output::rfc3339).as_deref(),
            Some("2031-07-09T00:00:00Z")
        );
        assert_eq!(not_after(b"\x30\x03\x02\x01"), None);
    }
}
