//! The login binding (issue 15): every step of a login runs only in the
//! browser that started it. Someone who confirms their own device's code
//! (or starts any login) and forwards the next link to a victim gets a
//! refusal in the victim's browser, and the request is left as it was.

use super::*;
use tusk_core::audit::{AuditEvent, AuditQuery};
use tusk_oidc::PageError;
use tusk_store::AuthRequest;

/// The victim's browser: its own binding, not the one the login has.
fn victim() -> tusk_oidc::Browser {
    tusk_oidc::Browser::with_binding("binding-of-the-victims-browser")
}

/// A browser whose binding is junk (too short to be one of ours), or
/// which sends none: neither matches anything.
fn strangers() -> Vec<tusk_oidc::Browser> {
    vec![
        victim(),
        tusk_oidc::Browser::default(),
        tusk_oidc::Browser::with_binding("x"),
    ]
}

fn req_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "req" || k == "state")
        .unwrap()
        .1
        .into_owned()
}

/// The refusal every step gives another browser: plain words, a
/// reference, and a detail for the log that names the step.
fn assert_refused(e: &PageError, step: &str) {
    assert_eq!(e.status, 403, "{e:?}");
    assert_eq!(
        e.message,
        "This sign-in was started in another browser or the link was shared. Start again from the application.",
        "{e:?}"
    );
    assert!(!e.reference.is_empty(), "{e:?}");
    assert!(e.detail.contains(step), "{e:?}");
    assert!(e.links.retry.is_none() && e.links.back.is_none(), "{e:?}");
}

impl Env {
    async fn stored(&self, id: &str) -> AuthRequest {
        self.p.store().get::<AuthRequest>(id).await.unwrap()
    }

    /// How many `other_browser` login failures the audit trail holds.
    async fn refusals_audited(&self) -> usize {
        let query = AuditQuery {
            limit: 1000,
            ..Default::default()
        };
        self.p
            .store()
            .list_audit(&query)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                matches!(&r.event, AuditEvent::LoginFailed { reason, .. } if reason == "other_browser")
            })
            .count()
    }
}

fn app_login() -> Params {
    params(&[
        ("client_id", "app"),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ])
}

#[tokio::test]
async fn a_forwarded_login_link_is_refused_in_another_browser() {
    let e = env().await;
    let Next::Redirect(to) = e.p.authorize(&app_login(), &me()).await.unwrap() else {
        panic!("one connector: straight to it")
    };
    let req = req_of(&to);
    let before = e.stored(&req).await;
    assert_eq!(before.binding, tusk_store::hash_token(ME));
    for b in strangers() {
        let err = e.p.start_connector("test", &req, &b).await.unwrap_err();
        assert_refused(&err, "connector redirect");
        let err = e.p.chooser(&req, &b).await.unwrap_err();
        assert_refused(&err, "chooser");
        let err = e.p.password_form("test", &req, &b).await.unwrap_err();
        assert_refused(&err, "password form");
        let out =
            e.p.password_login(
                "test",
                &req,
                "admin",
                &Secret::new("password".into()),
                LOCAL,
                &b,
            )
            .await;
        assert_refused(&out.unwrap_err(), "password");
    }
    // Refused steps change nothing, and each is audited.
    assert_eq!(e.stored(&req).await, before);
    assert_eq!(e.refusals_audited().await, 12);
    // The browser that started it finishes it, the victim's value next to
    // its own (a tossed cookie) notwithstanding.
    let mut both = me();
    both.login_bindings
        .insert(0, "binding-of-the-victims-browser".into());
    e.p.start_connector("test", &req, &both).await.unwrap();
    match e.right_password("test", &req).await {
        PasswordOutcome::Next(next) => assert!(next.redirect_url().unwrap().contains("code=")),
        other => panic!("{other:?}"),
    }
}

/// The relay the README used to call a known limit: the attacker
/// confirms their own device's code and forwards the sign-in link that
/// follows; the victim's browser is refused, the attacker's goes on.
#[tokio::test]
async fn a_confirmed_device_codes_link_does_not_sign_in_another_browser() {
    let e = env().await;
    let d =
        e.p.device_authorization(
            Some(&basic("app", "app-secret")),
            &params(&[("scope", "openid")]),
        )
        .await
        .unwrap();
    let attacker = me();
    let Next::ConfirmDevice(confirm) =
        e.p.device_verify(d["user_code"].as_str().unwrap(), &attacker)
            .await
            .unwrap()
    else {
        panic!()
    };
    // The confirmation itself is the starting browser's.
    let err =
        e.p.device_confirm(&confirm.request_id, &confirm.token, true, &victim())
            .await
            .unwrap_err();
    assert_refused(&err, "device confirmation");
    assert!(!e.stored(&confirm.request_id).await.device_confirmed);
    let Next::Redirect(to) =
        e.p.device_confirm(&confirm.request_id, &confirm.token, true, &attacker)
            .await
            .unwrap()
    else {
        panic!()
    };
    let req = req_of(&to);
    let before = e.stored(&req).await;
    for b in strangers() {
        let err = e.p.start_connector("test", &req, &b).await.unwrap_err();
        assert_refused(&err, "connector redirect");
        let out =
            e.p.password_login(
                "test",
                &req,
                "admin",
                &Secret::new("password".into()),
                LOCAL,
                &b,
            )
            .await;
        assert_refused(&out.unwrap_err(), "password");
    }
    assert_eq!(e.stored(&req).await, before);
    e.p.start_connector("test", &req, &attacker).await.unwrap();
    assert!(matches!(
        e.right_password("test", &req).await,
        PasswordOutcome::Next(Next::DeviceApproved { .. })
    ));
}

