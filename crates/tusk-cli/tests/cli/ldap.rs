//! `tusk doctor --values` and `tusk config show` for an `ldap` connector,
//! against a real OpenLDAP (`tusk_testkit::slapd`).

use super::{tusk, write};
use tusk_testkit::slapd::{GROUPS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PW, Slapd};

/// Values with one ldap connector over LDAPS; `patch` lines are added to
/// its config.
fn values(s: &Slapd, bind_pw: &str, user_base: &str, extra: &str) -> String {
    format!(
        "oidc:\n  upstreamIDPs:\n  - id: corp\n    name: Corp\n    type: ldap\n    config:\n      host: {host}\n      rootCA: {ca}\n      bindDN: {SERVICE_DN}\n      bindPW: {bind_pw}\n{extra}      userSearch:\n        baseDN: {user_base}\n        username: uid\n      groupSearch:\n        baseDN: {GROUPS_DN}\n        userMatchers:\n        - userAttr: DN\n          groupAttr: member\n        nameAttr: cn\n",
        host = s.ldaps_host(),
        ca = s.ca_path().display(),
    )
}

fn doctor(file: &str) -> (i32, String) {
    let out = tusk()
        .args(["doctor", "--values", file])
        .env_remove("TUSK_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn line<'a>(out: &'a str, check: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(check))
        .unwrap_or_else(|| panic!("no `{check}` line in\n{out}"))
}

#[test]
fn doctor_checks_ldap_connectors_against_the_directory() {
    let mut s =
        Slapd::start().unwrap_or_else(|e| panic!("the LDAP tests need a real directory: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    let good = write(
        dir.path(),
        "good.yaml",
        values(&s, SERVICE_PW, PEOPLE_DN, "").as_bytes(),
    );
    let (code, out) = doctor(&good);
    assert_eq!(code, 0, "{out}");
    for (check, words) in [
        ("ldap `corp`: connect", "LDAPS, verified against rootCA"),
        ("ldap `corp`: service bind", SERVICE_DN),
        ("ldap `corp`: userSearch.baseDN", "finds users"),
        ("ldap `corp`: groupSearch.baseDN", "exists"),
        (
            "ldap `corp`: certificate",
            "the directory's certificate expires",
        ),
    ] {
        let l = line(&out, check);
        assert!(l.starts_with("ok") && l.contains(words), "{l}");
    }
    assert!(!out.contains(SERVICE_PW), "{out}");

    // config show masks bindPW.
    let shown = tusk()
        .args(["config", "show", "--values", &good])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("corp") && !shown.contains(SERVICE_PW),
        "{shown}"
    );

    // One row: values, the failing check, and words of its line.
    let rows = [
        (
            values(&s, "not-the-pw", PEOPLE_DN, ""),
            "service bind",
            vec!["FAIL", "bindDN", "bindPW", "fix:"],
        ),
        (
            values(&s, SERVICE_PW, "ou=nobody,dc=example,dc=org", ""),
            "userSearch.baseDN",
            vec!["FAIL", "ou=nobody", "does not exist", "fix:"],
        ),
        (
            values(&s, SERVICE_PW, GROUPS_DN, ""),
            "userSearch.baseDN",
            vec!["FAIL", "finds no entry", "userSearch.filter"],
        ),
        (
            values(&s, SERVICE_PW, PEOPLE_DN, "      startTLS: true\n"),
            "connect",
            vec!["FAIL", "fix:"],
        ),
    ];
    for (i, (text, check, words)) in rows.into_iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.yaml"), text.as_bytes());
        let (code, out) = doctor(&file);
        assert_eq!(code, 1, "{out}");
        let l = line(&out, &format!("ldap `corp`: {check}"));
        for w in words {
            assert!(l.contains(w), "`{w}` not in {l}");
        }
        assert!(
            !out.contains("not-the-pw") && !out.contains(SERVICE_PW),
            "{out}"
        );
    }

    // A wrong CA.
    let other = write(
        dir.path(),
        "other-ca.pem",
        tusk_testkit::slapd::unrelated_ca_pem()
            .unwrap_or_default()
            .as_bytes(),
    );
    let text =
        values(&s, SERVICE_PW, PEOPLE_DN, "").replace(&s.ca_path().display().to_string(), &other);
    let file = write(dir.path(), "wrong-ca.yaml", text.as_bytes());
    let (code, out) = doctor(&file);
    assert_eq!(code, 1, "{out}");
    let l = line(&out, "ldap `corp`: connect");
    assert!(l.starts_with("FAIL") && l.contains("rootCA"), "{l}");

    // The directory is down.
    s.stop();
    let (code, out) = doctor(&good);
    assert_eq!(code, 1, "{out}");
    let l = line(&out, "ldap `corp`: connect");
    assert!(l.starts_with("FAIL") && l.contains("reachable"), "{l}");
}

/// Through the identity API: an `ldap` connector file is checked and
/// created, `list-connector` shows it healthy once it binds, and one whose
/// directory is unreachable shows the reason; `get-connector` masks bindPW.
#[test]
fn idp_ldap_connectors_show_their_directory_health() {
    let s = Slapd::start().unwrap_or_else(|e| panic!("the LDAP tests need a real directory: {e}"));
    let d = super::Deployment::start("oidc:\n  mockIDP: false\npachd:\n  activateAuth: true\n");
    d.use_context();
    d.login_as_root();
    let dir = d.dir.path();
    let file = |id: &str, host: &str| {
        format!(
            "id: {id}\nname: {id}\ntype: ldap\nversion: 0\nconfig:\n  host: '{host}'\n  insecureNoSSL: true\n  bindDN: {SERVICE_DN}\n  bindPW: {SERVICE_PW}\n  userSearch:\n    baseDN: {PEOPLE_DN}\n    username: uid\n"
        )
    };
    for (id, host) in [("corp", s.ldap_host()), ("down", "127.0.0.1:9".to_owned())] {
        let path = write(dir, &format!("{id}.yaml"), file(id, &host).as_bytes());
        let out = d.ok(&["idp", "create-connector", "--config", &path]);
        assert!(out.contains(&format!("Created connector `{id}`")), "{out}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let list = loop {
        let list = d.ok(&["idp", "list-connector"]);
        let row = |id: &str| {
            list.lines()
                .find(|l| l.starts_with(id))
                .unwrap_or_default()
                .to_owned()
        };
        if row("corp").ends_with("ok") && row("down").contains("127.0.0.1:9") {
            break list;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let down = list
        .lines()
        .find(|l| l.starts_with("down"))
        .unwrap_or_default();
    assert!(
        down.contains("reachable") && !down.ends_with(" ok"),
        "{list}"
    );
    assert!(!list.contains(SERVICE_PW), "{list}");
    let got = d.ok(&["idp", "get-connector", "corp"]);
    assert!(
        got.contains("bindPW: '***'") && !got.contains(SERVICE_PW),
        "{got}"
    );
}
