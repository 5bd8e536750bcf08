//! `tusk auth get-robot-token`: create a token for a robot user and print it.

use crate::client::{Conn, call};
use crate::error::{Failure, Outcome};
use crate::output::{self, Format, Out};
use serde_json::json;
use tusk_proto::auth_v2 as pb;

/// Create a token for a robot user and print it.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk auth get-robot-token ci\n  TOKEN=$(tusk auth get-robot-token ci -q)\n  tusk auth get-robot-token ci --ttl 720h -o json"
)]
pub struct Args {
    /// The robot's name (`robot:` is added).
    robot: String,
    /// Lifetime, e.g. 1h or 30d… in Go syntax (720h); default: no expiry.
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// Print only the token, whatever -o says (as `pachctl auth get-robot-token -q`).
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    out: Out,
}

pub async fn run(args: Args, conn: &Conn) -> Outcome {
    let Args {
        robot,
        ttl,
        quiet,
        out,
    } = args;
    let robot_name = robot.strip_prefix("robot:").unwrap_or(&robot);
    if robot_name.is_empty() || robot_name.contains(':') {
        return Err(Failure::usage(format!("`{robot}` is not a robot name"))
            .help("give a name without colons, e.g. `ci` (tusk adds `robot:`)"));
    }
    let ttl_secs = match &ttl {
        Some(t) => {
            let d = tusk_core::config::duration::parse(t).map_err(|why| {
                Failure::usage(format!("--ttl `{t}` is not a duration: {why}"))
                    .help("write it as Go does: 90s, 30m, 24h, 720h")
            })?;
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
        }
        None => 0,
    };
    let resp = call!(
        conn,
        auth,
        get_robot_token,
        "GetRobotToken",
        pb::GetRobotTokenRequest {
            robot: robot_name.to_owned(),
            ttl: ttl_secs
        }
    );
    let value = json!({"robot": format!("robot:{robot_name}"), "token": resp.token, "ttl_seconds": ttl_secs});
    let format = if quiet { Format::Text } else { out.output };
    output::emit(format, &value, || resp.token.clone())
}
