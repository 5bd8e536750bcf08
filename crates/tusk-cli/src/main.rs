//! `tusk`: run the identity service, and check its configuration.
//!
//! Exit codes (documented in the README):
//! - 0: success;
//! - 1: a failure at run time, or `config check` found errors;
//! - 2: the configuration or the command line was refused before starting.

mod logging;
mod serve;
mod sources;

use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use tusk_core::config::{self, Diagnostic, Severity};

#[derive(Parser)]
#[command(
    name = "tusk",
    version,
    about = "An identity and access service for data platforms, compatible with Pachyderm's auth.",
    after_help = "Examples:\n  tusk serve                                   # SQLite in ./tusk-data, mock IdP, http://127.0.0.1:30650\n  tusk config check --values values.yaml       # validate a Pachyderm values file offline\n  tusk config show --values values.yaml        # the effective config, secrets masked"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: OIDC provider, gRPC auth API, health and metrics on one port.
    #[command(
        after_help = "Examples:\n  tusk serve\n  tusk serve --values values.yaml --secrets-dir /etc/tusk/secrets\n  tusk serve --database-url postgres://tusk@db:5432/tusk --listen 0.0.0.0:30650"
    )]
    Serve(serve::ServeArgs),
    /// Validate or print the configuration without starting the server.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Report every problem in the configuration; exit 1 if any is an error.
    #[command(
        after_help = "Examples:\n  tusk config check --values values.yaml\n  tusk config check --values base.yaml --values okta.yaml --secrets-dir ./secrets"
    )]
    Check(SourceArgs),
    /// Print the effective configuration as JSON, with every secret masked.
    #[command(after_help = "Example:\n  tusk config show --values values.yaml")]
    Show(SourceArgs),
}

/// Where configuration comes from; shared by `serve` and `config`.
#[derive(Args, Clone)]
pub struct SourceArgs {
    /// A Pachyderm Helm values file (YAML or JSON). Repeatable: later files override earlier ones, as with `helm -f`.
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Directory of secrets: the secret named N is the directory DIR/N, one file per key.
    #[arg(long, value_name = "DIR", env = "TUSK_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Address to listen on; the issuer falls back to it when no host is configured.
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:30650",
        env = "TUSK_LISTEN"
    )]
    pub listen: String,
}

/// The outcome of loading configuration, with the messages already printed.
pub enum Loaded {
    Ok(Box<config::Config>),
    Refused,
}

impl SourceArgs {
    /// Loads and validates, printing every diagnostic to stderr.
    pub fn load(&self) -> Result<(Loaded, Vec<Diagnostic>), String> {
        let files = sources::values_files(&self.values)?;
        let secrets = match &self.secrets_dir {
            Some(dir) => Some(sources::SecretsDir::open(dir)?),
            None => None,
        };
        let env: BTreeMap<String, String> = config::ENV_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
        let input = config::Input {
            files,
            env,
            secrets: secrets.as_ref().map(|s| s as &dyn config::SecretSource),
            listen: self.listen.clone(),
        };
        Ok(match config::load(&input) {
            Ok(loaded) => (Loaded::Ok(Box::new(loaded.config)), loaded.warnings),
            Err(diags) => (Loaded::Refused, diags),
        })
    }
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn summary(diags: &[Diagnostic]) -> String {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn config_command(cmd: ConfigCommand) -> ExitCode {
    let (args, show) = match cmd {
        ConfigCommand::Check(a) => (a, false),
        ConfigCommand::Show(a) => (a, true),
    };
    let (loaded, diags) = match args.load() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("tusk: error: {e}");
            return ExitCode::from(2);
        }
    };
    print_diagnostics(&diags);
    match loaded {
        Loaded::Ok(config) if show => {
            match serde_json::to_string_pretty(&config.show()) {
                Ok(text) => println!("{text}"),
                Err(e) => {
                    eprintln!("tusk: error: cannot render the config: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Loaded::Ok(config) => {
            println!(
                "configuration ok ({}); issuer {} ({}), {} connector(s){}",
                summary(&diags),
                config.issuer,
                config.issuer_origin,
                config.connectors.len(),
                if config.mock_idp { ", mock IdP on" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Loaded::Refused => {
            eprintln!("tusk: configuration refused: {}", summary(&diags));
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with status 0, and
            // usage errors to stderr with status 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        Command::Config(cmd) => config_command(cmd),
        Command::Serve(args) => serve::main(args),
    }
}
