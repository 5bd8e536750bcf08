//! `tusk auth activate`: turn auth on; the root token is printed once and saved in the context.

use crate::client::{CALL_TIMEOUT, Conn, Target, call, readyz_json};
use crate::error::{Failure, Outcome};
use crate::input::read_stdin_secret;
use crate::pach_config::ConfigFile;
use tusk_core::wire_text;
use tusk_proto::auth_v2 as pb;

/// Turn auth on; the root token is printed once and saved in the context.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth activate\n  echo \"$ROOT_TOKEN\" | tusk auth activate --supply-root-token\n  tusk auth activate --issuer https://pach.example.com/dex"
)]
pub struct Args {
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
}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let Args {
        supply_root_token,
        only_activate,
        issuer,
        client_id,
    } = args;
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
            Some(CALL_TIMEOUT),
        )?)
        .await;
    let root = match resp {
        Ok(r) => r.into_inner().pach_token,
        Err(s) => {
            let f = conn.fail("Activate", s).await;
            return Err(if f.message.contains(wire_text::ALREADY_ACTIVATED) {
                f.help("auth is on already; log in with `tusk auth login`, or use the root token with `tusk auth use-auth-token`")
            } else {
                f
            });
        }
    };
    target.save_token(&root)?;
    let name = target.context.clone();
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
    let root_conn = Conn::new(&Target {
        token: Some(root.clone()),
        token_withheld: None,
        file: ConfigFile::load()?,
        context: name,
        addr: target.addr.clone(),
        ca_pem: target.ca_pem.clone(),
    })?;
    let issuer = match issuer {
        Some(i) => i,
        None => reported_issuer(target)
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

/// The issuer the server reports in `/readyz` (`checks.config.issuer`).
async fn reported_issuer(target: &Target) -> Option<String> {
    let body = readyz_json(target).await?;
    body["checks"]["config"]["issuer"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
