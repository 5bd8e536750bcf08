//! `tusk idp …`: the embedded identity server's config, upstream IdP
//! connectors and OIDC clients (`identity_v2.API`), modelled on
//! `pachctl idp`.
//!
//! Connector files are in the `tusk idp` dialect (`id`, `name`, `type`,
//! `version`, `config`) and are validated by `tusk-core` exactly as
//! `tusk config check` validates Helm values, before anything is sent.
//! `get-connector -o yaml` prints the same dialect, so its output can be
//! edited and fed back to `update-connector`: secrets print as `***`, and
//! a `***` sent back keeps the stored value.

use crate::auth_cmd::{Out, call, parse_file, read_input};
use crate::client::{ClientArgs, Conn, Target};
use crate::error::{Failure, Outcome};
use crate::output::{self, Format};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use tusk_core::config::{self, Dialect};
use tusk_proto::identity_v2 as pb;

#[derive(Subcommand)]
pub enum IdpCommand {
    /// Set the identity server's issuer and token lifetimes from a file.
    #[command(
        name = "set-config",
        after_help = "Example:\n  tusk idp set-config --config idp.yaml\n\nidp.yaml:\n  issuer: http://127.0.0.1:30650/dex\n  id_token_expiry: 24h\n  rotation_token_expiry: 48h"
    )]
    SetConfig {
        /// YAML or JSON with issuer, id_token_expiry, rotation_token_expiry; `-` reads stdin.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
    /// Show the identity server's config.
    #[command(
        name = "get-config",
        after_help = "Examples:\n  tusk idp get-config\n  tusk idp get-config -o json"
    )]
    GetConfig(Out),
    /// Add an upstream IdP connector from a `tusk idp` file (id, name, type, version, config).
    #[command(
        name = "create-connector",
        after_help = "Example:\n  tusk idp create-connector --config okta.yaml\n\nokta.yaml:\n  id: okta\n  name: Okta\n  type: oidc\n  version: 0\n  config:\n    issuer: https://example.okta.com\n    clientID: 0oa1example\n    clientSecret: from-okta\n    redirectURI: https://pach.example.com/dex/callback"
    )]
    CreateConnector {
        /// The connector file; `-` reads stdin.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
    /// Replace a connector; `version` is the stored one (as printed by get-connector) or that + 1, or left out.
    #[command(
        name = "update-connector",
        after_help = "Examples:\n  tusk idp get-connector okta -o yaml > okta.yaml   # edit, then:\n  tusk idp update-connector --config okta.yaml"
    )]
    UpdateConnector {
        /// The connector file; `-` reads stdin.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
    /// Show one connector in the `tusk idp` file format (secrets masked).
    #[command(
        name = "get-connector",
        after_help = "Examples:\n  tusk idp get-connector okta\n  tusk idp get-connector okta -o json --show-secrets"
    )]
    GetConnector {
        id: String,
        /// Print secrets instead of `***`.
        #[arg(long)]
        show_secrets: bool,
        #[command(flatten)]
        out: Out,
    },
    /// Delete a connector.
    #[command(
        name = "delete-connector",
        after_help = "Example:\n  tusk idp delete-connector okta"
    )]
    DeleteConnector { id: String },
    /// List the connectors with their health (from the server's /readyz).
    #[command(
        name = "list-connector",
        visible_alias = "list-connectors",
        after_help = "Examples:\n  tusk idp list-connector\n  tusk idp list-connector -o json"
    )]
    ListConnector(Out),
    /// Register an OIDC client; prints its secret once.
    #[command(
        name = "create-client",
        after_help = "Examples:\n  tusk idp create-client --id grafana --name Grafana --redirect-uri https://grafana.example.com/login/generic_oauth\n  tusk idp create-client --config client.yaml\n\nclient.yaml: id, name, redirect_uris, trusted_peers, secret (optional: generated when empty)"
    )]
    CreateClient(ClientInput),
    /// Change a client's name, redirect URIs or trusted peers (the secret cannot change).
    #[command(
        name = "update-client",
        after_help = "Example:\n  tusk idp update-client --id grafana --redirect-uri https://grafana.example.com/login/generic_oauth"
    )]
    UpdateClient(ClientInput),
    /// Show one client (secret masked).
    #[command(
        name = "get-client",
        after_help = "Examples:\n  tusk idp get-client grafana\n  tusk idp get-client grafana -o json --show-secrets"
    )]
    GetClient {
        id: String,
        /// Print the secret instead of `***`.
        #[arg(long)]
        show_secrets: bool,
        #[command(flatten)]
        out: Out,
    },
    /// Delete a client.
    #[command(
        name = "delete-client",
        after_help = "Example:\n  tusk idp delete-client grafana"
    )]
    DeleteClient { id: String },
    /// List the clients (secrets masked).
    #[command(
        name = "list-client",
        visible_alias = "list-clients",
        after_help = "Examples:\n  tusk idp list-client\n  tusk idp list-client -o yaml"
    )]
    ListClient(Out),
}

