//! `local`: a static password database in the connector's config, like
//! Dex's `enablePasswordDB`, with argon2id or Dex-style bcrypt hashes.

use crate::connector::{Connector, Identity, PasswordConnector, RefreshConnector, Scopes};
use crate::error::Error;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tusk_core::Secret;

/// Verified instead of a real hash when the email is unknown, so a wrong
/// email costs as much as a wrong password. Its password is random and
/// forgotten; nothing can log in against it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$HNhojX+kIwSZ9IHZlhHoIQ$f/Xijvk4nCj2Th/2seUAcotamqk56xKUNwG9x4cII1U";

/// Longer passwords are refused before any hashing, so a login form cannot
/// be used to make the server hash megabytes.
const MAX_PASSWORD_BYTES: usize = 4096;

/// bcrypt reads only the first 72 bytes; Dex-style hashes are verified
/// without truncation, so a longer password never matches.
const BCRYPT_MAX_BYTES: usize = 72;

/// Hashes a password for a `local` user: argon2id with the default
/// parameters and a random salt, as a PHC string (`$argon2id$...`).
pub fn hash_password(password: &str) -> Result<String, Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password failed: {e}")))
}

enum Hash {
    Argon2id(Box<PasswordHash>),
    Bcrypt(Secret<String>),
}

impl Hash {
    /// Parses a configured hash. Errors name the format, never the hash.
    fn parse(hash: &str) -> Result<Self, String> {
        if hash.starts_with("$argon2id$") {
            let parsed = PasswordHash::new(hash)
                .map_err(|e| argon2::password_hash::Error::from(e).to_string())?;
            argon2::Params::try_from(&parsed).map_err(|e| e.to_string())?;
            if parsed.salt.is_none() || parsed.hash.is_none() {
                return Err("it has no salt or no hash output".into());
            }
            Ok(Hash::Argon2id(Box::new(parsed)))
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            hash.parse::<bcrypt::HashParts>()
                .map_err(|e| e.to_string())?;
            Ok(Hash::Bcrypt(Secret::from(hash)))
        } else {
            Err("it is neither an argon2id PHC string (`$argon2id$...`) nor a bcrypt hash (`$2a$`, `$2b$`, `$2y$`)".into())
        }
    }

    /// Runs the hash; blocking (about 20 ms), so only on the hashing pool.
    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Argon2id(h) => Argon2::default()
                .verify_password(password, h.as_ref())
                .is_ok(),
            Hash::Bcrypt(h) if password.len() <= BCRYPT_MAX_BYTES => {
                bcrypt::non_truncating_verify(password, h.expose()).unwrap_or(false)
            }
            Hash::Bcrypt(_) => false,
        }
    }
}

struct User {
    email: String,
    hash: Hash,
    username: String,
    user_id: String,
    groups: Vec<String>,
}

impl User {
    fn identity(&self, scopes: &Scopes) -> Identity {
        Identity {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            preferred_username: self.username.clone(),
            email: self.email.clone(),
            email_verified: true,
            groups: if scopes.groups {
                self.groups.clone()
            } else {
                Vec::new()
            },
            connector_data: None,
            upstream_id_token: None,
        }
    }
}

pub(crate) struct Local {
    id: String,
    /// Keyed by lowercased email.
    users: HashMap<String, Arc<User>>,
    dummy: Arc<Hash>,
}

impl fmt::Debug for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut emails: Vec<&str> = self.users.values().map(|u| u.email.as_str()).collect();
        emails.sort_unstable();
        f.debug_struct("Local")
            .field("id", &self.id)
            .field("users", &emails)
            .finish_non_exhaustive()
    }
}

