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
mod config_args;
mod doctor;
mod error;
mod input;
mod logging;
mod login;
mod names;
mod output;
mod pach_config;
mod private_file;
mod runtime;
mod serve;
mod sources;
mod store_cmd;

use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

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
    Check(config_args::SourceArgs),
    /// Print the effective configuration as JSON, with every secret masked.
    #[command(after_help = "Example:\n  tusk config show --values values.yaml")]
    Show(config_args::SourceArgs),
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
        Command::Config(cmd) => match cmd {
            ConfigCommand::Check(a) => config_args::run(a, false),
            ConfigCommand::Show(a) => config_args::run(a, true),
        },
        Command::Serve(args) => serve::main(args),
        Command::Auth(a) => runtime::client_command(cmd::auth::run(a.client, a.command)),
        Command::Idp(a) => runtime::client_command(cmd::idp::run(a.client, a.command)),
        Command::Resource(a) => runtime::client_command(cmd::resource::run(a.client, a.command)),
        Command::Audit(a) => runtime::client_command(cmd::audit::run(a)),
        Command::Version(a) => runtime::client_command(cmd::version::run(a)),
        Command::Enterprise(a) => runtime::client_command(cmd::enterprise::run(a)),
        Command::License(a) => runtime::client_command(cmd::license::run(a)),
        Command::Context(cmd) => runtime::finish(cmd::context::run(cmd)),
        Command::Doctor(a) => runtime::client_command(doctor::run(a)),
        Command::Store(cmd) => store_cmd::run(cmd),
        Command::Completion { shell } => {
            use clap::CommandFactory;
            // Generated into memory: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tusk", &mut script);
            runtime::finish(output::write_stdout(&script))
        }
    }
}