#[derive(clap::Args)]
pub struct ClientInput {
    /// A YAML or JSON file with id, name, redirect_uris, trusted_peers, secret; `-` reads stdin.
    #[arg(long, short = 'c', value_name = "FILE", conflicts_with_all = ["id", "name", "redirect_uri", "trusted_peer"])]
    config: Option<PathBuf>,
    /// The client id.
    #[arg(long, required_unless_present = "config")]
    id: Option<String>,
    /// A display name.
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI (repeatable).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uri: Vec<String>,
    /// A client allowed to request tokens for this one (repeatable).
    #[arg(long = "trusted-peer", value_name = "ID")]
    trusted_peer: Vec<String>,
}

/// An OIDC client file: Pachyderm's snake_case, Dex's spellings accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default, alias = "redirectURIs")]
    redirect_uris: Vec<String>,
    #[serde(default, alias = "trustedPeers")]
    trusted_peers: Vec<String>,
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerConfigFile {
    issuer: String,
    #[serde(default, alias = "idTokenExpiry")]
    id_token_expiry: String,
    #[serde(default, alias = "rotationTokenExpiry")]
    rotation_token_expiry: String,
}

impl ClientInput {
    /// `create` names an unnamed client after its id; an update keeps the
    /// stored name.
    fn load(&self, create: bool) -> Outcome<pb::OidcClient> {
        if let Some(path) = &self.config {
            let bytes = read_input(path)?;
            let f: ClientFile = parse_file(path, &bytes)?;
            if f.id.trim().is_empty() {
                return Err(Failure::usage(format!("{}: id is empty", path.display())));
            }
            return Ok(pb::OidcClient {
                id: f.id,
                name: f.name,
                redirect_uris: f.redirect_uris,
                trusted_peers: f.trusted_peers,
                secret: f.secret,
            });
        }
        let id = self.id.clone().unwrap_or_default();
        if id.trim().is_empty() {
            return Err(Failure::usage("--id is empty"));
        }
        Ok(pb::OidcClient {
            name: match &self.name {
                Some(n) => n.clone(),
                None if create => id.clone(),
                None => String::new(),
            },
            id,
            redirect_uris: self.redirect_uri.clone(),
            trusted_peers: self.trusted_peer.clone(),
            secret: String::new(),
        })
    }
}

pub use tusk_proto::structs::struct_to_json;

// --- connectors -----------------------------------------------------------

/// Reads and validates a connector file with tusk-core; every problem is
/// printed with its line, then the whole file is refused.
fn load_connector(path: &Path) -> Outcome<config::ConnectorSpec> {
    let bytes = read_input(path)?;
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    match config::parse_connector(&bytes, &name, Dialect::IdpFile) {
        Ok(spec) => Ok(spec),
        Err(diags) => {
            let errors = diags
                .iter()
                .filter(|d| d.severity == config::Severity::Error)
                .count();
            for d in &diags {
                eprintln!("{d}");
            }
            Err(Failure::usage(format!(
                "{name}: connector refused, {errors} error{} (nothing was sent)",
                if errors == 1 { "" } else { "s" }
            )))
        }
    }
}

/// Masks the secret fields of a connector's config, as `config show` does.
fn masked(type_: &str, config: &Value, show_secrets: bool) -> Value {
    if show_secrets {
        config.clone()
    } else {
        config::connector::mask_config(type_, config)
    }
}

/// A `***` left from `get-connector` keeps the stored value.
fn unmask(new: &mut Value, stored: &Value) {
    if let (Value::Object(n), Value::Object(s)) = (new, stored) {
        for (k, v) in n.iter_mut() {
            match (v.as_str(), s.get(k)) {
                (Some("***"), Some(old)) => *v = old.clone(),
                (_, Some(old)) if v.is_object() => unmask(v, old),
                _ => {}
            }
        }
    }
}

