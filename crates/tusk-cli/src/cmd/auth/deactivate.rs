//! `tusk auth deactivate`: turn auth off: deletes every role binding, token and group membership.

use crate::client::{Conn, Target, call};
use crate::error::{Failure, Outcome};
use std::io::IsTerminal;
use tusk_proto::auth_v2 as pb;

/// Turn auth off: deletes every role binding, token and group membership.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  tusk auth deactivate\n  tusk auth deactivate --yes")]
pub struct Args {
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub async fn run(args: Args, target: &mut Target, conn: &Conn) -> Outcome {
    let Args { yes } = args;
    if !yes {
        let piped = !std::io::stdin().is_terminal();
        if !piped {
            eprint!(
                "Deactivating deletes every role binding, token and group membership on {}. Type `yes` to go on: ",
                conn.addr
            );
        }
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        // pachctl's scripts confirm with `echo y | pachctl auth deactivate`.
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Failure::usage(if piped {
                "refusing to deactivate auth without confirmation"
            } else {
                "not deactivated"
            })
            .help("pass --yes (or pipe `y`, as for pachctl) to delete every role binding, token and group membership"));
        }
    }
    call!(
        conn,
        auth,
        deactivate,
        "Deactivate",
        pb::DeactivateRequest {}
    );
    let name = target.context.clone();
    target.file.set_field(&name, "session_token", None);
    target.file.save()?;
    println!(
        "Auth is off on {}; every token is gone, including this context's.",
        conn.addr
    );
    Ok(())
}