impl Local {
    pub(crate) fn open(id: &str, config: &serde_json::Value) -> Result<Self, Error> {
        let obj = crate::fields::as_object(id, config, "the `local` config")?;
        let list = match obj.get("users") {
            Some(serde_json::Value::Array(items)) => items,
            _ => {
                return Err(crate::error::config_err(
                    id,
                    "`users` must be a list of {email, hash} entries".into(),
                ));
            }
        };
        let mut users: HashMap<String, Arc<User>> = HashMap::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        for (i, item) in list.iter().enumerate() {
            let path = format!("users[{i}].");
            let entry = crate::fields::as_object(id, item, &format!("`users[{i}]`"))?;
            let email = crate::fields::req_str(id, entry, &path, "email")?
                .trim()
                .to_owned();
            let hash = match crate::fields::opt_str(id, entry, &path, "hash")? {
                Some(h) if !h.is_empty() => h,
                _ => {
                    return Err(crate::error::config_err(
                        id,
                        format!(
                            "user `{email}` has no password hash: set `{path}hash` to an argon2id or bcrypt hash"
                        ),
                    ));
                }
            };
            let hash = Hash::parse(hash).map_err(|why| {
                crate::error::config_err(
                    id,
                    format!(
                        "the password hash of user `{email}` is malformed: {why}; generate a new one with an argon2id or bcrypt tool"
                    ),
                )
            })?;
            let username = match crate::fields::opt_str(id, entry, &path, "username")? {
                Some(u) if !u.is_empty() => u.to_owned(),
                _ => email.split('@').next().unwrap_or_default().to_owned(),
            };
            let user_id = match crate::fields::opt_str(id, entry, &path, "userID")? {
                Some(u) if !u.is_empty() => u.to_owned(),
                _ => email.clone(),
            };
            let groups = match entry.get("groups") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Array(gs)) => gs
                    .iter()
                    .map(|g| g.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        crate::error::config_err(
                            id,
                            format!("`{path}groups` must be a list of strings"),
                        )
                    })?,
                Some(_) => {
                    return Err(crate::error::config_err(
                        id,
                        format!("`{path}groups` must be a list of strings"),
                    ));
                }
            };
            if let Some(other) = ids.insert(user_id.clone(), email.clone()) {
                return Err(crate::error::config_err(
                    id,
                    format!(
                        "users `{other}` and `{email}` share the user id `{user_id}`; give each user its own `userID`"
                    ),
                ));
            }
            let key = email.to_lowercase();
            let user = Arc::new(User {
                email,
                hash,
                username,
                user_id,
                groups,
            });
            if users.insert(key, user.clone()).is_some() {
                return Err(crate::error::config_err(
                    id,
                    format!(
                        "the email `{}` is listed twice (emails match case-insensitively); remove one entry",
                        user.email
                    ),
                ));
            }
        }
        let dummy = Hash::parse(DUMMY_HASH)
            .map_err(|why| Error::Internal(format!("the built-in dummy hash is invalid: {why}")))?;
        Ok(Local {
            id: id.to_owned(),
            users,
            dummy: Arc::new(dummy),
        })
    }

    fn user(&self, email: &str) -> Option<&Arc<User>> {
        self.users.get(&email.trim().to_lowercase())
    }
}

impl Connector for Local {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "local"
    }
    fn password(&self) -> Option<&dyn PasswordConnector> {
        Some(self)
    }
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl PasswordConnector for Local {
    fn prompt(&self) -> &str {
        "Email Address"
    }

    fn hashes(&self) -> bool {
        true
    }

    async fn login(
        &self,
        scopes: &Scopes,
        username: &str,
        password: &Secret<String>,
    ) -> Result<Option<Identity>, Error> {
        if password.is_empty() || password.expose().len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        let (user, dummy) = (self.user(username).cloned(), self.dummy.clone());
        let (password, scopes) = (password.clone(), *scopes);
        // On the bounded pool (`hashing`); a full queue is `Error::Busy`,
        // the same for every account and whether or not the email exists.
        crate::hashing::HashPool::current()?
            .run(move || {
                let pw = password.expose().as_bytes();
                match &user {
                    Some(u) => u.hash.verify(pw).then(|| u.identity(&scopes)),
                    // Unknown email: pay for a hash anyway, then fail.
                    None => {
                        std::hint::black_box(dummy.verify(pw));
                        None
                    }
                }
            })
            .await
            .map_err(|e| match e {
                Error::Internal(why) => Error::Internal(format!("connector `{}`: {why}", self.id)),
                other => other,
            })
    }
}

#[async_trait]
impl RefreshConnector for Local {
    /// Re-reads the user, like Dex: found by email, and the user id must
    /// still match (a removed user re-added under the same email is someone
    /// else).
    async fn refresh(&self, scopes: &Scopes, identity: Identity) -> Result<Identity, Error> {
        match self.user(&identity.email) {
            Some(u) if u.user_id == identity.user_id => Ok(u.identity(scopes)),
            _ => Err(Error::UserGone {
                connector: self.id.clone(),
                user: identity.email,
            }),
        }
    }

    /// The users are in tusk's configuration.
    fn is_local(&self) -> bool {
        true
    }
}
