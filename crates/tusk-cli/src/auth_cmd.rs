//! `tusk auth …`: a thin client over `auth_v2.API`, modelled on
//! `pachctl auth`. Input is checked here first (role names, principals,
//! permissions, resource names) so a typo is named with a suggestion
//! before anything is sent.

use crate::client::{ClientArgs, Conn, Target};
use crate::error::{Failure, Outcome};
use crate::login;
use crate::output::{self, Format};
use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use tusk_core::auth as core;
use tusk_proto::auth_v2 as pb;

#[derive(Args, Clone, Copy, Debug, Default)]
pub struct Out {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Cluster,
    Project,
    Repo,
}

#[derive(Args)]
pub struct LoginArgs {
    /// Print the login URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// Log in with a short code shown here and entered in a browser on any device (OAuth device flow).
    #[arg(long, conflicts_with = "id_token")]
    device: bool,
    /// Log in with an ID token issued by tusk's provider (its audience must include pachd).
    #[arg(short = 't', long, value_name = "ID_TOKEN")]
    id_token: Option<String>,
    /// The public OIDC client the device flow uses.
    #[arg(
        long,
        default_value = "tusk-cli",
        value_name = "ID",
        requires = "device"
    )]
    client_id: String,
    /// The client the ID token must be issued to (pachd's OIDC client id).
    #[arg(long, default_value = "pachd", value_name = "ID", requires = "device")]
    audience: String,
    /// The provider's issuer URL for the device flow (default: the server's address with /dex).
    #[arg(long, value_name = "URL", requires = "device")]
    issuer: Option<String>,
}

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Turn auth on; the root token is printed once and saved in the context.
    #[command(
        after_help = "Examples:\n  tusk auth activate\n  echo \"$ROOT_TOKEN\" | tusk auth activate --supply-root-token\n  tusk auth activate --issuer https://pach.example.com/dex"
    )]
    Activate {
        /// Read the root token to use from stdin instead of generating one.
        #[arg(long)]
        supply_root_token: bool,
        /// Only activate; do not configure the OIDC login of pachd's client.
        #[arg(long)]
        only_activate: bool,
        /// The issuer pachd's login uses (default: the one the server reports at /readyz).
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
        /// pachd's OIDC client id.
        #[arg(long, default_value = "pachd", value_name = "ID")]
        client_id: String,
    },
    /// Turn auth off: deletes every role binding, token and group membership.
    #[command(after_help = "Examples:\n  tusk auth deactivate\n  tusk auth deactivate --yes")]
    Deactivate {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Log in and save the session token in the context.
    #[command(
        after_help = "Examples:\n  tusk auth login                    # opens a browser\n  tusk auth login --no-browser       # prints the URL\n  tusk auth login --device           # a short code for a browser elsewhere\n  tusk auth login -t \"$ID_TOKEN\"\n\nThe device flow uses the public client `tusk-cli`. Register it in the values:\n  oidc:\n    additionalClients: [{id: tusk-cli, name: tusk CLI, public: true, trusted_peers: []}]\n  pachd:\n    additionalTrustedPeers: [tusk-cli]"
    )]
    Login(LoginArgs),
    /// Revoke the session token on the server and forget it here.
    #[command(after_help = "Example:\n  tusk auth logout")]
    Logout,
    /// Show who the session belongs to and when it expires.
    #[command(after_help = "Examples:\n  tusk auth whoami\n  tusk auth whoami -o json")]
    Whoami(Out),
    /// Create a token for a robot user and print it.
    #[command(
        name = "get-robot-token",
        after_help = "Examples:\n  tusk auth get-robot-token ci\n  tusk auth get-robot-token ci --ttl 720h -o json"
    )]
    GetRobotToken {
        /// The robot's name (`robot:` is added).
        robot: String,
        /// Lifetime, e.g. 1h or 30d… in Go syntax (720h); default: no expiry.
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        #[command(flatten)]
        out: Out,
    },
    /// Revoke one token, or every token of a user.
    #[command(
        after_help = "Examples:\n  tusk auth revoke --user user:alice@example.com\n  echo \"$TOKEN\" | tusk auth revoke --token -"
    )]
    Revoke {
        /// The token to revoke; `-` reads it from stdin.
        #[arg(
            long,
            value_name = "TOKEN",
            required_unless_present = "user",
            conflicts_with = "user"
        )]
        token: Option<String>,
        /// Revoke every token of this user (e.g. user:alice@example.com).
        #[arg(long, value_name = "PRINCIPAL")]
        user: Option<String>,
    },
    /// List your groups, or another principal's.
    #[command(
        name = "get-groups",
        after_help = "Examples:\n  tusk auth get-groups\n  tusk auth get-groups --user user:alice@example.com -o json"
    )]
    GetGroups {
        /// Whose groups (needs CLUSTER_AUTH_GET_GROUPS).
        #[arg(long, value_name = "PRINCIPAL")]
        user: Option<String>,
        #[command(flatten)]
        out: Out,
    },
    /// Read a token from stdin and save it as the context's session token.
    #[command(
        name = "use-auth-token",
        after_help = "Examples:\n  echo \"$ROBOT_TOKEN\" | tusk auth use-auth-token\n  tusk auth use-auth-token < root-token"
    )]
    UseAuthToken,
    /// Show the roles and permissions you (or PRINCIPAL) have on a resource.
    #[command(
        after_help = "Examples:\n  tusk auth check project default\n  tusk auth check repo default/images\n  tusk auth check repo images --project default user:alice@example.com -o json"
    )]
    Check {
        kind: Kind,
        /// The project, or the repo as PROJECT/REPO (or REPO with --project).
        name: Option<String>,
        /// Check this principal instead of yourself.
        principal: Option<String>,
        /// The repo's project.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        #[command(flatten)]
        out: Out,
    },
    /// Set a principal's roles on the cluster, a project or a repo (`none` removes them).
    #[command(
        after_help = "Usage forms:\n  tusk auth set cluster ROLES PRINCIPAL\n  tusk auth set project PROJECT ROLES PRINCIPAL\n  tusk auth set repo [PROJECT/]REPO ROLES PRINCIPAL [--project PROJECT]\n\nExamples:\n  tusk auth set cluster clusterAdmin user:alice@example.com\n  tusk auth set project default projectWriter,projectViewer group:analysts\n  tusk auth set repo default/images repoReader robot:ci\n  tusk auth set repo images none robot:ci"
    )]
    Set {
        kind: Kind,
        /// [NAME] ROLES PRINCIPAL; ROLES is comma-separated, or `none`.
        #[arg(num_args = 2..=3, value_name = "ARGS", required = true)]
        args: Vec<String>,
        /// The repo's project.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
    },
    /// Show the role binding of the cluster, a project or a repo.
    #[command(
        after_help = "Examples:\n  tusk auth get cluster\n  tusk auth get project default\n  tusk auth get repo default/images -o yaml"
    )]
    Get {
        kind: Kind,
        /// The project, or the repo as PROJECT/REPO.
        name: Option<String>,
        /// The repo's project.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        #[command(flatten)]
        out: Out,
    },
    /// Replace the root token; prints the new one unless you supply it.
    #[command(
        name = "rotate-root-token",
        after_help = "Examples:\n  tusk auth rotate-root-token\n  echo \"$NEW_ROOT\" | tusk auth rotate-root-token --supply-token"
    )]
    RotateRootToken {
        /// Read the new root token from stdin.
        #[arg(long)]
        supply_token: bool,
    },
    /// List the roles that grant a permission.
    #[command(
        name = "roles-for-permission",
        after_help = "Examples:\n  tusk auth roles-for-permission REPO_READ\n  tusk auth roles-for-permission cluster_auth_get_config -o json"
    )]
    RolesForPermission {
        /// A permission name such as REPO_READ (case does not matter).
        permission: String,
        #[command(flatten)]
        out: Out,
    },
    /// Show pachd's OIDC login configuration (client secret masked).
    #[command(
        name = "get-config",
        after_help = "Examples:\n  tusk auth get-config\n  tusk auth get-config -o json > auth.json"
    )]
    GetConfig {
        /// Print the client secret instead of `***`.
        #[arg(long)]
        show_secrets: bool,
        #[command(flatten)]
        out: Out,
    },
    /// Replace pachd's OIDC login configuration from a JSON or YAML file.
    #[command(
        name = "set-config",
        after_help = "Examples:\n  tusk auth set-config --file auth.yaml\n  tusk auth get-config -o json | tusk auth set-config --file -\n\nKeys: issuer, client_id, client_secret, redirect_uri, scopes, require_email_verified,\nlocalhost_issuer, user_accessible_issuer_host. A client_secret of `***` or none keeps the stored one."
    )]
    SetConfig {
        /// The file; `-` reads stdin.
        #[arg(short = 'f', long, value_name = "FILE")]
        file: PathBuf,
    },
}

