//! `tusk auth rotate-root-token`: replace the root token; prints the new one unless you supply it.

use crate::client::{Conn, Target, call};
use crate::error::Outcome;
use crate::input::read_stdin_secret;
use tusk_proto::auth_v2 as pb;

/// Replace the root token; prints the new one unless you supply it.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth rotate-root-token\n  echo \"$NEW_ROOT\" | tusk auth rotate-root-token --supply-token"
)]
pub struct Args {
    /// Read the new root token from stdin.
    #[arg(long)]
    supply_token: bool,
}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let Args { supply_token } = args;
    let supplied = if supply_token {
        Some(read_stdin_secret("new root token")?)
    } else {
        None
    };
    let was_root = conn
        .auth()
        .who_am_i(conn.request(pb::WhoAmIRequest {})?)
        .await
        .map(|r| r.into_inner().username == "pach:root")
        .unwrap_or(false);
    let resp = call!(
        conn,
        auth,
        rotate_root_token,
        "RotateRootToken",
        pb::RotateRootTokenRequest {
            root_token: supplied.clone().unwrap_or_default()
        }
    );
    if was_root {
        // The old root token is gone; keep this context working.
        let name = target.context.clone();
        target
            .file
            .set_field(&name, "session_token", Some(&resp.root_token));
        target.file.save()?;
    }
    if supplied.is_none() {
        println!(
            "The new root token (shown once; keep it safe) is:\n{}",
            resp.root_token
        );
    } else {
        println!("The root token was replaced with the one you supplied.");
    }
    if was_root {
        println!("Context `{}` now uses it.", target.context);
    }
    Ok(())
}
