//! The machine's clock, read in one place for the connectors that check
//! upstream times (ID-token `exp`/`iat`, token expiry, SAML conditions).
//! Their pure checks take the time as an argument or a `Clock`, so tests
//! pass a `FakeClock` instead.

use tusk_core::clock::Clock;

/// Seconds since the Unix epoch; 0 if the machine's clock is before it.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// [`unix_now`] as a [`Clock`], for connectors that take one.
pub(crate) struct Now;

impl Clock for Now {
    fn now(&self) -> i64 {
        unix_now()
    }
}
