//! Per-client-address rate limits for the password form, the token
//! endpoint and `/auth` (RFC 9700 §4.15 and Dex issue #3509: brute force on password
//! connectors). A limited request gets 429 with `Retry-After`.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Requests per minute per client address; 0 turns a limit off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub password_per_minute: u32,
    pub token_per_minute: u32,
    /// `/auth`, whose valid requests are stored until they expire.
    pub authorize_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            password_per_minute: 30,
            token_per_minute: 1200,
            authorize_per_minute: 120,
        }
    }
}

pub struct Limiter {
    inner: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Limiter {
    pub fn per_minute(n: u32) -> Limiter {
        Limiter {
            inner: NonZeroU32::new(n).map(|n| {
                // A burst of a sixth of the minute's allowance lets a
                // human retry a typo at once.
                let burst = NonZeroU32::new((n.get() / 6).max(1)).unwrap_or(n);
                RateLimiter::keyed(Quota::per_minute(n).allow_burst(burst))
            }),
        }
    }

    /// `Err(seconds)` to wait when the address is over its limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs().max(1)
        })
    }

    /// Forgets idle addresses so the table does not grow without bound.
    pub fn prune(&self) {
        if let Some(limiter) = &self.inner {
            limiter.retain_recent();
        }
    }
}
