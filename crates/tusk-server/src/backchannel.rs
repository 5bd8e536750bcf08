//! Delivery of back-channel logout tokens (OpenID Connect Back-Channel
//! Logout 1.0 §2.5; docs/logout.md): the provider builds and signs them,
//! this POSTs them to the clients' `backchannel_logout_uri`s.
//!
//! Off the request path and bounded: [`Sender::deliver`] only takes a slot
//! of `max_pending` and spawns; a full set of slots drops the token with a
//! warning and a metric, so an unreachable client can never hold up the
//! request that ended a session nor grow memory. At most `max_concurrent`
//! POSTs are in flight at once; a slot waiting to retry holds no request.
//! Redirects are never followed (a 3xx is a failure) and every attempt has
//! a timeout. Nothing here logs the token.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tusk_oidc::{LogoutDelivery, LogoutMessage, NotSent};

/// The metric every outcome is counted in, labelled `outcome`.
pub(crate) const LOGOUTS: &str = "tusk_backchannel_logouts_total";

/// How logout tokens are sent: attempts, waits and bounds.
#[derive(Debug, Clone)]
pub struct BackchannelLimits {
    /// One attempt's limit, connecting included.
    pub timeout: Duration,
    /// The waits before the second, third, ... attempt; its length is the
    /// number of retries.
    pub retry_delays: Vec<Duration>,
    /// Tokens accepted and not yet delivered or given up, at most.
    pub max_pending: usize,
    /// POSTs in flight at once, at most.
    pub max_concurrent: usize,
}

impl Default for BackchannelLimits {
    /// Three attempts over about half a minute (well inside the token's
    /// two-minute `exp`), 5 s each.
    fn default() -> Self {
        BackchannelLimits {
            timeout: Duration::from_secs(5),
            retry_delays: vec![Duration::from_secs(5), Duration::from_secs(20)],
            max_pending: 1024,
            max_concurrent: 16,
        }
    }
}

/// The server's [`LogoutDelivery`]; each send holds the shared part.
pub(crate) struct Sender(Arc<Inner>);

struct Inner {
    http: reqwest::Client,
    limits: BackchannelLimits,
    pending: Arc<Semaphore>,
    requests: Arc<Semaphore>,
    runtime: tokio::runtime::Handle,
}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Delivered,
    /// Worth another try: no answer, a timeout, 5xx, 408 or 429.
    Transient(String),
    /// Another try would get the same answer (4xx, a redirect).
    Refused(String),
}

impl Sender {
    /// Builds the sender on the current runtime; `None` (logged) when the
    /// HTTP client cannot be built, so no delivery is wired.
    pub(crate) fn new(limits: BackchannelLimits) -> Option<Arc<Sender>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let http = reqwest::Client::builder()
            // §2.5 and RFC 9700: a logout URI is registered exactly; a
            // redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .build();
        let http = match http {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client for back-channel logout; no logout tokens will be sent");
                return None;
            }
        };
        Some(Arc::new(Sender(Arc::new(Inner {
            http,
            pending: Arc::new(Semaphore::new(
                limits.max_pending.clamp(1, Semaphore::MAX_PERMITS),
            )),
            requests: Arc::new(Semaphore::new(
                limits.max_concurrent.clamp(1, Semaphore::MAX_PERMITS),
            )),
            limits,
            runtime,
        }))))
    }
}

impl Inner {
    /// Every attempt of one message, then its outcome's log line and count.
    async fn send(self: Arc<Self>, message: LogoutMessage) {
        let mut attempts = 0;
        let mut delays = self.limits.retry_delays.iter();
        let last = loop {
            attempts += 1;
            let outcome = match self.requests.clone().acquire_owned().await {
                Ok(_request) => self.attempt(&message).await,
                Err(_) => Attempt::Refused("the sender was closed".into()),
            };
            match (&outcome, delays.next()) {
                (Attempt::Transient(why), Some(delay)) => {
                    tracing::debug!(client = %message.client_id, uri = %message.uri, attempt = attempts, reason = %why, "back-channel logout failed; retrying");
                    tokio::time::sleep(*delay).await;
                }
                _ => break outcome,
            }
        };
        let outcome = match last {
            Attempt::Delivered => {
                tracing::info!(client = %message.client_id, uri = %message.uri, attempts, "back-channel logout delivered");
                "delivered"
            }
            Attempt::Transient(why) | Attempt::Refused(why) => {
                tracing::warn!(client = %message.client_id, uri = %message.uri, attempts, reason = %why, "back-channel logout failed; the client was not told that the session ended");
                "failed"
            }
        };
        metrics::counter!(LOGOUTS, "outcome" => outcome).increment(1);
    }

    /// One POST of `logout_token` as a form (§2.5).
    async fn attempt(&self, message: &LogoutMessage) -> Attempt {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", &message.token)
            .finish();
        let sent = self
            .http
            .post(&message.uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => classify(response.status().as_u16()),
            // reqwest's error names the URL and the cause, never the body.
            Err(e) if e.is_timeout() => {
                Attempt::Transient(format!("no answer within {:?}", self.limits.timeout))
            }
            Err(e) => Attempt::Transient(format!("request failed: {e}")),
        }
    }
}

/// §2.8: the RP answers 200 (some frameworks 204) when it logged out, 400
/// when it refused the token.
fn classify(status: u16) -> Attempt {
    match status {
        200 | 204 => Attempt::Delivered,
        300..=399 => Attempt::Refused(format!(
            "answered {status}, a redirect, which is not followed; register the final URL"
        )),
        408 | 429 | 500..=599 => Attempt::Transient(format!("answered {status}")),
        _ => Attempt::Refused(format!("answered {status}")),
    }
}

impl LogoutDelivery for Sender {
    fn deliver(&self, message: LogoutMessage) {
        let Ok(slot) = self.0.pending.clone().try_acquire_owned() else {
            tracing::warn!(
                client = %message.client_id,
                limit = self.0.limits.max_pending,
                "too many back-channel logouts are pending; dropping this one (the client is not told that the session ended)"
            );
            metrics::counter!(LOGOUTS, "outcome" => "dropped").increment(1);
            return;
        };
        let me = self.0.clone();
        self.0.runtime.spawn(async move {
            let _slot = slot;
            me.send(message).await;
        });
    }

    fn not_sent(&self, client_id: &str, reason: NotSent) {
        tracing::warn!(client = %client_id, reason = reason.as_str(), "no back-channel logout for an ended session");
        metrics::counter!(LOGOUTS, "outcome" => reason.as_str()).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_spec_says() {
        for (status, want) in [
            (200, "delivered"),
            (204, "delivered"),
            (302, "refused"),
            (307, "refused"),
            (400, "refused"),
            (404, "refused"),
            (408, "transient"),
            (429, "transient"),
            (500, "transient"),
            (503, "transient"),
        ] {
            let got = match classify(status) {
                Attempt::Delivered => "delivered",
                Attempt::Transient(_) => "transient",
                Attempt::Refused(_) => "refused",
            };
            assert_eq!(got, want, "{status}");
        }
    }
}
