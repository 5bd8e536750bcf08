//! `tusk enterprise get-state`: the enterprise state of the server's
//! cluster (`enterprise_v2.GetState`, open to anyone), as
//! `pachctl enterprise get-state` prints it.

use crate::client::{ClientArgs, Conn, call};
use crate::error::Outcome;
use crate::output::{self, Out};
use clap::Subcommand;
use serde_json::{Value, json};
use tusk_proto::enterprise_v2 as pb;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk enterprise get-state\n  tusk enterprise get-state -o json"
)]
pub struct EnterpriseArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: EnterpriseCommand,
}

#[derive(Subcommand)]
pub enum EnterpriseCommand {
    /// Show whether enterprise features are active, and until when.
    #[command(
        name = "get-state",
        after_help = "Examples:\n  tusk enterprise get-state\n  tusk enterprise get-state -o json"
    )]
    GetState(Out),
}

/// The wire name of an enterprise `State` number.
pub fn state_name(n: i32) -> &'static str {
    pb::State::try_from(n).map_or("UNKNOWN", |s| s.as_str_name())
}

/// The state, its expiry, and pachctl's text for them.
pub fn state_value(state: i32, info: Option<&pb::TokenInfo>) -> (Value, String) {
    let expires = info
        .and_then(|i| i.expires.as_ref())
        .map(|t| output::rfc3339(t.seconds));
    let name = state_name(state);
    let text = if state == pb::State::None as i32 {
        "No Pachyderm Enterprise token was found".to_owned()
    } else {
        format!(
            "Pachyderm Enterprise token state: {name}\nExpiration: {}",
            expires.as_deref().unwrap_or("none")
        )
    };
    (json!({"state": name, "expires": expires}), text)
}

pub async fn run(args: EnterpriseArgs) -> Outcome {
    let target = args.client.resolve()?;
    let conn = Conn::new(&target)?;
    match args.command {
        EnterpriseCommand::GetState(out) => {
            let r = call!(
                conn,
                enterprise,
                get_state,
                "GetState",
                pb::GetStateRequest {}
            );
            let (value, text) = state_value(r.state, r.info.as_ref());
            output::emit(out.output, &value, || text)
        }
    }
}
