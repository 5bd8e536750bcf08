//! The `tusk` section: tusk's own provider settings (signing, refresh
//! tokens, rate limits, trusted proxies, server and database limits,
//! password hashing, theme and branding, license key, audit retention).

use super::cidr::Cidr;
use super::loader::Loader;
use super::lookup::Values;
use super::model::{ProviderSettings, SessionSettings};
use crate::yaml::{Pos, Value};
use std::time::Duration;

impl Loader<'_> {
    pub(super) fn tusk(&mut self, v: Values<'_>) -> ProviderSettings {
        let algorithm = v
            .str_at(&["tusk", "signing", "algorithm"])
            .unwrap_or_else(|| "ES256".into());
        if !["ES256", "RS256", "EdDSA"].contains(&algorithm.as_str()) {
            self.ctx.error(
                v.get(&["tusk", "signing", "algorithm"])
                    .map_or(Pos::default(), |n| n.pos),
                "tusk.signing.algorithm",
                format!("unsupported signing algorithm `{algorithm}`"),
                Some("use ES256 (default), RS256 or EdDSA".into()),
            );
        }
        let per_minute = |this: &mut Self, key: &str, default: u32| -> u32 {
            match v
                .get(&["tusk", "rateLimit", key])
                .map(|n| (&n.value, n.pos))
            {
                Some((Value::Int(i), pos)) => u32::try_from(*i).unwrap_or_else(|_| {
                    this.ctx.error(
                        pos,
                        &format!("tusk.rateLimit.{key}"),
                        format!("{i} is out of range"),
                        Some("use 0 (off) or a positive number of requests per minute".into()),
                    );
                    default
                }),
                _ => default,
            }
        };
        let audit_retention = v
            .dur_at(&["tusk", "audit", "retention"])
            .unwrap_or(Duration::from_secs(30 * 24 * 3600));
        if audit_retention < Duration::from_secs(3600) {
            self.ctx.error(
                v.get(&["tusk", "audit", "retention"])
                    .map_or(Pos::default(), |n| n.pos),
                "tusk.audit.retention",
                "the audit trail would be purged within the hour",
                Some(
                    "keep audit events at least an hour, for example `720h` (30 days, the default)"
                        .into(),
                ),
            );
        }
        let password_per_minute = per_minute(self, "passwordPerMinute", 30);
        let token_per_minute = per_minute(self, "tokenPerMinute", 1200);
        let authorize_per_minute = per_minute(self, "authorizePerMinute", 120);
        let mut trusted_proxies = Vec::new();
        if let Some(Value::Seq(items)) = v.get(&["tusk", "trustedProxies"]).map(|n| &n.value) {
            for (i, item) in items.iter().enumerate() {
                let Value::Str(text) = &item.value else {
                    continue;
                };
                match Cidr::parse(text) {
                    Ok(c) => trusted_proxies.push(c),
                    Err(why) => self.ctx.error(
                        item.pos,
                        &format!("tusk.trustedProxies[{i}]"),
                        format!("`{text}` is not an address or address range: {why}"),
                        Some("list the proxies' addresses or CIDR ranges, such as 10.0.0.0/8 or 192.0.2.7".into()),
                    ),
                }
            }
        }
        let max_connections =
            match v
                .get(&["tusk", "server", "maxConnections"])
                .map(|n| (&n.value, n.pos))
            {
                Some((Value::Int(i), pos)) => {
                    u32::try_from(*i)
                        .ok()
                        .filter(|n| *n > 0)
                        .unwrap_or_else(|| {
                            self.ctx.error(
                    pos,
                    "tusk.server.maxConnections",
                    format!("{i} is out of range"),
                    Some("use a positive number of connections, such as 1024 (the default)".into()),
                );
                            1024
                        })
                }
                _ => 1024,
            };
        let password_hash_workers = self.bounded_int(
            v,
            "workers",
            1..=1024,
            "use a positive number of threads, such as the cores less one (the default)",
        );
        let password_hash_queue = self.bounded_int(
            v,
            "queue",
            0..=65536,
            "use 0 (refuse whenever every worker is busy) or a small multiple of the workers, such as 16 per worker (the default)",
        );
        let acquire_path = ["tusk", "database", "acquireTimeout"];
        let database_acquire_timeout = match v.dur_at(&acquire_path) {
            Some(d) if d.is_zero() || d > Duration::from_secs(300) => {
                self.ctx.error(
                    v.get(&acquire_path).map_or(Pos::default(), |n| n.pos),
                    "tusk.database.acquireTimeout",
                    format!("{} s is out of range", d.as_secs_f64()),
                    Some("use a duration from 1ms to 5m, such as 2s (the default)".into()),
                );
                Duration::from_secs(2)
            }
            Some(d) => d,
            None => Duration::from_secs(2),
        };
        let branding = self.branding(v);
        let sessions = self.sessions(v);
        ProviderSettings {
            sessions,
            signing_algorithm: algorithm,
            key_rotation_period: v
                .dur_at(&["tusk", "signing", "rotationPeriod"])
                .unwrap_or(Duration::from_secs(6 * 3600)),
            refresh_reuse_interval: v
                .dur_at(&["tusk", "refreshTokens", "reuseInterval"])
                .unwrap_or(Duration::ZERO),
            refresh_valid_if_not_used_for: v.dur_at(&[
                "tusk",
                "refreshTokens",
                "validIfNotUsedFor",
            ]),
            password_per_minute,
            token_per_minute,
            authorize_per_minute,
            trusted_proxies,
            max_connections,
            database_acquire_timeout,
            theme_title: branding
                .product_name
                .or_else(|| v.str_at(&["tusk", "theme", "title"]))
                .unwrap_or_else(|| "Pachyderm".into()),
            theme_logo_url: branding
                .logo
                .or_else(|| v.str_at(&["tusk", "theme", "logoURL"])),
            brand_accent: branding.accent,
            license_public_key: v.str_at(&["tusk", "license", "publicKey"]),
            audit_retention,
            password_hash_workers,
            password_hash_queue,
        }
    }

    /// `tusk.sessions`: on unless `enabled: false`; each lifetime at least
    /// a minute, and the idle limit no longer than the absolute one (it
    /// would never apply).
    fn sessions(&mut self, v: Values<'_>) -> Option<SessionSettings> {
        if !v.bool_at(&["tusk", "sessions", "enabled"], true) {
            return None;
        }
        let at = |this: &mut Self, key: &str, default: u64| {
            let path = ["tusk", "sessions", key];
            match v.dur_at(&path) {
                Some(d) if d < Duration::from_secs(60) => {
                    this.ctx.error(
                        v.get(&path).map_or(Pos::default(), |n| n.pos),
                        &format!("tusk.sessions.{key}"),
                        format!("{} s is shorter than a minute", d.as_secs_f64()),
                        Some("use a duration of a minute or more, such as 8h; to turn sessions off, set tusk.sessions.enabled: false".into()),
                    );
                    Duration::from_secs(default)
                }
                Some(d) => d,
                None => Duration::from_secs(default),
            }
        };
        let absolute_lifetime = at(self, "absoluteLifetime", 24 * 3600);
        let idle_timeout = at(self, "idleTimeout", 8 * 3600);
        if idle_timeout > absolute_lifetime {
            self.ctx.error(
                v.get(&["tusk", "sessions", "idleTimeout"])
                    .map_or(Pos::default(), |n| n.pos),
                "tusk.sessions.idleTimeout",
                format!(
                    "the idle timeout ({} s) is longer than the absolute lifetime ({} s), so it would never apply",
                    idle_timeout.as_secs(),
                    absolute_lifetime.as_secs()
                ),
                Some("make tusk.sessions.idleTimeout at most tusk.sessions.absoluteLifetime".into()),
            );
        }
        Some(SessionSettings {
            absolute_lifetime,
            idle_timeout,
        })
    }

    /// `tusk.passwordHashing.<key>` if set: an integer in `range`, else an
    /// error with `fix` (and the default is used).
    fn bounded_int(
        &mut self,
        v: Values<'_>,
        key: &str,
        range: std::ops::RangeInclusive<u32>,
        fix: &str,
    ) -> Option<u32> {
        let (value, pos) = v
            .get(&["tusk", "passwordHashing", key])
            .map(|n| (&n.value, n.pos))?;
        let Value::Int(i) = value else {
            return None;
        };
        match u32::try_from(*i).ok().filter(|n| range.contains(n)) {
            Some(n) => Some(n),
            None => {
                self.ctx.error(
                    pos,
                    &format!("tusk.passwordHashing.{key}"),
                    format!("{i} is out of range ({} to {})", range.start(), range.end()),
                    Some(fix.into()),
                );
                None
            }
        }
    }
}
