//! Dex's mock connectors, which Pachyderm's mock IdP uses
//! (docs/identity-and-config.md §4).

use crate::connector::{
    CallbackConnector, Connector, Identity, PasswordConnector, RefreshConnector, Scopes,
    UpstreamParams,
};
use crate::error::Error;
use async_trait::async_trait;
use tusk_core::Secret;

/// The one user of both mocks.
fn kilgore_trout() -> Identity {
    Identity {
        user_id: "0-385-28089-0".into(),
        username: "Kilgore Trout".into(),
        email: "kilgore@kilgore.trout".into(),
        email_verified: true,
        ..Identity::default()
    }
}

/// `mockPassword`: exactly one configured username and password log in as
/// Kilgore Trout, without groups.
#[derive(Debug)]
pub(crate) struct MockPassword {
    id: String,
    username: String,
    password: Secret<String>,
}

impl MockPassword {
    pub(crate) fn open(id: &str, config: &serde_json::Value) -> Result<Self, Error> {
        let obj = crate::fields::as_object(id, config, "the `mockPassword` config")?;
        Ok(MockPassword {
            id: id.to_owned(),
            username: crate::fields::req_str(id, obj, "", "username")?.to_owned(),
            password: Secret::from(crate::fields::req_str(id, obj, "", "password")?),
        })
    }
}

impl Connector for MockPassword {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "mockPassword"
    }
    fn password(&self) -> Option<&dyn PasswordConnector> {
        Some(self)
    }
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl PasswordConnector for MockPassword {
    fn prompt(&self) -> &str {
        "Username"
    }

    async fn login(
        &self,
        _scopes: &Scopes,
        username: &str,
        password: &Secret<String>,
    ) -> Result<Option<Identity>, Error> {
        // Both comparisons always run, so timing does not tell which failed.
        let user_ok = tusk_core::ct_eq(username.as_bytes(), self.username.as_bytes());
        let password_ok = self.password.ct_eq(password.expose());
        Ok((user_ok & password_ok).then(kilgore_trout))
    }
}

#[async_trait]
impl RefreshConnector for MockPassword {
    async fn refresh(&self, _scopes: &Scopes, identity: Identity) -> Result<Identity, Error> {
        Ok(identity)
    }
}

/// `mockCallback`: no form; the "upstream" sends the browser straight back
/// and always answers Kilgore Trout in group `authors`.
#[derive(Debug)]
pub(crate) struct MockCallback {
    id: String,
}

impl MockCallback {
    pub(crate) fn new(id: &str) -> Self {
        MockCallback { id: id.to_owned() }
    }

    fn identity() -> Identity {
        Identity {
            groups: vec!["authors".into()],
            ..kilgore_trout()
        }
    }
}

impl Connector for MockCallback {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "mockCallback"
    }
    fn callback(&self) -> Option<&dyn CallbackConnector> {
        Some(self)
    }
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl CallbackConnector for MockCallback {
    fn login_url(
        &self,
        _scopes: &Scopes,
        callback_url: &str,
        state: &str,
        _upstream: &UpstreamParams,
    ) -> Result<String, Error> {
        let mut url = url::Url::parse(callback_url).map_err(|e| {
            Error::Internal(format!(
                "connector `{}`: the callback URL `{callback_url}` does not parse ({e}); check the issuer setting",
                self.id
            ))
        })?;
        // Like Go's `v.Set("state", ...)`: keep other pairs, replace state.
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "state")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("state", state);
        Ok(url.into())
    }

    async fn handle_callback(
        &self,
        _scopes: &Scopes,
        _callback_url: &str,
        query: &[(String, String)],
        _upstream: &UpstreamParams,
    ) -> Result<Identity, Error> {
        if let Some(error) = crate::query::callback_error(query) {
            return Err(Error::Upstream {
                connector: self.id.clone(),
                reason: format!("it returned error `{error}`"),
            });
        }
        Ok(Self::identity())
    }
}

#[async_trait]
impl RefreshConnector for MockCallback {
    async fn refresh(&self, _scopes: &Scopes, _identity: Identity) -> Result<Identity, Error> {
        Ok(Self::identity())
    }
}
