//! Diagnostics: every problem found in a configuration, with where and how
//! to fix it. Validation collects all of them instead of stopping at the
//! first, so an operator fixes a values file in one pass.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem. `Display` renders it the way ripgrep renders errors: where
/// first, then what is wrong, then a `help:` line with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A file name or `$VARIABLE`; empty when the problem has no source.
    pub source: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    /// The key path, such as `oidc.upstreamIDPs[0].config.clientSecret`.
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    /// The diagnostic without its `error:`/`warning:` prefix, for log
    /// records, whose own level already says it.
    pub fn unlevelled(&self) -> Unlevelled<'_> {
        Unlevelled(self)
    }
}

/// See [`Diagnostic::unlevelled`].
pub struct Unlevelled<'a>(&'a Diagnostic);

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.unlevelled())
    }
}

impl fmt::Display for Unlevelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        match (d.source.is_empty(), d.line) {
            (false, 0) => write!(f, "{}: ", d.source)?,
            (false, line) => write!(f, "{}:{}: ", d.source, line)?,
            (true, _) => {}
        }
        if !d.path.is_empty() {
            write!(f, "{}: ", d.path)?;
        }
        f.write_str(&d.message)?;
        if let Some(help) = &d.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The nearest known name to a misspelt one, for "did you mean" hints.
/// Case-only differences always match, since YAML keys are case-sensitive
/// and `clientId` for `clientID` is the commonest slip.
pub fn suggest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = unknown.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in known {
        if candidate.to_ascii_lowercase() == lower {
            return Some(candidate);
        }
        let score = strsim::jaro_winkler(&lower, &candidate.to_ascii_lowercase());
        if score >= 0.85 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_carry_no_second_level() {
        let d = Diagnostic {
            severity: Severity::Warning,
            source: "values.yaml".into(),
            line: 3,
            path: "oidc.x".into(),
            message: "unknown key".into(),
            help: Some("remove it".into()),
        };
        assert_eq!(
            d.to_string(),
            "warning: values.yaml:3: oidc.x: unknown key\n  help: remove it"
        );
        assert_eq!(
            d.unlevelled().to_string(),
            "values.yaml:3: oidc.x: unknown key\n  help: remove it"
        );
    }

    #[test]
    fn suggestions() {
        let known = ["clientID", "clientSecret", "issuer", "redirectURI"];
        let cases = [
            ("clientSecrett", Some("clientSecret")),
            ("clientId", Some("clientID")),
            ("redirectUri", Some("redirectURI")),
            ("issuer_url", Some("issuer")),
            ("zzz", None),
        ];
        for (input, want) in cases {
            assert_eq!(suggest(input, known), want, "input {input}");
        }
    }

    #[test]
    fn display_names_place_then_cause_then_fix() {
        let d = Diagnostic {
            severity: Severity::Error,
            source: "values.yaml".into(),
            line: 7,
            path: "oidc.upstreamIDPs[0].version".into(),
            message: "unknown key `version`".into(),
            help: Some("remove it".into()),
        };
        assert_eq!(
            d.to_string(),
            "error: values.yaml:7: oidc.upstreamIDPs[0].version: unknown key `version`\n  help: remove it"
        );
    }
}
