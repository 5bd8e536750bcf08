//! Any bytes as the token endpoint's form body: parsed into parameters or
//! refused with `invalid_request`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = tusk_oidc::Params::parse(data) {
        for name in ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope"] {
            let _ = params.get(name);
        }
        let _ = tusk_oidc::scopes::parse(params.get("scope").ok().flatten().unwrap_or_default());
    }
});
