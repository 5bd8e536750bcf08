#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::mem::discriminant;
use tusk_jose::{
    Alg, Error, KeySetState, Part, RotationPolicy, SigningKey, VerifyError, VerifyingKeys,
    active_key, check_time, half_hash, jwks, published, rotate_if_due, sign, sign_typed,
};

const ALL: [Alg; 3] = [Alg::ES256, Alg::RS256, Alg::EdDSA];

fn claims() -> Value {
    json!({"iss": "https://pach.example.com/dex", "sub": "CgcyMzQyNzQ5EgZnaXRodWI", "aud": "pachd",
           "iat": 1_700_000_000, "exp": 4_000_000_000_i64, "email": "a@example.com", "groups": ["x", "\u{e9}"]})
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pkcs8_der(key: &SigningKey) -> Vec<u8> {
    let pem = key.to_pkcs8_pem();
    let body: String = pem
        .expose()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

/// Explicit typing: the header carries the given `typ` (a back-channel
/// logout token's `logout+jwt`), and the token verifies like any other.
#[test]
fn typed_tokens_carry_their_typ_and_verify() {
    for alg in ALL {
        let key = SigningKey::generate(alg, format!("kid-{alg}")).unwrap();
        let token = sign_typed(&key, "logout+jwt", &claims()).unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            header,
            json!({"alg": alg.as_str(), "kid": format!("kid-{alg}"), "typ": "logout+jwt"})
        );
        let keys = VerifyingKeys::from_signing_keys(&[&key]).unwrap();
        assert_eq!(keys.verify(&token, &[alg]).unwrap(), claims(), "{alg}");
        assert!(matches!(
            sign_typed(&key, "logout+jwt", &json!([1])),
            Err(Error::ClaimsNotObject { .. })
        ));
    }
}

#[test]
fn sign_verify_round_trip_for_each_alg() {
    for alg in ALL {
        let key = SigningKey::generate(alg, format!("kid-{alg}")).unwrap();
        let token = sign(&key, &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({"alg": alg.as_str(), "kid": format!("kid-{alg}"), "typ": "JWT"})
        );
        let sig_len = URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len();
        let want_len = match alg {
            Alg::ES256 | Alg::EdDSA => 64, // ES256: fixed r || s, not DER
            Alg::RS256 => 256,
        };
        assert_eq!(sig_len, want_len, "{alg}");

        // Through the published JWKS JSON, as a relying party would.
        let jwks_json: Value = serde_json::from_str(&jwks(&[&key]).to_string()).unwrap();
        let from_jwks = VerifyingKeys::from_jwks(&jwks_json).unwrap();
        assert_eq!(from_jwks.verify(&token, &ALL).unwrap(), claims(), "{alg}");
        let from_keys = VerifyingKeys::from_signing_keys(&[&key]).unwrap();
        assert_eq!(
            from_keys.verify(token.as_bytes(), &[alg]).unwrap(),
            claims()
        );

        let jwk = key.public_jwk();
        assert_eq!(
            (
                jwk["kid"].as_str(),
                jwk["alg"].as_str(),
                jwk["use"].as_str()
            ),
            (Some(key.kid()), Some(alg.as_str()), Some("sig"))
        );
        let kty = match alg {
            Alg::ES256 => "EC",
            Alg::RS256 => "RSA",
            Alg::EdDSA => "OKP",
        };
        assert_eq!(jwk["kty"], kty);
        assert!(
            jwk.get("d").is_none() && jwk.get("p").is_none(),
            "private part in JWK"
        );
    }
}

#[test]
fn jsonwebtoken_verifies_our_tokens_and_we_verify_its() {
    use jsonwebtoken::{
        Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, jwk::Jwk,
    };
    for (alg, theirs) in [
        (Alg::ES256, Algorithm::ES256),
        (Alg::RS256, Algorithm::RS256),
        (Alg::EdDSA, Algorithm::EdDSA),
    ] {
        let key = SigningKey::generate(alg, "k1".into()).unwrap();
        let jwk: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let mut validation = Validation::new(theirs);
        validation.set_audience(&["pachd"]);
        validation.set_issuer(&["https://pach.example.com/dex"]);
        let token = sign(&key, &claims()).unwrap();
        let data =
            decode::<Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation).unwrap();
        assert_eq!(data.claims, claims(), "{alg}");
        assert_eq!(data.header.kid.as_deref(), Some("k1"));

        // The other way round, where jsonwebtoken reads our PKCS#8 (RSA: it wants PKCS#1).
        let encoding = match alg {
            Alg::ES256 => EncodingKey::from_ec_der(&pkcs8_der(&key)),
            Alg::EdDSA => EncodingKey::from_ed_der(&pkcs8_der(&key)),
            Alg::RS256 => continue,
        };
        let mut header = Header::new(theirs);
        header.kid = Some("k1".into());
        let theirs_token = encode(&header, &claims(), &encoding).unwrap();
        let ours = VerifyingKeys::from_signing_keys(&[&key]).unwrap();
        assert_eq!(ours.verify(&theirs_token, &ALL).unwrap(), claims(), "{alg}");

        // Signed correctly, but the claims are not an object.
        let array_token = encode(&header, &json!([1, 2]), &encoding).unwrap();
        assert_eq!(
            ours.verify(&array_token, &ALL),
            Err(VerifyError::PayloadNotObject)
        );
    }
}