fn contains_mask(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s == "***" => Some(String::new()),
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            contains_mask(v).map(|rest| {
                if rest.is_empty() {
                    k.clone()
                } else {
                    format!("{k}.{rest}")
                }
            })
        }),
        _ => None,
    }
}

/// A connector in the `tusk idp` file format, keys in the file's order.
#[derive(Serialize)]
struct ConnectorOut {
    id: String,
    name: String,
    #[serde(rename = "type")]
    type_: String,
    version: i64,
    config: Value,
}

fn connector_out(c: &pb::IdpConnector, show_secrets: bool) -> ConnectorOut {
    let config = c.config.as_ref().map_or_else(
        || serde_json::from_str(&c.json_config).unwrap_or(Value::Null),
        struct_to_json,
    );
    ConnectorOut {
        id: c.id.clone(),
        name: c.name.clone(),
        type_: c.r#type.clone(),
        version: c.config_version,
        config: masked(&c.r#type, &config, show_secrets),
    }
}

/// `checks.connectors[]` of `/readyz`: id → (ok, error).
async fn health(target: &Target) -> Option<Map<String, Value>> {
    let http = crate::client::http_client(target.ca_pem.as_deref()).ok()?;
    let body: Value = crate::client::readyz(&http, target)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let list = body["checks"]["connectors"].as_array()?;
    Some(
        list.iter()
            .filter_map(|c| {
                let id = c["id"].as_str()?.to_owned();
                Some((id, json!({"ok": c["ok"] == true, "error": c.get("error").cloned().unwrap_or(Value::Null)})))
            })
            .collect(),
    )
}

/// A client in the file format `create-client --config` reads.
#[derive(Serialize, Clone)]
struct ClientOut {
    id: String,
    name: String,
    redirect_uris: Vec<String>,
    trusted_peers: Vec<String>,
    secret: String,
}

fn client_out(c: &pb::OidcClient, show_secrets: bool) -> ClientOut {
    ClientOut {
        id: c.id.clone(),
        name: c.name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        trusted_peers: c.trusted_peers.clone(),
        secret: if show_secrets || c.secret.is_empty() {
            c.secret.clone()
        } else {
            "***".into()
        },
    }
}

fn yaml_text(format: Format) -> Format {
    if format == Format::Text {
        Format::Yaml
    } else {
        format
    }
}

pub async fn run(args: ClientArgs, cmd: IdpCommand) -> Outcome {
    let target = args.resolve()?;
    let conn = Conn::new(&target)?;
    match cmd {
        IdpCommand::SetConfig { config: path } => {
            let bytes = read_input(&path)?;
            let f: ServerConfigFile = parse_file(&path, &bytes)?;
            if url::Url::parse(&f.issuer).is_err() {
                return Err(Failure::usage(format!(
                    "{}: issuer `{}` is not a URL",
                    path.display(),
                    f.issuer
                ))
                .help("e.g. issuer: https://pach.example.com/dex"));
            }
            for (key, v) in [
                ("id_token_expiry", &f.id_token_expiry),
                ("rotation_token_expiry", &f.rotation_token_expiry),
            ] {
                if !v.is_empty() {
                    config::duration::parse(v).map_err(|why| {
                        Failure::usage(format!(
                            "{}: {key} `{v}` is not a duration: {why}",
                            path.display()
                        ))
                        .help("write it as Go does: 24h, 48h, 90m")
                    })?;
                }
            }
            call!(
                conn,
                identity,
                set_identity_server_config,
                "SetIdentityServerConfig",
                pb::SetIdentityServerConfigRequest {
                    config: Some(pb::IdentityServerConfig {
                        issuer: f.issuer,
                        id_token_expiry: f.id_token_expiry,
                        rotation_token_expiry: f.rotation_token_expiry
                    })
                }
            );
            println!("The identity server's config was updated.");
            Ok(())
        }
        IdpCommand::GetConfig(out) => {
            let c = call!(
                conn,
                identity,
                get_identity_server_config,
                "GetIdentityServerConfig",
                pb::GetIdentityServerConfigRequest {}
            )
            .config
            .unwrap_or_default();
            #[derive(Serialize)]
            struct ServerConfigOut {
                issuer: String,
                id_token_expiry: String,
                rotation_token_expiry: String,
            }
            let value = ServerConfigOut {
                issuer: c.issuer,
                id_token_expiry: c.id_token_expiry,
                rotation_token_expiry: c.rotation_token_expiry,
            };
            output::emit(yaml_text(out.output), &value, String::new)
        }
        IdpCommand::CreateConnector { config: path } => {
            let spec = load_connector(&path)?;
            if let Some(key) = contains_mask(&spec.config) {
                return Err(Failure::usage(format!(
                    "{}: config.{key} is `***`, a masked value, not a secret",
                    path.display()
                ))
                .help("write the real value"));
            }
            call!(
                conn,
                identity,
                create_idp_connector,
                "CreateIDPConnector",
                pb::CreateIdpConnectorRequest {
                    connector: Some(pb::IdpConnector {
                        id: spec.id.clone(),
                        name: spec.name.clone(),
                        r#type: spec.type_.clone(),
                        config_version: spec.config_version.unwrap_or(0),
                        json_config: spec.config.to_string(),
                        config: None,
                    })
                }
            );
            println!("Created connector `{}` ({}).", spec.id, spec.type_);
            Ok(())
        }
        IdpCommand::UpdateConnector { config: path } => {
            let mut spec = load_connector(&path)?;
            let stored = call!(
                conn,
                identity,
                get_idp_connector,
                "GetIDPConnector",
                pb::GetIdpConnectorRequest {
                    id: spec.id.clone()
                }
            )
            .connector
            .unwrap_or_default();
            // pachctl wants the stored version + 1. The stored version
            // itself (what `get-connector` printed) or none means "the one
            // after the version I read".
            match spec.config_version {
                None => spec.config_version = Some(stored.config_version + 1),
                Some(v) if v == stored.config_version => spec.config_version = Some(v + 1),
                Some(_) => {}
            }
            let old = connector_out(&stored, true).config;
            unmask(&mut spec.config, &old);
            if let Some(key) = contains_mask(&spec.config) {
                return Err(Failure::usage(format!(
                    "{}: config.{key} is `***`, and the stored connector has no such value to keep",
                    path.display()
                ))
                .help("write the real value"));
            }
            let version = spec.config_version.unwrap_or(0);
            let resp = conn
                .identity()
                .update_idp_connector(conn.request(pb::UpdateIdpConnectorRequest {
                    connector: Some(pb::IdpConnector {
                        id: spec.id.clone(),
                        name: spec.name.clone(),
                        r#type: spec.type_.clone(),
                        config_version: version,
                        json_config: spec.config.to_string(),
                        config: None,
                    }),
                })?)
                .await;
            if let Err(s) = resp {
                let f = conn.fail("UpdateIDPConnector", s).await;
                return Err(if f.message.contains("new config version is") {
                    f.help(format!(
                        "the connector changed since that version was read: `tusk idp get-connector {}` shows the stored one; set `version:` in {} to it (or leave `version` out)",
                        spec.id,
                        path.display()
                    ))
                } else {
                    f
                });
            }
            println!("Updated connector `{}` to version {version}.", spec.id);
            Ok(())
        }
        IdpCommand::GetConnector {
            id,
            show_secrets,
            out,
        } => {
            let c = call!(
                conn,
                identity,
                get_idp_connector,
                "GetIDPConnector",
                pb::GetIdpConnectorRequest { id }
            )
            .connector
            .unwrap_or_default();
            output::emit(
                yaml_text(out.output),
                &connector_out(&c, show_secrets),
                String::new,
            )
        }
        IdpCommand::DeleteConnector { id } => {
            call!(
                conn,
                identity,
                delete_idp_connector,
                "DeleteIDPConnector",
                pb::DeleteIdpConnectorRequest { id: id.clone() }
            );
            println!("Deleted connector `{id}`.");
            Ok(())
        }
        IdpCommand::ListConnector(out) => {
            let list = call!(
                conn,
                identity,
                list_idp_connectors,
                "ListIDPConnectors",
                pb::ListIdpConnectorsRequest {}
            )
            .connectors;
            let health = health(&target).await;
            let rows: Vec<Value> = list
                .iter()
                .map(|c| {
                    let h = health
                        .as_ref()
                        .and_then(|h| h.get(&c.id).cloned())
                        .unwrap_or(json!({"ok": null, "error": "no health report (is /readyz reachable?)"}));
                    json!({
                        "id": c.id, "name": c.name, "type": c.r#type,
                        "version": c.config_version, "health": h,
                    })
                })
                .collect();
            output::emit(out.output, &Value::Array(rows.clone()), || {
                if rows.is_empty() {
                    return "No connectors.".into();
                }
                let mut s = format!(
                    "{:<16} {:<14} {:<20} {:>7}  {}\n",
                    "ID", "TYPE", "NAME", "VERSION", "HEALTH"
                );
                for r in &rows {
                    let health = match (&r["health"]["ok"], r["health"]["error"].as_str()) {
                        (Value::Bool(true), _) => "ok".to_owned(),
                        (Value::Bool(false), e) => format!("FAIL: {}", e.unwrap_or("unavailable")),
                        (_, e) => format!("unknown: {}", e.unwrap_or("")),
                    };
                    s.push_str(&format!(
                        "{:<16} {:<14} {:<20} {:>7}  {health}\n",
                        r["id"].as_str().unwrap_or(""),
                        r["type"].as_str().unwrap_or(""),
                        r["name"].as_str().unwrap_or(""),
                        r["version"].as_i64().unwrap_or(0),
                    ));
                }
                s
            })
        }
        IdpCommand::CreateClient(input) => {
            let c = input.load(true)?;
            let created = call!(
                conn,
                identity,
                create_oidc_client,
                "CreateOIDCClient",
                pb::CreateOidcClientRequest {
                    client: Some(c.clone())
                }
            )
            .client
            .unwrap_or_default();
            println!("Created client `{}`.", created.id);
            if c.secret.is_empty() && !created.secret.is_empty() {
                // The only time the generated secret is shown.
                println!(
                    "Client secret (shown once; keep it safe): {}",
                    created.secret
                );
            }
            Ok(())
        }
        IdpCommand::UpdateClient(input) => {
            let c = input.load(false)?;
            if !c.secret.is_empty() {
                return Err(Failure::usage("a client's secret cannot be changed")
                    .help("remove `secret` from the file; to change it, delete the client and create it again"));
            }
            call!(
                conn,
                identity,
                update_oidc_client,
                "UpdateOIDCClient",
                pb::UpdateOidcClientRequest {
                    client: Some(c.clone())
                }
            );
            println!("Updated client `{}`.", c.id);
            Ok(())
        }
        IdpCommand::GetClient {
            id,
            show_secrets,
            out,
        } => {
            let c = call!(
                conn,
                identity,
                get_oidc_client,
                "GetOIDCClient",
                pb::GetOidcClientRequest { id }
            )
            .client
            .unwrap_or_default();
            output::emit(
                yaml_text(out.output),
                &client_out(&c, show_secrets),
                String::new,
            )
        }
        IdpCommand::DeleteClient { id } => {
            call!(
                conn,
                identity,
                delete_oidc_client,
                "DeleteOIDCClient",
                pb::DeleteOidcClientRequest { id: id.clone() }
            );
            println!("Deleted client `{id}`.");
            Ok(())
        }
        IdpCommand::ListClient(out) => {
            let list = call!(
                conn,
                identity,
                list_oidc_clients,
                "ListOIDCClients",
                pb::ListOidcClientsRequest {}
            )
            .clients;
            let rows: Vec<ClientOut> = list.iter().map(|c| client_out(c, false)).collect();
            output::emit(out.output, &rows, || {
                if rows.is_empty() {
                    return "No clients.".into();
                }
                let mut s = format!("{:<16} {:<20} {}\n", "ID", "NAME", "REDIRECT URIS");
                for c in &list {
                    s.push_str(&format!(
                        "{:<16} {:<20} {}\n",
                        c.id,
                        c.name,
                        c.redirect_uris.join(" ")
                    ));
                }
                s
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_values_are_filled_from_the_stored_config() {
        let mut new = json!({"clientSecret": "***", "issuer": "https://b", "nested": {"k": "***"}});
        let stored = json!({"clientSecret": "s3cret", "issuer": "https://a", "nested": {"k": "v"}});
        unmask(&mut new, &stored);
        assert_eq!(
            new,
            json!({"clientSecret": "s3cret", "issuer": "https://b", "nested": {"k": "v"}})
        );
        assert_eq!(contains_mask(&new), None);
        assert_eq!(
            contains_mask(&json!({"a": {"b": "***"}})).as_deref(),
            Some("a.b")
        );
    }

    #[test]
    fn struct_numbers_come_back_as_integers() {
        let s = tusk_proto::structs::json_to_struct(&json!({"a": 3, "b": 0.5, "c": [true, null]}));
        assert_eq!(
            struct_to_json(&s),
            json!({"a": 3, "b": 0.5, "c": [true, null]})
        );
    }
}
