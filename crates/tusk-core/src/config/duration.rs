//! Go's duration syntax (`24h`, `1h30m`, `500ms`), because Helm values and
//! Dex configs are written for Go's `time.ParseDuration`.

use std::time::Duration;

/// Parses a Go duration. Negative durations are refused: every duration
/// tusk reads is a lifetime or an interval.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err("it is negative".into());
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{}` is not a number", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err("a number needs a unit (h, m, s, ms)".into()),
            other => {
                return Err(format!(
                    "unknown unit `{other}` (use h, m, s, ms, us or ns)"
                ));
            }
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    // Ten years is far beyond any sensible token lifetime and keeps the
    // float conversion exact enough.
    if !total.is_finite() || total > 315_360_000.0 {
        return Err("it is longer than ten years".into());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok = [
            ("24h", 86_400.0),
            ("48h", 172_800.0),
            ("1h30m", 5_400.0),
            ("90m", 5_400.0),
            ("1.5h", 5_400.0),
            ("500ms", 0.5),
            ("0", 0.0),
            ("10s", 10.0),
        ];
        for (input, secs) in ok {
            assert_eq!(parse(input).map(|d| d.as_secs_f64()), Ok(secs), "{input}");
        }
        for bad in [
            "",
            "24",
            "h",
            "1d",
            "-1h",
            "1h-",
            "abc",
            "1..5h",
            "99999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
