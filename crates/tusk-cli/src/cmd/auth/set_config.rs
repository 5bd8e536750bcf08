//! `tusk auth set-config`: replace pachd's OIDC login configuration from a JSON or YAML file.

use super::get_config::{OidcConfigFile, stored};
use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use crate::input::{parse_file, read_input};
use std::path::PathBuf;
use tusk_proto::auth_v2 as pb;

/// Replace pachd's OIDC login configuration from a JSON or YAML file.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth set-config --file auth.yaml\n  tusk auth get-config -o json | tusk auth set-config --file -\n\nKeys: issuer, client_id, client_secret, redirect_uri, scopes, require_email_verified,\nlocalhost_issuer, user_accessible_issuer_host. A client_secret of `***` or none keeps the stored one."
)]
pub struct Args {
    /// The file; `-` reads stdin.
    #[arg(short = 'f', long, value_name = "FILE")]
    file: PathBuf,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { file } = args;
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
        None | Some("***") => stored(conn).await?.client_secret,
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
