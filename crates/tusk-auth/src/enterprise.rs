//! The enterprise/license gate (docs/auth-model.md §10), with tusk as the
//! license server of its own cluster.
//!
//! An activation code is base64 of JSON `{"token": "<json>", "signature":
//! "<base64>"}`; the signature is RSA PKCS#1 v1.5 over SHA-256 of the token
//! text, checked with the public key the operator configures (never a
//! vendor key compiled in). The token's `expiry` is RFC 3339.

use crate::error::AuthError;
use crate::service::AuthService;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tusk_core::Secret;
use tusk_store::EnterpriseState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseState {
    None,
    Active,
    Expired,
    HeartbeatFailed,
}

#[derive(Clone)]
pub struct EnterpriseStatus {
    pub license: LicenseState,
    pub enterprise_active: bool,
    pub expires: Option<i64>,
    pub code: String,
}

/// The activation code is a credential: `Debug` leaves it out.
impl std::fmt::Debug for EnterpriseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterpriseStatus")
            .field("license", &self.license)
            .field("enterprise_active", &self.enterprise_active)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl EnterpriseStatus {
    /// Enterprise is ACTIVE when activated against a valid license.
    pub fn enterprise_state(&self) -> LicenseState {
        match (self.enterprise_active, self.license) {
            (true, s) => s,
            (false, _) => LicenseState::None,
        }
    }

    /// GetState's `activation_code`: the code with an empty signature.
    pub fn unsigned_code(&self) -> String {
        if self.code.is_empty() {
            return String::new();
        }
        match decode_code(&self.code) {
            Ok((token, _)) => {
                STANDARD.encode(serde_json::json!({"token": token, "signature": ""}).to_string())
            }
            Err(_) => String::new(),
        }
    }
}

fn wrap(why: &str) -> AuthError {
    AuthError::Other(format!("error validating activation code: {why}"))
}

/// Splits a code into its token text and signature bytes.
fn decode_code(code: &str) -> Result<(String, Vec<u8>), AuthError> {
    let json = STANDARD
        .decode(code.trim())
        .map_err(|_| wrap("activation code is not base64 encoded"))?;
    let v: Value =
        serde_json::from_slice(&json).map_err(|_| wrap("activation code is not valid JSON"))?;
    // Go's JSON decoding matches field names case-insensitively.
    let field = |name: &str| {
        v.as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    let token = field("token").ok_or_else(|| wrap("activation code is not valid JSON"))?;
    let signature = STANDARD
        .decode(field("signature").unwrap_or_default())
        .map_err(|_| wrap("signature is not base64 encoded"))?;
    Ok((token, signature))
}

/// Checks a code's signature and returns its expiry (unix seconds).
pub fn verify_code(code: &str, public_key_pem: &str, now: i64) -> Result<i64, AuthError> {
    let (token, signature) = decode_code(code)?;
    let der = pem_body(public_key_pem).ok_or_else(|| AuthError::FailedPrecondition("the license public key is not a PEM `PUBLIC KEY`; set tusk.license.publicKey to an RSA public key in PEM".into()))?;
    let key = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        der,
    )
    .map_err(|_| {
        AuthError::FailedPrecondition(
            "the license public key is not an RSA key of 2048 bits or more".into(),
        )
    })?;
    key.verify_sig(token.as_bytes(), &signature)
        .map_err(|_| wrap("invalid signature in activation code"))?;
    let claims: Value =
        serde_json::from_str(&token).map_err(|_| wrap("token is not valid JSON"))?;
    let expiry = claims
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("expiry")))
        .and_then(|(_, v)| v.as_str())
        .and_then(parse_rfc3339)
        .ok_or_else(|| wrap("expiration is not valid ISO 8601 string"))?;
    if expiry <= now {
        return Err(wrap("the activation code has expired"));
    }
    Ok(expiry)
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN PUBLIC KEY-----")? + "-----BEGIN PUBLIC KEY-----".len();
    let end = pem[start..].find("-----END PUBLIC KEY-----")? + start;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

impl AuthService {
    /// From the cache: the gate consults it on every check.
    async fn enterprise_record(&self) -> Result<Option<EnterpriseState>, AuthError> {
        Ok(self.cache.enterprise().await?.map(|r| (*r).clone()))
    }

    pub async fn enterprise_status(&self) -> Result<EnterpriseStatus, AuthError> {
        let now = self.now();
        Ok(match self.enterprise_record().await? {
            None => EnterpriseStatus {
                license: LicenseState::None,
                enterprise_active: false,
                expires: None,
                code: String::new(),
            },
            Some(r) => EnterpriseStatus {
                license: if r.license.is_empty() {
                    LicenseState::None
                } else if r.expires <= now {
                    LicenseState::Expired
                } else {
                    LicenseState::Active
                },
                enterprise_active: r.enterprise_active,
                expires: (!r.license.is_empty()).then_some(r.expires),
                code: r.license.expose().clone(),
            },
        })
    }