fn forge(header: &Value, payload: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(payload).unwrap()),
        b64(sig)
    )
}

#[test]
fn tampering_is_rejected_with_its_own_error() {
    let es = SigningKey::generate(Alg::ES256, "es".into()).unwrap();
    let es2 = SigningKey::generate(Alg::ES256, "es2".into()).unwrap();
    let rs = SigningKey::generate(Alg::RS256, "rs".into()).unwrap();
    let ed = SigningKey::generate(Alg::EdDSA, "ed".into()).unwrap();
    let keys = VerifyingKeys::from_jwks(&jwks(&[&es, &es2, &rs, &ed])).unwrap();
    assert_eq!(keys.len(), 4);
    let good = sign(&es, &claims()).unwrap();
    let [h, p, s]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();
    let sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    let with_header =
        |header: Value| format!("{}.{p}.{s}", b64(&serde_json::to_vec(&header).unwrap()));

    // The classic confusion: HMAC keyed with bytes of our public key.
    let rs_n = URL_SAFE_NO_PAD
        .decode(rs.public_jwk()["n"].as_str().unwrap())
        .unwrap();
    let hs_input = format!("{}.{p}", b64(br#"{"alg":"HS256","kid":"rs","typ":"JWT"}"#));
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &rs_n),
        hs_input.as_bytes(),
    );
    let hs256 = format!("{hs_input}.{}", b64(mac.as_ref()));
    let hs_jwk_json = format!("{hs_input}.{}", {
        let k = aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            rs.public_jwk().to_string().as_bytes(),
        );
        b64(aws_lc_rs::hmac::sign(&k, hs_input.as_bytes()).as_ref())
    });

    let other_payload =
        b64(&serde_json::to_vec(&json!({"sub": "admin", "exp": 4_000_000_000_i64})).unwrap());
    let mut non_utf8 = good.clone().into_bytes();
    non_utf8[h.len() + 3] = 0xff;
    let huge = format!("{h}.{}.{s}", "A".repeat(1024 * 1024));
    let kid = |k: &str| VerifyError::UnknownKid { kid: k.into() };
    let any = String::new();

    let cases: Vec<(&str, Vec<u8>, &[Alg], VerifyError)> = vec![
        (
            "alg none, empty signature",
            forge(&json!({"alg": "none"}), &claims(), b"").into(),
            &ALL,
            VerifyError::AlgNone,
        ),
        (
            "alg None with kid",
            forge(&json!({"alg": "None", "kid": "es"}), &claims(), b"").into(),
            &ALL,
            VerifyError::AlgNone,
        ),
        (
            "HS256 keyed with RSA modulus",
            hs256.into(),
            &ALL,
            VerifyError::SymmetricAlg { alg: any.clone() },
        ),
        (
            "HS256 keyed with JWK JSON",
            hs_jwk_json.into(),
            &ALL,
            VerifyError::SymmetricAlg { alg: any.clone() },
        ),
        (
            "unsupported alg",
            with_header(json!({"alg": "PS256", "kid": "rs"})).into(),
            &ALL,
            VerifyError::UnsupportedAlg { alg: any.clone() },
        ),
        (
            "alg not allowed here",
            good.clone().into(),
            &[Alg::RS256, Alg::EdDSA],
            VerifyError::AlgNotAllowed {
                alg: Alg::ES256,
                allowed: any.clone(),
            },
        ),
        (
            "changed payload",
            format!("{h}.{other_payload}.{s}").into(),
            &ALL,
            VerifyError::BadSignature { kid: any.clone() },
        ),
        (
            "kid changed to another key",
            with_header(json!({"alg": "ES256", "kid": "es2", "typ": "JWT"})).into(),
            &ALL,
            VerifyError::BadSignature { kid: any.clone() },
        ),
        (
            "kid changed to unknown",
            with_header(json!({"alg": "ES256", "kid": "nope", "typ": "JWT"})).into(),
            &ALL,
            kid(""),
        ),
        (
            "alg changed to the wrong key type",
            with_header(json!({"alg": "RS256", "kid": "es", "typ": "JWT"})).into(),
            &ALL,
            VerifyError::AlgKeyMismatch {
                kid: any.clone(),
                token_alg: Alg::RS256,
                key_alg: Alg::ES256,
            },
        ),
        (
            "kid missing among several keys",
            with_header(json!({"alg": "ES256"})).into(),
            &ALL,
            VerifyError::MissingKid { keys: 4 },
        ),
        (
            "kid not a string",
            with_header(json!({"alg": "ES256", "kid": 7})).into(),
            &ALL,
            VerifyError::HeaderInvalid { cause: "" },
        ),
        (
            "alg missing",
            with_header(json!({"kid": "es"})).into(),
            &ALL,
            VerifyError::MissingAlg,
        ),
        (
            "crit header",
            with_header(json!({"alg": "ES256", "kid": "es", "crit": ["exp"], "exp": 1})).into(),
            &ALL,
            VerifyError::CriticalHeader,
        ),
        (
            "header not JSON",
            format!("{}.{p}.{s}", b64(b"{alg")).into(),
            &ALL,
            VerifyError::HeaderInvalid { cause: "" },
        ),
        (
            "header an array",
            format!("{}.{p}.{s}", b64(b"[]")).into(),
            &ALL,
            VerifyError::HeaderInvalid { cause: "" },
        ),
        (
            "truncated signature",
            format!("{h}.{p}.{}", b64(&sig[..60])).into(),
            &ALL,
            VerifyError::BadSignature { kid: any.clone() },
        ),
        (
            "signature text cut by one",
            good[..good.len() - 1].into(),
            &ALL,
            VerifyError::Base64 {
                part: Part::Signature,
            },
        ),
        (
            "empty signature",
            format!("{h}.{p}.").into(),
            &ALL,
            VerifyError::BadSignature { kid: any.clone() },
        ),
        (
            "four parts",
            format!("{good}.{s}").into(),
            &ALL,
            VerifyError::Malformed { parts: 4 },
        ),
        (
            "two parts",
            format!("{h}.{p}").into(),
            &ALL,
            VerifyError::Malformed { parts: 2 },
        ),
        (
            "empty token",
            Vec::new(),
            &ALL,
            VerifyError::Malformed { parts: 1 },
        ),
        (
            "JWE-like five parts",
            "a.b.c.d.e".into(),
            &ALL,
            VerifyError::Malformed { parts: 5 },
        ),
        (
            "garbage characters",
            format!("{h}.{p}!.{s}").into(),
            &ALL,
            VerifyError::InvalidCharacter {
                part: Part::Payload,
            },
        ),
        (
            "padding",
            format!("{h}=.{p}.{s}").into(),
            &ALL,
            VerifyError::InvalidCharacter { part: Part::Header },
        ),
        (
            "standard base64 alphabet",
            format!("{h}.{p}.{}+", &s[..s.len() - 1]).into(),
            &ALL,
            VerifyError::InvalidCharacter {
                part: Part::Signature,
            },
        ),
        (
            "impossible base64 length",
            format!("A.{p}.{s}").into(),
            &ALL,
            VerifyError::Base64 { part: Part::Header },
        ),
        (
            "non-canonical trailing bits",
            format!("{h}.{p}.{}", flip_last_bits(s)).into(),
            &ALL,
            VerifyError::Base64 {
                part: Part::Signature,
            },
        ),
        (
            "1 MiB token",
            huge.into(),
            &ALL,
            VerifyError::TooLarge { len: 0, max: 0 },
        ),
        (
            "non-UTF-8 bytes",
            non_utf8,
            &ALL,
            VerifyError::InvalidCharacter {
                part: Part::Payload,
            },
        ),
    ];

    let check = |name: &str, token: &[u8], allowed: &[Alg], want: &VerifyError| {
        let err = keys.verify(token, allowed).expect_err(name);
        assert_eq!(
            discriminant(&err),
            discriminant(want),
            "{name}: got {err:?}"
        );
        if matches!(
            want,
            VerifyError::Malformed { .. }
                | VerifyError::InvalidCharacter { .. }
                | VerifyError::Base64 { .. }
        ) {
            assert_eq!(&err, want, "{name}");
        }
        let message = err.to_string();
        assert!(
            !message.contains(p) && !message.contains(s),
            "{name}: message leaks the token: {message}"
        );
        assert!(message.len() < 400, "{name}: {message}");
    };
    for (name, token, allowed, want) in &cases {
        check(name, token, allowed, want);
    }
    assert!(
        keys.verify(&good, &ALL).is_ok(),
        "the untampered token still verifies"
    );

    let empty = VerifyingKeys::from_jwks(&json!({"keys": []})).unwrap();
    assert_eq!(empty.verify(&good, &ALL), Err(VerifyError::NoKeys));
    // One key and no kid: unambiguous, accepted (upstream issuers do this).
    let single = VerifyingKeys::from_signing_keys(&[&es]).unwrap();
    assert_eq!(single.verify(&good, &ALL).unwrap(), claims());
    assert!(matches!(
        single.verify(&with_header(json!({"alg": "ES256"})), &ALL),
        Err(VerifyError::BadSignature { .. })
    ));
    // Attacker-controlled kid is escaped and shortened in the message.
    let long_kid =
        with_header(json!({"alg": "ES256", "kid": format!("{}\n[ERROR] forged", "k".repeat(100))}));
    let message = keys.verify(&long_kid, &ALL).unwrap_err().to_string();
    assert!(
        !message.contains('\n') && !message.contains("forged"),
        "{message}"
    );
}

