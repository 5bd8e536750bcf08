//! What commands read besides their flags: a secret on stdin, and small
//! YAML or JSON files (or stdin for `-`), capped in size and parsed with
//! the file, line and key named in every error.

use crate::error::{Failure, Outcome};
use std::io::{IsTerminal, Read};

/// The first line of stdin, for a token: prompts when stdin is a terminal.
pub fn read_stdin_secret(what: &str) -> Outcome<String> {
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the {what} and press Enter:");
    }
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read the {what} from stdin: {e}")))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(Failure::usage(format!("no {what} on stdin")).help(format!(
            "pipe it in, e.g. `echo \"$TOKEN\" | tusk …`, with the {what} on the first line"
        )));
    }
    Ok(token)
}

/// Reads a file (or stdin for `-`) with the usual size cap.
pub fn read_input(path: &std::path::Path) -> Outcome<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(tusk_core::yaml::MAX_INPUT_BYTES as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        return Ok(buf);
    }
    crate::sources::read_capped(path).map_err(Failure::usage)
}

/// Parses a small YAML/JSON file into `T`, naming the file, line and key.
pub fn parse_file<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    bytes: &[u8],
) -> Outcome<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::usage(format!(
            "{}: the file is empty",
            path.display()
        )));
    }
    serde_norway::from_slice(bytes).map_err(|e| {
        let at = e
            .location()
            .map_or_else(String::new, |l| format!(":{}", l.line()));
        let msg = e.to_string();
        // serde names the expected keys; keep the message, add the place.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        Failure::usage(format!("{}{at}: {msg}", path.display()))
    })
}
