//! The OIDC clients: pachd's and console's (from the `pachd` and `console`
//! sections and their environment variables), then `IDP_CLIENTS` and the
//! additional clients. One builder for all three because pachd trusts
//! console as a peer and every id must be unique across them.

use super::loader::Loader;
use super::lookup::Values;
use super::model::{ClientSpec, ENV_VARS, Input, MIN_CLIENT_SECRET_BYTES};
use super::proxy::Endpoint;
use super::schema::{Kind, check_value, join};
use super::tables::CLIENT;
use crate::Secret;
use crate::yaml::{Node, Pos, Value};

impl Loader<'_> {
    /// The clients and pachd's redirect URI.
    pub(super) fn clients_section(
        &mut self,
        input: &Input<'_>,
        v: Values<'_>,
        e: &Endpoint,
        env_start: usize,
        secret_start: usize,
    ) -> (Vec<ClientSpec>, String) {
        // Clients.
        let console_enabled = v.bool_at(&["console", "enabled"], true);
        let pachd_id = v
            .str_at(&["pachd", "oauthClientID"])
            .unwrap_or_else(|| "pachd".into());
        let console_id = input
            .env
            .get("CONSOLE_OAUTH_ID")
            .cloned()
            .or_else(|| v.str_at(&["console", "config", "oauthClientID"]))
            .unwrap_or_else(|| "console".into());
        let pachd_redirect_uri =
            v.str_at(&["pachd", "oauthRedirectURI"])
                .unwrap_or_else(|| match &e.host {
                    Some(h) => format!("{}://{h}/authorization-code/callback", e.proto),
                    None => format!("{}/authorization-code/callback", e.local),
                });
        let console_redirect = v
            .str_at(&["console", "config", "oauthRedirectURI"])
            .unwrap_or_else(|| match &e.host {
                Some(h) => format!("{}://{h}/oauth/callback/?inline=true", e.proto),
                None => "http://localhost:4000/oauth/callback/?inline=true".into(),
            });
        let mut pachd_peers = Vec::new();
        if console_enabled {
            pachd_peers.push(console_id.clone());
        }
        if let Some(Value::Seq(items)) = v
            .get(&["pachd", "additionalTrustedPeers"])
            .map(|n| &n.value)
        {
            pachd_peers.extend(items.iter().filter_map(|i| match &i.value {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            }));
        }
        if let Some(mut node) = self.env_node(input, env_start, "TRUSTED_PEERS") {
            check_value(&mut self.ctx, &mut node, "", Kind::StrList);
            pachd_peers.extend(
                node.to_json()
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from)),
            );
        }
        let pachd_secret = input
            .env
            .get("AUTH_CLIENT_SECRET")
            .cloned()
            .or_else(|| {
                let name = v.str_at(&["pachd", "oauthClientSecretSecretName"])?;
                let pos = v
                    .get(&["pachd", "oauthClientSecretSecretName"])
                    .map_or(Pos::default(), |n| n.pos);
                self.secret(
                    input,
                    secret_start + 3,
                    "pachd.oauthClientSecretSecretName",
                    &name,
                    "pachd-oauth-client-secret",
                    pos,
                )
            })
            .or_else(|| v.str_at(&["pachd", "oauthClientSecret"]))
            .map(Secret::new);
        // Where each built-in client's secret came from, for the length check.
        let env_pos = |var: &str| Pos {
            source: env_start + ENV_VARS.iter().position(|v| *v == var).unwrap_or(0),
            line: 0,
        };
        let node_pos = |path: &[&str]| v.get(path).map_or(Pos::default(), |n| n.pos);
        let pachd_origin = if input.env.contains_key("AUTH_CLIENT_SECRET") {
            (env_pos("AUTH_CLIENT_SECRET"), "")
        } else if v.get(&["pachd", "oauthClientSecretSecretName"]).is_some() {
            (
                node_pos(&["pachd", "oauthClientSecretSecretName"]),
                "pachd.oauthClientSecretSecretName",
            )
        } else {
            (
                node_pos(&["pachd", "oauthClientSecret"]),
                "pachd.oauthClientSecret",
            )
        };
        let console_origin = if input.env.contains_key("CONSOLE_OAUTH_SECRET") {
            (env_pos("CONSOLE_OAUTH_SECRET"), "")
        } else {
            (
                node_pos(&["console", "config", "oauthClientSecret"]),
                "console.config.oauthClientSecret",
            )
        };
        let mut clients = vec![ClientSpec {
            id: pachd_id,
            secret: pachd_secret,
            name: "pachd".into(),
            redirect_uris: vec![pachd_redirect_uri.clone()],
            trusted_peers: pachd_peers,
            public: false,
            trusted: true,
            logo_url: String::new(),
            id_token_signing_alg: String::new(),
            backchannel_logout_uri: String::new(),
            backchannel_logout_session_required: false,
        }];
        if console_enabled {
            clients.push(ClientSpec {
                id: console_id,
                secret: input
                    .env
                    .get("CONSOLE_OAUTH_SECRET")
                    .cloned()
                    .or_else(|| v.str_at(&["console", "config", "oauthClientSecret"]))
                    .map(Secret::new),
                name: "console".into(),
                redirect_uris: vec![console_redirect],
                trusted_peers: Vec::new(),
                public: false,
                trusted: true,
                logo_url: String::new(),
                id_token_signing_alg: String::new(),
                backchannel_logout_uri: String::new(),
                backchannel_logout_session_required: false,
            });
        }
        for (client, (pos, path)) in clients.iter().zip([pachd_origin, console_origin]) {
            self.check_client_secret(pos, path, client);
        }
        if let Some(mut node) = self.env_node(input, env_start, "IDP_CLIENTS") {
            // IDP_CLIENTS replaces the pachd and console entries, which
            // are first-party: they never ask for consent.
            clients = self.clients(&mut node, "");
            for c in &mut clients {
                c.trusted = true;
            }
        }
        let additional =
            if let Some(mut node) = self.env_node(input, env_start, "IDP_ADDITIONAL_CLIENTS") {
                self.clients(&mut node, "")
            } else if let Some(name) = v.str_at(&["oidc", "additionalClientsSecretName"]) {
                let pos = v
                    .get(&["oidc", "additionalClientsSecretName"])
                    .map_or(Pos::default(), |n| n.pos);
                let text = self.secret(
                    input,
                    secret_start + 1,
                    "oidc.additionalClientsSecretName",
                    &name,
                    "additional-oidc-clients",
                    pos,
                );
                match text.and_then(|t| self.parse_text(t.as_bytes(), secret_start + 1).flatten()) {
                    Some(mut node) => self.clients(&mut node, ""),
                    None => Vec::new(),
                }
            } else if let Some(node) = v.get(&["oidc", "additionalClients"]) {
                self.clients(&mut node.clone(), "oidc.additionalClients")
            } else {
                Vec::new()
            };
        for client in additional {
            if let Some(existing) = clients.iter().find(|c| c.id == client.id) {
                self.ctx.error(
                    Pos::default(),
                    "oidc.additionalClients",
                    format!(
                        "client id `{}` is already used by the {} client",
                        client.id, existing.name
                    ),
                    Some("give the additional client another id".into()),
                );
            } else {
                clients.push(client);
            }
        }
        (clients, pachd_redirect_uri)
    }

    fn clients(&mut self, node: &mut Node, path: &str) -> Vec<ClientSpec> {
        check_value(&mut self.ctx, node, path, Kind::List(&CLIENT));
        let Value::Seq(items) = &node.value else {
            return Vec::new();
        };
        let clients: Vec<ClientSpec> = items
            .iter()
            .filter_map(|item| {
                let s = |a: &str, b: &str| -> Option<String> {
                    [a, b]
                        .iter()
                        .find_map(|k| match item.get(k).map(|n| &n.value) {
                            Some(Value::Str(v)) => Some(v.clone()),
                            _ => None,
                        })
                };
                let list = |a: &str, b: &str| -> Vec<String> {
                    [a, b]
                        .iter()
                        .flat_map(|k| match item.get(k).map(|n| &n.value) {
                            Some(Value::Seq(v)) => v
                                .iter()
                                .filter_map(|x| match &x.value {
                                    Value::Str(s) => Some(s.clone()),
                                    _ => None,
                                })
                                .collect(),
                            _ => Vec::new(),
                        })
                        .collect()
                };
                let id = s("id", "id")?;
                Some(ClientSpec {
                    name: s("name", "name").unwrap_or_else(|| id.clone()),
                    secret: s("secret", "secret").map(Secret::new),
                    redirect_uris: list("redirect_uris", "redirectURIs"),
                    trusted_peers: list("trusted_peers", "trustedPeers"),
                    public: item.get("public").map(|n| &n.value) == Some(&Value::Bool(true)),
                    trusted: item.get("trusted").map(|n| &n.value) == Some(&Value::Bool(true)),
                    logo_url: s("logo_url", "logoURL").unwrap_or_default(),
                    id_token_signing_alg: s(
                        "id_token_signed_response_alg",
                        "id_token_signed_response_alg",
                    )
                    .unwrap_or_default(),
                    backchannel_logout_uri: s("backchannel_logout_uri", "backchannel_logout_uri")
                        .unwrap_or_default(),
                    backchannel_logout_session_required: item
                        .get("backchannel_logout_session_required")
                        .map(|n| &n.value)
                        == Some(&Value::Bool(true)),
                    id,
                })
            })
            .collect();
        for (i, item) in items.iter().enumerate() {
            let id = item.get("id").map(|n| &n.value);
            if let Some(c) = clients
                .iter()
                .find(|c| id == Some(&Value::Str(c.id.clone())))
            {
                let pos = item.get("secret").map_or(item.pos, |n| n.pos);
                self.check_client_secret(pos, &format!("{path}[{i}].secret"), c);
            }
        }
        for (i, item) in items.iter().enumerate() {
            for key in ["redirect_uris", "redirectURIs"] {
                let Some(Value::Seq(uris)) = item.get(key).map(|n| &n.value) else {
                    continue;
                };
                for (j, uri) in uris.iter().enumerate() {
                    if let Value::Str(text) = &uri.value
                        && let Err((message, help)) = check_redirect_uri(text)
                    {
                        self.ctx.error(
                            uri.pos,
                            &format!("{path}[{i}].{key}[{j}]"),
                            message,
                            Some(help.into()),
                        );
                    }
                }
            }
            if let Some(uri) = item.get("backchannel_logout_uri")
                && let Value::Str(text) = &uri.value
                && let Err((message, help)) = check_backchannel_uri(text)
            {
                self.ctx.error(
                    uri.pos,
                    &format!("{path}[{i}].backchannel_logout_uri"),
                    message,
                    Some(help.into()),
                );
            }
        }
        for c in &clients {
            if !c.id_token_signing_alg.is_empty()
                && !["ES256", "RS256", "EdDSA"].contains(&c.id_token_signing_alg.as_str())
            {
                self.ctx.error(
                    node.pos,
                    &join(path, "id_token_signed_response_alg"),
                    format!(
                        "client `{}` asks for the signing algorithm `{}`",
                        c.id, c.id_token_signing_alg
                    ),
                    Some("use ES256, RS256 or EdDSA".into()),
                );
            }
        }
        clients
    }

    /// A client secret is the client's only credential at the token
    /// endpoint; a short one falls to guessing, so it is refused rather
    /// than warned about. The message gives the length, never the secret.
    fn check_client_secret(&mut self, pos: Pos, path: &str, client: &ClientSpec) {
        let Some(secret) = client.secret.as_ref().filter(|_| !client.public) else {
            return;
        };
        let len = secret.expose().len();
        if len < MIN_CLIENT_SECRET_BYTES {
            self.ctx.error(
                pos,
                path,
                format!("client `{}` has a secret of {len} bytes", client.id),
                Some(format!(
                    "use a random secret of at least {MIN_CLIENT_SECRET_BYTES} bytes, for example the output of `openssl rand -hex 32`"
                )),
            );
        }
    }
}