fn flip_last_bits(s: &str) -> String {
    // 64 bytes encode to 86 chars: the last char carries 4 padding bits.
    let (head, last) = s.split_at(s.len() - 1);
    let c = last.as_bytes()[0];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let i = alphabet.iter().position(|&a| a == c).unwrap();
    format!("{head}{}", alphabet[i ^ 1] as char)
}

#[test]
fn half_hash_known_answers() {
    let check = |alg: Alg, value: &str, want: &str| {
        assert_eq!(half_hash(alg, value), want, "{alg} {value:?}")
    };
    // OpenID Connect Core 1.0, appendices A.3 (at_hash) and A.4 (c_hash).
    check(
        Alg::RS256,
        "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
        "77QmUPtjPfzWtF2AnpK9RQ",
    );
    check(
        Alg::RS256,
        "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk",
        "LDktKdoQak3Pk0cnXxCltA",
    );
    check(
        Alg::ES256,
        "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk",
        "LDktKdoQak3Pk0cnXxCltA",
    );
    // Python hashlib: left halves of SHA-256("abc"), SHA-512("abc").
    check(Alg::ES256, "abc", "ungWv48Bz-pBQUDeXa4iIw");
    check(
        Alg::EdDSA,
        "abc",
        "3a81oZNherrMQXNJriBBMRLm-k6JqX6iCp7u5ktV05o",
    );
}