/// The nearest name, for "did you mean".
pub fn did_you_mean<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    tusk_core::config::diag::suggest(unknown, known)
}

pub fn read_stdin_secret(what: &str) -> Outcome<String> {
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the {what} and press Enter:");
    }
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read the {what} from stdin: {e}")))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(Failure::usage(format!("no {what} on stdin")).help(format!(
            "pipe it in, e.g. `echo \"$TOKEN\" | tusk …`, with the {what} on the first line"
        )));
    }
    Ok(token)
}

pub fn check_principal(p: &str) -> Outcome {
    core::check_subject(p).map_err(|why| {
        Failure::usage(format!("principal `{p}` is not valid: {why}")).help(
            "principals look like user:alice@example.com, group:analysts, robot:ci, pach:root, or allClusterUsers",
        )
    })
}

fn parse_roles(text: &str) -> Outcome<Vec<String>> {
    if text == "none" {
        return Ok(Vec::new());
    }
    let mut roles = Vec::new();
    for r in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !core::ROLES.contains(&r) {
            let help = match did_you_mean(r, core::ROLES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the roles are: {}", core::ROLES.join(", ")),
            };
            return Err(Failure::usage(format!("unknown role `{r}`")).help(help));
        }
        if !roles.iter().any(|x| x == r) {
            roles.push(r.to_owned());
        }
    }
    if roles.is_empty() {
        return Err(Failure::usage("no roles given").help(
            "give roles separated by commas (repoReader,repoWriter), or `none` to remove the principal's roles",
        ));
    }
    Ok(roles)
}

