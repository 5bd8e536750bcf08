//! Password-guessing throttle, per account (issue 11, defect 4).
//!
//! Failures are counted twice in the store, so every replica sees them:
//! per (connector, account, client address) and per (connector, account).
//! A pair gets [`PAIR_FREE`] failures, then exponential back-off. Once the
//! account as a whole has [`ACCOUNT_BUDGET`] recent failures, every pair
//! gets only one free failure before its back-off. A pair with no failure
//! is never refused, so an attacker can slow an account down but not lock
//! its owner out: the owner, from their own address, still gets to try.
//! The outcome of a checked password is recorded with one compare-and-swap
//! that first re-checks the back-off, so parallel guesses, on one replica
//! or spread over several, get no more answers than sequential ones, while
//! parallel logins with the right password all succeed.

use std::net::IpAddr;

use tusk_store::{LoginFailures, Store, hash_token};

/// Failures a (account, address) pair may make before back-off starts.
pub const PAIR_FREE: u32 = 3;
/// Recent failures on one account, from all addresses together, after
/// which each pair gets a single free failure.
pub const ACCOUNT_BUDGET: u32 = 10;
/// The first back-off; each further failure doubles it.
pub const BACKOFF_BASE: i64 = 5;
pub const BACKOFF_MAX: i64 = 15 * 60;
/// Failures older than this are forgotten.
pub const WINDOW: i64 = 15 * 60;

/// The store ids of the two counters for one attempt.
pub(crate) struct Keys {
    pair: String,
    account: String,
}

impl Keys {
    /// Login names are compared case-insensitively and without surrounding
    /// spaces, so `Admin ` and `admin` share a counter.
    pub(crate) fn new(connector: &str, login: &str, client: IpAddr) -> Keys {
        let account = login.trim().to_lowercase();
        Keys {
            pair: hash_token(&format!("pair\u{0}{connector}\u{0}{account}\u{0}{client}")),
            account: hash_token(&format!("account\u{0}{connector}\u{0}{account}")),
        }
    }
}

/// How long a pair must still wait, given both counters; `None` to go on.
pub fn wait(pair: &LoginFailures, account: &LoginFailures, now: i64) -> Option<i64> {
    let recent = |r: &LoginFailures| if r.expires_at > now { r.failures } else { 0 };
    let free = if recent(account) >= ACCOUNT_BUDGET {
        1
    } else {
        PAIR_FREE
    };
    let failures = recent(pair);
    if failures < free {
        return None;
    }
    let doublings = (failures - free).min(16);
    let backoff = (BACKOFF_BASE << doublings).min(BACKOFF_MAX);
    let until = pair.last_failure + backoff;
    (until > now).then_some(until - now)
}

async fn read(store: &Store, id: &str) -> Result<LoginFailures, tusk_store::Error> {
    match store.get::<LoginFailures>(id).await {
        Ok(r) => Ok(r),
        Err(tusk_store::Error::NotFound { .. }) => Ok(LoginFailures::default()),
        Err(e) => Err(e),
    }
}

/// Seconds this pair must still wait, from a plain read: lets a pair that
/// is already backing off be refused without checking its password.
pub(crate) async fn waiting(
    store: &Store,
    keys: &Keys,
    now: i64,
) -> Result<Option<i64>, tusk_store::Error> {
    let pair = read(store, &keys.pair).await?;
    let account = read(store, &keys.account).await?;
    Ok(wait(&pair, &account, now))
}

