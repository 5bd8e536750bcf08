//! What audit records say about the request being served: the client's
//! address and how a user is named.

tokio::task_local! {
    /// The client's address for the audit records of the request being
    /// served. The HTTP layer knows it (and which proxies to believe); a
    /// task-local carries it to the login code without threading it
    /// through every call.
    static CLIENT_ADDRESS: String;
}

/// Runs `f` with `address` as the client address audit records name.
pub async fn with_client_address<F: std::future::Future>(address: String, f: F) -> F::Output {
    CLIENT_ADDRESS.scope(address, f).await
}

/// How audit records name a user: the email the upstream vouched for,
/// else the name it gave, else its stable id.
pub(crate) fn audit_user(claims: &tusk_store::Claims) -> String {
    [&claims.email, &claims.username, &claims.user_id]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default()
}

/// The address set by [`with_client_address`], if any.
pub(crate) fn client_address() -> Option<String> {
    CLIENT_ADDRESS.try_with(Clone::clone).ok()
}
