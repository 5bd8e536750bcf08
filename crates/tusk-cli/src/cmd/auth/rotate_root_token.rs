//! `tusk auth rotate-root-token`: replace the root token; prints the new one unless you supply it.

use crate::client::{Conn, Target, call};
use crate::error::Outcome;
use crate::input::read_stdin_secret;
use std::path::{Path, PathBuf};
use tusk_proto::auth_v2 as pb;

/// Replace the root token; prints the new one unless you supply it.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth rotate-root-token\n  tusk auth rotate-root-token --data-dir /var/lib/tusk\n  echo \"$NEW_ROOT\" | tusk auth rotate-root-token --supply-token"
)]
pub struct Args {
    /// Read the new root token from stdin.
    #[arg(long)]
    supply_token: bool,
    /// The data directory of the `tusk serve` on this machine: its `root-token` file is rewritten with the new token when it holds the old one.
    #[arg(
        long,
        value_name = "DIR",
        env = "TUSK_DATA_DIR",
        default_value = "tusk-data"
    )]
    data_dir: PathBuf,
}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let Args {
        supply_token,
        data_dir,
    } = args;
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
        if let Some(old) = &target.token {
            update_root_token_file(&data_dir.join("root-token"), old, &resp.root_token);
        }
    }
    Ok(())
}

/// `tusk serve` hands a generated root token over in `<data-dir>/root-token`;
/// after a rotation that file would hold a dead token, and the README's
/// tour reads it. It is rewritten only when it holds the token just
/// rotated away, so a file of another server, or one the admin changed,
/// is left alone. The rotation itself has succeeded either way, so a
/// failure here is a warning, not an error.
fn update_root_token_file(path: &Path, old: &str, new: &str) {
    let Ok(held) = std::fs::read_to_string(path) else {
        return;
    };
    if held.trim() != old {
        return;
    }
    let written = crate::private_file::write(path, new.as_bytes());
    match written {
        Ok(()) => println!(
            "{} held the old root token; it now holds the new one.",
            path.display()
        ),
        Err(e) => eprintln!(
            "warning: {} still holds the old root token, which no longer works: cannot write it: {e}\n  help: copy the new token above into it, or delete it",
            path.display()
        ),
    }
}
