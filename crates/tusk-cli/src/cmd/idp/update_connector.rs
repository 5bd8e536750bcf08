//! `tusk idp update-connector`: replace a connector; `version` is the stored one (as printed by get-connector) or that + 1, or left out.

use super::connector_file::{connector_out, contains_mask, load_connector, unmask};
use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use std::path::PathBuf;
use tusk_core::wire_text;
use tusk_proto::identity_v2 as pb;

/// Replace a connector; `version` is the stored one (as printed by get-connector) or that + 1, or left out.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk idp get-connector okta -o yaml > okta.yaml   # edit, then:\n  tusk idp update-connector --config okta.yaml"
)]
pub struct Args {
    /// The connector file; `-` reads stdin.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args { config: path } = args;
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
        return Err(if f.message.contains(wire_text::CONNECTOR_VERSION) {
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
