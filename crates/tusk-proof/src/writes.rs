//! Acknowledged role-binding writes, and the check that each one survived a
//! fault. A write counts as acknowledged only once the server answered OK;
//! it is then appended to the acks file and flushed to disk before the next
//! write starts, so the file never claims a write the server did not confirm.

use anyhow::Context;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tusk_proto::auth_v2::api_client::ApiClient;
use tusk_proto::auth_v2::{
    GetRoleBindingRequest, ModifyRoleBindingRequest, Resource, ResourceType,
};

const ROLE: &str = "projectViewer";

/// The `default` project's binding, which activation creates. Not the
/// cluster binding: that one is reconciled with `AUTH_CLUSTER_RBAC` at each
/// start (docs/auth-model.md §6), which removes API-written principals by design.
fn target() -> Option<Resource> {
    Some(Resource {
        r#type: ResourceType::Project as i32,
        name: "default".into(),
    })
}

fn channel(address: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(address.to_owned())
        .with_context(|| format!("--address `{address}` is not a URL; use http://HOST:PORT"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}

fn authed<T>(msg: T, token: &str) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(msg);
    let value: MetadataValue<_> = token.parse().map_err(|_| {
        anyhow::anyhow!("--token: not a valid gRPC metadata value (it must be printable ASCII)")
    })?;
    req.metadata_mut().insert("authn-token", value);
    Ok(req)
}

pub async fn write(
    address: &str,
    token: &str,
    count: usize,
    acks: &Path,
    tolerate: usize,
) -> anyhow::Result<bool> {
    let mut api = ApiClient::new(channel(address)?);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(acks)
        .with_context(|| format!("{}: cannot open the acks file", acks.display()))?;
    // A run id keeps principals of separate runs apart in one binding.
    let run = format!("{:08x}", rand::random::<u32>());
    let (mut acked, mut failed, mut streak) = (0usize, 0usize, 0usize);
    let started = std::time::Instant::now();
    for i in 0..count {
        let principal = format!("user:proof-{run}-{i}@example.com");
        let req = authed(
            ModifyRoleBindingRequest {
                resource: target(),
                principal: principal.clone(),
                roles: vec![ROLE.into()],
            },
            token,
        )?;
        match api.modify_role_binding(req).await {
            Ok(_) => {
                writeln!(file, "{principal}")
                    .and_then(|()| file.sync_data())
                    .with_context(|| {
                        format!("{}: cannot record an acknowledged write", acks.display())
                    })?;
                acked += 1;
                streak = 0;
            }
            Err(status) => {
                failed += 1;
                streak += 1;
                if streak > tolerate {
                    eprintln!(
                        "write {i} failed: {} ({:?}); stopping",
                        status.message(),
                        status.code()
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    println!("writes_acknowledged: {acked}");
    println!("writes_failed: {failed}");
    // So a fault script can tell whether its fault fell inside the writes.
    println!("writes_seconds: {:.2}", started.elapsed().as_secs_f64());
    Ok(true)
}

pub async fn verify(address: &str, token: &str, acks: &Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(acks)
        .with_context(|| format!("{}: cannot read the acks file", acks.display()))?;
    let expected: BTreeSet<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let mut api = ApiClient::new(channel(address)?);
    let binding = api
        .get_role_binding(authed(GetRoleBindingRequest { resource: target() }, token)?)
        .await
        .map_err(|s| {
            anyhow::anyhow!(
                "GetRoleBinding on {address} failed: {} ({:?})",
                s.message(),
                s.code()
            )
        })?
        .into_inner()
        .binding
        .unwrap_or_default();
    let lost: Vec<&&str> = expected
        .iter()
        .filter(|p| {
            !binding
                .entries
                .get(**p)
                .is_some_and(|r| r.roles.get(ROLE).copied().unwrap_or(false))
        })
        .collect();
    println!("acknowledged: {}", expected.len());
    println!("lost: {}", lost.len());
    for p in lost.iter().take(10) {
        println!("  lost {p}");
    }
    Ok(lost.is_empty())
}