#[test]
fn check_time_rules() {
    let check = |c: Value, now: i64, want: Result<(), VerifyError>| {
        assert_eq!(check_time(&c, now, 30), want, "{c} at {now}")
    };
    check(json!({"exp": 1000}), 969, Ok(()));
    check(json!({"exp": 1000}), 1029, Ok(()));
    check(
        json!({"exp": 1000}),
        1030,
        Err(VerifyError::Expired {
            exp: 1000,
            now: 1030,
        }),
    );
    check(json!({"exp": 1000.9}), 1029, Ok(()));
    check(
        json!({}),
        0,
        Err(VerifyError::MissingClaim { claim: "exp" }),
    );
    check(
        json!({"exp": "1000"}),
        0,
        Err(VerifyError::InvalidClaim { claim: "exp" }),
    );
    check(
        json!({"exp": 2000, "nbf": 1031}),
        1000,
        Err(VerifyError::NotYetValid {
            nbf: 1031,
            now: 1000,
        }),
    );
    check(json!({"exp": 2000, "nbf": 1030}), 1000, Ok(()));
    check(
        json!({"exp": 2000, "iat": 1031}),
        1000,
        Err(VerifyError::IssuedInFuture {
            iat: 1031,
            now: 1000,
        }),
    );
    check(
        json!({"exp": 2000, "iat": null}),
        1000,
        Err(VerifyError::InvalidClaim { claim: "iat" }),
    );
    check(json!({"exp": i64::MAX}), i64::MAX - 1, Ok(()));
}