/// An upstream's return (here the mock callback connector's) is refused
/// in another browser before the upstream's answer is used, so the
/// request stays open for the browser that started it.
#[tokio::test]
async fn an_upstream_callback_in_another_browser_is_refused() {
    let e = env_with(|_| {}, &[("cb", "mockCallback", json!({}))]).await;
    let Next::Redirect(to) = e.p.authorize(&app_login(), &me()).await.unwrap() else {
        panic!()
    };
    let req = req_of(&to);
    let Next::Redirect(upstream) = e.p.start_connector("cb", &req, &me()).await.unwrap() else {
        panic!()
    };
    let pairs: Vec<(String, String)> = url::Url::parse(&upstream)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let back = Params::from_pairs(pairs);
    let before = e.stored(&req).await;
    for b in strangers() {
        let err = e.p.callback(None, &back, &b).await.unwrap_err();
        assert_refused(&err, "upstream callback");
    }
    assert_eq!(e.stored(&req).await, before);
    let done = e.p.callback(None, &back, &me()).await.unwrap();
    assert!(done.redirect_url().unwrap().contains("code="), "{done:?}");
}

/// An upstream that answers by cross-site POST (SAML) brings no cookie:
/// the answer is held, and the finish URL it redirects to checks the
/// binding. Without the finish token (someone who forwarded the IdP's
/// link, in their own browser) there is no finish either.
#[tokio::test]
async fn a_posted_upstream_answer_finishes_only_in_the_starting_browser() {
    let e = env_with(|_| {}, &[("cb", "mockCallback", json!({}))]).await;
    let Next::Redirect(to) = e.p.authorize(&app_login(), &me()).await.unwrap() else {
        panic!()
    };
    let req = req_of(&to);
    let Next::Redirect(upstream) = e.p.start_connector("cb", &req, &me()).await.unwrap() else {
        panic!()
    };
    let pairs: Vec<(String, String)> = url::Url::parse(&upstream)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let back = Params::from_pairs(pairs);
    let Next::Redirect(finish) = e.p.callback_posted(None, &back).await.unwrap() else {
        panic!()
    };
    let u = url::Url::parse(&finish).unwrap();
    assert_eq!(u.path(), "/dex/callback/cb/finish");
    let q: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
    assert_eq!(q["req"], req);
    // A replayed POST, or any other login step, finds the request past
    // its login steps.
    assert!(e.p.callback_posted(None, &back).await.is_err());
    assert!(e.p.start_connector("cb", &req, &me()).await.is_err());
    let before = e.stored(&req).await;
    for b in strangers() {
        let err =
            e.p.callback_finish("cb", &req, &q["token"], &b)
                .await
                .unwrap_err();
        assert_refused(&err, "callback finish");
    }
    let forged = e.p.callback_finish("cb", &req, "forged", &me()).await;
    assert_eq!(forged.unwrap_err().status, 400);
    assert_eq!(e.stored(&req).await, before);
    let done =
        e.p.callback_finish("cb", &req, &q["token"], &me())
            .await
            .unwrap();
    assert!(done.redirect_url().unwrap().contains("code="), "{done:?}");
    // Single use.
    assert!(
        e.p.callback_finish("cb", &req, &q["token"], &me())
            .await
            .is_err()
    );
}

/// The consent answer is a step of the login too.
#[tokio::test]
async fn a_consent_answer_from_another_browser_is_refused() {
    let e = env().await;
    let third = params(&[
        ("client_id", "third"),
        ("redirect_uri", THIRD_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "st"),
    ]);
    let Next::Redirect(to) = e.p.authorize(&third, &me()).await.unwrap() else {
        panic!()
    };
    let req = req_of(&to);
    e.p.start_connector("test", &req, &me()).await.unwrap();
    let PasswordOutcome::Next(Next::Consent(page)) = e.right_password("test", &req).await else {
        panic!("an untrusted client asks")
    };
    let before = e.stored(&page.request_id).await;
    for b in strangers() {
        let err =
            e.p.consent_answer(&page.request_id, &page.token, true, &b)
                .await
                .unwrap_err();
        assert_refused(&err, "consent answer");
    }
    assert_eq!(e.stored(&page.request_id).await, before);
    let done =
        e.p.consent_answer(&page.request_id, &page.token, true, &me())
            .await
            .unwrap();
    assert!(done.redirect_url().unwrap().contains("code="), "{done:?}");
}

/// A server that forgot to give the browser a binding starts no login:
/// an unbound request could be continued from anywhere.
#[tokio::test]
async fn no_login_starts_without_a_binding() {
    let e = env().await;
    match e
        .p
        .authorize(&app_login(), &tusk_oidc::Browser::default())
        .await
    {
        Err(tusk_oidc::AuthorizeError::Page(p)) => assert_eq!(p.status, 500, "{p:?}"),
        other => panic!("{other:?}"),
    }
    let mut b = tusk_oidc::Browser::with_binding("x");
    let fresh = b.bind().expect("a junk value is replaced by a fresh one");
    assert_eq!(b.login_bindings[0], *fresh.0.expose());
    assert!(format!("{fresh:?}").contains("***"));
    let mut kept = me();
    assert!(kept.bind().is_none(), "a usable value is kept");
    assert!(e.p.authorize(&app_login(), &b).await.is_ok());
}