/// The wire resource for a kind and an optional name.
pub fn resource(kind: Kind, name: Option<&str>, project: Option<&str>) -> Outcome<pb::Resource> {
    let need = |what: &str| {
        Failure::usage(format!("a {what} name is required")).help(match kind {
            Kind::Repo => "name the repo as PROJECT/REPO, or REPO with --project PROJECT",
            _ => "name the project, e.g. `default`",
        })
    };
    let valid = |n: &str| !n.is_empty() && !n.contains(char::is_whitespace);
    let (t, name) = match kind {
        Kind::Cluster => {
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                return Err(Failure::usage(format!(
                    "the cluster has no name, but `{n}` was given"
                ))
                .help("leave the name out: `tusk auth … cluster …`"));
            }
            (pb::ResourceType::Cluster, String::new())
        }
        Kind::Project => {
            let n = name.ok_or_else(|| need("project"))?;
            if !valid(n) || n.contains('/') {
                return Err(Failure::usage(format!("`{n}` is not a project name"))
                    .help("a project name has no spaces and no `/`"));
            }
            (pb::ResourceType::Project, n.to_owned())
        }
        Kind::Repo => {
            let n = name.ok_or_else(|| need("repo"))?;
            let full = match (n.split_once('/'), project) {
                (Some(_), Some(p)) => {
                    return Err(Failure::usage(format!(
                        "repo `{n}` already names its project, and --project {p} names another"
                    ))
                    .help("use either PROJECT/REPO or REPO --project PROJECT"));
                }
                (Some(_), None) => n.to_owned(),
                (None, p) => format!("{}/{n}", p.unwrap_or("default")),
            };
            let ok = full
                .split_once('/')
                .is_some_and(|(p, r)| valid(p) && valid(r) && !r.contains('/'));
            if !ok {
                return Err(Failure::usage(format!("`{full}` is not a repo name"))
                    .help("write PROJECT/REPO without spaces, e.g. default/images"));
            }
            (pb::ResourceType::Repo, full)
        }
    };
    Ok(pb::Resource {
        r#type: t as i32,
        name,
    })
}

fn describe(r: &pb::Resource) -> String {
    let t = core::ResourceType::from_i32(r.r#type).unwrap_or(core::ResourceType::Unknown);
    if r.name.is_empty() {
        t.name().to_owned()
    } else {
        format!("{} {}", t.name(), r.name)
    }
}

fn permission(text: &str) -> Outcome<core::Permission> {
    let norm = text.trim().to_ascii_uppercase().replace('-', "_");
    match core::Permission::from_name(&norm).filter(|p| p.0 != 0) {
        Some(p) => Ok(p),
        None => {
            let names = core::PERMISSIONS.iter().skip(1).map(|(_, n)| *n);
            Err(
                Failure::usage(format!("unknown permission `{text}`")).help(
                    match did_you_mean(&norm, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "permission names look like REPO_READ or CLUSTER_AUTH_GET_CONFIG (see docs/wire-api.md)".into(),
                    },
                ),
            )
        }
    }
}

/// Names, without the repeats a server may send.
fn permission_names(ps: &[i32]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in ps {
        let name = core::Permission(*p).name().to_owned();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// pachd's OIDC configuration as a file: snake_case as on the wire,
/// camelCase accepted; unknown keys are refused by name.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OidcConfigFile {
    #[serde(default)]
    issuer: String,
    #[serde(default, alias = "clientId", alias = "clientID")]
    client_id: String,
    #[serde(default, alias = "clientSecret")]
    client_secret: Option<String>,
    #[serde(default, alias = "redirectUri", alias = "redirectURI")]
    redirect_uri: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default, alias = "requireEmailVerified")]
    require_email_verified: bool,
    #[serde(default, alias = "localhostIssuer")]
    localhost_issuer: bool,
    #[serde(default, alias = "userAccessibleIssuerHost")]
    user_accessible_issuer_host: String,
}