#[test]
fn pem_round_trip_and_no_key_material_in_debug() {
    for alg in ALL {
        let key = SigningKey::generate(alg, "pem-kid".into()).unwrap();
        let pem = key.to_pkcs8_pem();
        assert!(pem.expose().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let loaded = SigningKey::from_pkcs8_pem(alg, "pem-kid".into(), pem.expose()).unwrap();
        assert_eq!(loaded.public_jwk(), key.public_jwk(), "{alg}");
        assert_eq!(loaded.to_pkcs8_pem(), pem);
        let token = sign(&loaded, &claims()).unwrap();
        VerifyingKeys::from_signing_keys(&[&key])
            .unwrap()
            .verify(&token, &[alg])
            .unwrap();
        // CRLF line endings, as a Windows-edited secret file would have.
        let crlf = pem.expose().replace('\n', "\r\n");
        SigningKey::from_pkcs8_pem(alg, "pem-kid".into(), &crlf).unwrap();

        let body_lines: Vec<&str> = pem
            .expose()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let debug = format!("{key:?} {pem:?}");
        assert_eq!(
            format!("{key:?}"),
            format!("SigningKey {{ kid: \"pem-kid\", alg: {alg}, .. }}")
        );
        for line in &body_lines {
            assert!(!debug.contains(line), "{alg}: Debug leaks the key");
        }
        let state = rotate_if_due(None, 0, &RotationPolicy::default(), alg, &mut |a| {
            SigningKey::generate(a, "s".into())
        })
        .unwrap()
        .unwrap();
        let state_pem = state.keys[0].private_pkcs8_pem.clone().unwrap();
        let debug = format!("{state:?} {:#?}", state);
        for line in state_pem
            .expose()
            .lines()
            .filter(|l| !l.starts_with("-----"))
        {
            assert!(
                !debug.contains(line),
                "{alg}: KeySetState Debug leaks the key"
            );
        }
        // Storage does get the key, and it comes back equal.
        let stored = serde_json::to_string(&state).unwrap();
        assert!(stored.contains("BEGIN PRIVATE KEY"));
        assert_eq!(serde_json::from_str::<KeySetState>(&stored).unwrap(), state);
    }
}

#[test]
fn errors_name_the_problem() {
    assert!(matches!(
        sign(
            &SigningKey::generate(Alg::EdDSA, "k".into()).unwrap(),
            &json!([1])
        ),
        Err(Error::ClaimsNotObject { found: "an array" })
    ));
    assert_eq!(Alg::discovery_values(), ["RS256", "ES256", "EdDSA"]);
    assert_eq!("EdDSA".parse::<Alg>().unwrap(), Alg::EdDSA);
    assert!(
        "es256"
            .parse::<Alg>()
            .unwrap_err()
            .to_string()
            .contains("only RS256, ES256 and EdDSA")
    );
    assert_eq!(serde_json::to_value(Alg::ES256).unwrap(), json!("ES256"));

    let es = SigningKey::generate(Alg::ES256, "es".into()).unwrap();
    let jwk = es.public_jwk();
    let check = |jwks: Value, want: Option<&str>| match (VerifyingKeys::from_jwks(&jwks), want) {
        (Ok(keys), None) => keys.len(),
        (Err(e), Some(w)) => {
            assert!(e.to_string().contains(w), "{jwks}: {e}");
            0
        }
        (got, _) => panic!("{jwks}: {got:?}"),
    };
    let mut short_x = jwk.clone();
    short_x["x"] = json!(b64(&[1; 31]));
    let mut off_curve = jwk.clone();
    off_curve["y"] = json!(b64(&[7; 32]));
    let small_rsa = json!({"kty": "RSA", "kid": "small", "n": b64(&[0xc1; 128]), "e": "AQAB"});
    assert_eq!(
        check(
            json!({"keys": [short_x]}),
            Some("\"x\" is 31 bytes, not 32")
        ),
        0
    );
    assert_eq!(
        check(json!({"keys": [off_curve]}), Some("aws-lc-rs rejected it")),
        0
    );
    assert_eq!(check(json!({"keys": [small_rsa]}), Some("1024 bits")), 0);
    assert_eq!(
        check(json!({"keys": [{"kid": "x"}]}), Some("\"kty\" is missing")),
        0
    );
    assert_eq!(check(json!({"nope": []}), Some("no \"keys\"")), 0);
    // Keys that are not for us are skipped, not fatal: upstream JWKS carry them.
    let skipped = json!({"keys": [
        {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "X25519", "x": "AA"},
        {"kty": "EC", "crv": "P-256", "alg": "ES384", "x": jwk["x"], "y": jwk["y"]},
        jwk,
    ]});
    assert_eq!(check(skipped, None), 1);
}

// ---- rotation ----

fn policy() -> RotationPolicy {
    RotationPolicy {
        period_secs: 1000,
        publish_ahead_secs: 100,
        max_token_lifetime_secs: 2500,
    }
}

struct Clock {
    state: Option<KeySetState>,
    generated: u32,
}

impl Clock {
    fn new() -> Self {
        Clock {
            state: None,
            generated: 0,
        }
    }

    /// Runs the rotator at `now`; returns whether the state changed.
    fn tick(&mut self, now: i64, alg: Alg) -> bool {
        let generated = &mut self.generated;
        let mut gen_key = |alg| {
            *generated += 1;
            SigningKey::generate(alg, format!("k{generated}"))
        };
        match rotate_if_due(self.state.as_ref(), now, &policy(), alg, &mut gen_key).unwrap() {
            Some(new) => {
                self.state = Some(new);
                true
            }
            None => false,
        }
    }

    fn state(&self) -> &KeySetState {
        self.state.as_ref().unwrap()
    }

    fn active(&self, now: i64) -> String {
        active_key(self.state(), now).unwrap().kid.clone()
    }

    fn published(&self, now: i64) -> Vec<String> {
        published(self.state(), now)
            .iter()
            .map(|k| k.kid.clone())
            .collect()
    }
}

#[test]
fn rotation_timeline() {
    let mut c = Clock::new();
    assert!(c.tick(0, Alg::EdDSA), "first call creates a key");
    assert_eq!(
        (c.active(0), c.published(0)),
        ("k1".into(), vec!["k1".to_string()])
    );
    assert_eq!(c.state().next_rotation, 1000);
    for t in [1, 500, 899] {
        assert!(!c.tick(t, Alg::EdDSA), "nothing due at {t}");
    }
    assert!(c.tick(900, Alg::EdDSA), "next key published ahead");
    assert_eq!(
        (c.active(900), c.published(900)),
        ("k1".into(), vec!["k1".into(), "k2".into()])
    );
    assert_eq!(c.state().keys[1].activate_at, 1000);
    assert!(!c.tick(999, Alg::EdDSA));
    // At activate_at every replica signs with k2, promoted or not.
    assert_eq!(c.active(1000), "k2");
    assert!(c.tick(1000, Alg::EdDSA), "promotion");
    let k1 = &c.state().keys[0];
    assert_eq!(
        (
            k1.kid.as_str(),
            k1.private_pkcs8_pem.is_none(),
            k1.not_after
        ),
        ("k1", true, Some(3500))
    );
    assert!(k1.clone().signing_key().is_err(), "retired key cannot sign");
    assert_eq!(
        (c.state().active_kid.as_str(), c.state().next_rotation),
        ("k2", 2000)
    );
    assert!(c.tick(1900, Alg::EdDSA));
    assert!(c.tick(2000, Alg::EdDSA));
    assert_eq!(c.published(3499), ["k1", "k2", "k3"]);
    assert_eq!(
        c.published(3500),
        ["k2", "k3"],
        "k1 leaves the JWKS once its last token expired"
    );
    // No tick at 2900 (rotator late): k1 is dropped and k4 still waits its publish-ahead.
    assert!(c.tick(3500, Alg::EdDSA));
    let kids: Vec<(&str, i64)> = c
        .state()
        .keys
        .iter()
        .map(|k| (k.kid.as_str(), k.activate_at))
        .collect();
    assert_eq!(kids, [("k2", 1000), ("k3", 2000), ("k4", 3600)]);
    assert_eq!(c.active(3500), "k3");

    // JWKS served from the state verifies tokens of the active key.
    let signer = active_key(c.state(), 3500).unwrap().signing_key().unwrap();
    let token = sign(&signer, &claims()).unwrap();
    c.state()
        .verifying_keys(3500)
        .unwrap()
        .verify(&token, &[Alg::EdDSA])
        .unwrap();
    assert_eq!(c.state().jwks(3500)["keys"].as_array().unwrap().len(), 3);
}

#[test]
fn rotation_never_signs_with_an_unpublished_or_dropped_key() {
    // 60 s ticks over three days, with a stretch where no replica runs.
    let mut c = Clock::new();
    let mut first_published: std::collections::HashMap<String, i64> = Default::default();
    let mut last_signed: std::collections::HashMap<String, i64> = Default::default();
    for t in (0..3 * 86_400).step_by(60) {
        let outage = (10_000..14_000).contains(&t);
        if !outage {
            c.tick(t, Alg::EdDSA);
        }
        let active = c.active(t);
        let published = c.published(t);
        assert!(
            published.contains(&active),
            "active key {active} not published at {t}"
        );
        for kid in &published {
            first_published.entry(kid.clone()).or_insert(t);
        }
        last_signed.insert(active.clone(), t);
        if first_published[&active] > 0 {
            assert!(
                t - first_published[&active] >= 100,
                "{active} signed at {t}, published at {}",
                first_published[&active]
            );
        }
        for (kid, &last) in &last_signed {
            if t < last + 2500 {
                assert!(
                    published.contains(kid),
                    "{kid} last signed at {last}, dropped by {t}"
                );
            }
        }
        assert!(
            c.state().keys.len() <= 5,
            "keys pile up: {}",
            c.state().keys.len()
        );
    }
    assert!(c.generated > 6, "{} keys", c.generated);
}

#[test]
fn rotator_back_from_an_outage_publishes_before_signing() {
    let mut c = Clock::new();
    c.tick(0, Alg::EdDSA);
    c.tick(900, Alg::EdDSA);
    assert!(c.tick(5000, Alg::EdDSA));
    let s = c.state();
    assert_eq!(s.active_kid, "k2");
    assert_eq!(s.keys[0].not_after, Some(7500));
    let k3 = s.keys.iter().find(|k| k.kid == "k3").unwrap();
    assert_eq!(
        (k3.created_at, k3.activate_at),
        (5000, 5100),
        "k3 waits its publish-ahead time"
    );
    assert_eq!(c.active(5099), "k2");
    assert_eq!(c.active(5100), "k3");
}

#[test]
fn changing_alg_rotates_at_the_earliest_safe_moment() {
    let mut c = Clock::new();
    c.tick(0, Alg::ES256);
    assert!(c.tick(10, Alg::EdDSA));
    let next = c.state().keys.iter().find(|k| k.kid == "k2").unwrap();
    assert_eq!((next.alg, next.activate_at), (Alg::EdDSA, 110));
    assert_eq!(c.active(109), "k1");
    assert!(!c.tick(50, Alg::EdDSA));
    // Changed back before k2 signed: k2 never signed, so it is replaced by a
    // key of the configured alg, again published ahead.
    assert!(c.tick(60, Alg::ES256));
    assert_eq!(c.published(60), ["k1", "k3"]);
    assert_eq!(c.state().keys[1].alg, Alg::ES256);
    assert!(c.tick(70, Alg::EdDSA));
    assert_eq!(c.published(70), ["k1", "k4"]);
    assert_eq!(c.active(169), "k1");
    assert!(c.tick(170, Alg::EdDSA));
    assert_eq!(
        (
            c.state().active_kid.as_str(),
            active_key(c.state(), 170).unwrap().alg
        ),
        ("k4", Alg::EdDSA)
    );
    assert_eq!(c.state().next_rotation, 1170);
}

#[test]
fn compare_and_swap_lets_exactly_one_replica_rotate() {
    // A stand-in for the store: a version number and a state.
    let mut stored: (u64, Option<KeySetState>) = (0, None);
    let mut generated = 0;
    let mut landed = Vec::new();
    for now in [0, 900, 1000, 1500] {
        // Both replicas read the same version before either writes.
        let read = stored.clone();
        for replica in ["a", "b"] {
            let mut gen_key = |alg| {
                generated += 1;
                SigningKey::generate(alg, format!("{replica}{generated}"))
            };
            let Some(new) =
                rotate_if_due(read.1.as_ref(), now, &policy(), Alg::EdDSA, &mut gen_key).unwrap()
            else {
                continue;
            };
            if stored.0 == read.0 {
                stored = (read.0 + 1, Some(new));
                landed.push((now, replica));
            } else {
                // Lost the race: re-read; the winner already did the work.
                let fresh = stored.1.as_ref();
                assert!(
                    rotate_if_due(fresh, now, &policy(), Alg::EdDSA, &mut gen_key)
                        .unwrap()
                        .is_none()
                );
            }
        }
    }
    assert_eq!(landed, [(0, "a"), (900, "a"), (1000, "a")]);
    let kids: Vec<&str> = stored
        .1
        .as_ref()
        .unwrap()
        .keys
        .iter()
        .map(|k| k.kid.as_str())
        .collect();
    assert!(kids.iter().all(|k| k.starts_with('a')), "{kids:?}");
}

#[test]
fn invalid_policy_and_state_are_refused() {
    let mut never = |_: Alg| -> Result<SigningKey, Error> { panic!("no key should be generated") };
    for bad in [
        RotationPolicy {
            period_secs: 0,
            ..policy()
        },
        RotationPolicy {
            publish_ahead_secs: 1000,
            ..policy()
        },
        RotationPolicy {
            max_token_lifetime_secs: -1,
            ..policy()
        },
    ] {
        let err = rotate_if_due(None, 0, &bad, Alg::ES256, &mut never).unwrap_err();
        assert!(matches!(err, Error::Policy { .. }), "{bad:?}: {err}");
    }
    assert_eq!(RotationPolicy::default().jwks_max_age_secs(), 1800);

    let mut c = Clock::new();
    c.tick(0, Alg::EdDSA);
    let mut broken = c.state().clone();
    broken.active_kid = "gone".into();
    let err = rotate_if_due(Some(&broken), 1, &policy(), Alg::EdDSA, &mut never).unwrap_err();
    assert!(
        err.to_string()
            .contains("active key \"gone\" is not in the set"),
        "{err}"
    );
    let mut retired = c.state().clone();
    retired.keys[0].private_pkcs8_pem = None;
    assert!(matches!(
        rotate_if_due(Some(&retired), 1, &policy(), Alg::EdDSA, &mut never),
        Err(Error::KeySet { .. })
    ));
    assert!(matches!(active_key(&retired, 1), Err(Error::KeySet { .. })));
}
