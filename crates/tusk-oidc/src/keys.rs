//! The provider's in-memory key ring: signing, verifying our own tokens,
//! the JWKS, and rotation of the stored key sets.

use crate::error::{ErrorCode, OAuthError};
use crate::provider::{Error, KeyRing, Provider};
use serde_json::{Value, json};
use std::sync::Arc;
use tusk_core::Secret;
use tusk_jose::{Alg, KeySetState, SigningKey, VerifyingKeys};
use tusk_store::{OidcClient, SigningKeys};

impl Provider {
    pub fn jwks_json(&self) -> Arc<String> {
        self.ring()
            .map(|r| r.jwks.clone())
            .unwrap_or_else(|_| Arc::new("{\"keys\":[]}".into()))
    }

    /// When the key now signing (default algorithm) was created; `None`
    /// before keys are loaded.
    pub fn signing_key_created_at(&self) -> Option<i64> {
        self.keys
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|r| r.created_at))
    }

    pub fn jwks_max_age(&self) -> i64 {
        self.settings.rotation.jwks_max_age_secs()
    }

    fn ring(&self) -> Result<Arc<KeyRing>, OAuthError> {
        self.keys
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| OAuthError::server("signing keys are not loaded"))
    }

    /// Signs with the active key of `alg` (a client's pin), else the
    /// default algorithm's.
    pub(crate) fn sign(&self, alg: Alg, claims: &Value) -> Result<String, OAuthError> {
        self.sign_typed(alg, None, claims)
    }

    /// [`Self::sign`] with an explicit `typ` header (`logout+jwt`), or the
    /// ID tokens' `JWT` for `None`.
    pub(crate) fn sign_typed(
        &self,
        alg: Alg,
        typ: Option<&str>,
        claims: &Value,
    ) -> Result<String, OAuthError> {
        let ring = self.ring()?;
        let key = ring
            .signers
            .iter()
            .find(|k| k.alg() == alg)
            .or(ring.signers.first())
            .ok_or_else(|| OAuthError::server("no signing key is loaded"))?;
        let signed = match typ {
            None => tusk_jose::sign(key, claims),
            Some(typ) => tusk_jose::sign_typed(key, typ, claims),
        };
        signed.map_err(|e| {
            tracing::error!(error = %e, "token signing failed");
            OAuthError::server("token signing failed")
        })
    }

    /// The algorithm a client's tokens are signed with.
    pub(crate) fn alg_for(&self, client: &OidcClient) -> Result<Alg, OAuthError> {
        let ring = self.ring()?;
        let pinned = Alg::parse(&client.id_token_signing_alg);
        let alg = pinned
            .filter(|a| ring.signers.iter().any(|k| k.alg() == *a))
            .or_else(|| ring.signers.first().map(SigningKey::alg))
            .ok_or_else(|| OAuthError::server("no signing key is loaded"))?;
        Ok(alg)
    }

    /// Verifies one of our own JWTs (signature, issuer, and expiry unless
    /// `allow_expired`), returning its claims.
    pub(crate) fn verify_own(
        &self,
        token: &[u8],
        allow_expired: bool,
    ) -> Result<Value, OAuthError> {
        let ring = self.ring()?;
        let claims = Self::verify_signed(&ring, &self.settings.issuer, token)?;
        if !allow_expired {
            self.check_time(&claims)?;
        }
        Ok(claims)
    }

    /// [`Self::verify_own`] without `allow_expired`, for tokens presented
    /// again and again (userinfo, introspection): the signature is checked
    /// once per token and key ring ([`crate::verified`]); expiry is checked
    /// at every call.
    pub(crate) fn verify_own_cached(&self, token: &str) -> Result<Arc<Value>, OAuthError> {
        let ring = self.ring()?;
        let key = crate::verified::token_key(token.as_bytes());
        let claims = match ring.verified.get(&key) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(Self::verify_signed(
                    &ring,
                    &self.settings.issuer,
                    token.as_bytes(),
                )?);
                // Only a token valid now is kept: an expired one would
                // be refused below anyway, and need not take room.
                self.check_time(&claims)?;
                ring.verified.insert(key, claims.clone(), self.now());
                return Ok(claims);
            }
        };
        self.check_time(&claims)?;
        Ok(claims)
    }

    fn check_time(&self, claims: &Value) -> Result<(), OAuthError> {
        tusk_jose::check_time(claims, self.now(), 0)
            .map_err(|e| OAuthError::new(ErrorCode::InvalidToken, e.to_string()))
    }

    /// What a token's signature and issuer prove, which does not change
    /// while `ring` is current: signed by one of its keys, issued by
    /// `issuer`, and not a logout token.
    fn verify_signed(ring: &KeyRing, issuer: &str, token: &[u8]) -> Result<Value, OAuthError> {
        let invalid = |why: String| OAuthError::new(ErrorCode::InvalidToken, why);
        let claims = ring
            .verifier
            .verify(token, &[Alg::ES256, Alg::RS256, Alg::EdDSA])
            .map_err(|e| invalid(e.to_string()))?;
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(invalid("the token was not issued by this provider".into()));
        }
        // A back-channel logout token is signed with the same keys but is
        // never a credential here: not an access token, not an ID token
        // hint (Back-Channel Logout 1.0 §2.4 types it apart by `events`).
        if claims.get("events").is_some() {
            return Err(invalid(
                "this is a logout token, which only relying parties accept".into(),
            ));
        }
        Ok(claims)
    }

    /// Loads the key set from storage, rotating it first when due. Called at
    /// start and periodically; compare-and-swap makes exactly one replica's
    /// rotation land, and every replica then loads the stored result.
    pub async fn refresh_keys(&self) -> Result<(), Error> {
        let now = self.now();
        let mut algs = vec![self.settings.alg];
        for client in self.store.list::<OidcClient>().await? {
            if let Some(alg) = Alg::parse(&client.id_token_signing_alg)
                && !algs.contains(&alg)
            {
                algs.push(alg);
            }
        }
        let mut states = Vec::with_capacity(algs.len());
        for alg in &algs {
            // The default keeps the historic record id, so an upgrade
            // keeps its keys.
            let id = if *alg == self.settings.alg {
                SigningKeys::ID.to_owned()
            } else {
                format!("{}:{}", SigningKeys::ID, alg.as_str())
            };
            states.push(self.refresh_alg(*alg, &id, now).await?);
        }
        let keys: Vec<Value> = states
            .iter()
            .flat_map(|s| s.jwks(now)["keys"].as_array().cloned().unwrap_or_default())
            .collect();
        let jwks = json!({ "keys": keys }).to_string();
        let actives: Vec<&str> = states
            .iter()
            .map(|s| tusk_jose::active_key(s, now).map(|k| k.kid.as_str()))
            .collect::<Result<_, _>>()?;
        let current = self.keys.read().ok().and_then(|g| g.clone());
        let unchanged = current.as_ref().is_some_and(|r| {
            r.signers
                .iter()
                .map(SigningKey::kid)
                .eq(actives.iter().copied())
                && *r.jwks == jwks
        });
        if unchanged {
            return Ok(());
        }
        let signers = states
            .iter()
            .map(|s| tusk_jose::active_key(s, now)?.signing_key())
            .collect::<Result<Vec<_>, _>>()?;
        let verifier =
            VerifyingKeys::from_jwks(&serde_json::from_str(&jwks).unwrap_or(Value::Null))?;
        let created_at = states
            .first()
            .map(|s| tusk_jose::active_key(s, now).map(|k| k.created_at))
            .transpose()?
            .unwrap_or(now);
        let ring = KeyRing {
            signers,
            verifier,
            jwks: Arc::new(jwks),
            created_at,
            verified: Default::default(),
        };
        if let Ok(mut guard) = self.keys.write() {
            *guard = Some(Arc::new(ring));
        }
        Ok(())
    }

    /// Rotates one algorithm's key set when due. Compare-and-swap makes
    /// exactly one replica's rotation land; every replica then uses the
    /// stored result.
    async fn refresh_alg(&self, alg: Alg, id: &str, now: i64) -> Result<KeySetState, Error> {
        let policy = self.settings.rotation;
        let mut generate = |alg: Alg| SigningKey::generate(alg, tusk_jose::new_kid()?);
        loop {
            match self.store.get::<SigningKeys>(id).await {
                Ok(record) => {
                    let state: KeySetState = serde_json::from_str(record.state.expose())
                        .map_err(|e| Error::KeyState(e.to_string()))?;
                    let Some(next) =
                        tusk_jose::rotate_if_due(Some(&state), now, &policy, alg, &mut generate)?
                    else {
                        return Ok(state);
                    };
                    let text =
                        serde_json::to_string(&next).map_err(|e| Error::KeyState(e.to_string()))?;
                    let expected = record.state.clone();
                    let result = self
                        .store
                        .update::<SigningKeys, _>(id, |r| {
                            if r.state != expected {
                                return Err(tusk_store::Error::Aborted(
                                    "another replica rotated first".into(),
                                ));
                            }
                            r.state = Secret::new(text.clone());
                            Ok(())
                        })
                        .await;
                    match result {
                        Ok(_) => {
                            tracing::info!(active = %next.active_kid, alg = %alg, "signing keys rotated");
                            return Ok(next);
                        }
                        Err(tusk_store::Error::Aborted(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(tusk_store::Error::NotFound { .. }) => {
                    let Some(first) =
                        tusk_jose::rotate_if_due(None, now, &policy, alg, &mut generate)?
                    else {
                        return Err(Error::KeyState("rotation produced no first key".into()));
                    };
                    let text = serde_json::to_string(&first)
                        .map_err(|e| Error::KeyState(e.to_string()))?;
                    let record = SigningKeys {
                        id: id.to_owned(),
                        state: Secret::new(text),
                    };
                    match self.store.create(&record).await {
                        Ok(()) => {
                            tracing::info!(active = %first.active_kid, alg = %alg, "created the first signing key");
                            return Ok(first);
                        }
                        Err(tusk_store::Error::AlreadyExists { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