/// Reads a file (or stdin for `-`) with the usual size cap.
pub fn read_input(path: &std::path::Path) -> Outcome<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(tusk_core::yaml::MAX_INPUT_BYTES as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        return Ok(buf);
    }
    crate::sources::read_capped(path).map_err(Failure::usage)
}

/// Parses a small YAML/JSON file into `T`, naming the file, line and key.
pub fn parse_file<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    bytes: &[u8],
) -> Outcome<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::usage(format!(
            "{}: the file is empty",
            path.display()
        )));
    }
    serde_norway::from_slice(bytes).map_err(|e| {
        let at = e
            .location()
            .map_or_else(String::new, |l| format!(":{}", l.line()));
        let msg = e.to_string();
        // serde names the expected keys; keep the message, add the place.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        Failure::usage(format!("{}{at}: {msg}", path.display()))
    })
}

/// pachd's OIDC config in the file format `set-config` reads.
#[derive(serde::Serialize)]
struct OidcConfigOut {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    scopes: Vec<String>,
    require_email_verified: bool,
    localhost_issuer: bool,
    user_accessible_issuer_host: String,
}

fn config_out(c: &pb::OidcConfig, show_secrets: bool) -> OidcConfigOut {
    OidcConfigOut {
        issuer: c.issuer.clone(),
        client_id: c.client_id.clone(),
        client_secret: if show_secrets || c.client_secret.is_empty() {
            c.client_secret.clone()
        } else {
            "***".to_owned()
        },
        redirect_uri: c.redirect_uri.clone(),
        scopes: c.scopes.clone(),
        require_email_verified: c.require_email_verified,
        localhost_issuer: c.localhost_issuer,
        user_accessible_issuer_host: c.user_accessible_issuer_host.clone(),
    }
}

