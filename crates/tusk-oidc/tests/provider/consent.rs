//! Consent (issue 15 item 3) and the device confirmation's Cancel (item 4),
//! through the provider without HTTP. `third` is an untrusted client.

use super::*;
use tusk_oidc::ConsentPage;

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl Env {
    /// Logs in as `admin` for `client` and returns what follows the
    /// password: a redirect or the consent page.
    async fn login_for(&self, client: &str, redirect: &str, scope: &str, prompt: &str) -> Next {
        let next = self
            .p
            .authorize(
                &params(&[
                    ("client_id", client),
                    ("redirect_uri", redirect),
                    ("response_type", "code"),
                    ("scope", scope),
                    ("state", "st"),
                    ("prompt", prompt),
                ]),
                &me(),
            )
            .await
            .unwrap();
        let Next::Redirect(to) = next else {
            panic!("expected the connector, got {next:?}")
        };
        let req = query_of(&to)["req"].clone();
        let pw = Secret::new("password".into());
        match self
            .p
            .password_login("test", &req, "admin", &pw, LOCAL, &me())
            .await
            .unwrap()
        {
            PasswordOutcome::Next(next) => next,
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn third(&self, scope: &str, prompt: &str) -> Next {
        self.login_for("third", THIRD_REDIRECT, scope, prompt).await
    }
}

fn consent_page(next: Next) -> ConsentPage {
    match next {
        Next::Consent(c) => c,
        other => panic!("expected the consent page, got {other:?}"),
    }
}

fn asked(c: &ConsentPage) -> Vec<&str> {
    c.scopes.iter().map(|s| s.scope.as_str()).collect()
}

#[tokio::test]
async fn an_untrusted_client_asks_once_and_the_grant_is_remembered() {
    let e = env().await;
    let c = consent_page(e.third("openid email offline_access", "").await);
    assert_eq!(c.client_name, "Third Party Notebook");
    assert_eq!(asked(&c), ["openid", "email", "offline_access"]);
    let words: Vec<&str> = c.scopes.iter().map(|s| s.words.as_str()).collect();
    assert!(
        words.contains(&"Stay signed in (offline access)"),
        "{words:?}"
    );
    assert!(words.contains(&"Know your email address"), "{words:?}");
    // Allow: the client gets a code that exchanges for tokens.
    let next =
        e.p.consent_answer(&c.request_id, &c.token, true, &me())
            .await
            .unwrap();
    // A fresh login's code comes with its browser session.
    let back = next
        .redirect_url()
        .expect("a redirect with a code")
        .to_owned();
    assert!(back.starts_with(THIRD_REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!(q["state"], "st");
    let t =
        e.p.token(
            Some(&basic("third", "third-secret")),
            &params(&[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", THIRD_REDIRECT),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(e.verify(&t.id_token)["email"], "kilgore@kilgore.trout");
    // A later login asking for a subset goes straight to the client.
    let next = e.third("openid email", "").await;
    assert!(
        next.redirect_url()
            .is_some_and(|u| u.starts_with(THIRD_REDIRECT) && u.contains("code=")),
        "{next:?}"
    );
    // A new scope asks again, for the new one only.
    let c = consent_page(e.third("openid email groups", "").await);
    assert_eq!(asked(&c), ["groups"]);
    assert_eq!(c.granted.len(), 2, "the page says what was allowed before");
    e.p.consent_answer(&c.request_id, &c.token, true, &me())
        .await
        .unwrap();
    let grants = e.p.grants_of("user:kilgore@kilgore.trout").await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].scopes,
        ["openid", "email", "offline_access", "groups"]
    );
    // prompt=consent asks for everything again.
    let c = consent_page(e.third("openid email", "consent").await);
    assert_eq!(asked(&c), ["openid", "email"]);
    // A revoked grant asks again.
    assert_eq!(
        e.p.revoke_grants("user:kilgore@kilgore.trout", Some("third"))
            .await
            .unwrap(),
        1
    );
    let c = consent_page(e.third("openid", "").await);
    assert_eq!(asked(&c), ["openid"]);
}

#[tokio::test]
async fn deny_sends_access_denied_to_the_client_and_remembers_nothing() {
    let e = env().await;
    let c = consent_page(e.third("openid email", "").await);
    let Next::Redirect(back) =
        e.p.consent_answer(&c.request_id, &c.token, false, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    let q = query_of(&back);
    assert!(back.starts_with(THIRD_REDIRECT), "{back}");
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st");
    assert_eq!(q["iss"], ISSUER);
    assert!(!q.contains_key("code"));
    assert!(
        e.p.grants_of("user:kilgore@kilgore.trout")
            .await
            .unwrap()
            .is_empty()
    );
    consent_page(e.third("openid email", "").await);
}

#[tokio::test]
async fn the_answer_token_is_single_use_and_bound_to_its_request() {
    let e = env().await;
    let a = consent_page(e.third("openid", "").await);
    let b = consent_page(e.third("openid", "").await);
    // The answer token never shows in Debug (it would reach logs).
    let token = a.token.clone();
    let shown = format!("{:?}", Next::Consent(a.clone()));
    assert!(!shown.contains(&token) && shown.contains("***"), "{shown}");
    // A's token does not answer B, and a forged one answers nothing.
    assert!(
        e.p.consent_answer(&b.request_id, &a.token, true, &me())
            .await
            .is_err()
    );
    assert!(
        e.p.consent_answer(&a.request_id, "", true, &me())
            .await
            .is_err()
    );
    assert!(
        e.p.consent_answer(&a.request_id, "forged", true, &me())
            .await
            .is_err()
    );
    e.p.consent_answer(&a.request_id, &a.token, true, &me())
        .await
        .unwrap();
    let again =
        e.p.consent_answer(&a.request_id, &a.token, true, &me())
            .await;
    assert!(again.is_err(), "answered twice");
    // B still works with its own token, after the failed attempts.
    e.p.consent_answer(&b.request_id, &b.token, true, &me())
        .await
        .unwrap();
    // A request waiting for consent takes no more passwords.
    let c = consent_page(e.third("openid email", "").await);
    let pw = Secret::new("password".into());
    assert!(
        e.p.password_login("test", &c.request_id, "admin", &pw, LOCAL, &me())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn trusted_clients_never_ask() {
    let e = env().await;
    for (client, redirect) in [
        ("pachd", "https://pachd.example.com/cb"),
        ("app", CONFIDENTIAL_REDIRECT),
    ] {
        for prompt in ["", "consent"] {
            let next = e.login_for(client, redirect, "openid email", prompt).await;
            assert!(
                next.redirect_url().is_some_and(|u| u.contains("code=")),
                "{client} {prompt}: {next:?}"
            );
        }
    }
    // The audience scope is worded as the peer's access.
    let c = consent_page(e.third("openid audience:server:client_id:pachd", "").await);
    assert_eq!(c.scopes[1].words, "Access Pachyderm as you");
}

#[tokio::test]
async fn device_cancel_denies_the_poll_and_untrusted_devices_ask_consent() {
    let e = env().await;
    let auth = basic("third", "third-secret");
    let start = || async {
        let d =
            e.p.device_authorization(Some(&auth), &params(&[("scope", "openid email")]))
                .await
                .unwrap();
        let Next::ConfirmDevice(c) =
            e.p.device_verify(d["user_code"].as_str().unwrap(), &me())
                .await
                .unwrap()
        else {
            panic!()
        };
        (d["device_code"].as_str().unwrap().to_owned(), c)
    };
    let poll = |code: String| {
        let auth = auth.clone();
        let p = e.p.clone();
        async move {
            p.token(
                Some(&auth),
                &params(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &code),
                ]),
            )
            .await
        }
    };
    // Cancel: the device's poll answers access_denied.
    let (code, c) = start().await;
    let shown = format!("{:?}", Next::ConfirmDevice(c.clone()));
    assert!(!shown.contains(&c.token), "{shown}");
    assert_eq!(c.client_name, "Third Party Notebook");
    let next =
        e.p.device_confirm(&c.request_id, &c.token, false, &me())
            .await
            .unwrap();
    assert!(matches!(next, Next::DeviceDenied { .. }), "{next:?}");
    assert_eq!(code_of(poll(code).await), ErrorCode::AccessDenied);
    // Continue, log in, then consent for the untrusted client.
    let (code, c) = start().await;
    let Next::Redirect(_) =
        e.p.device_confirm(&c.request_id, &c.token, true, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    let pw = Secret::new("password".into());
    let PasswordOutcome::Next(next) =
        e.p.password_login("test", &c.request_id, "admin", &pw, LOCAL, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    let page = consent_page(next);
    assert_eq!(
        code_of(poll(code.clone()).await),
        ErrorCode::AuthorizationPending
    );
    let done =
        e.p.consent_answer(&page.request_id, &page.token, true, &me())
            .await
            .unwrap();
    assert!(matches!(done, Next::DeviceApproved { .. }), "{done:?}");
    e.advance(11);
    assert!(poll(code).await.is_ok());
    // The grant is remembered: the next device login is approved at once.
    let (_code, c) = start().await;
    e.p.device_confirm(&c.request_id, &c.token, true, &me())
        .await
        .unwrap();
    let PasswordOutcome::Next(next) =
        e.p.password_login("test", &c.request_id, "admin", &pw, LOCAL, &me())
            .await
            .unwrap()
    else {
        panic!()
    };
    assert!(matches!(next, Next::DeviceApproved { .. }), "{next:?}");
}

/// Giving and denying consent are audited (issue 15): who, to which
/// client, which scopes.
#[tokio::test]
async fn consent_answers_are_audited() {
    use tusk_core::audit::{AuditEvent, AuditQuery, ConsentChange};
    let e = env().await;
    let page = consent_page(e.third("openid email", "").await);
    e.p.consent_answer(&page.request_id, &page.token, true, &me())
        .await
        .unwrap();
    let page = consent_page(e.third("openid email", "consent").await);
    e.p.consent_answer(&page.request_id, &page.token, false, &me())
        .await
        .unwrap();
    let trail: Vec<_> =
        e.p.store()
            .list_audit(&AuditQuery::default())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.event {
                AuditEvent::ConsentChanged {
                    actor,
                    subject,
                    client,
                    change,
                    scopes,
                    ..
                } => Some((actor, subject, client, change, scopes)),
                _ => None,
            })
            .collect();
    let user = "user:kilgore@kilgore.trout".to_owned();
    let row = |change| {
        (
            Some(user.clone()),
            user.clone(),
            "third".to_owned(),
            change,
            vec!["openid".to_owned(), "email".to_owned()],
        )
    };
    assert_eq!(
        trail,
        [row(ConsentChange::Denied), row(ConsentChange::Granted)],
        "newest first"
    );
}
