//! Where configuration comes from (`--values`, `--secrets-dir`, `--listen`),
//! loading it, and the `config check`/`config show` commands. Shared by
//! `serve`, `doctor` and `config`; kept out of main.rs so that those
//! modules never depend back on the crate root.

use crate::{output, sources};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use tusk_core::config::{self, Diagnostic, Severity};

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

pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

pub fn summary(diags: &[Diagnostic]) -> String {
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

/// `tusk config check` (`show` false) and `tusk config show`.
pub fn run(args: SourceArgs, show: bool) -> ExitCode {
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
