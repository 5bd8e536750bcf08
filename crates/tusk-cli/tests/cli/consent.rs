//! `tusk auth list-consents` and `revoke-consent` (issue 15 item 3): a
//! user allows an untrusted client through the consent page, an admin
//! lists and revokes the grant, and the next login asks again.

use super::*;

const VALUES: &str = "pachd:\n  activateAuth: true\noidc:\n  additionalClients:\n  - id: notebook\n    name: Notebook\n    secret: notebook-secret-0123456789\n    redirect_uris: [http://127.0.0.1:9/nb]\n";
const USER: &str = "user:kilgore@kilgore.trout";

/// Logs in to `notebook` through the mock IdP; answers Allow when the
/// consent page is shown. Returns whether it was.
fn login_to_notebook(d: &Deployment) -> bool {
    let base = format!("http://{}/dex", d.address.trim_start_matches("grpc://"));
    block_on(async {
        let http = browser();
        let mut url = format!(
            "{base}/auth?client_id=notebook&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fnb&response_type=code&scope=openid%20email&state=s"
        );
        while !url.contains("/login?") {
            url = follow(&http, &url).await;
        }
        let resp = post_form(&http, &url, "login=admin&password=password".into()).await;
        if let Some(to) = resp.headers().get("location") {
            let to = to.to_str().unwrap_or_default();
            assert!(to.starts_with("http://127.0.0.1:9/nb?code="), "{to}");
            return false;
        }
        let page = resp.text().await.unwrap_or_default();
        assert!(
            page.contains("Allow Notebook to use your account?"),
            "{page}"
        );
        let body = format!(
            "req={}&token={}&decision=allow",
            hidden(&page, "req"),
            hidden(&page, "token")
        );
        let resp = post_form(&http, &format!("{base}/consent"), body).await;
        let to = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(to.starts_with("http://127.0.0.1:9/nb?code="), "{to}");
        true
    })
}

#[test]
fn admins_list_and_revoke_consent_grants() {
    let d = Deployment::start(VALUES);
    d.use_context();
    d.login_as_root();
    let none = d.ok(&["auth", "list-consents", "--user", USER]);
    assert!(none.contains("has allowed no client"), "{none}");
    assert!(login_to_notebook(&d), "the first login asks");
    assert!(!login_to_notebook(&d), "the grant is remembered");
    let text = d.ok(&["auth", "list-consents", "--user", USER]);
    assert!(
        text.contains("notebook") && text.contains("openid email"),
        "{text}"
    );
    let rows = json(&d.ok(&["auth", "list-consents", "--user", USER, "-o", "json"]));
    assert_eq!(rows[0]["client_id"], "notebook", "{rows}");
    assert_eq!(rows[0]["scopes"], serde_json::json!(["openid", "email"]));
    let out = d.ok(&[
        "auth",
        "revoke-consent",
        "--user",
        USER,
        "--client",
        "notebook",
    ]);
    assert!(
        out.contains("Revoked 1 grant of user:kilgore@kilgore.trout to notebook"),
        "{out}"
    );
    assert!(login_to_notebook(&d), "a revoked grant asks again");
    let out = d.ok(&["auth", "revoke-consent", "--user", USER, "--all"]);
    assert!(out.contains("Revoked 1 grant of"), "{out}");
    // Bad input is refused before anything is sent.
    d.fails(
        &["auth", "list-consents", "--user", "robot:ci"],
        2,
        &["not a user", "user:alice@example.com"],
    );
    d.fails(
        &["auth", "revoke-consent", "--user", USER],
        2,
        &["--client"],
    );
    // Only administrators.
    let robot = d.ok(&["auth", "get-robot-token", "ci"]).trim().to_owned();
    d.ok_with(&["auth", "use-auth-token"], Some(&robot));
    d.fails(
        &["auth", "list-consents", "--user", USER],
        1,
        &["Consent/List", "robot:ci is not authorized"],
    );
}
