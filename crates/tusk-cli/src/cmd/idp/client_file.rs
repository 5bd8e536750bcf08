//! The OIDC client input of `create-client`/`update-client` (flags or a
//! file) and the file format `get-client`/`list-client` print.

use crate::error::{Failure, Outcome};
use crate::input::{parse_file, read_input};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tusk_proto::identity_v2 as pb;

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

impl ClientInput {
    /// `create` names an unnamed client after its id; an update keeps the
    /// stored name.
    pub fn load(&self, create: bool) -> Outcome<pb::OidcClient> {
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

/// A client in the file format `create-client --config` reads.
#[derive(Serialize, Clone)]
pub struct ClientOut {
    id: String,
    name: String,
    redirect_uris: Vec<String>,
    trusted_peers: Vec<String>,
    secret: String,
}

pub fn client_out(c: &pb::OidcClient, show_secrets: bool) -> ClientOut {
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
