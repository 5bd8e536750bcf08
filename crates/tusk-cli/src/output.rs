//! How read commands print: a human text form by default, or `-o json` /
//! `-o yaml` for scripts. Each command builds one JSON value and a text
//! rendering of it, so the three forms never disagree.

use crate::error::{Failure, Outcome};
use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Yaml,
}

/// The `-o` flag of every read command.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct Out {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

impl Format {
    /// YAML in place of text, for commands whose output is a file that
    /// `set-config`/`create-…` reads back.
    pub fn text_as_yaml(self) -> Format {
        if self == Format::Text {
            Format::Yaml
        } else {
            self
        }
    }
}

/// Prints `value` in the chosen format; `text` renders the human form.
pub fn emit<T: Serialize + ?Sized>(
    format: Format,
    value: &T,
    text: impl FnOnce() -> String,
) -> Outcome {
    let rendered = match format {
        Format::Text => text(),
        Format::Json => serde_json::to_string_pretty(value)
            .map_err(|e| Failure::run(format!("cannot render JSON: {e}")))?,
        Format::Yaml => serde_norway::to_string(value)
            .map_err(|e| Failure::run(format!("cannot render YAML: {e}")))?,
    };
    let rendered = rendered.trim_end_matches('\n');
    if !rendered.is_empty() {
        write_stdout(format!("{rendered}\n").as_bytes())?;
    }
    Ok(())
}

/// Writes to stdout. A reader that has gone away (`tusk ... | head -1`)
/// wants no more output: that is not a failure, so the process ends at
/// once with status 0 and no message, as ripgrep does. (Rust ignores
/// SIGPIPE, and this workspace forbids the `unsafe` that would restore it.)
pub fn write_stdout(bytes: &[u8]) -> Outcome {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Failure::run(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// The same rule for every `println!` not routed through
/// [`write_stdout`]: std panics when printing fails, and this hook turns
/// only the broken-pipe case into a quiet exit; every other panic goes to
/// the default hook unchanged.
pub fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // std's message for a failed `print!`: "failed printing to stdout: <io error>".
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`2025-01-31T12:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-from-civil, the inverse of [`civil_from_days`]:
/// days since the Unix epoch of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `3h 20m`, `45s`, `12d 3h`: a duration for people.
pub fn human_duration(secs: i64) -> String {
    let s = secs.abs();
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_rows() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (-1, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(secs), want, "{secs}");
        }
    }

    #[test]
    fn human_duration_rows() {
        for (secs, want) in [
            (5, "5s"),
            (65, "1m 5s"),
            (3_700, "1h 1m"),
            (90_000, "1d 1h"),
        ] {
            assert_eq!(human_duration(secs), want);
        }
    }
}
