//! Building a connector from its type and validated config.

use crate::connector::Connector;
use crate::error::Error;
use crate::{github, ldap, local, mock, oidc, saml};
use std::sync::Arc;

/// Builds a connector from a stored, validated config.
pub fn open(id: &str, kind: &str, config: &serde_json::Value) -> Result<Arc<dyn Connector>, Error> {
    Ok(match kind {
        "mockPassword" => Arc::new(mock::MockPassword::open(id, config)?),
        "mockCallback" => Arc::new(mock::MockCallback::new(id)),
        "local" => Arc::new(local::Local::open(id, config)?),
        "oidc" => Arc::new(oidc::Oidc::open(id, config)?),
        "github" => Arc::new(github::Github::open(id, config)?),
        "ldap" => Arc::new(ldap::Ldap::open(id, config)?),
        "saml" => Arc::new(saml::Saml::open(id, config)?),
        other => {
            return Err(Error::Unsupported {
                kind: other.to_owned(),
            });
        }
    })
}
