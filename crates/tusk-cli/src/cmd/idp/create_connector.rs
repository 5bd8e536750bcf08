//! `tusk idp create-connector`: add an upstream IdP connector from a `tusk idp` file (id, name, type, version, config).

use super::connector_file::{contains_mask, load_connector};
use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use std::path::PathBuf;
use tusk_proto::identity_v2 as pb;

/// Add an upstream IdP connector from a `tusk idp` file (id, name, type, version, config).
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  tusk idp create-connector --config okta.yaml\n\nokta.yaml:\n  id: okta\n  name: Okta\n  type: oidc\n  version: 0\n  config:\n    issuer: https://example.okta.com\n    clientID: 0oa1example\n    clientSecret: from-okta\n    redirectURI: https://pach.example.com/dex/callback"
)]
pub struct Args {
    /// The connector file; `-` reads stdin.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { config: path } = args;
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
