//! `tusk version`: this client's version and the server's, as
//! `pachctl version` prints them (the server's from `versionpb_v2`).

use crate::client::{ClientArgs, Conn, call};
use crate::error::Outcome;
use crate::output::{self, Format, Out};
use serde_json::json;

const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  tusk version\n  tusk version --client-only\n  tusk version -o json --address grpc://127.0.0.1:30650"
)]
pub struct VersionArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Print only this client's version; do not ask the server.
    #[arg(long)]
    client_only: bool,
    #[command(flatten)]
    out: Out,
}

fn row(component: &str, version: &str) -> String {
    format!("{component:<20}{version}")
}

pub async fn run(args: VersionArgs) -> Outcome {
    let header = row("COMPONENT", "VERSION");
    let client_row = row("tusk", CLIENT_VERSION);
    if args.client_only {
        return output::emit(
            args.out.output,
            &json!({ "client": CLIENT_VERSION }),
            || format!("{header}\n{client_row}"),
        );
    }
    let server = async {
        let target = args.client.resolve()?;
        let conn = Conn::new(&target)?;
        Ok(call!(conn, version, get_version, "GetVersion", ()))
    };
    let v = match server.await {
        Ok(v) => v,
        Err(f) => {
            // As pachctl does: the client's version still prints.
            if args.out.output == Format::Text {
                println!("{header}\n{client_row}");
            }
            return Err(f);
        }
    };
    let number = format!("{}.{}.{}", v.major, v.minor, v.micro);
    let value = json!({
        "client": CLIENT_VERSION,
        "server": {
            "version": number,
            "additional": v.additional,
            "git_commit": v.git_commit,
            "platform": v.platform,
        },
    });
    output::emit(args.out.output, &value, || {
        let server = match value["server"]["additional"].as_str() {
            Some(a) if !a.is_empty() => format!("{number} ({a})"),
            _ => number.clone(),
        };
        format!("{header}\n{client_row}\n{}", row("server", &server))
    })
}
