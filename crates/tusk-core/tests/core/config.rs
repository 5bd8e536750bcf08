//! Configuration loading, table-driven: each case is values files plus
//! environment, and the diagnostics (or the effective settings) expected.

use std::collections::BTreeMap;
use tusk_core::config::{self, Dialect, Input, SecretSource, SourceText};

const SEED_YAML: &str = include_str!("../../../../examples/okta-values.yaml");
const SEED_JSON: &str = include_str!("../../../../examples/okta-values.json");
const PROXY: &str = include_str!("../../../../examples/proxy-values.yaml");

struct Secrets(BTreeMap<(&'static str, &'static str), &'static str>);

impl SecretSource for Secrets {
    fn read(&self, name: &str, key: &str) -> Result<String, String> {
        self.0
            .iter()
            .find(|((n, k), _)| *n == name && *k == key)
            .map(|(_, v)| (*v).to_owned())
            .ok_or_else(|| "No such file or directory".to_owned())
    }
    fn locate(&self, name: &str, key: &str) -> String {
        format!("secrets/{name}/{key}")
    }
}

fn secrets() -> Secrets {
    Secrets(BTreeMap::from([
        (("pachyderm-tls", "tls.crt"), "CERT"),
        (("pachyderm-tls", "tls.key"), "KEY"),
        (
            ("idps", "upstream-idps"),
            r#"[{"id":"okta","name":"Okta","type":"oidc","config":{"issuer":"https://x.okta.com","clientID":"a","clientSecret":"s3cret","redirectURI":"https://pachyderm.example.com/dex/callback"}}]"#,
        ),
    ]))
}

/// What a case expects: `Ok(fragments)` means loading succeeds and the
/// masked `config show` JSON contains each fragment; `Err(fragments)` means
/// it fails and the rendered diagnostics contain each fragment.
type Want = Result<&'static [&'static str], &'static [&'static str]>;

