//! The current time, injected.
//!
//! Expiry, key rotation, GC and caches all take time from a `Clock` handed
//! in by the caller, so that tests move time with a `FakeClock` instead of
//! sleeping. The trait lives here rather than in the OIDC crate because the
//! auth plane needs it too and has no other reason to see OIDC types.

use std::sync::atomic::{AtomicI64, Ordering};

/// The current time in unix seconds.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;
}

/// The machine's clock. The one place in this crate that reads the clock;
/// only the server and the binaries construct it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// A clock that stands still until told to move: set it, or advance it.
/// Pure, no I/O; shared between a test and the code under test through an
/// `Arc`, hence the atomic.
#[derive(Debug, Default)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    /// A clock showing `now` (unix seconds).
    pub fn new(now: i64) -> FakeClock {
        FakeClock(AtomicI64::new(now))
    }

    /// Jump to `now` (unix seconds), forwards or backwards.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Move forwards by `secs` (backwards if negative).
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_is_set_and_advanced() {
        let c = FakeClock::new(100);
        assert_eq!(c.now(), 100);
        c.advance(5);
        assert_eq!(c.now(), 105);
        c.advance(-10);
        assert_eq!(c.now(), 95);
        c.set(1_900_000_000);
        assert_eq!(c.now(), 1_900_000_000);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