    /// license_v2.Activate. `from_config` is the bootstrap from
    /// `pachd.enterpriseLicenseKey`, which the API may not override.
    pub async fn license_activate(
        &self,
        code: &str,
        expires: Option<i64>,
        from_config: bool,
    ) -> Result<EnterpriseStatus, AuthError> {
        if self.settings.license_from_config && !from_config {
            return Err(AuthError::FailedPrecondition(
                "license.Activate() is disabled when the license key is configured via environment; change pachd.enterpriseLicenseKey (LICENSE_KEY) instead".into(),
            ));
        }
        let key = self.settings.license_public_key.as_ref().ok_or_else(|| {
            AuthError::FailedPrecondition("no license public key is configured, so activation codes cannot be checked; set tusk.license.publicKey (PEM)".into())
        })?;
        let mut expiry = verify_code(code, key.expose(), self.now())?;
        // `expires` can only lower the code's own expiry.
        if let Some(e) = expires.filter(|e| *e > 0) {
            expiry = expiry.min(e);
        }
        let mut record = self.enterprise_record().await?.unwrap_or_default();
        record.id = EnterpriseState::ID.into();
        record.license = Secret::new(code.trim().to_owned());
        record.expires = expiry;
        record.state = "ACTIVE".into();
        if from_config {
            // A configured key means the operator wants enterprise on.
            record.enterprise_active = true;
        }
        self.store.put(&record).await?;
        self.changed(<EnterpriseState as tusk_store::Record>::KIND, None);
        self.enterprise_status().await
    }

    pub async fn license_delete(&self) -> Result<(), AuthError> {
        self.end_sessions(crate::sessions::Ending::All).await?;
        match self
            .store
            .delete::<EnterpriseState>(EnterpriseState::ID)
            .await
        {
            Ok(()) | Err(tusk_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn enterprise_activate(&self) -> Result<(), AuthError> {
        let status = self.enterprise_status().await?;
        if status.license != LicenseState::Active {
            let name = match status.license {
                LicenseState::None => "NONE",
                LicenseState::Expired => "EXPIRED",
                LicenseState::HeartbeatFailed => "HEARTBEAT_FAILED",
                LicenseState::Active => "ACTIVE",
            };
            return Err(AuthError::Other(format!(
                "enterprise license is not valid - {name}"
            )));
        }
        self.store
            .update::<EnterpriseState, _>(EnterpriseState::ID, |r| {
                r.enterprise_active = true;
                Ok(())
            })
            .await?;
        self.changed(<EnterpriseState as tusk_store::Record>::KIND, None);
        Ok(())
    }

    pub async fn enterprise_deactivate(&self) -> Result<(), AuthError> {
        match self
            .store
            .update::<EnterpriseState, _>(EnterpriseState::ID, |r| {
                r.enterprise_active = false;
                Ok(())
            })
            .await
        {
            Ok(_) | Err(tusk_store::Error::NotFound { .. }) => {
                self.changed(<EnterpriseState as tusk_store::Record>::KIND, None);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn enterprise_heartbeat(&self) -> Result<(), AuthError> {
        let status = self.enterprise_status().await?;
        if !status.enterprise_active {
            return Err(AuthError::NotEnterprise);
        }
        let now = self.now();
        self.store
            .update::<EnterpriseState, _>(EnterpriseState::ID, |r| {
                r.last_heartbeat = now;
                Ok(())
            })
            .await?;
        self.changed(<EnterpriseState as tusk_store::Record>::KIND, None);
        Ok(())
    }

    /// The 2.11 gate: with a license configured, only privileged subjects
    /// may act while enterprise is not ACTIVE.
    pub(crate) async fn check_gate(&self, subject: &str) -> Result<(), AuthError> {
        if !self.settings.license_from_config {
            return Ok(());
        }
        let status = self.enterprise_status().await?;
        if status.enterprise_state() == LicenseState::Active {
            return Ok(());
        }
        // A direct clusterAdmin entry only: not via groups or allClusterUsers.
        let privileged = subject == crate::service::ROOT
            || subject.starts_with("pipeline:")
            || subject.starts_with("internal:")
            || self.direct_cluster_admin(subject).await?;
        if privileged {
            return Ok(());
        }
        Err(AuthError::Other(format!(
            "Pachyderm Enterprise is not active in this cluster (until Pachyderm Enterprise is re-activated or Pachyderm auth is deactivated, only cluster admins can perform any operations): user: {subject}, is not priviledged to operate while Enterprise License is disabled"
        )))
    }

    async fn direct_cluster_admin(&self, subject: &str) -> Result<bool, AuthError> {
        let cluster = self.cache.binding("CLUSTER:").await?;
        Ok(cluster.is_some_and(|b| b.has_role(subject, "clusterAdmin")))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-29T09:03:36Z"), Some(1_795_943_016));
        assert_eq!(
            parse_rfc3339("2026-11-29T10:03:36+01:00"),
            Some(1_795_943_016)
        );
        assert_eq!(
            parse_rfc3339("2026-11-29T09:03:36.123456Z"),
            Some(1_795_943_016)
        );
        for bad in [
            "",
            "2026-11-29",
            "2026-13-01T00:00:00Z",
            "2026-11-29T09:03:36",
            "2026-11-29T09:03:36+0100",
            "２０２６-11-29T09:03:36Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
