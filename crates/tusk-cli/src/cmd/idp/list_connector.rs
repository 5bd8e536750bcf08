//! `tusk idp list-connector`: list the connectors with their health (from the server's /readyz).

use crate::client::{Conn, Target, call, readyz_json};
use crate::error::Outcome;
use crate::output::{self, Out};
use serde_json::{Map, Value, json};
use tusk_proto::identity_v2 as pb;

/// List the connectors with their health (from the server's /readyz).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  tusk idp list-connector\n  tusk idp list-connector -o json")]
pub struct Args {
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, target: &Target, conn: &Conn) -> Outcome {
    let Args { out } = args;
    let list = call!(
        conn,
        identity,
        list_idp_connectors,
        "ListIDPConnectors",
        pb::ListIdpConnectorsRequest {}
    )
    .connectors;
    let health = health(target).await;
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let h = health
                .as_ref()
                .and_then(|h| h.get(&c.id).cloned())
                .unwrap_or(
                    json!({"ok": null, "error": "no health report (is /readyz reachable?)"}),
                );
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

/// `checks.connectors[]` of `/readyz`: id → (ok, error).
async fn health(target: &Target) -> Option<Map<String, Value>> {
    let body = readyz_json(target).await?;
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
