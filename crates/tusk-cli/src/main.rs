//! `tusk`: run the identity service, check its configuration, and talk to
//! a running one (`auth`, `idp`, `resource`, `context`, `doctor`).
//!
//! Exit codes (documented in the README):
//! - 0: success;
//! - 1: a failure at run time (the server refused or could not be
//!   reached, a doctor check failed), or `config check` found errors;
//! - 2: the configuration, a file or the command line was refused before
//!   starting or before anything was sent.

mod client;
mod cmd;
mod doctor;
mod error;
mod input;
mod logging;
mod login;
mod names;
mod output;
mod pach_config;
mod serve;
mod sources;
mod store_cmd;

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
    after_help = "Examples:\n  tusk serve                                   # SQLite in ./tusk-data, mock IdP, http://127.0.0.1:30650\n  tusk config check --values values.yaml       # validate a Pachyderm values file offline\n  tusk config show --values values.yaml        # the effective config, secrets masked\n  tusk auth login --device                     # log in to the server of the active context\n  tusk auth set project default projectWriter user:alice@example.com\n  tusk doctor --values values.yaml             # check the upstream IdPs of a values file\n\nThe client commands read and write the Pachyderm config file ($PACH_CONFIG, else\n~/.pachyderm/config.json); --address or TUSK_ADDRESS overrides the context's server.\nExit codes: 0 ok, 1 failure, 2 usage or configuration refused."
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
    /// Log in, manage role bindings, tokens and pachd's OIDC config (like `pachctl auth`).
    Auth(AuthArgs),
    /// Manage the identity server: its config, upstream IdP connectors, OIDC clients (like `pachctl idp`).
    Idp(IdpArgs),
    /// Register or forget projects and repos, so their owners get role bindings.
    Resource(ResourceArgs),
    /// Read the audit trail: logins, tokens, role bindings and other security events (admins only).
    Audit(cmd::audit::AuditArgs),
    /// Print this client's version and the server's (like `pachctl version`).
    Version(cmd::version::VersionArgs),
    /// Show the cluster's enterprise state (like `pachctl enterprise`).
    Enterprise(cmd::enterprise::EnterpriseArgs),
    /// Activate the license or show its state (like `pachctl license`).
    License(cmd::license::LicenseArgs),
    /// Choose, list and create contexts in the Pachyderm config file.
    #[command(subcommand)]
    Context(cmd::context::ContextCommand),
    /// Maintain the store: reseal its secrets under a new encryption key.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Check a deployment and its upstream IdPs; one line per check, each failure with its fix.
    #[command(
        after_help = "Examples:\n  tusk doctor                                   # the server of the active context\n  tusk doctor --address grpcs://pach.example.com:443\n  tusk doctor --values values.yaml --secrets-dir ./secrets\n  tusk doctor --values values.yaml -o json\n\nExit 1 when any check fails."
    )]
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  tusk completion bash > /etc/bash_completion.d/tusk\n  tusk completion zsh > \"${fpath[1]}/_tusk\"\n  tusk completion fish > ~/.config/fish/completions/tusk.fish"
    )]
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  tusk auth login --device\n  tusk auth whoami\n  tusk auth set repo default/images repoReader robot:ci\n  tusk auth check repo default/images"
)]
struct AuthArgs {
    #[command(flatten)]
    client: client::ClientArgs,
    #[command(subcommand)]
    command: cmd::auth::AuthCommand,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  tusk idp list-connector\n  tusk idp create-connector --config okta.yaml\n  tusk idp create-client --id grafana --name Grafana --redirect-uri https://grafana.example.com/login/generic_oauth"
)]
struct IdpArgs {
    #[command(flatten)]
    client: client::ClientArgs,
    #[command(subcommand)]
    command: cmd::idp::IdpCommand,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  tusk resource create project analytics\n  tusk resource create repo analytics/images\n  tusk resource delete repo analytics/images"
)]
struct ResourceArgs {
    #[command(flatten)]
    client: client::ClientArgs,
    #[command(subcommand)]
    command: cmd::resource::ResourceCommand,
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
    /// A Pachyderm Helm values file (YAML or JSON). Repeatable or comma-separated: later files override earlier ones, as with `helm -f`.
    #[arg(
        long = "values",
        short = 'f',
        value_name = "FILE",
        env = "TUSK_VALUES",
        value_delimiter = ','
    )]
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
                Ok(text) => {
                    if let Err(f) = output::write_stdout(format!("{text}\n").as_bytes()) {
                        f.print();
                        return ExitCode::from(f.code);
                    }
                }
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
    output::exit_quietly_on_broken_pipe();
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
        Command::Auth(a) => client_command(cmd::auth::run(a.client, a.command)),
        Command::Idp(a) => client_command(cmd::idp::run(a.client, a.command)),
        Command::Resource(a) => client_command(cmd::resource::run(a.client, a.command)),
        Command::Audit(a) => client_command(cmd::audit::run(a)),
        Command::Version(a) => client_command(cmd::version::run(a)),
        Command::Enterprise(a) => client_command(cmd::enterprise::run(a)),
        Command::License(a) => client_command(cmd::license::run(a)),
        Command::Context(cmd) => finish(cmd::context::run(cmd)),
        Command::Doctor(a) => client_command(doctor::run(a)),
        Command::Store(cmd) => store_cmd::run(cmd),
        Command::Completion { shell } => {
            use clap::CommandFactory;
            // Generated into memory: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tusk", &mut script);
            finish(output::write_stdout(&script))
        }
    }
}

/// Runs a client command on a small runtime and turns its outcome into
/// the exit code.
fn client_command(f: impl std::future::Future<Output = error::Outcome>) -> ExitCode {
    match block_on(f) {
        Ok(outcome) => finish(outcome),
        Err(code) => code,
    }
}

/// Runs `f` on a small current-thread runtime; the failure exit code when
/// no runtime can be made.
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => {
            eprintln!("tusk: error: cannot start the async runtime: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn finish(outcome: error::Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.print();
            ExitCode::from(f.code)
        }
    }
}