/// The issuer the server reports in `/readyz` (`checks.config.issuer`).
pub async fn reported_issuer(target: &Target) -> Option<String> {
    let http = crate::client::http_client(target.ca_pem.as_deref()).ok()?;
    let body: Value = crate::client::readyz(&http, target)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["checks"]["config"]["issuer"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

macro_rules! call {
    ($conn:expr, $svc:ident, $method:ident, $rpc:literal, $msg:expr) => {
        match $conn.$svc().$method($conn.request($msg)?).await {
            Ok(r) => r.into_inner(),
            Err(s) => return Err($conn.fail($rpc, s).await),
        }
    };
}
pub(crate) use call;

pub async fn run(args: ClientArgs, cmd: AuthCommand) -> Outcome {
    let mut target = args.resolve()?;
    let conn = Conn::new(&target)?;
    match cmd {
        AuthCommand::Activate {
            supply_root_token,
            only_activate,
            issuer,
            client_id,
        } => {
            let supplied = if supply_root_token {
                Some(read_stdin_secret("root token")?)
            } else {
                None
            };
            let resp = conn
                .auth()
                .activate(conn.request_with(
                    pb::ActivateRequest {
                        root_token: supplied.clone().unwrap_or_default(),
                    },
                    None,
                    Some(crate::client::CALL_TIMEOUT),
                )?)
                .await;
            let root = match resp {
                Ok(r) => r.into_inner().pach_token,
                Err(s) => {
                    let f = conn.fail("Activate", s).await;
                    return Err(if f.message.contains("already activated") {
                        f.help("auth is on already; log in with `tusk auth login`, or use the root token with `tusk auth use-auth-token`")
                    } else {
                        f
                    });
                }
            };
            let name = target.context.clone();
            target.file.create(&name);
            target
                .file
                .set_field(&name, "pachd_address", Some(&target.addr.to_string()));
            target.file.set_field(&name, "session_token", Some(&root));
            if target.file.active_name().is_none() {
                target.file.set_active(&name);
            }
            target.file.save()?;
            if supplied.is_none() {
                println!("Auth is active. The root token (shown once; keep it safe) is:\n{root}");
            } else {
                println!("Auth is active with the root token you supplied.");
            }
            println!(
                "It is saved as the session of context `{name}` ({}).",
                target.file.path.display()
            );
            if only_activate {
                return Ok(());
            }
            // pachctl's next step: point pachd's login at the provider,
            // with the pachd client's stored secret.
            let root_conn = Conn::new(&crate::client::Target {
                token: Some(root.clone()),
                token_withheld: None,
                file: crate::context::ConfigFile::load()?,
                context: name,
                addr: target.addr.clone(),
                ca_pem: target.ca_pem.clone(),
            })?;
            let issuer = match issuer {
                Some(i) => i,
                None => reported_issuer(&target)
                    .await
                    .unwrap_or_else(|| format!("{}/dex", target.addr.http_base())),
            };
            let configured = async {
                let client = call!(
                    root_conn,
                    identity,
                    get_oidc_client,
                    "GetOIDCClient",
                    tusk_proto::identity_v2::GetOidcClientRequest {
                        id: client_id.clone()
                    }
                )
                .client
                .unwrap_or_default();
                let config = pb::OidcConfig {
                    issuer: issuer.clone(),
                    client_id: client_id.clone(),
                    client_secret: client.secret,
                    redirect_uri: client.redirect_uris.first().cloned().unwrap_or_default(),
                    scopes: ["email", "profile", "groups", "openid"]
                        .map(String::from)
                        .to_vec(),
                    ..Default::default()
                };
                call!(
                    root_conn,
                    auth,
                    set_configuration,
                    "SetConfiguration",
                    pb::SetConfigurationRequest {
                        configuration: Some(config)
                    }
                );
                Ok::<(), Failure>(())
            };
            match configured.await {
                Ok(()) => {
                    println!("pachd's login uses the issuer {issuer} with client `{client_id}`.");
                    Ok(())
                }
                Err(f) => Err(f.context("auth is active, but pachd's OIDC login is not configured").help(
                    "set it with `tusk auth set-config --file FILE`, or activate with --only-activate and configure later",
                )),
            }
        }
        AuthCommand::Deactivate { yes } => {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(
                        Failure::usage("refusing to deactivate auth without confirmation").help(
                            "pass --yes to delete every role binding, token and group membership",
                        ),
                    );
                }
                eprint!(
                    "Deactivating deletes every role binding, token and group membership on {}. Type `yes` to go on: ",
                    conn.addr
                );
                let mut answer = String::new();
                let _ = std::io::stdin().read_line(&mut answer);
                if answer.trim() != "yes" {
                    return Err(Failure::usage("not deactivated"));
                }
            }
            call!(
                conn,
                auth,
                deactivate,
                "Deactivate",
                pb::DeactivateRequest {}
            );
            let name = target.context.clone();
            target.file.set_field(&name, "session_token", None);
            target.file.save()?;
            println!(
                "Auth is off on {}; every token is gone, including this context's.",
                conn.addr
            );
            Ok(())
        }
        AuthCommand::Login(a) => {
            let token = if let Some(id) = &a.id_token {
                login::id_token(&conn, id).await?
            } else if a.device {
                let http = crate::client::http_client(target.ca_pem.as_deref())?;
                let issuer = a
                    .issuer
                    .clone()
                    .unwrap_or_else(|| format!("{}/dex", target.addr.http_base()));
                let id = login::device(
                    &http,
                    &login::DeviceOptions {
                        issuer,
                        client_id: a.client_id.clone(),
                        audience: a.audience.clone(),
                    },
                )
                .await?;
                login::id_token(&conn, &id).await?
            } else {
                login::browser(&conn, !a.no_browser).await?
            };
            login::save_session(&mut target, &conn, &token).await
        }
        AuthCommand::Logout => {
            let name = target.context.clone();
            let Some(token) = target.file.get(&name).and_then(|c| c.session_token) else {
                println!("Not logged in: context `{name}` has no session.");
                return Ok(());
            };
            let revoked = conn
                .auth()
                .revoke_auth_token(conn.request_with(
                    pb::RevokeAuthTokenRequest {
                        token: token.clone(),
                    },
                    Some(&token),
                    Some(crate::client::CALL_TIMEOUT),
                )?)
                .await;
            // Forget it here in every case: the user asked to be logged out.
            target.file.set_field(&name, "session_token", None);
            target.file.save()?;
            match revoked {
                Ok(_) => {
                    println!(
                        "Logged out: the session was revoked on {} and removed from context `{name}`.",
                        conn.addr
                    );
                    Ok(())
                }
                Err(s) => {
                    let f = conn.fail("RevokeAuthToken", s).await;
                    if f.message.contains("refused") || f.message.contains("not activated") {
                        println!(
                            "Logged out: the server no longer knew the session; it was removed from context `{name}`."
                        );
                        Ok(())
                    } else {
                        Err(f.context(format!("the session was removed from context `{name}`, but not revoked on the server")).help(
                            "it stays valid until it expires; a cluster admin can revoke it with `tusk auth revoke --user PRINCIPAL`",
                        ))
                    }
                }
            }
        }
        AuthCommand::Whoami(out) => {
            let who = call!(conn, auth, who_am_i, "WhoAmI", pb::WhoAmIRequest {});
            let expiration = who.expiration.map(|t| t.seconds);
            let value = json!({
                "username": who.username,
                "expiration": expiration.map(output::rfc3339),
                "context": target.context,
                "pachd_address": conn.addr.to_string(),
            });
            output::emit(out.output, &value, || {
                let exp = match expiration {
                    Some(t) => format!(
                        "session expires {} (in {})",
                        output::rfc3339(t),
                        output::human_duration(t - output::now())
                    ),
                    None => "session never expires".into(),
                };
                format!("You are \"{}\"\n{exp}", who.username)
            })
        }
        AuthCommand::GetRobotToken { robot, ttl, out } => {
            let robot_name = robot.strip_prefix("robot:").unwrap_or(&robot);
            if robot_name.is_empty() || robot_name.contains(':') {
                return Err(Failure::usage(format!("`{robot}` is not a robot name"))
                    .help("give a name without colons, e.g. `ci` (tusk adds `robot:`)"));
            }
            let ttl_secs = match &ttl {
                Some(t) => {
                    let d = tusk_core::config::duration::parse(t).map_err(|why| {
                        Failure::usage(format!("--ttl `{t}` is not a duration: {why}"))
                            .help("write it as Go does: 90s, 30m, 24h, 720h")
                    })?;
                    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
                }
                None => 0,
            };
            let resp = call!(
                conn,
                auth,
                get_robot_token,
                "GetRobotToken",
                pb::GetRobotTokenRequest {
                    robot: robot_name.to_owned(),
                    ttl: ttl_secs
                }
            );
            let value = json!({"robot": format!("robot:{robot_name}"), "token": resp.token, "ttl_seconds": ttl_secs});
            output::emit(out.output, &value, || resp.token.clone())
        }
        AuthCommand::Revoke { token, user } => {
            let (n, what) = if let Some(user) = user {
                check_principal(&user)?;
                let r = call!(
                    conn,
                    auth,
                    revoke_auth_tokens_for_user,
                    "RevokeAuthTokensForUser",
                    pb::RevokeAuthTokensForUserRequest {
                        username: user.clone()
                    }
                );
                (r.number, format!("of {user}"))
            } else {
                let t = match token.as_deref() {
                    Some("-") | None => read_stdin_secret("token")?,
                    Some(t) => t.to_owned(),
                };
                let r = call!(
                    conn,
                    auth,
                    revoke_auth_token,
                    "RevokeAuthToken",
                    pb::RevokeAuthTokenRequest { token: t }
                );
                (r.number, String::new())
            };
            let plural = if n == 1 { "" } else { "s" };
            println!(
                "Revoked {n} token{plural}{}{what}.",
                if what.is_empty() { "" } else { " " }
            );
            Ok(())
        }
        AuthCommand::GetGroups { user, out } => {
            let groups = match &user {
                Some(u) => {
                    check_principal(u)?;
                    call!(
                        conn,
                        auth,
                        get_groups_for_principal,
                        "GetGroupsForPrincipal",
                        pb::GetGroupsForPrincipalRequest {
                            principal: u.clone()
                        }
                    )
                    .groups
                }
                None => call!(conn, auth, get_groups, "GetGroups", pb::GetGroupsRequest {}).groups,
            };
            output::emit(out.output, &json!(groups), || {
                if groups.is_empty() {
                    "(no groups)".into()
                } else {
                    groups.join("\n")
                }
            })
        }
        AuthCommand::UseAuthToken => {
            let token = read_stdin_secret("token")?;
            let who = conn
                .auth()
                .who_am_i(conn.request_with(
                    pb::WhoAmIRequest {},
                    Some(&token),
                    Some(crate::client::CALL_TIMEOUT),
                )?)
                .await;
            let who = match who {
                Ok(r) => r.into_inner(),
                Err(s) => {
                    return Err(conn
                        .fail("WhoAmI", s)
                        .await
                        .context("the token was not saved"));
                }
            };
            let name = target.context.clone();
            target.file.create(&name);
            target
                .file
                .set_field(&name, "pachd_address", Some(&target.addr.to_string()));
            target.file.set_field(&name, "session_token", Some(&token));
            if target.file.active_name().is_none() {
                target.file.set_active(&name);
            }
            target.file.save()?;
            println!(
                "Context `{name}` now acts as \"{}\" on {}.",
                who.username, conn.addr
            );
            Ok(())
        }
        AuthCommand::Check {
            kind,
            name,
            principal,
            project,
            out,
        } => {
            // `check cluster PRINCIPAL`: the cluster has no name.
            let (name, principal) = match (kind, name, principal) {
                (Kind::Cluster, Some(n), None)
                    if n.contains(':') || n == core::ALL_CLUSTER_USERS =>
                {
                    (None, Some(n))
                }
                (_, n, p) => (n, p),
            };
            let res = resource(kind, name.as_deref(), project.as_deref())?;
            let resp = match &principal {
                Some(p) => {
                    check_principal(p)?;
                    call!(
                        conn,
                        auth,
                        get_permissions_for_principal,
                        "GetPermissionsForPrincipal",
                        pb::GetPermissionsForPrincipalRequest {
                            resource: Some(res.clone()),
                            principal: p.clone()
                        }
                    )
                }
                None => call!(
                    conn,
                    auth,
                    get_permissions,
                    "GetPermissions",
                    pb::GetPermissionsRequest {
                        resource: Some(res.clone())
                    }
                ),
            };
            let perms = permission_names(&resp.permissions);
            let value = json!({
                "resource": describe(&res),
                "principal": principal,
                "roles": resp.roles,
                "permissions": perms,
            });
            output::emit(out.output, &value, || {
                let none = |v: &[String]| {
                    if v.is_empty() {
                        "(none)".to_owned()
                    } else {
                        v.join(", ")
                    }
                };
                format!(
                    "Roles: {}\nPermissions: {}",
                    none(&resp.roles),
                    none(&perms)
                )
            })
        }
        AuthCommand::Set {
            kind,
            args,
            project,
        } => {
            let (name, roles, principal) = match (kind, args.as_slice()) {
                (Kind::Cluster, [roles, principal]) => (None, roles, principal),
                (Kind::Cluster, [n, _, _]) => {
                    return Err(Failure::usage(format!(
                        "the cluster has no name, but `{n}` was given"
                    ))
                    .help("tusk auth set cluster ROLES PRINCIPAL"));
                }
                (Kind::Project | Kind::Repo, [name, roles, principal]) => {
                    (Some(name.as_str()), roles, principal)
                }
                (k, _) => {
                    let form = if k == Kind::Project {
                        "tusk auth set project PROJECT ROLES PRINCIPAL"
                    } else {
                        "tusk auth set repo [PROJECT/]REPO ROLES PRINCIPAL"
                    };
                    return Err(Failure::usage(format!(
                        "expected NAME, ROLES and PRINCIPAL, got {} argument(s)",
                        args.len()
                    ))
                    .help(form));
                }
            };
            let roles = parse_roles(roles)?;
            check_principal(principal)?;
            let res = resource(kind, name, project.as_deref())?;
            call!(
                conn,
                auth,
                modify_role_binding,
                "ModifyRoleBinding",
                pb::ModifyRoleBindingRequest {
                    resource: Some(res.clone()),
                    principal: principal.clone(),
                    roles: roles.clone()
                }
            );
            if roles.is_empty() {
                println!("Removed every role of {principal} on {}.", describe(&res));
            } else {
                println!(
                    "{principal} now has {} on {}.",
                    roles.join(", "),
                    describe(&res)
                );
            }
            Ok(())
        }
        AuthCommand::Get {
            kind,
            name,
            project,
            out,
        } => {
            let res = resource(kind, name.as_deref(), project.as_deref())?;
            let binding = call!(
                conn,
                auth,
                get_role_binding,
                "GetRoleBinding",
                pb::GetRoleBindingRequest {
                    resource: Some(res.clone())
                }
            )
            .binding
            .unwrap_or_default();
            let mut entries: Vec<(String, Vec<String>)> = binding
                .entries
                .into_iter()
                .map(|(p, r)| {
                    let mut roles: Vec<String> = r
                        .roles
                        .into_iter()
                        .filter(|(_, on)| *on)
                        .map(|(n, _)| n)
                        .collect();
                    roles.sort();
                    (p, roles)
                })
                .filter(|(_, r)| !r.is_empty())
                .collect();
            entries.sort();
            let value: serde_json::Map<String, Value> =
                entries.iter().map(|(p, r)| (p.clone(), json!(r))).collect();
            output::emit(out.output, &Value::Object(value), || {
                if entries.is_empty() {
                    return format!("No role bindings on {}.", describe(&res));
                }
                entries
                    .iter()
                    .map(|(p, r)| format!("{p}: {}", r.join(", ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AuthCommand::RotateRootToken { supply_token } => {
            let supplied = if supply_token {
                Some(read_stdin_secret("new root token")?)
            } else {
                None
            };
            let was_root = conn
                .auth()
                .who_am_i(conn.request(pb::WhoAmIRequest {})?)
                .await
                .map(|r| r.into_inner().username == "pach:root")
                .unwrap_or(false);
            let resp = call!(
                conn,
                auth,
                rotate_root_token,
                "RotateRootToken",
                pb::RotateRootTokenRequest {
                    root_token: supplied.clone().unwrap_or_default()
                }
            );
            if was_root {
                // The old root token is gone; keep this context working.
                let name = target.context.clone();
                target
                    .file
                    .set_field(&name, "session_token", Some(&resp.root_token));
                target.file.save()?;
            }
            if supplied.is_none() {
                println!(
                    "The new root token (shown once; keep it safe) is:\n{}",
                    resp.root_token
                );
            } else {
                println!("The root token was replaced with the one you supplied.");
            }
            if was_root {
                println!("Context `{}` now uses it.", target.context);
            }
            Ok(())
        }
        AuthCommand::RolesForPermission { permission: p, out } => {
            let perm = permission(&p)?;
            let roles = call!(
                conn,
                auth,
                get_roles_for_permission,
                "GetRolesForPermission",
                pb::GetRolesForPermissionRequest { permission: perm.0 }
            )
            .roles;
            let mut names: Vec<String> = roles.into_iter().map(|r| r.name).collect();
            names.sort();
            output::emit(out.output, &json!(names), || names.join("\n"))
        }
        AuthCommand::GetConfig { show_secrets, out } => {
            let c = call!(
                conn,
                auth,
                get_configuration,
                "GetConfiguration",
                pb::GetConfigurationRequest {}
            )
            .configuration
            .unwrap_or_default();
            let value = config_out(&c, show_secrets);
            let format = if out.output == Format::Text {
                Format::Yaml
            } else {
                out.output
            };
            output::emit(format, &value, String::new)
        }
        AuthCommand::SetConfig { file } => {
            let bytes = read_input(&file)?;
            let parsed: OidcConfigFile = parse_file(&file, &bytes)?;
            if parsed.issuer.is_empty() || url::Url::parse(&parsed.issuer).is_err() {
                return Err(Failure::usage(format!(
                    "{}: issuer `{}` is not a URL",
                    file.display(),
                    parsed.issuer
                ))
                .help("write the provider's issuer, e.g. http://127.0.0.1:30650/dex"));
            }
            if parsed.client_id.is_empty() {
                return Err(
                    Failure::usage(format!("{}: client_id is empty", file.display()))
                        .help("pachd's OIDC client id, usually `pachd`"),
                );
            }
            let secret = match parsed.client_secret.as_deref() {
                None | Some("***") => {
                    call!(
                        conn,
                        auth,
                        get_configuration,
                        "GetConfiguration",
                        pb::GetConfigurationRequest {}
                    )
                    .configuration
                    .unwrap_or_default()
                    .client_secret
                }
                Some(s) => s.to_owned(),
            };
            call!(
                conn,
                auth,
                set_configuration,
                "SetConfiguration",
                pb::SetConfigurationRequest {
                    configuration: Some(pb::OidcConfig {
                        issuer: parsed.issuer,
                        client_id: parsed.client_id,
                        client_secret: secret,
                        redirect_uri: parsed.redirect_uri,
                        scopes: parsed.scopes,
                        require_email_verified: parsed.require_email_verified,
                        localhost_issuer: parsed.localhost_issuer,
                        user_accessible_issuer_host: parsed.user_accessible_issuer_host,
                    })
                }
            );
            println!("pachd's OIDC configuration was updated.");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_checked_with_a_suggestion() {
        assert_eq!(parse_roles("none").ok(), Some(vec![]));
        assert_eq!(
            parse_roles("repoReader, repoWriter,repoReader").ok(),
            Some(vec!["repoReader".to_owned(), "repoWriter".to_owned()])
        );
        let e = parse_roles("clusterAdmn").err();
        assert!(e.as_ref().is_some_and(
            |e| e.code == 2 && e.help.as_deref() == Some("did you mean `clusterAdmin`?")
        ));
        assert!(parse_roles(",").is_err());
    }

    #[test]
    fn resources_by_kind_and_name() {
        let ok = |k, n: Option<&str>, p: Option<&str>| resource(k, n, p).map(|r| describe(&r)).ok();
        assert_eq!(ok(Kind::Cluster, None, None).as_deref(), Some("CLUSTER"));
        assert_eq!(
            ok(Kind::Project, Some("p"), None).as_deref(),
            Some("PROJECT p")
        );
        assert_eq!(
            ok(Kind::Repo, Some("p/r"), None).as_deref(),
            Some("REPO p/r")
        );
        assert_eq!(
            ok(Kind::Repo, Some("r"), None).as_deref(),
            Some("REPO default/r")
        );
        assert_eq!(
            ok(Kind::Repo, Some("r"), Some("x")).as_deref(),
            Some("REPO x/r")
        );
        for (k, n, p) in [
            (Kind::Cluster, Some("c"), None),
            (Kind::Project, None, None),
            (Kind::Project, Some("a/b"), None),
            (Kind::Repo, Some("p/r"), Some("q")),
            (Kind::Repo, Some("a/b/c"), None),
            (Kind::Repo, Some("has space"), None),
        ] {
            assert!(resource(k, n, p).is_err(), "{k:?} {n:?} {p:?}");
        }
    }

    #[test]
    fn permissions_by_any_case() {
        assert_eq!(permission("repo_read").ok(), Some(core::Permission(200)));
        assert_eq!(permission("REPO-READ").ok(), Some(core::Permission(200)));
        let e = permission("REPO_REED").err();
        assert!(e.is_some_and(|e| e.help.as_deref() == Some("did you mean `REPO_READ`?")));
        assert!(permission("PERMISSION_UNKNOWN").is_err());
    }
}
