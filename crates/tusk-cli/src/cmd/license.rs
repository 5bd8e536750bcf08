//! `tusk license activate|get-state|delete-all`: the license of tusk's own cluster
//! (`license_v2`), as `pachctl license` has them. tusk is the license
//! server of its own cluster only, so pachctl's cluster registry commands
//! (add-cluster, update-cluster, delete-cluster, list-clusters) have no
//! counterpart.

use super::enterprise::state_value;
use crate::client::{ClientArgs, Conn, call};
use crate::error::Outcome;
use crate::input::read_stdin_secret;
use crate::output::{self, Out};
use tusk_proto::license_v2 as pb;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  echo \"$ACTIVATION_CODE\" | tusk license activate\n  tusk license get-state\n  tusk license delete-all"
)]
pub struct LicenseArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: LicenseCommand,
}

#[derive(clap::Subcommand)]
pub enum LicenseCommand {
    /// Activate enterprise features with an activation code.
    #[command(
        after_help = "Examples:\n  echo \"$ACTIVATION_CODE\" | tusk license activate\n  tusk license activate < code.txt"
    )]
    Activate {
        /// The activation code; `-` or none reads it from stdin.
        code: Option<String>,
    },
    /// Show the license's state, expiry and activation code (cluster admins when auth is on).
    #[command(
        name = "get-state",
        after_help = "Examples:\n  tusk license get-state\n  tusk license get-state -o json"
    )]
    GetState(Out),
    /// Delete the license (enterprise features turn off).
    #[command(
        name = "delete-all",
        after_help = "Example:\n  tusk license delete-all"
    )]
    DeleteAll,
}

pub async fn run(args: LicenseArgs) -> Outcome {
    let target = args.client.resolve()?;
    let conn = Conn::new(&target)?;
    match args.command {
        LicenseCommand::Activate { code } => {
            let code = match code.as_deref() {
                None | Some("-") => read_stdin_secret("activation code")?,
                Some(c) => c.to_owned(),
            };
            let r = call!(
                conn,
                license,
                activate,
                "Activate",
                pb::ActivateRequest {
                    activation_code: code,
                    expires: None
                }
            );
            let expires = r
                .info
                .and_then(|i| i.expires)
                .map_or_else(|| "never".to_owned(), |t| output::rfc3339(t.seconds));
            println!("The license is active; it expires {expires}.");
            Ok(())
        }
        LicenseCommand::GetState(out) => {
            let r = call!(
                conn,
                license,
                get_activation_code,
                "GetActivationCode",
                pb::GetActivationCodeRequest {}
            );
            let (mut value, mut text) = state_value(r.state, r.info.as_ref());
            if !r.activation_code.is_empty() {
                value["activation_code"] = r.activation_code.clone().into();
                text.push_str(&format!("\nLicense: {}", r.activation_code));
            }
            output::emit(out.output, &value, || text)
        }
        LicenseCommand::DeleteAll => {
            call!(
                conn,
                license,
                delete_all,
                "DeleteAll",
                pb::DeleteAllRequest {}
            );
            println!("The license was deleted.");
            Ok(())
        }
    }
}