/// OpenID Connect Back-Channel Logout 1.0 §2.2: the RP's logout URL is
/// absolute and has no fragment. tusk also wants https, because a logout
/// token in clear on the path can be read and replayed at the RP; only a
/// loopback host (an RP on the same machine) may use plain http. The
/// schema's `Url` check has already refused what is not a URL at all.
/// Whether `text` may be registered as a client's redirect URI (also the
/// URIs a logout may return to): an absolute `https` or `http` URL, or a
/// native app's private-use scheme named after a domain it owns
/// (`com.example.app:/cb`, RFC 8252 §7.1), and never a scheme a browser
/// runs or reads locally (`javascript:`, `data:`, `vbscript:`, `file:`...);
/// no fragment (RFC 6749 §3.1.2) and no user name or password in the
/// authority (a URL that reads as one host and goes to another). Err
/// with what is wrong and the fix.
pub fn check_redirect_uri(text: &str) -> Result<(), (String, &'static str)> {
    let Ok(url) = url::Url::parse(text) else {
        return Err((
            format!("`{text}` is not an absolute URL"),
            "register the full URL the application listens on, such as https://app.example.com/callback",
        ));
    };
    let scheme = url.scheme();
    if !matches!(scheme, "https" | "http") && !scheme.contains('.') {
        return Err((
            format!("`{text}` uses the scheme `{scheme}`, which is not an address to return to"),
            "use an https:// (or loopback http://) URL; a native app may use a private-use scheme named after its domain, such as com.example.app:/callback",
        ));
    }
    if url.fragment().is_some() {
        return Err((
            format!("`{text}` has a fragment (`#...`)"),
            "remove the `#...` part: a redirect URI must not have a fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err((
            format!("`{text}` has a user name or password before its host"),
            "remove the `user:password@` part: it makes the URL read as one host while going to another",
        ));
    }
    Ok(())
}

fn check_backchannel_uri(text: &str) -> Result<(), (String, &'static str)> {
    let Ok(url) = url::Url::parse(text) else {
        // Reported by the schema check, with its own fix.
        return Ok(());
    };
    if url.fragment().is_some() {
        return Err((
            format!("`{text}` has a fragment (`#...`)"),
            "remove the `#...` part: a back-channel logout URI must not have a fragment",
        ));
    }
    if url.scheme() != "https" && !(url.scheme() == "http" && super::schema::is_loopback(&url)) {
        return Err((
            format!("`{text}` uses plain http on a non-loopback host"),
            "use https:// (only localhost and 127.0.0.1 may use http), because the logout token would travel in clear",
        ));
    }
    Ok(())
}
