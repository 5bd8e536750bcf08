//! `tusk idp set-config`: set the identity server's issuer and token lifetimes from a file.

use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use crate::input::{parse_file, read_input};
use serde::Deserialize;
use std::path::PathBuf;
use tusk_core::config;
use tusk_proto::identity_v2 as pb;

/// Set the identity server's issuer and token lifetimes from a file.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  tusk idp set-config --config idp.yaml\n\nidp.yaml:\n  issuer: http://127.0.0.1:30650/dex\n  id_token_expiry: 24h\n  rotation_token_expiry: 48h"
)]
pub struct Args {
    /// YAML or JSON with issuer, id_token_expiry, rotation_token_expiry; `-` reads stdin.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { config: path } = args;
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
    let wanted = pb::IdentityServerConfig {
        issuer: f.issuer,
        id_token_expiry: f.id_token_expiry,
        rotation_token_expiry: f.rotation_token_expiry,
    };
    call!(
        conn,
        identity,
        set_identity_server_config,
        "SetIdentityServerConfig",
        pb::SetIdentityServerConfigRequest {
            config: Some(wanted.clone())
        }
    );
    println!("The identity server's config was updated.");
    // tusk reports the running issuer and lifetimes, which it takes from
    // its configuration at start: say so when they differ from what was
    // just stored, rather than let `get-config` seem to ignore it.
    let running = super::get_config::running(conn).await?;
    let same = |a: &str, b: &str| {
        a.is_empty()
            || a == b
            || matches!((config::duration::parse(a), config::duration::parse(b)), (Ok(x), Ok(y)) if x == y)
    };
    if wanted.issuer.trim_end_matches('/') != running.issuer
        || !same(&wanted.id_token_expiry, &running.id_token_expiry)
        || !same(
            &wanted.rotation_token_expiry,
            &running.rotation_token_expiry,
        )
    {
        eprintln!(
            "note: the server keeps running with issuer {}, id_token_expiry {}, rotation_token_expiry {}: tusk reads them at start from its configuration (oidc.issuerURI or proxy.host, oidc.IDTokenExpiry, oidc.RotationTokenExpiry); change them there and restart tusk",
            running.issuer, running.id_token_expiry, running.rotation_token_expiry
        );
    }
    Ok(())
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