/// Records the outcome of a checked password, unless the pair has meanwhile
/// reached its back-off: then the outcome is withheld (right or wrong, the
/// caller answers "wait"), so parallel guesses, on one replica or spread
/// over several, learn no more than sequential ones. The check and the
/// count are one compare-and-swap on the pair's counter. A right password
/// clears the pair and the account: only the password's owner can do that,
/// and other addresses keep their own back-off.
pub(crate) async fn settle(
    store: &Store,
    keys: &Keys,
    now: i64,
    right: bool,
) -> Result<Option<i64>, tusk_store::Error> {
    let account = read(store, &keys.account).await?;
    let mut settled = false;
    for _ in 0..3 {
        let mut throttled = None;
        let updated = store
            .update::<LoginFailures, _>(&keys.pair, |r| {
                if let Some(w) = wait(r, &account, now) {
                    throttled = Some(w);
                    // Nothing to write: the wait is the answer.
                    return Err(tusk_store::Error::Aborted("throttled".into()));
                }
                if right {
                    r.failures = 0;
                } else {
                    count(r, now);
                }
                Ok(())
            })
            .await;
        match (updated, throttled) {
            (_, Some(w)) => return Ok(Some(w)),
            (Ok(_), None) => {
                settled = true;
                break;
            }
            (Err(tusk_store::Error::NotFound { .. }), None) => {}
            (Err(e), None) => return Err(e),
        }
        if right {
            // No failures recorded for this pair: nothing to clear.
            settled = true;
            break;
        }
        let mut fresh = LoginFailures {
            id: keys.pair.clone(),
            ..Default::default()
        };
        count(&mut fresh, now);
        match store.create(&fresh).await {
            Ok(()) => {
                settled = true;
                break;
            }
            Err(tusk_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if !settled {
        return Err(tusk_store::Error::Conflict {
            kind: "login_failures",
            id: keys.pair.clone(),
        });
    }
    if right {
        match store
            .update::<LoginFailures, _>(&keys.account, |r| {
                r.failures = 0;
                Ok(())
            })
            .await
        {
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    } else {
        bump(store, &keys.account, now).await?;
    }
    Ok(None)
}

/// One more failure now; counts older than [`WINDOW`] start over.
fn count(r: &mut LoginFailures, now: i64) {
    if r.expires_at <= now {
        r.failures = 0;
    }
    r.failures = r.failures.saturating_add(1);
    r.last_failure = now;
    r.expires_at = now + WINDOW;
}

/// Increments a counter by compare-and-swap, creating it on first use; two
/// replicas racing on the first failure both count (one create loses and
/// retries as an update).
async fn bump(store: &Store, id: &str, now: i64) -> Result<(), tusk_store::Error> {
    let apply = |r: &mut LoginFailures| count(r, now);
    for _ in 0..3 {
        match store
            .update::<LoginFailures, _>(id, |r| {
                apply(r);
                Ok(())
            })
            .await
        {
            Ok(_) => return Ok(()),
            Err(tusk_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let mut fresh = LoginFailures {
            id: id.to_owned(),
            ..Default::default()
        };
        apply(&mut fresh);
        match store.create(&fresh).await {
            Ok(()) => return Ok(()),
            Err(tusk_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Err(tusk_store::Error::Conflict {
        kind: "login_failures",
        id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(failures: u32, last: i64) -> LoginFailures {
        LoginFailures {
            id: String::new(),
            failures,
            last_failure: last,
            expires_at: last + WINDOW,
        }
    }

    #[test]
    fn backoff_table() {
        let none = LoginFailures::default();
        let busy = rec(ACCOUNT_BUDGET, 100);
        // (pair failures, account, now, expected wait)
        let rows: &[(u32, &LoginFailures, i64, Option<i64>)] = &[
            (0, &none, 100, None),
            (2, &none, 100, None),
            (3, &none, 100, Some(5)),
            (3, &none, 105, None),
            (4, &none, 100, Some(10)),
            (30, &none, 100, Some(BACKOFF_MAX)),
            (0, &busy, 100, None),
            (1, &busy, 100, Some(5)),
            (2, &busy, 101, Some(9)),
            // Expired counters are forgotten.
            (9, &none, 100 + WINDOW, None),
        ];
        for (failures, account, now, expected) in rows {
            let pair = if *failures == 0 {
                LoginFailures::default()
            } else {
                rec(*failures, 100)
            };
            assert_eq!(
                wait(&pair, account, *now),
                *expected,
                "pair {failures} at {now}"
            );
        }
    }
}
