//! The `sid` claim of every token: the browser session the login came
//! through (the same for every client of that session, as back-channel
//! logout needs), or the refresh token family when there was none. A leaf:
//! `token` (which puts it in tokens) and `backchannel` (which puts it in
//! logout tokens) both use it, and neither may depend on the other's way.

/// Every `sid` is computed here.
pub(crate) fn sid_for<'a>(session: &'a str, family: &'a str) -> &'a str {
    if session.is_empty() { family } else { session }
}
