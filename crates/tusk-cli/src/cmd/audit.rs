//! `tusk audit`: read the server's audit trail (`tusk.audit.v1.Audit`),
//! newest first, filtered by actor, subject, resource and time. Cluster
//! administrators only.

use crate::client::{ClientArgs, Conn, call};
use crate::error::{Failure, Outcome};
use crate::output::{self, Out, rfc3339};
use clap::Args;
use serde_json::{Value, json};
use tusk_proto::tusk::audit::v1 as pb;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  tusk audit\n  tusk audit --actor pach:root --since 24h\n  tusk audit --resource PROJECT:default --since 2026-01-01T00:00:00Z -o json\n  tusk audit --subject user:alice@example.com --limit 20\n\nTimes: RFC 3339 UTC (2026-01-31T12:00:00Z), Unix seconds, or a duration ago (90m, 24h)."
)]
pub struct AuditArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only events by this actor (pach:root, user:alice@example.com, client:app).
    #[arg(long, value_name = "PRINCIPAL")]
    pub actor: Option<String>,
    /// Only events about this subject (the user who logged in, whose token or binding changed).
    #[arg(long, value_name = "PRINCIPAL")]
    pub subject: Option<String>,
    /// Only events on this resource (CLUSTER:, PROJECT:name, REPO:project/name, a connector or client id).
    #[arg(long, value_name = "RESOURCE")]
    pub resource: Option<String>,
    /// Only events at or after this time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events at or before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// At most this many events (the server caps it at 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    #[command(flatten)]
    pub out: Out,
}

pub async fn run(args: AuditArgs) -> Outcome {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time(t, now, "--since"))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time(t, now, "--until"))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(Failure::usage(format!(
            "--since ({}) is after --until ({}); no event can match",
            rfc3339(s),
            rfc3339(u)
        ))
        .help("swap the two times"));
    }
    let target = args.client.resolve()?;
    let conn = Conn::new(&target)?;
    let stamp = |secs| prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    };
    let resp = call!(
        conn,
        audit,
        list,
        "Audit/List",
        pb::ListRequest {
            actor: args.actor.clone().unwrap_or_default(),
            subject: args.subject.clone().unwrap_or_default(),
            resource: args.resource.clone().unwrap_or_default(),
            since: since.map(stamp),
            until: until.map(stamp),
            limit: args.limit,
        }
    );
    let rows: Vec<Value> = resp
        .events
        .iter()
        .map(|e| {
            let at = e.at.as_ref().map_or(0, |t| t.seconds);
            json!({
                "id": e.id,
                "at": rfc3339(at),
                "event": e.event,
                "actor": e.actor,
                "subject": e.subject,
                "resource": e.resource,
                "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null),
            })
        })
        .collect();
    output::emit(args.out.output, &Value::Array(rows.clone()), || {
        if rows.is_empty() {
            return "No audit events match.".into();
        }
        let mut s = String::new();
        for r in &rows {
            let mut line = format!(
                "{}  {:<22}",
                r["at"].as_str().unwrap_or(""),
                r["event"].as_str().unwrap_or("")
            );
            for key in ["actor", "subject", "resource"] {
                if let Some(v) = r[key].as_str().filter(|v| !v.is_empty()) {
                    line.push_str(&format!(" {key}={v}"));
                }
            }
            // The rest of the event, without the fields already shown.
            if let Value::Object(mut details) = r["details"].clone() {
                details.remove("event");
                for key in ["actor", "user", "principal", "subject", "resource"] {
                    if details
                        .get(key)
                        .is_some_and(|v| v.as_str() == r[key].as_str())
                    {
                        details.remove(key);
                    }
                }
                if !details.is_empty() {
                    line.push_str(&format!("  {}", Value::Object(details)));
                }
            }
            s.push_str(&line);
            s.push('\n');
        }
        s
    })
}

/// `2026-01-31T12:00:00Z`, Unix seconds, or a Go duration meaning that
/// long before `now`.
fn parse_time(text: &str, now: i64, flag: &str) -> Outcome<i64> {
    let bad = || {
        Failure::usage(format!("{flag} {text:?} is not a time"))
            .help("use RFC 3339 UTC (2026-01-31T12:00:00Z), Unix seconds (1767225600), or a duration ago (90m, 24h)")
    };
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Some(secs) = parse_rfc3339_utc(text) {
        return Ok(secs);
    }
    let ago = tusk_core::config::duration::parse(text).map_err(|_| bad())?;
    Ok(now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX)))
}

/// `YYYY-MM-DDTHH:MM:SSZ` only: the form `tusk audit` prints.
fn parse_rfc3339_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    Some(output::days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_bad_ones_are_refused() {
        for secs in [0, 951_782_400, 1_767_225_600, 1_800_000_123] {
            assert_eq!(parse_time(&rfc3339(secs), 0, "--since").ok(), Some(secs));
        }
        assert_eq!(
            parse_time("1700000000", 0, "--since").ok(),
            Some(1_700_000_000)
        );
        assert_eq!(parse_time("24h", 100_000, "--since").ok(), Some(13_600));
        for bad in ["yesterday", "2026-13-01T00:00:00Z", "-5h", ""] {
            let f = parse_time(bad, 0, "--since").unwrap_err();
            assert_eq!(f.code, 2, "{bad}");
            assert!(f.message.contains("--since"), "{}", f.message);
        }
    }
}
