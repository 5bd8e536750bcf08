//! The one error type of the client commands: what failed, why, and what
//! to do about it, plus the exit code it earns.
//!
//! Exit codes (README, "Exit codes"): 1 for a failure at run time (the
//! server refused, could not be reached, a doctor check failed), 2 for
//! input refused before anything was sent (a bad flag, file, role,
//! resource type or context name).

use std::fmt;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    /// Names the thing and the cause, on one line. Never holds a secret.
    pub message: String,
    /// The fix, when there is one to suggest.
    pub help: Option<String>,
}

pub type Outcome<T = ()> = Result<T, Failure>;

impl Failure {
    /// A failure at run time: exit 1.
    pub fn run(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
            help: None,
        }
    }

    /// Input refused before anything was sent: exit 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Failure {
        self.help = Some(help.into());
        self
    }

    /// Prefixes the message with what was being done.
    pub fn context(mut self, what: impl fmt::Display) -> Failure {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn print(&self) {
        if self.message.is_empty() {
            return;
        }
        eprintln!("tusk: error: {}", self.message);
        if let Some(help) = &self.help {
            eprintln!("  help: {help}");
        }
    }
}

/// The chain of causes of an error, joined with `: `, without repeats
/// (hyper and tonic often wrap an error whose text is already included).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}
