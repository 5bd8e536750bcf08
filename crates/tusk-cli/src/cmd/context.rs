//! `tusk context list|use|create`: choose, list and create contexts in the
//! Pachyderm config file ([`crate::pach_config`]).

use crate::client::{Address, read_ca_base64};
use crate::error::{Failure, Outcome};
use crate::names::did_you_mean;
use crate::output::{self, Format};
use crate::pach_config::{ConfigFile, DEFAULT_ADDRESS};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ContextCommand {
    /// List the contexts in the config file; `*` marks the active one.
    #[command(after_help = "Examples:\n  tusk context list\n  tusk context list -o json")]
    List {
        #[arg(short, long, value_enum, default_value = "text")]
        output: Format,
    },
    /// Make a context the active one.
    #[command(after_help = "Example:\n  tusk context use staging")]
    Use {
        /// The context's name.
        name: String,
    },
    /// Create (or with --overwrite replace) a context.
    #[command(
        after_help = "Examples:\n  tusk context create local --address grpc://127.0.0.1:30650 --use\n  tusk context create prod --address grpcs://pach.example.com:443 --ca-cert ca.pem"
    )]
    Create {
        /// The context's name.
        name: String,
        /// The server: grpc://HOST:PORT (plain text) or grpcs://HOST:PORT (TLS).
        #[arg(long, value_name = "ADDRESS")]
        address: String,
        /// PEM file of the CA that signed the server's certificate (stored in the context).
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Make it the active context.
        #[arg(long = "use")]
        activate: bool,
        /// Replace a context of the same name (its session token is dropped).
        #[arg(long)]
        overwrite: bool,
    },
}

pub fn run(cmd: ContextCommand) -> Outcome {
    let mut file = ConfigFile::load()?;
    match cmd {
        ContextCommand::List { output } => {
            let active = file.active_name();
            let rows: Vec<Value> = file
                .names()
                .iter()
                .filter_map(|n| file.get(n))
                .map(|c| {
                    json!({
                        "name": c.name,
                        "active": Some(&c.name) == active.as_ref(),
                        "pachd_address": c.pachd_address,
                        "logged_in": c.session_token.is_some(),
                    })
                })
                .collect();
            output::emit(output, &Value::Array(rows.clone()), || {
                if rows.is_empty() {
                    return format!(
                        "no contexts in {}; create one with `tusk context create NAME --address grpc://HOST:PORT --use`",
                        file.path.display()
                    );
                }
                let mut out = format!("{:<2}{:<20} {:<40} {}\n", "", "NAME", "ADDRESS", "SESSION");
                for r in &rows {
                    out.push_str(&format!(
                        "{:<2}{:<20} {:<40} {}\n",
                        if r["active"] == true { "*" } else { "" },
                        r["name"].as_str().unwrap_or_default(),
                        r["pachd_address"].as_str().unwrap_or(DEFAULT_ADDRESS),
                        if r["logged_in"] == true {
                            "logged in"
                        } else {
                            "-"
                        },
                    ));
                }
                out
            })
        }
        ContextCommand::Use { name } => {
            if file.get(&name).is_none() {
                let names = file.names();
                let hint = did_you_mean(&name, names.iter().map(String::as_str));
                return Err(Failure::usage(format!(
                    "no context named `{name}` in {}",
                    file.path.display()
                ))
                .help(match (hint, names.is_empty()) {
                    (Some(h), _) => format!("did you mean `{h}`?"),
                    (None, true) => {
                        "create one with `tusk context create NAME --address grpc://HOST:PORT`"
                            .into()
                    }
                    (None, false) => format!("the contexts are: {}", names.join(", ")),
                }));
            }
            file.set_active(&name);
            file.save()?;
            println!("active context: {name}");
            Ok(())
        }
        ContextCommand::Create {
            name,
            address,
            ca_cert,
            activate,
            overwrite,
        } => {
            if name.trim().is_empty() {
                return Err(Failure::usage("a context name cannot be empty"));
            }
            let parsed = Address::parse(&address)?;
            if file.get(&name).is_some() && !overwrite {
                return Err(Failure::usage(format!(
                    "a context named `{name}` already exists in {}",
                    file.path.display()
                ))
                .help("pick another name, or pass --overwrite to replace it"));
            }
            let cas = match &ca_cert {
                Some(path) => Some(read_ca_base64(path)?),
                None => None,
            };
            // Replacing drops the old token: it belonged to the old server.
            file.remove(&name);
            let first = file.names().is_empty();
            file.create(&name);
            file.set_field(&name, "pachd_address", Some(&parsed.to_string()));
            file.set_field(&name, "server_cas", cas.as_deref());
            if activate || first {
                file.set_active(&name);
            }
            file.save()?;
            println!(
                "created context `{name}` for {parsed}{}",
                if activate || first { " (active)" } else { "" }
            );
            Ok(())
        }
    }
}