fn check(files: &[&str], env: &[(&str, &str)], want: Want) {
    let secrets = secrets();
    let input = Input {
        files: files
            .iter()
            .enumerate()
            .map(|(i, text)| SourceText {
                name: format!("values{i}.yaml"),
                bytes: text.as_bytes().to_vec(),
            })
            .collect(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secrets: Some(&secrets),
        listen: "127.0.0.1:30650".into(),
    };
    let got = config::load(&input);
    match (got, want) {
        (Ok(loaded), Ok(fragments)) => {
            let shown = loaded.config.show().to_string();
            for f in fragments {
                assert!(shown.contains(f), "files {files:?}: `{f}` not in\n{shown}");
            }
        }
        (Err(diags), Err(fragments)) => {
            let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            let text = text.join("\n");
            for f in fragments {
                assert!(text.contains(f), "files {files:?}: `{f}` not in\n{text}");
            }
        }
        (Ok(loaded), Err(_)) => panic!(
            "files {files:?}: expected failure, got {}",
            loaded.config.show()
        ),
        (Err(diags), Ok(_)) => {
            let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!(
                "files {files:?}: expected success, got\n{}",
                text.join("\n")
            )
        }
    }
}

#[test]
fn the_seed_examples_pass() {
    check(
        &[SEED_YAML],
        &[],
        Ok(&[
            r#""id":"okta""#,
            r#""mockIDP":false"#,
            r#""clientSecret":"***""#,
        ]),
    );
    check(
        &[SEED_JSON],
        &[],
        Ok(&[r#""id":"okta""#, r#""insecureEnableGroups":true"#]),
    );
    check(
        &[PROXY, SEED_YAML],
        &[],
        Ok(&[
            r#""issuer":"https://pachyderm.example.com/dex""#,
            r#""group:data-platform-admins":["clusterAdmin"]"#,
        ]),
    );
}

#[test]
fn the_seed_examples_with_version_fail_naming_key_line_and_fix() {
    let with_version = SEED_YAML.replace("    name: Okta\n", "    name: Okta\n    version: 1\n");
    let leaked: &'static str = Box::leak(with_version.into_boxed_str());
    check(
        &[leaked],
        &[],
        Err(&[
            "error: values0.yaml:8: oidc.upstreamIDPs[0].version: unknown key `version`",
            "in Helm values tusk manages the version (configVersion) itself, so remove this line",
        ]),
    );
    let json = SEED_JSON.replace(r#""name": "Okta","#, r#""name": "Okta", "version": 2,"#);
    let leaked: &'static str = Box::leak(json.into_boxed_str());
    check(
        &[leaked],
        &[],
        Err(&["values0.yaml:7: oidc.upstreamIDPs[0].version: unknown key `version`"]),
    );
}

#[test]
fn misspellings_get_did_you_mean() {
    let typo = SEED_YAML.replace("clientSecret:", "clientSecrett:");
    let leaked: &'static str = Box::leak(typo.into_boxed_str());
    check(
        &[leaked],
        &[],
        Err(&[
            "values0.yaml:11: oidc.upstreamIDPs[0].config.clientSecrett: unknown key `clientSecrett`",
            "help: did you mean `clientSecret`?",
        ]),
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let cases: &[(&str, &[&str])] = &[
        (
            "oidc:\n  upstreamIDPs:\n  - id: a\n    type: oidc\n    config:\n      issuer: http://idp.example.com\n      clientId: x\n      redirectURI: not a url\n  - id: a\n    type: oidc\n    config: {issuer: 'https://b.example.com', clientID: y, redirectURI: 'https://b/dex/callback'}\n  - type: github\n  - id: c\n    type: okta\n",
            &[
                "values0.yaml:6: oidc.upstreamIDPs[0].config.issuer: issuer `http://idp.example.com` uses plain http",
                "values0.yaml:7: oidc.upstreamIDPs[0].config.clientId: unknown key `clientId`",
                "did you mean `clientID`?",
                "required key `clientID` is missing",
                "redirectURI: `not a url` is not a valid URL",
                "oidc.upstreamIDPs[1].id: duplicate connector id `a`",
                "oidc.upstreamIDPs[2]: required key `id` is missing",
                "oidc.upstreamIDPs[3].type: unknown connector type \"okta\"",
            ],
        ),
        (
            "oidc:\n  IDTokenExpiry: 24\n  mockIDP: maybe\n",
            &[
                "`24` is not a duration",
                "expected true or false, found the string `maybe`",
            ],
        ),
        (
            "oidc:\n  upstreamIDP: []\n",
            &["unknown key `upstreamIDP`", "did you mean `upstreamIDPs`?"],
        ),
        ("upstreamIDPs: []\n", &["`upstreamIDPs` goes under `oidc:`"]),
        (
            "oidc:\n  upstreamIDPs:\n  - id: x\n    type: oidc\n    config:\n      issuer: https://x/\n      clientID: a\n      redirectURI: https://<proxy.host.value.com>/dex/callback\n",
            &["still contains a placeholder"],
        ),
        (
            "oidc:\n  upstreamIDPs:\n  - id: x\n    type: oidc\n",
            &["oidc.upstreamIDPs[0]: no configs are defined"],
        ),
        (
            "oidc:\n  upstreamIDPs:\n  - id: x\n    type: oidc\n    jsonConfig: '{\"issuer\": '\n",
            &["jsonConfig: the embedded JSON does not parse"],
        ),
        (
            "oidc:\n  upstreamIDPs: {id: x}\n",
            &["expected a list of connectors, found a map"],
        ),
        (
            "oidc:\n  upstreamIDPs:\n  - null\n",
            &["a connector entry is empty"],
        ),
        (
            "pachd:\n  pachAuthClusterRoleBindings:\n    alice: [clusterAdmin]\n    user:bob: [clusterAdmn]\n",
            &[
                "subject has no prefix",
                "unknown role \"clusterAdmn\"",
                "did you mean `clusterAdmin`?",
            ],
        ),
        (
            "oidc:\n  upstreamIDPsSecretName: missing\n",
            &[
                "cannot read key `upstream-idps` of secret `missing` (secrets/missing/upstream-idps)",
            ],
        ),
        (
            "proxy:\n  tls:\n    enabled: true\n",
            &["TLS is enabled but no secret holds the certificate"],
        ),
        (
            "- a\n- b\n",
            &[
                "a values file must be a map of settings",
                "this one is a list",
            ],
        ),
        ("", &["the values file is empty"]),
        ("a: [1, 2\n", &["this is not valid YAML or JSON"]),
        (
            "\u{0}\u{1}garbage: \u{7f}",
            &["this is not valid YAML or JSON"],
        ),
        (
            "oidc:\n  additionalClients:\n  - id: pachd\n  - name: nameless\n  - id: app\n    redirect_uri: [x]\n",
            &[
                "client id `pachd` is already used",
                "oidc.additionalClients[1]: required key `id` is missing",
                "unknown key `redirect_uri`",
                "did you mean `redirect_uris`?",
            ],
        ),
        (
            "proxy:\n  host: h.example.com\noidc:\n  upstreamIDPs:\n  - id: x\n    type: oidc\n    config: {issuer: 'https://x.example.com', clientID: a, redirectURI: 'https://other.example.com/dex/callback'}\n",
            &[
                "redirectURI `https://other.example.com/dex/callback` is not this server's callback `http://h.example.com/dex/callback`",
            ],
        ),
    ];
    for (text, fragments) in cases {
        check(&[text], &[], Err(fragments));
    }
}

#[test]
fn non_utf8_is_refused_clearly() {
    let secrets = secrets();
    let input = Input {
        files: vec![SourceText {
            name: "bin".into(),
            bytes: vec![b'a', b':', 0xff, 0xfe],
        }],
        env: BTreeMap::new(),
        secrets: Some(&secrets),
        listen: "127.0.0.1:1".into(),
    };
    let diags = config::load(&input).err().unwrap_or_default();
    assert!(
        diags
            .iter()
            .any(|d| d.to_string().contains("bin: this is not UTF-8 text")),
        "{diags:?}"
    );
}

#[test]
fn sources_layer_in_documented_order() {
    // Later files override earlier ones; the mock IdP is on until an
    // upstream appears.
    check(
        &["oidc:\n  mockIDP: true\n"],
        &[],
        Ok(&[
            r#""mockIDP":true"#,
            r#""type":"mockPassword""#,
            r#""user:kilgore@kilgore.trout":["clusterAdmin"]"#,
            r#""issuer":"http://127.0.0.1:30650/dex""#,
        ]),
    );
    check(
        &["oidc:\n  mockIDP: true\n", "oidc:\n  mockIDP: false\n"],
        &[],
        Ok(&[r#""mockIDP":false"#, r#""connectors":[]"#]),
    );
    check(
        &[
            "oidc:\n  issuerURI: https://a.example.com/dex\n",
            "oidc:\n  issuerURI: https://b.example.com/dex/\n",
        ],
        &[],
        Ok(&[r#""issuer":"https://b.example.com/dex""#]),
    );
    check(
        &[
            "ingress:\n  enabled: true\n  host: i.example.com\n  tls: {enabled: true}\nproxy:\n  host: p.example.com\n",
        ],
        &[],
        Ok(&[
            r#""issuer":"https://i.example.com/dex""#,
            r#""pachdRedirectURI":"https://i.example.com/authorization-code/callback""#,
        ]),
    );
    // A secret replaces the inline list; the environment beats both.
    check(
        &[
            "oidc:\n  upstreamIDPsSecretName: idps\n  upstreamIDPs: [{id: inline, type: mockCallback}]\n",
        ],
        &[],
        Ok(&[
            r#""id":"okta""#,
            r#""connectorsOrigin":"secret idps, key upstream-idps""#,
        ]),
    );
    check(
        &["oidc:\n  upstreamIDPsSecretName: idps\n"],
        &[
            (
                "IDP_CONNECTORS",
                "- {id: env, name: Env, type: mockCallback}",
            ),
            ("AUTH_ROOT_TOKEN", "root-secret"),
            ("SESSION_DURATION_MINUTES", "60"),
        ],
        Ok(&[
            r#""id":"env""#,
            r#""rootToken":"***""#,
            r#""sessionDurationMinutes":60"#,
        ]),
    );
    check(
        &[
            "pachd:\n  rootToken: abc\n  enterpriseLicenseKey: lic\n  oauthClientSecret: pachd-secret-16-bytes\n",
        ],
        &[],
        Ok(&[
            r#""rootToken":"***""#,
            r#""enterpriseLicenseKey":"***""#,
            r#""secret":"***""#,
        ]),
    );
    check(
        &["pachd:\n  image: {tag: 2.11.6}\n  resources: {}\n"],
        &[],
        Ok(&[r#""activateAuth":true"#]),
    );
    check(
        &[
            "oidc:\n  additionalClients:\n  - id: app\n    redirectURIs: [http://127.0.0.1:5555/cb]\n    trustedPeers: [pachd]\n",
        ],
        &[],
        Ok(&[
            r#""redirect_uris":["http://127.0.0.1:5555/cb"]"#,
            r#""trusted_peers":["pachd"]"#,
        ]),
    );
    check(
        &[
            "proxy:\n  host: p.example.com\n  tls:\n    enabled: true\n    secretName: pachyderm-tls\n",
        ],
        &[],
        Ok(&[r#""tls":{"origin":"secret pachyderm-tls""#]),
    );
}

#[test]
fn environment_errors_name_the_variable() {
    check(
        &["oidc: {}\n"],
        &[("IDP_CONNECTORS", "[{id: x, type: oidc, version: 1}]")],
        Err(&["$IDP_CONNECTORS:1: [0].version: unknown key `version`"]),
    );
    check(
        &["oidc: {}\n"],
        &[("SESSION_DURATION_MINUTES", "soon")],
        Err(&["$SESSION_DURATION_MINUTES: `soon` is not a number of minutes"]),
    );
    check(
        &["oidc: {}\n"],
        &[("IDP_CONFIG", "issuer: [")],
        Err(&["$IDP_CONFIG:2: this is not valid YAML or JSON"]),
    );
}

#[test]
fn idp_file_dialect_uses_version() {
    let good = b"ID: okta\nName: Okta\nType: oidc\nVersion: 2\nConfig:\n  issuer: https://x.okta.com\n  clientID: a\n  redirectURI: https://p.example.com/dex/callback\n";
    let spec = config::parse_connector(good, "okta.yaml", Dialect::IdpFile);
    assert_eq!(
        spec.as_ref().map(|s| s.config_version),
        Ok(Some(2)),
        "{spec:?}"
    );
    let bad = b"id: okta\ntype: oidc\nconfigVersion: 2\nconfig: {issuer: 'https://x.okta.com', clientID: a, redirectURI: 'https://p/dex/callback'}\n";
    let diags = config::parse_connector(bad, "okta.yaml", Dialect::IdpFile)
        .err()
        .unwrap_or_default();
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(text.join("\n").contains("okta.yaml:3: configVersion: unknown key `configVersion`\n  help: `tusk idp` files call it `version`"), "{text:?}");
}

#[test]
fn secrets_never_reach_debug_output() {
    let secrets = secrets();
    let input = Input {
        files: vec![SourceText {
            name: "v".into(),
            bytes: SEED_YAML.as_bytes().to_vec(),
        }],
        env: BTreeMap::from([("AUTH_ROOT_TOKEN".to_owned(), "root-token-value".to_owned())]),
        secrets: Some(&secrets),
        listen: "127.0.0.1:1".into(),
    };
    let loaded = config::load(&input).map_err(|d| format!("{d:?}"));
    let debug = format!("{:?}", loaded.as_ref().map(|l| &l.config));
    let shown = loaded
        .as_ref()
        .map(|l| l.config.show().to_string())
        .unwrap_or_default();
    for secret in ["VNwbzOBltNcaotD2CU5iRyTuqOPpwLR", "root-token-value"] {
        assert!(!debug.contains(secret), "Debug leaks {secret}");
        assert!(!shown.contains(secret), "show leaks {secret}");
    }
    assert!(shown.contains("okta"));
}

/// `AUTH_CONFIG` is Pachyderm's OIDCConfig as JSON and may carry the
/// client secret; the config keeps it as JSON, so its `Debug` must mask it
/// as `config show` does.
#[test]
fn auth_config_client_secret_never_reaches_debug_output() {
    let input = Input {
        files: Vec::new(),
        env: BTreeMap::from([(
            "AUTH_CONFIG".to_owned(),
            r#"{"client_id": "pachd", "client_secret": "auth-config-secret-value"}"#.to_owned(),
        )]),
        secrets: None,
        listen: "127.0.0.1:1".into(),
    };
    let loaded = config::load(&input).map_err(|d| format!("{d:?}"));
    let debug = format!("{:?}", loaded.as_ref().map(|l| &l.config));
    let shown = loaded
        .as_ref()
        .map(|l| l.config.show().to_string())
        .unwrap_or_default();
    assert!(debug.contains("pachd"), "{debug}");
    assert!(
        !debug.contains("auth-config-secret-value"),
        "Debug leaks it: {debug}"
    );
    assert!(
        !shown.contains("auth-config-secret-value"),
        "show leaks it: {shown}"
    );
}

/// The fuzz target's property, run on every `scripts/test`: mutated seed
/// files never panic the loader. (cargo-fuzz explores further; see fuzz/.)
#[test]
fn mutated_inputs_never_panic() {
    let seeds = [
        SEED_YAML,
        SEED_JSON,
        PROXY,
        "oidc:\n  upstreamIDPs:\n  - {id: a, type: oidc, jsonConfig: '{\"issuer\": \"https://x\"}'}\n",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tokens: &[&[u8]] = &[
        b"\n",
        b":",
        b"- ",
        b"[",
        b"]",
        b"{",
        b"}",
        b"&a ",
        b"*a",
        b"'",
        b"\"",
        b"\t",
        b"---\n",
        b"\xff",
        b"\0",
        b"version: 1\n",
        b"!!str ",
    ];
    for seed in seeds {
        for _ in 0..300 {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..(next() % 8 + 1) {
                let at = (next() as usize) % (bytes.len() + 1);
                match next() % 3 {
                    0 => {
                        let t = tokens[(next() as usize) % tokens.len()];
                        bytes.splice(at..at, t.iter().copied());
                    }
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at),
                }
            }
            let input = Input {
                files: vec![SourceText {
                    name: "m.yaml".into(),
                    bytes: bytes.clone(),
                }],
                env: BTreeMap::from([(
                    "IDP_CONNECTORS".to_owned(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                )]),
                secrets: None,
                listen: "127.0.0.1:30650".into(),
            };
            let _ = config::load(&input);
            let _ = config::parse_connector(&bytes, "m.yaml", Dialect::IdpFile);
        }
    }
}

/// Issue 11: abuse limits are configurable and validated with the fix.
#[test]
fn abuse_limits_trusted_proxies_and_database_wait() {
    let good = "tusk:\n  trustedProxies: [10.0.0.0/8, 192.0.2.7]\n  rateLimit:\n    authorizePerMinute: 30\n  server:\n    maxConnections: 50\n  database:\n    acquireTimeout: 500ms\n";
    let input = Input {
        files: vec![SourceText {
            name: "values0.yaml".into(),
            bytes: good.as_bytes().to_vec(),
        }],
        env: BTreeMap::new(),
        secrets: None,
        listen: "127.0.0.1:30650".into(),
    };
    let p = config::load(&input).unwrap().config.provider;
    assert_eq!(p.authorize_per_minute, 30);
    assert_eq!(p.max_connections, 50);
    assert_eq!(
        p.database_acquire_timeout,
        std::time::Duration::from_millis(500)
    );
    let proxies: Vec<String> = p.trusted_proxies.iter().map(|c| c.to_string()).collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.7/32"]);
    check(
        &["tusk:\n  trustedProxies: [10.0.0.0/33]\n"],
        &[],
        Err(&[
            "values0.yaml:2: tusk.trustedProxies[0]: `10.0.0.0/33` is not an address or address range",
        ]),
    );
    check(
        &["tusk:\n  server:\n    maxConnections: 0\n"],
        &[],
        Err(&["tusk.server.maxConnections: 0 is out of range"]),
    );
    check(
        &["tusk:\n  database:\n    acquireTimeout: 0s\n"],
        &[],
        Err(&["tusk.database.acquireTimeout"]),
    );
    check(
        &["tusk:\n  trustedProxy: [10.0.0.1]\n"],
        &[],
        Err(&["did you mean `trustedProxies`"]),
    );
}

/// Issue 16, item 4: the password-hashing pool's size is optional (the
/// server sizes it from the cores) and validated with the fix when set.
#[test]
fn password_hashing_pool_size() {
    let load = |yaml: &str| {
        let input = Input {
            files: vec![SourceText {
                name: "values0.yaml".into(),
                bytes: yaml.as_bytes().to_vec(),
            }],
            env: BTreeMap::new(),
            secrets: None,
            listen: "127.0.0.1:30650".into(),
        };
        let p = config::load(&input).unwrap().config.provider;
        (p.password_hash_workers, p.password_hash_queue)
    };
    assert_eq!(load("tusk:\n  theme:\n    title: Acme\n"), (None, None));
    assert_eq!(
        load("tusk:\n  passwordHashing:\n    workers: 3\n    queue: 0\n"),
        (Some(3), Some(0))
    );
    check(
        &["tusk:\n  passwordHashing:\n    workers: 0\n"],
        &[],
        Err(&[
            "values0.yaml:3: tusk.passwordHashing.workers: 0 is out of range (1 to 1024)",
            "use a positive number of threads",
        ]),
    );
    check(
        &["tusk:\n  passwordHashing:\n    queue: -1\n"],
        &[],
        Err(&["tusk.passwordHashing.queue: -1 is out of range (0 to 65536)"]),
    );
    check(
        &["tusk:\n  passwordHashing:\n    worker: 2\n"],
        &[],
        Err(&["did you mean `workers`"]),
    );
}

/// Issue 15: `tusk.branding` names the product, gives an inline logo and
/// an accent; each is checked with the fix, and it wins over the older
/// `tusk.theme`.
#[test]
fn branding_of_the_login_pages() {
    let load = |yaml: &str| {
        let input = Input {
            files: vec![SourceText {
                name: "values0.yaml".into(),
                bytes: yaml.as_bytes().to_vec(),
            }],
            env: BTreeMap::new(),
            secrets: None,
            listen: "127.0.0.1:30650".into(),
        };
        let p = config::load(&input).unwrap().config.provider;
        (p.theme_title, p.theme_logo_url, p.brand_accent)
    };
    assert_eq!(load("tusk: {}\n"), ("Pachyderm".into(), None, None));
    assert_eq!(
        load("tusk:\n  theme:\n    title: Old\n    logoURL: https://x.example/l.png\n"),
        ("Old".into(), Some("https://x.example/l.png".into()), None)
    );
    let logo = "data:image/svg+xml;base64,PHN2Zy8+";
    assert_eq!(
        load(&format!(
            "tusk:\n  theme:\n    title: Old\n  branding:\n    productName: Acme Data\n    logo: \"{logo}\"\n    accentColor: \"#0f766e\"\n"
        )),
        (
            "Acme Data".into(),
            Some(logo.into()),
            Some("#0f766e".into())
        )
    );
    for (yaml, want) in [
        (
            "tusk:\n  branding:\n    accentColor: purple\n",
            &[
                "values0.yaml:3: tusk.branding.accentColor: `purple` is not a hex colour",
                "use `#rrggbb`",
            ][..],
        ),
        (
            "tusk:\n  branding:\n    accentColor: \"#12345\"\n",
            &["tusk.branding.accentColor: `#12345` is not a hex colour"],
        ),
        (
            "tusk:\n  branding:\n    logo: https://cdn.example/logo.png\n",
            &[
                "tusk.branding.logo: the logo is not a `data:` URL",
                "base64 -w0 logo.svg",
            ],
        ),
        (
            "tusk:\n  branding:\n    logo: \"data:image/png;base64,\"\n",
            &["tusk.branding.logo: the logo's data is empty"],
        ),
        (
            "tusk:\n  branding:\n    logo: \"data:image/svg+xml,<svg onload=x>\"\n",
            &["tusk.branding.logo: the logo URL holds quotes, angle brackets"],
        ),
        (
            "tusk:\n  branding:\n    productName: ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDE\n",
            &["tusk.branding.productName: the product name is 65 characters, over the limit of 64"],
        ),
        (
            "tusk:\n  branding:\n    colour: \"#fff\"\n",
            &["tusk.branding.colour"],
        ),
    ] {
        check(&[yaml], &[], Err(want));
    }
    let big = format!("data:image/png;base64,{}", "A".repeat(70 * 1024));
    check(
        &[&format!("tusk:\n  branding:\n    logo: \"{big}\"\n")],
        &[],
        Err(&["tusk.branding.logo: the logo is 71702 bytes, over the limit of 65536"]),
    );
}

/// Issue 11, defect 8: a one-character client secret passed `config
/// check`. Every confidential client's secret must be at least 16 bytes,
/// and the error names where it came from.
#[test]
fn short_client_secrets_are_refused() {
    const FIX: &str = "use a random secret of at least 16 bytes";
    let extra = "oidc:\n  additionalClients:\n  - id: app\n    secret: x\n    redirectURIs: [https://a.example.com/cb]\n";
    check(
        &[extra],
        &[],
        Err(&[
            "values0.yaml:4: oidc.additionalClients[0].secret: client `app` has a secret of 1 bytes",
            FIX,
        ]),
    );
    check(
        &["pachd:\n  oauthClientSecret: short\n"],
        &[],
        Err(&[
            "pachd.oauthClientSecret: client `pachd` has a secret of 5 bytes",
            FIX,
        ]),
    );
    check(
        &["console:\n  config:\n    oauthClientSecret: 123456789012345\n"],
        &[],
        Err(&["console.config.oauthClientSecret: client `console` has a secret of 15 bytes"]),
    );
    check(
        &[],
        &[("AUTH_CLIENT_SECRET", "abc")],
        Err(&[
            "AUTH_CLIENT_SECRET: client `pachd` has a secret of 3 bytes",
            FIX,
        ]),
    );
    check(
        &[],
        &[(
            "IDP_ADDITIONAL_CLIENTS",
            r#"[{"id":"grafana","secret":"g","redirect_uris":["https://g.example.com/cb"]}]"#,
        )],
        Err(&["client `grafana` has a secret of 1 bytes", FIX]),
    );
    // Exactly 16 bytes passes; a public client needs no secret.
    check(
        &[
            "pachd:\n  oauthClientSecret: 0123456789abcdef\noidc:\n  additionalClients:\n  - id: cli\n    public: true\n    redirectURIs: [http://127.0.0.1/cb]\n",
        ],
        &[],
        Ok(&[r#""secret":"***""#]),
    );
}

/// Issue 11, defect 7: checking 100k keys took 13 s (a duplicate-key scan
/// and a merge that were quadratic). The document must still parse, merge
/// and report a duplicate at the far end with both lines.
#[test]
fn a_hundred_thousand_keys_parse() {
    let mut big = String::from("pachd:\n  podLabels:\n");
    for i in 0..100_000 {
        big.push_str(&format!("    k{i}: v{i}\n"));
    }
    let big: &'static str = Box::leak(big.into_boxed_str());
    let over = "pachd:\n  podLabels:\n    k99999: changed\n    extra: 1\n";
    check(&[big, over], &[], Ok(&[r#""activateAuth":true"#]));
    let dup: &'static str = Box::leak(format!("{big}    k0: again\n").into_boxed_str());
    check(
        &[dup],
        &[],
        Err(&[
            "values0.yaml:100003",
            "duplicate key `k0` (first defined on line 3)",
        ]),
    );
}

/// `tusk.audit.retention`: a Go duration, 30 days by default, never so
/// short that the trail is gone before anyone reads it.
#[test]
fn audit_retention() {
    check(
        &[SEED_YAML],
        &[],
        Ok(&[r#""auditRetentionSeconds":2592000"#]),
    );
    check(
        &[SEED_YAML, "tusk:\n  audit:\n    retention: 48h\n"],
        &[],
        Ok(&[r#""auditRetentionSeconds":172800"#]),
    );
    check(
        &[SEED_YAML, "tusk:\n  audit:\n    retention: 10m\n"],
        &[],
        Err(&["tusk.audit.retention", "within the hour", "720h"]),
    );
    check(
        &[SEED_YAML, "tusk:\n  audit:\n    retension: 48h\n"],
        &[],
        Err(&["retension", "retention"]),
    );
}

const GITHUB: &str = include_str!("../../../../examples/github-values.yaml");

/// The `github` example passes with its secret masked; its typos and the
/// combinations Dex refuses are reported with line, key and fix.
#[test]
fn github_connector_config() {
    check(
        &[GITHUB],
        &[],
        Ok(&[
            r#""type":"github""#,
            r#""clientSecret":"***""#,
            r#""teamNameField":"slug""#,
        ]),
    );
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "teamNameField: slug",
            "teamNameFeild: slug",
            &[
                "values0.yaml:15: oidc.upstreamIDPs[0].config.teamNameFeild: unknown key `teamNameFeild`",
                "did you mean `teamNameField`?",
            ],
        ),
        (
            "teamNameField: slug",
            "teamNameField: id",
            &[
                "values0.yaml:15: oidc.upstreamIDPs[0].config.teamNameField: unsupported team name field `id`",
                "use `name` (the default), `slug` or `both`",
            ],
        ),
        (
            "teamNameField: slug",
            "org: acme",
            &[
                "values0.yaml:15: oidc.upstreamIDPs[0].config.org: `org` and `orgs` cannot both be set",
            ],
        ),
        (
            "teamNameField: slug",
            "rootCA: /etc/ca.pem",
            &["oidc.upstreamIDPs[0].config.rootCA: `rootCA` needs `hostName`"],
        ),
        (
            "teamNameField: slug",
            "hostName: https://github.example.com",
            &["config.hostName: `https://github.example.com` is not a host name"],
        ),
        (
            "teamNameField: slug",
            "preferredEmailDomain: example.*",
            &["config.preferredEmailDomain: `example.*` ends with `*`"],
        ),
        (
            "teamNameField: slug",
            "teams: [admins]",
            &["`teams` belongs inside an `orgs` entry"],
        ),
        (
            "        clientSecret: 1f0c3b9b2a8d4e6f7a9c0b1d2e3f4a5b6c7d8e9f\n",
            "",
            &["required key `clientSecret` is missing"],
        ),
    ];
    for (from, to, want) in cases {
        let text: &'static str = Box::leak(GITHUB.replace(from, to).into_boxed_str());
        check(&[text], &[], Err(want));
    }
}

/// A Helm values file with one `ldap` connector whose `config` lines are
/// `config_lines` (each indented six spaces, starting at line 6).
fn ldap_values(config_lines: &str) -> &'static str {
    let body: String = config_lines
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    Box::leak(
        format!("oidc:\n  upstreamIDPs:\n  - id: corp\n    type: ldap\n    config:\n{body}")
            .into_boxed_str(),
    )
}

const LDAP_OK: &str = "host: ldap.example.com\nbindDN: cn=svc,dc=example,dc=org\nbindPW: ldap-bind-s3cret\nuserSearch:\n  baseDN: ou=people,dc=example,dc=org\n  username: uid\ngroupSearch:\n  baseDN: ou=groups,dc=example,dc=org\n  userMatchers:\n  - userAttr: DN\n    groupAttr: member\n  nameAttr: cn\n";

#[test]
fn ldap_connectors_are_checked_field_by_field() {
    // The README's example is valid as written.
    assert!(
        include_str!("../../../../README.md")
            .contains(include_str!("../../../../examples/ldap-values.yaml")),
        "README's ldap example and examples/ldap-values.yaml differ"
    );
    check(
        &[include_str!("../../../../examples/ldap-values.yaml")],
        &[],
        Ok(&[r#""type":"ldap""#, r#""bindPW":"***""#]),
    );
    // Valid, and `config show` masks bindPW.
    check(
        &[ldap_values(LDAP_OK)],
        &[],
        Ok(&[r#""bindPW":"***""#, r#""host":"ldap.example.com""#]),
    );
    let rows: &[(&str, &[&str])] = &[
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid, emailAtr: mail}\n",
            &[
                "values0.yaml:7: oidc.upstreamIDPs[0].config.userSearch.emailAtr: unknown key `emailAtr`",
                "did you mean `emailAttr`?",
            ],
        ),
        (
            "host: h\nbindPw: x\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &[
                "values0.yaml:7: oidc.upstreamIDPs[0].config.bindPw: unknown key `bindPw`",
                "did you mean `bindPW`?",
            ],
        ),
        (
            "userSearch: {baseDN: dc=x, username: uid}\n",
            &["required key `host` is missing"],
        ),
        ("host: h\n", &["required key `userSearch` is missing"]),
        (
            "host: h\nuserSearch: {baseDN: dc=x}\n",
            &["required key `username` is missing"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: {a: b}}\n",
            &["userSearch.username: `username` must be an attribute name or a list"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: []}\n",
            &["`username` must be an attribute name or a list"],
        ),
        (
            "host: h\ninsecureNoSSL: true\nstartTLS: true\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &[
                "values0.yaml:8: oidc.upstreamIDPs[0].config.startTLS: both `insecureNoSSL` and `startTLS` are set",
                "remove `insecureNoSSL`",
            ],
        ),
        (
            "host: ldaps://h:636\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &["values0.yaml:6:", "host `ldaps://h:636` is a URL"],
        ),
        (
            "host: h\nrootCA: /ca.pem\nrootCAData: LS0t\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &["both `rootCA` and `rootCAData` are set"],
        ),
        (
            "host: h\nclientCert: /c.pem\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &["`clientCert` is set but `clientKey` is not"],
        ),
        (
            "host: h\nbindDN: cn=svc\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &["`bindDN` is set but `bindPW` is not"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid, scope: base}\n",
            &["userSearch.scope: scope `base` is not one Dex accepts"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid, filter: objectClass=person}\n",
            &["userSearch.filter: `objectClass=person` is not one LDAP filter"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid, emailSuffix: x.org}\n",
            &["userSearch.emailSuffix", "`nameAttr` is not set"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid}\ngroupSearch: {baseDN: ou=g, nameAttr: cn}\n",
            &["no user matcher", "userMatchers"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid}\ngroupSearch: {baseDN: ou=g, userMatchers: [{userAttr: DN, groupAttr: member}]}\n",
            &["`baseDN` is set but `nameAttr` is not"],
        ),
        (
            "host: h\nuserSearch: {baseDN: dc=x, username: uid}\ngroupSearch: {baseDN: ou=g, nameAttr: cn, userMatchers: [{userAttr: DN, groupAtr: member}]}\n",
            &[
                "userMatchers[0].groupAtr: unknown key `groupAtr`",
                "did you mean `groupAttr`?",
            ],
        ),
        (
            "host: h\nkerberos: {enabled: true}\nuserSearch: {baseDN: dc=x, username: uid}\n",
            &["unknown key `kerberos`"],
        ),
    ];
    for (lines, want) in rows {
        check(&[ldap_values(lines)], &[], Err(want));
    }
}

#[test]
fn ldap_insecure_settings_warn() {
    let text = ldap_values(
        "host: h\ninsecureNoSSL: true\nrootCA: /ca.pem\nuserSearch: {baseDN: dc=x, username: uid}\ngroupSearch: {baseDN: ou=g, nameAttr: cn, userAttr: uid, groupAttr: memberUid}\n",
    );
    let secrets = secrets();
    let input = Input {
        files: vec![SourceText {
            name: "values0.yaml".into(),
            bytes: text.as_bytes().to_vec(),
        }],
        env: Default::default(),
        secrets: Some(&secrets),
        listen: "127.0.0.1:30650".into(),
    };
    let loaded = config::load(&input).unwrap_or_else(|d| panic!("{d:?}"));
    let warnings: Vec<String> = loaded.warnings.iter().map(|d| d.to_string()).collect();
    let warnings = warnings.join("\n");
    for want in [
        "values0.yaml:7: oidc.upstreamIDPs[0].config.insecureNoSSL: users' passwords and `bindPW` cross the network in clear text",
        "values0.yaml:8: oidc.upstreamIDPs[0].config.rootCA: `rootCA` has no effect",
        "legacy form",
    ] {
        assert!(warnings.contains(want), "`{want}` not in\n{warnings}");
    }
}

#[test]
fn ldap_starttls_without_a_port_warns() {
    let secrets = secrets();
    for (host, warned) in [
        ("h", true),
        ("h:389", false),
        ("[::1]", true),
        ("[::1]:389", false),
    ] {
        let text = ldap_values(&format!(
            "host: '{host}'\nstartTLS: true\nuserSearch: {{baseDN: dc=x, username: uid}}\n"
        ));
        let input = Input {
            files: vec![SourceText {
                name: "values0.yaml".into(),
                bytes: text.as_bytes().to_vec(),
            }],
            env: Default::default(),
            secrets: Some(&secrets),
            listen: "127.0.0.1:30650".into(),
        };
        let loaded = config::load(&input).unwrap_or_else(|d| panic!("{d:?}"));
        let got = loaded
            .warnings
            .iter()
            .any(|d| d.to_string().contains("StartTLS goes to 636"));
        assert_eq!(got, warned, "{host}");
    }
}

/// The `saml` connector's config: Dex's keys with did-you-mean, required
/// fields, `ca` xor `caData`, a certificate that does not parse named with
/// its key and line, and the warning for skipped signature checks.
#[test]
fn saml_connector_configs_are_checked() {
    let cert = include_str!("data/saml-idp-cert.pem");
    let indented: String = cert.lines().map(|l| format!("        {l}\n")).collect();
    let yaml = |extra: &str, ca: &str| -> &'static str {
        Box::leak(
            format!(
                "oidc:\n  upstreamIDPs:\n  - id: corp\n    name: Corp SSO\n    type: saml\n    config:\n      ssoURL: https://idp.example.com/sso\n      redirectURI: https://pachyderm.example.com/dex/callback\n      usernameAttr: uid\n      emailAttr: email\n{extra}{ca}"
            )
            .into_boxed_str(),
        )
    };
    let ca_data = format!("      caData: |\n{indented}");
    let broken = ca_data.replacen("MII", "MIX", 1);
    // A second, broken certificate: the error points at its own line.
    let second = format!("{ca_data}{}", indented.replacen("MII", "MIX", 1));
    check(
        &[yaml("", &ca_data)],
        &[],
        Ok(&[r#""type":"saml""#, r#""usernameAttr":"uid""#]),
    );
    let rows: Vec<(&str, Want)> = vec![
        (
            yaml("      groupAttr: groups\n", &ca_data),
            Err(&[
                "values0.yaml:11: oidc.upstreamIDPs[0].config.groupAttr: unknown key `groupAttr`",
                "did you mean `groupsAttr`?",
            ]),
        ),
        (
            yaml("      ca: /etc/idp.pem\n", &ca_data),
            Err(&[
                "values0.yaml:11: oidc.upstreamIDPs[0].config.ca: both `ca` and `caData` are set",
            ]),
        ),
        (
            yaml("", ""),
            Err(&["no IdP certificate: a saml connector needs `ca` or `caData`"]),
        ),
        (
            yaml("", &broken),
            Err(&[
                "values0.yaml:12: oidc.upstreamIDPs[0].config.caData: the IdP certificate does not parse: the certificate at line 1",
            ]),
        ),
        (
            yaml("", &second),
            Err(&[
                "values0.yaml:31: oidc.upstreamIDPs[0].config.caData: the IdP certificate does not parse: the certificate at line 20",
            ]),
        ),
        (
            yaml("", "      caData: hello\n"),
            Err(&["caData: the IdP certificate does not parse: line 1 is outside"]),
        ),
        (
            yaml("      emailAttr: ''\n", &ca_data)
                .replacen("      emailAttr: email\n", "", 1)
                .leak(),
            Err(&["required key `emailAttr` is missing or empty"]),
        ),
        (
            yaml("      insecureSkipSignatureValidation: true\n", ""),
            Ok(&[r#""insecureSkipSignatureValidation":true"#]),
        ),
    ];
    for (input, want) in rows {
        check(&[input], &[], want);
    }
    // The warning is there even when the config loads.
    let input = Input {
        files: vec![SourceText {
            name: "values0.yaml".into(),
            bytes: yaml("      insecureSkipSignatureValidation: true\n", "")
                .as_bytes()
                .to_vec(),
        }],
        env: Default::default(),
        secrets: None,
        listen: "127.0.0.1:30650".into(),
    };
    let loaded = config::load(&input).unwrap();
    let report: Vec<String> = loaded.warnings.iter().map(|d| d.to_string()).collect();
    let report = report.join("\n");
    assert!(
        report.contains("values0.yaml:11: oidc.upstreamIDPs[0].config.insecureSkipSignatureValidation: SAML signatures will NOT be checked"),
        "{report}"
    );
}

/// Back-channel logout registration on an additional client: an absolute
/// https URL (http only on loopback) without a fragment; each refusal
/// names the file, line, key and fix. One row per rule.
#[test]
fn backchannel_logout_uris_are_checked() {
    let values = |uri: &str, extra: &str| -> &'static str {
        Box::leak(
            format!(
                "oidc:\n  additionalClients:\n  - id: app\n    redirectURIs: [https://a.example.com/cb]\n    backchannel_logout_uri: {uri}\n{extra}"
            )
            .into_boxed_str(),
        )
    };
    const KEY: &str = "values0.yaml:5: oidc.additionalClients[0].backchannel_logout_uri";
    let rows: [(&str, &str, Want); 8] = [
        (
            "'https://a.example.com/logout?tenant=1'",
            "    backchannel_logout_session_required: true\n",
            Ok(&[
                r#""backchannel_logout_uri":"https://a.example.com/logout?tenant=1""#,
                r#""backchannel_logout_session_required":true"#,
            ]),
        ),
        (
            "http://127.0.0.1:8080/bc",
            "",
            Ok(&[
                r#""backchannel_logout_uri":"http://127.0.0.1:8080/bc""#,
                r#""backchannel_logout_session_required":false"#,
            ]),
        ),
        (
            "http://localhost/bc",
            "",
            Ok(&[r#""backchannel_logout_uri":"http://localhost/bc""#]),
        ),
        (
            "http://a.example.com/bc",
            "",
            Err(&[
                KEY,
                "uses plain http on a non-loopback host",
                "use https://",
            ]),
        ),
        (
            "'https://a.example.com/bc#frag'",
            "",
            Err(&[KEY, "has a fragment", "remove the `#...` part"]),
        ),
        (
            "/relative/bc",
            "",
            Err(&[KEY, "is not a valid URL", "absolute URL"]),
        ),
        (
            "'ftp://a.example.com/bc'",
            "",
            Err(&[KEY, "uses the scheme `ftp`"]),
        ),
        (
            "https://a.example.com/bc",
            "    backchannel_logout_session_required: maybe\n",
            Err(&["values0.yaml:6: oidc.additionalClients[0].backchannel_logout_session_required"]),
        ),
    ];
    for (uri, extra, want) in rows {
        check(&[values(uri, extra)], &[], want);
    }
    // The same rules for the clients of `IDP_ADDITIONAL_CLIENTS`.
    check(
        &[],
        &[(
            "IDP_ADDITIONAL_CLIENTS",
            r#"[{"id":"g","public":true,"redirect_uris":["https://g.example.com/cb"],"backchannel_logout_uri":"http://g.example.com/bc"}]"#,
        )],
        Err(&[
            "[0].backchannel_logout_uri",
            "uses plain http on a non-loopback host",
        ]),
    );
}

/// Redirect URIs of additional clients (issue 15): http(s), or a native
/// app's private-use scheme named after its domain (RFC 8252 §7.1); never
/// a scheme a browser runs or reads locally, a fragment, or a user name
/// before the host. Each refusal names the file, line, key and fix.
#[test]
fn dangerous_redirect_uris_are_refused() {
    let values = |uri: &str| -> &'static str {
        Box::leak(
            format!("oidc:\n  additionalClients:\n  - id: app\n    redirect_uris:\n    - https://ok.example.com/cb\n    - {uri}\n")
                .into_boxed_str(),
        )
    };
    const KEY: &str = "values0.yaml:6: oidc.additionalClients[0].redirect_uris[1]";
    let scheme = |s: &'static str| -> Want {
        Err(Box::leak(
            vec![
                KEY,
                s,
                "which is not an address to return to",
                "private-use scheme",
            ]
            .into_boxed_slice(),
        ))
    };
    let rows: [(&str, Want); 12] = [
        (
            "https://app.example.com/cb?x=1",
            Ok(&[r#""https://app.example.com/cb?x=1""#]),
        ),
        (
            "http://127.0.0.1:8080/cb",
            Ok(&[r#""http://127.0.0.1:8080/cb""#]),
        ),
        (
            "'com.example.app:/oauth2redirect'",
            Ok(&[r#""com.example.app:/oauth2redirect""#]),
        ),
        ("'javascript:alert(1)'", scheme("`javascript`")),
        ("'JavaScript://x/%0aalert(1)'", scheme("`javascript`")),
        ("'data:text/html,<script>x</script>'", scheme("`data`")),
        ("'vbscript:msgbox(1)'", scheme("`vbscript`")),
        ("'file:///etc/passwd'", scheme("`file`")),
        (
            "'https://app.example.com/cb#frag'",
            Err(&[KEY, "has a fragment", "remove the `#...` part"]),
        ),
        (
            "'https://app.example.com@evil.example/cb'",
            Err(&[
                KEY,
                "user name or password",
                "remove the `user:password@` part",
            ]),
        ),
        (
            "'https://u:p@app.example.com/cb'",
            Err(&[KEY, "user name or password"]),
        ),
        (
            "/relative/cb",
            Err(&[KEY, "is not an absolute URL", "full URL"]),
        ),
    ];
    for (uri, want) in rows {
        check(&[values(uri)], &[], want);
    }
    // The same rule for `IDP_CLIENTS`, the camel-case key included.
    check(
        &[],
        &[(
            "IDP_CLIENTS",
            r#"[{"id":"g","public":true,"redirectURIs":["javascript:alert(1)"]}]"#,
        )],
        Err(&["[0].redirectURIs[0]", "uses the scheme `javascript`"]),
    );
}

/// `tusk.sessions`: on by default (24 h absolute, 8 h idle), off with
/// `enabled: false`, lifetimes of a minute or more, idle within absolute.
#[test]
fn browser_sessions() {
    check(
        &[SEED_YAML],
        &[],
        Ok(&[r#""sessions":{"absoluteLifetimeSeconds":86400,"idleTimeoutSeconds":28800}"#]),
    );
    check(
        &[
            SEED_YAML,
            "tusk:\n  sessions:\n    absoluteLifetime: 12h\n    idleTimeout: 30m\n",
        ],
        &[],
        Ok(&[r#""sessions":{"absoluteLifetimeSeconds":43200,"idleTimeoutSeconds":1800}"#]),
    );
    check(
        &[SEED_YAML, "tusk:\n  sessions:\n    enabled: false\n"],
        &[],
        Ok(&[r#""sessions":null"#]),
    );
    check(
        &[SEED_YAML, "tusk:\n  sessions:\n    idleTimeout: 10s\n"],
        &[],
        Err(&[
            "tusk.sessions.idleTimeout",
            "shorter than a minute",
            "enabled: false",
        ]),
    );
    check(
        &[
            SEED_YAML,
            "tusk:\n  sessions:\n    absoluteLifetime: 1h\n    idleTimeout: 2h\n",
        ],
        &[],
        Err(&["tusk.sessions.idleTimeout", "would never apply"]),
    );
    check(
        &[SEED_YAML, "tusk:\n  sessions:\n    idle: 2h\n"],
        &[],
        Err(&["tusk.sessions.idle"]),
    );
}

/// Issue 15 item 3: `trusted: true` marks a first-party additional client
/// (no consent page); pachd and console always are, other clients are not
/// unless marked. The field is a boolean and a misspelling is caught.
#[test]
fn trusted_clients() {
    let base = "pachd:\n  oauthClientSecret: 0123456789abcdef\noidc:\n  additionalClients:\n";
    let with =
        |client: &str| -> &'static str { Box::leak(format!("{base}{client}").into_boxed_str()) };
    check(
        &[with(
            "  - id: notebook\n    public: true\n    trusted: true\n    redirectURIs: [http://127.0.0.1/cb]\n",
        )],
        &[],
        Ok(&[
            r#""id":"pachd","name":"pachd","public":false,"redirect_uris""#,
            r#""secret":"***","trusted":true,"trusted_peers""#,
            r#""id":"notebook","name":"notebook","public":true,"redirect_uris":["http://127.0.0.1/cb"],"secret":null,"trusted":true"#,
        ]),
    );
    check(
        &[with(
            "  - id: notebook\n    public: true\n    redirectURIs: [http://127.0.0.1/cb]\n",
        )],
        &[],
        Ok(&[r#""redirect_uris":["http://127.0.0.1/cb"],"secret":null,"trusted":false"#]),
    );
    check(
        &[with(
            "  - id: notebook\n    public: true\n    trusted: yes please\n",
        )],
        &[],
        Err(&["oidc.additionalClients[0].trusted"]),
    );
    check(
        &[with(
            "  - id: notebook\n    public: true\n    trustd: true\n",
        )],
        &[],
        Err(&["unknown key `trustd`", "did you mean `trusted`?"]),
    );
}
